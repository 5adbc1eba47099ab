// Reads a harness's structured input front to back, with zeros past the end, so that the seed
// generator can write the same layout (byte_writer) and every input still means something.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rescue::fuzz {

class byte_reader {
 public:
  byte_reader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  std::size_t remaining() const { return rest_.size(); }

  template <class Int>
  Int integer() {  // big-endian
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i)
      v = (v << 8) | static_cast<std::uint8_t>(take(1).empty() ? 0 : last_);
    return static_cast<Int>(v);
  }
  bool flag() { return integer<std::uint8_t>() & 1; }

  // Exactly n bytes, fewer at the end of the input.
  std::string fixed(std::size_t n) { return std::string(take(n)); }
  // A u16 length, then that many bytes (at most `max`).
  std::string bytes(std::size_t max) {
    return fixed(std::min<std::size_t>(integer<std::uint16_t>(), max));
  }

 private:
  std::string_view take(std::size_t n) {
    const std::string_view out = rest_.substr(0, std::min(n, rest_.size()));
    if (!out.empty()) last_ = out.back();
    rest_.remove_prefix(out.size());
    return out;
  }

  std::string_view rest_;
  char last_ = 0;
};

class byte_writer {
 public:
  template <class Int>
  byte_writer& integer(Int v) {
    for (int shift = 8 * (static_cast<int>(sizeof(Int)) - 1); shift >= 0; shift -= 8)
      out_.push_back(static_cast<char>(static_cast<std::uint64_t>(v) >> shift));
    return *this;
  }
  byte_writer& flag(bool v) { return integer<std::uint8_t>(v ? 1 : 0); }
  byte_writer& fixed(std::string_view s) {
    out_.append(s);
    return *this;
  }
  byte_writer& bytes(std::string_view s) {
    integer(static_cast<std::uint16_t>(s.size()));
    return fixed(s);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace rescue::fuzz
