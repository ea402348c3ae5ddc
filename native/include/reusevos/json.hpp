// A small JSON reader/writer (standard library only) for bundle manifests and records.
//
// Numbers and strings keep the exact text they had in the file (`raw`), so `canonical()` re-emits a
// manifest byte for byte the way Python's json.dumps(sort_keys=True, separators=(",", ":")) does,
// which is what the manifest's own sha256 covers.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace reusevos::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0.0;
  std::string raw;   // Number: its text; String: the quoted token as written (escapes kept)
  std::string text;  // String: the decoded text (UTF-8)
  std::vector<Value> items;                              // Array
  std::vector<std::pair<std::string, Value>> members;    // Object, in file order

  bool is_null() const { return kind == Kind::Null; }
  // The member `key` or nullptr (objects only).
  const Value* find(const std::string& key) const;
  // The member `key`; Error naming `where` when absent or when this is not an object.
  const Value& at(const std::string& key, const std::string& where) const;
  double as_number(const std::string& where) const;
  int64_t as_int(const std::string& where) const;
  const std::string& as_string(const std::string& where) const;
  const std::vector<Value>& as_array(const std::string& where) const;
};

// Parse a whole document; Error naming `where` (a file name) with the byte offset on bad JSON.
Value parse(const std::string& document, const std::string& where);
// Sorted keys, no whitespace, numbers and strings as written: Python's canonical json.dumps form.
std::string canonical(const Value& value);
// A JSON string token for `text` (ASCII output: non-ASCII bytes as \u escapes of their code points).
std::string quote(const std::string& text);
// A JSON number token for a double (shortest form that reads back to the same double; null if not finite).
std::string number(double value);

}  // namespace reusevos::json
