// What both tools share: a folder of numbered PPM frames, PGM masks of object ids with their start frames,
// option parsing and the error handling of main().
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pnm.hpp"
#include "reusevos/tracker.hpp"

namespace reusevos::tools {

// The folder's .ppm files, sorted by name (at most `max_frames` when > 0); Error naming the folder if none.
std::vector<std::string> frame_files(const std::string& dir, int max_frames);

// start frame -> (id -> mask) from `--mask [FRAME:]FILE` values, each checked against the clip (frame range,
// size of `first`, at least one object; 0 = background and 255 = void are not objects).
std::map<int, std::map<int, Mask>> read_starts(const std::map<int, std::string>& masks, const Image& first,
                                               size_t frame_count);

// "[FRAME:]FILE" -> (frame, file).
std::pair<int, std::string> parse_mask_arg(const std::string& value);

// Mean of the middle 80 % (the lowest and highest tenth dropped), as reusevos_edge.bench.schema.trimmed_mean.
double trimmed_mean(std::vector<double> values);

// Integer / number option value; Error naming the option otherwise.
int parse_int(const std::string& text, const std::string& option);
double parse_double(const std::string& text, const std::string& option);

// "--key value" pairs of argv[1:], in order; Error naming an option given without a value.
std::vector<std::pair<std::string, std::string>> option_pairs(int argc, char** argv);

// main() of a tool: runs `body`; an exception prints one "error: ..." line and exits 2.
int guarded_main(const std::function<int()>& body);

}  // namespace reusevos::tools
