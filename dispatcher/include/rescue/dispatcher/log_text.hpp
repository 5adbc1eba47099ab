// What reaches the log from outside: untrusted text escaped and cut so that no client can forge
// a line or write a long one, repeated failures rate-limited, and the log's text or JSON format.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace rescue::dispatcher {

// Untrusted bytes made safe for one log line: backslash, CR, LF, tab and NUL as \\ \r \n \t \0,
// other control characters (C0, DEL, C1), line and paragraph separators and bidirectional
// overrides as \xNN or \u{NNNN}, invalid UTF-8 byte by byte as \xNN. Longer results are cut
// after `max_chars` characters and marked with "...[N bytes]", N being the input's size.
std::string log_safe(std::string_view text, std::size_t max_chars = 128);

// At most one line per interval for one kind of repeated event (accept errors, failed logins);
// the occurrences in between are counted and reported with the next line that goes out.
// Thread-safe.
class log_limiter {
 public:
  explicit log_limiter(std::chrono::milliseconds interval = std::chrono::seconds(1));

  // True when this occurrence may be logged; `suppressed` is then how many were not since the
  // last one that was.
  bool allow(std::uint64_t& suppressed);

 private:
  std::mutex mutex_;
  const std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

// " (N similar suppressed)" when N > 0, else empty: the tail of a rate-limited line.
std::string suppressed_note(std::uint64_t suppressed);

enum class log_format { text, json };

// Sets the pattern of every logger. Text: "time level=... thread=... message", greppable.
// JSON: one object per line, {"time","level","thread","message"}, the message JSON-escaped.
void configure_logging(log_format format);

}  // namespace rescue::dispatcher
