// One error type for every bad input the core refuses: the message names the input and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace reusevos {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace reusevos
