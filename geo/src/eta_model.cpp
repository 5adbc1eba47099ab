#include "rescue/geo/eta_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rescue::geo {

bool eta_model::is_peak(std::int64_t now_ms) const {
  constexpr std::int64_t day_ms = 24LL * 3600 * 1000;
  const std::int64_t local_ms = now_ms + static_cast<std::int64_t>(utc_offset.count()) * 1000;
  // Floor modulo, so instants before 1970 still map onto a clock hour.
  const std::int64_t of_day = ((local_ms % day_ms) + day_ms) % day_ms;
  const int hour = static_cast<int>(of_day / (3600 * 1000));
  return std::any_of(peak_hours.begin(), peak_hours.end(), [hour](const hour_range& r) {
    return hour >= r.start_hour && hour < r.end_hour;
  });
}

double eta_model::speed_kmh(const std::string& district_code, std::int64_t now_ms) const {
  double speed = default_speed_kmh;
  if (auto it = district_speed_kmh.find(district_code); it != district_speed_kmh.end()) {
    speed = it->second;
  }
  if (is_peak(now_ms)) speed *= peak_speed_factor;
  return speed;
}

std::uint32_t eta_model::eta_s(double distance_m, double speed) const {
  const double turn_out_s = static_cast<double>(turn_out.count());
  // A zero or negative speed means nobody can get there: the largest ETA, never a division by zero.
  if (!(speed > 0)) return std::numeric_limits<std::uint32_t>::max();
  const double s = turn_out_s + distance_m * road_factor / (speed / 3.6);
  if (!(s < static_cast<double>(std::numeric_limits<std::uint32_t>::max()))) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(std::ceil(std::max(0.0, s)));
}

std::uint32_t eta_model::eta_s(double distance_m, const std::string& district_code,
                               std::int64_t now_ms) const {
  return eta_s(distance_m, speed_kmh(district_code, now_ms));
}

}  // namespace rescue::geo
