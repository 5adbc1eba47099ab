// Checks a GPS fix reported by a crew phone before it enters the crew index: the server's
// receive time bounds its age, and impossible fixes are refused with a reason the crew can read.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rescue::geo {

struct position_fix {
  std::string refused;     // empty: accepted
  std::int64_t at_ms = 0;  // the time the index keeps: never later than the receive time
};

// A phone's clock may run this far ahead of the server's before its fixes are refused.
inline constexpr std::chrono::milliseconds max_clock_ahead{std::chrono::seconds(30)};

// `reported_at_ms` is the phone's stamp (0 or less: none); `received_at_ms` the server's clock
// when the fix arrived. An accepted fix is stamped min(reported, received), so a phone that stops
// reporting goes stale on the server's clock whatever it claimed.
position_fix check_position_fix(double lat, double lon, std::int64_t reported_at_ms,
                                std::int64_t received_at_ms,
                                std::chrono::milliseconds max_ahead = max_clock_ahead);

}  // namespace rescue::geo
