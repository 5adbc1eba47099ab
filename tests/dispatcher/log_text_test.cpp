// Untrusted text on its way to the log: escaped, cut, and repeated lines rate-limited.
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "rescue/dispatcher/log_text.hpp"

namespace {

using rescue::dispatcher::log_limiter;
using rescue::dispatcher::log_safe;
using namespace std::string_literals;

TEST_CASE("log_safe leaves printable ASCII and valid UTF-8 alone", "[unit]") {
  CHECK(log_safe("T-500103-0001") == "T-500103-0001");
  CHECK(log_safe("重庆市渝中区") == "重庆市渝中区");
  CHECK(log_safe("") == "");
}

TEST_CASE("log_safe escapes line breaks, NUL, tabs, backslashes and control characters", "[unit]") {
  CHECK(log_safe("a\r\nlevel=critical fake") == "a\\r\\nlevel=critical fake");
  CHECK(log_safe("x\0y"s) == "x\\0y");
  CHECK(log_safe("tab\there") == "tab\\there");
  CHECK(log_safe("back\\slash") == "back\\\\slash");
  CHECK(log_safe("\x1b[31mred") == "\\x1b[31mred");
  CHECK(log_safe("\x7f") == "\\x7f");
}

TEST_CASE("log_safe escapes invalid UTF-8 byte by byte and deceptive code points", "[unit]") {
  CHECK(log_safe("\xff\xfe") == "\\xff\\xfe");
  CHECK(log_safe("\xc0\xaf") == "\\xc0\\xaf");           // overlong '/'
  CHECK(log_safe("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(log_safe("\xe4\xb8") == "\\xe4\\xb8");           // cut short
  CHECK(log_safe("\xc2\x85") == "\\u{85}");              // NEL, a C1 line break
  CHECK(log_safe("a\xe2\x80\xa8z") == "a\\u{2028}z");    // line separator
  CHECK(log_safe("\xe2\x80\xaetxt") == "\\u{202e}txt");  // right-to-left override
}

TEST_CASE("log_safe cuts long text and says how long it was", "[unit]") {
  const std::string long_id(16 * 1024, 'A');
  const std::string safe = log_safe(long_id);
  CHECK(safe.size() < 160);
  CHECK(safe.starts_with(std::string(128, 'A')));
  CHECK(safe.ends_with("...[16384 bytes]"));
  CHECK(log_safe("abcdef", 3) == "abc...[6 bytes]");
  CHECK(log_safe("abc", 3) == "abc");
  // Multi-byte characters count as one and are never split.
  CHECK(log_safe("渝渝渝渝", 2) == "渝渝...[12 bytes]");
}

TEST_CASE("a log limiter lets one line a interval through and counts the rest", "[unit]") {
  log_limiter limiter(std::chrono::milliseconds(100));
  std::uint64_t suppressed = 99;
  REQUIRE(limiter.allow(suppressed));
  CHECK(suppressed == 0);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i)
    if (limiter.allow(suppressed)) ++allowed;
  CHECK(allowed == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  REQUIRE(limiter.allow(suppressed));
  CHECK(suppressed == 1000);
}

}  // namespace
