// Report periods in China Standard Time (UTC+8, no daylight saving): a month, a quarter, a year
// or any from..to, as half-open intervals of Unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rescue::report {

constexpr std::int64_t china_offset_ms = 8 * 3600 * 1000;

struct period {
  std::int64_t from_ms = 0;  // first instant
  std::int64_t to_ms = 0;    // first instant after
  std::string label;         // "2026-11", "2026-Q4", "2026", "2026-11-03..2026-11-10"
};

// "2026-11" (a month), "2026-Q4" (a quarter), "2026" (a year). nullopt with `error` set otherwise.
std::optional<period> parse_period(std::string_view text, std::string& error);

// From and to as "2026-11-03" (midnight) or "2026-11-03T08:30" (minutes), both UTC+8, to after
// from.
std::optional<period> period_between(std::string_view from, std::string_view to,
                                     std::string& error);

// What a caller asked for: `text` (parse_period) or `from` and `to` (period_between), not both.
std::optional<period> period_of(std::string_view text, std::string_view from, std::string_view to,
                                std::string& error);

// "2026-11-01T08:30:00+08:00"
std::string china_time(std::int64_t ms);
// "2026-11"
std::string china_month(std::int64_t ms);
// Hour of the day 0-23 in UTC+8.
int china_hour(std::int64_t ms);

// Midnight UTC+8 of a civil date, in Unix milliseconds.
std::int64_t china_midnight_ms(int year, unsigned month, unsigned day);

}  // namespace rescue::report
