// SHA-256 (FIPS 180-4), standard library only: bundle files and manifests are checked with it.
#pragma once

#include <cstdint>
#include <string>

namespace reusevos {

// Lower-case hex digest of `data`.
std::string sha256_hex(const std::string& data);
// Lower-case hex digest of the file at `path`; Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace reusevos
