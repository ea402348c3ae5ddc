#include "reusevos/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "reusevos/error.hpp"

namespace reusevos::json {
namespace {

class Parser {
 public:
  Parser(const std::string& doc, const std::string& where) : doc_(doc), where_(where) {}

  Value document() {
    Value v = value(0);
    skip_ws();
    if (pos_ != doc_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  const std::string& doc_;
  const std::string& where_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": not valid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < doc_.size() && (doc_[pos_] == ' ' || doc_[pos_] == '\n' || doc_[pos_] == '\r' || doc_[pos_] == '\t'))
      ++pos_;
  }
  bool consume(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (doc_.compare(pos_, n, word) == 0) { pos_ += n; return true; }
    return false;
  }

  Value value(int depth) {
    if (depth > 64) fail("nested deeper than 64 levels");
    skip_ws();
    if (pos_ >= doc_.size()) fail("unexpected end");
    Value v;
    char c = doc_[pos_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') { v.kind = Value::Kind::String; string_token(v); return v; }
    if (consume("true")) { v.kind = Value::Kind::Bool; v.boolean = true; return v; }
    if (consume("false")) { v.kind = Value::Kind::Bool; return v; }
    if (consume("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) { number_token(v); return v; }
    fail(std::string("unexpected character '") + c + "'");
  }

  Value object(int depth) {
    Value v;
    v.kind = Value::Kind::Object;
    ++pos_;
    skip_ws();
    if (pos_ < doc_.size() && doc_[pos_] == '}') { ++pos_; return v; }
    while (true) {
      skip_ws();
      if (pos_ >= doc_.size() || doc_[pos_] != '"') fail("expected a member name");
      Value key;
      string_token(key);
      skip_ws();
      if (pos_ >= doc_.size() || doc_[pos_] != ':') fail("expected ':'");
      ++pos_;
      v.members.emplace_back(key.text, value(depth + 1));
      skip_ws();
      if (pos_ < doc_.size() && doc_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < doc_.size() && doc_[pos_] == '}') { ++pos_; return v; }
      fail("expected ',' or '}'");
    }
  }

  Value array(int depth) {
    Value v;
    v.kind = Value::Kind::Array;
    ++pos_;
    skip_ws();
    if (pos_ < doc_.size() && doc_[pos_] == ']') { ++pos_; return v; }
    while (true) {
      v.items.push_back(value(depth + 1));
      skip_ws();
      if (pos_ < doc_.size() && doc_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < doc_.size() && doc_[pos_] == ']') { ++pos_; return v; }
      fail("expected ',' or ']'");
    }
  }

  void number_token(Value& v) {
    size_t start = pos_;
    if (doc_[pos_] == '-') ++pos_;
    while (pos_ < doc_.size() && std::string("0123456789.eE+-").find(doc_[pos_]) != std::string::npos) ++pos_;
    v.kind = Value::Kind::Number;
    v.raw = doc_.substr(start, pos_ - start);
    char* end = nullptr;
    v.number = std::strtod(v.raw.c_str(), &end);
    if (end != v.raw.c_str() + v.raw.size()) { pos_ = start; fail("bad number '" + v.raw + "'"); }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) { out += static_cast<char>(cp); }
    else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > doc_.size()) fail("short \\u escape");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      char h = doc_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= h - '0';
      else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
      else fail("bad \\u escape");
    }
    return cp;
  }

  void string_token(Value& v) {
    size_t start = pos_++;
    std::string text;
    while (true) {
      if (pos_ >= doc_.size()) fail("unterminated string");
      char c = doc_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') { text += c; continue; }
      if (pos_ >= doc_.size()) fail("unterminated escape");
      char e = doc_[pos_++];
      switch (e) {
        case '"': text += '"'; break;
        case '\\': text += '\\'; break;
        case '/': text += '/'; break;
        case 'b': text += '\b'; break;
        case 'f': text += '\f'; break;
        case 'n': text += '\n'; break;
        case 'r': text += '\r'; break;
        case 't': text += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && doc_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(text, cp);
          break;
        }
        default: fail(std::string("bad escape \\") + e);
      }
    }
    v.raw = doc_.substr(start, pos_ - start);
    v.text = std::move(text);
  }
};

void write_canonical(const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Bool: out += v.boolean ? "true" : "false"; return;
    case Value::Kind::Number: out += v.raw.empty() ? number(v.number) : v.raw; return;
    case Value::Kind::String: out += v.raw.empty() ? quote(v.text) : v.raw; return;
    case Value::Kind::Array:
      out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        write_canonical(v.items[i], out);
      }
      out += ']';
      return;
    case Value::Kind::Object: {
      std::vector<const std::pair<std::string, Value>*> sorted;
      for (const auto& m : v.members) sorted.push_back(&m);
      std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (i) out += ',';
        out += quote(sorted[i]->first);
        out += ':';
        write_canonical(sorted[i]->second, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

const Value* Value::find(const std::string& key) const {
  if (kind != Kind::Object) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

const Value& Value::at(const std::string& key, const std::string& where) const {
  const Value* v = find(key);
  if (v == nullptr) throw Error(where + ": missing key \"" + key + "\"");
  return *v;
}

double Value::as_number(const std::string& where) const {
  if (kind != Kind::Number) throw Error(where + ": expected a number");
  return number;
}

int64_t Value::as_int(const std::string& where) const {
  double n = as_number(where);
  if (n != std::floor(n)) throw Error(where + ": expected an integer, got " + raw);
  return static_cast<int64_t>(n);
}

const std::string& Value::as_string(const std::string& where) const {
  if (kind != Kind::String) throw Error(where + ": expected a string");
  return text;
}

const std::vector<Value>& Value::as_array(const std::string& where) const {
  if (kind != Kind::Array) throw Error(where + ": expected an array");
  return items;
}

Value parse(const std::string& document, const std::string& where) { return Parser(document, where).document(); }

std::string canonical(const Value& value) {
  std::string out;
  write_canonical(value, out);
  return out;
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    char buf[16];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20) { std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; continue; }
    if (c < 0x80) { out += static_cast<char>(c); continue; }
    // decode one UTF-8 sequence, escape it as Python's ensure_ascii does
    uint32_t cp = 0;
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    cp = c & (0x3F >> extra);
    for (int k = 0; k < extra && i + 1 < text.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
    } else {
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    }
    out += buf;
  }
  out += '"';
  return out;
}

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, res.ptr);
}

}  // namespace reusevos::json
