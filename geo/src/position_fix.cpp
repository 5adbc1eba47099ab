#include "rescue/geo/position_fix.hpp"

#include <algorithm>
#include <cmath>

namespace rescue::geo {

position_fix check_position_fix(double lat, double lon, std::int64_t reported_at_ms,
                                std::int64_t received_at_ms, std::chrono::milliseconds max_ahead) {
  position_fix fix;
  if (!std::isfinite(lat) || !std::isfinite(lon) || lat < -90 || lat > 90 || lon < -180 ||
      lon > 180) {
    fix.refused =
        "impossible coordinates: latitude must be within [-90, 90] and longitude "
        "within [-180, 180]";
    return fix;
  }
  // Receivers without a fix report the origin; no crew of this platform stands in the Gulf of
  // Guinea.
  if (lat == 0 && lon == 0) {
    fix.refused = "no GPS fix: the position is (0, 0)";
    return fix;
  }
  if (reported_at_ms > received_at_ms + max_ahead.count()) {
    fix.refused = "position stamped " + std::to_string((reported_at_ms - received_at_ms) / 1000) +
                  " s ahead of the server's clock (at most " +
                  std::to_string(max_ahead.count() / 1000) + " s): check the phone's clock";
    return fix;
  }
  fix.at_ms = reported_at_ms > 0 ? std::min(reported_at_ms, received_at_ms) : received_at_ms;
  return fix;
}

}  // namespace rescue::geo
