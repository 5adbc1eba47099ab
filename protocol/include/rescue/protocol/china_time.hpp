// Instants as China Standard Time text (UTC+8, no daylight saving): the one way every report,
// export and upload record writes a time. Pure arithmetic, no time-zone database.
#pragma once

#include <cstdint>
#include <string>

namespace rescue::protocol {

struct civil_date {
  int year;
  unsigned month, day;
};

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
std::int64_t days_from_civil(int year, unsigned month, unsigned day);
civil_date civil_from_days(std::int64_t days);

// An instant as a China Standard Time date and the milliseconds since its midnight.
struct china_moment {
  civil_date date;
  std::int64_t ms_of_day;
};
china_moment china_moment_of(std::int64_t unix_ms);

// "2026-11-03T08:15:00+08:00", or with milliseconds "2026-11-03T08:15:00.123+08:00".
std::string china_time(std::int64_t unix_ms, bool with_millis = false);

}  // namespace rescue::protocol
