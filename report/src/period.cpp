#include "rescue/report/period.hpp"

#include <charconv>
#include <cstdio>

#include "rescue/protocol/china_time.hpp"

namespace rescue::report {

namespace {

constexpr std::int64_t day_ms = 86'400'000;

using protocol::days_from_civil;
using civil = protocol::civil_date;

bool parse_uint(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool plausible_year(unsigned y) {
  return y >= 2000 && y <= 2200;
}

unsigned days_in_month(int y, unsigned m) {
  const std::int64_t first = days_from_civil(y, m, 1);
  const std::int64_t next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
  return static_cast<unsigned>(next - first);
}

// "2026-11-03" or "2026-11-03T08:30".
std::optional<std::int64_t> parse_instant(std::string_view s, std::string& error) {
  unsigned y = 0, m = 0, d = 0, hh = 0, mm = 0;
  const bool date_ok = s.size() >= 10 && s[4] == '-' && s[7] == '-' &&
                       parse_uint(s.substr(0, 4), y) && parse_uint(s.substr(5, 2), m) &&
                       parse_uint(s.substr(8, 2), d);
  bool time_ok = s.size() == 10;
  if (date_ok && s.size() == 16 && (s[10] == 'T' || s[10] == ' ') && s[13] == ':')
    time_ok =
        parse_uint(s.substr(11, 2), hh) && parse_uint(s.substr(14, 2), mm) && hh < 24 && mm < 60;
  if (!date_ok || !time_ok || !plausible_year(y) || m < 1 || m > 12 || d < 1 ||
      d > days_in_month(static_cast<int>(y), m)) {
    error = "'" + std::string(s) + "' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC+8)";
    return std::nullopt;
  }
  return china_midnight_ms(static_cast<int>(y), m, d) + (hh * 60 + mm) * 60'000LL;
}

}  // namespace

std::int64_t china_midnight_ms(int year, unsigned month, unsigned day) {
  return days_from_civil(year, month, day) * day_ms - china_offset_ms;
}

std::optional<period> parse_period(std::string_view text, std::string& error) {
  unsigned y = 0, n = 0;
  period p;
  p.label = std::string(text);
  if (text.size() == 4 && parse_uint(text, y) && plausible_year(y)) {
    p.from_ms = china_midnight_ms(static_cast<int>(y), 1, 1);
    p.to_ms = china_midnight_ms(static_cast<int>(y) + 1, 1, 1);
    return p;
  }
  if (text.size() == 7 && text[4] == '-' && parse_uint(text.substr(0, 4), y) && plausible_year(y)) {
    if ((text[5] == 'Q' || text[5] == 'q') && parse_uint(text.substr(6, 1), n) && n >= 1 &&
        n <= 4) {
      const unsigned first = (n - 1) * 3 + 1;
      p.label = std::string(text.substr(0, 5)) + "Q" + std::to_string(n);
      p.from_ms = china_midnight_ms(static_cast<int>(y), first, 1);
      p.to_ms = n == 4 ? china_midnight_ms(static_cast<int>(y) + 1, 1, 1)
                       : china_midnight_ms(static_cast<int>(y), first + 3, 1);
      return p;
    }
    if (parse_uint(text.substr(5, 2), n) && n >= 1 && n <= 12) {
      p.from_ms = china_midnight_ms(static_cast<int>(y), n, 1);
      p.to_ms = n == 12 ? china_midnight_ms(static_cast<int>(y) + 1, 1, 1)
                        : china_midnight_ms(static_cast<int>(y), n + 1, 1);
      return p;
    }
  }
  error = "'" + std::string(text) +
          "' is not a period: a month (2026-11), a quarter (2026-Q4) or a year (2026)";
  return std::nullopt;
}

std::optional<period> period_between(std::string_view from, std::string_view to,
                                     std::string& error) {
  const auto a = parse_instant(from, error);
  if (!a) return std::nullopt;
  const auto b = parse_instant(to, error);
  if (!b) return std::nullopt;
  if (*b <= *a) {
    error = "the period's end (" + std::string(to) + ") must come after its start (" +
            std::string(from) + ")";
    return std::nullopt;
  }
  return period{*a, *b, std::string(from) + ".." + std::string(to)};
}

std::optional<period> period_of(std::string_view text, std::string_view from, std::string_view to,
                                std::string& error) {
  if (!text.empty() && (!from.empty() || !to.empty())) {
    error = "give a period or from and to, not both";
    return std::nullopt;
  }
  if (!text.empty()) return parse_period(text, error);
  if (!from.empty() && !to.empty()) return period_between(from, to, error);
  error =
      "a period is required: a month (2026-11), a quarter (2026-Q4) or a year (2026), or "
      "from and to";
  return std::nullopt;
}

std::string china_time(std::int64_t ms) {
  return protocol::china_time(ms);
}

std::string china_month(std::int64_t ms) {
  const civil c = protocol::china_moment_of(ms).date;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", c.year, c.month);
  return buf;
}

int china_hour(std::int64_t ms) {
  return static_cast<int>(protocol::china_moment_of(ms).ms_of_day / 3'600'000);
}

}  // namespace rescue::report
