#include "rescue/protocol/china_time.hpp"

#include <cstdio>

namespace rescue::protocol {

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::int64_t offset_ms = 8 * 3'600'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

// H. Hinnant's days_from_civil and civil_from_days.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

civil_date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int y = static_cast<int>(yoe) + static_cast<int>(era) * 400 + (m <= 2);
  return {y, m, d};
}

china_moment china_moment_of(std::int64_t unix_ms) {
  const std::int64_t local = unix_ms + offset_ms;
  const std::int64_t days = floor_div(local, day_ms);
  return {civil_from_days(days), local - days * day_ms};
}

std::string china_time(std::int64_t unix_ms, bool with_millis) {
  const auto [c, in_day] = china_moment_of(unix_ms);
  const int secs = static_cast<int>(in_day / 1000);
  char buf[48];
  if (with_millis)
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03d+08:00", c.year, c.month,
                  c.day, secs / 3600, secs / 60 % 60, secs % 60, static_cast<int>(in_day % 1000));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d+08:00", c.year, c.month, c.day,
                  secs / 3600, secs / 60 % 60, secs % 60);
  return buf;
}

}  // namespace rescue::protocol
