// What the Redis store's parts share: numbers to and from replies, and member padding.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "rescue/storage/redis_connection.hpp"

namespace rescue::storage::redis_detail {

// Zero-padded to 20 digits, so a sorted set's lexicographic tie order is numeric order.
inline std::string padded(std::uint64_t v) {
  std::string s = std::to_string(v);
  return std::string(20 - s.size(), '0') + s;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && p == end;
}

// A reply that is a string (or status) holding a number; nil counts as `fallback`.
template <class T>
bool reply_number(const redis_reply& r, T& out, T fallback = 0) {
  if (r.is_nil()) {
    out = fallback;
    return true;
  }
  if (r.type == redis_reply::kind::integer) {
    out = static_cast<T>(r.integer);
    return true;
  }
  return (r.type == redis_reply::kind::string || r.type == redis_reply::kind::status) &&
         parse_number(r.str, out);
}

// The replicas `INFO replication` lists as online.
inline int online_replicas(const std::string& info) {
  int online = 0;
  for (std::size_t at = info.find("\nslave"); at != std::string::npos;
       at = info.find("\nslave", at + 1)) {
    const auto end = info.find('\n', at + 1);
    const std::string_view line(info.data() + at,
                                (end == std::string::npos ? info.size() : end) - at);
    if (line.find("state=online") != std::string_view::npos) ++online;
  }
  return online;
}

// Lua shared by the scripts: zero padding as above.
inline constexpr const char* lua_padded =
    "local function padded(v) v = tostring(v) return string.rep('0', 20 - #v) .. v end\n";

}  // namespace rescue::storage::redis_detail
