// Great-circle distance on the mean Earth sphere: the one distance every ranking in geo/ orders by.
#pragma once

#include <cmath>

namespace rescue::geo {

struct lat_lon {
  double lat = 0;  // degrees, WGS-84
  double lon = 0;  // degrees, WGS-84
};

inline constexpr double earth_radius_m = 6371008.8;  // IUGG mean radius
inline constexpr double degree_rad = 0.017453292519943295;

inline bool is_valid(lat_lon p) {
  return std::isfinite(p.lat) && std::isfinite(p.lon) && p.lat >= -90 && p.lat <= 90 &&
         p.lon >= -180 && p.lon <= 180;
}

// Haversine with the cosines of both latitudes supplied, so that stores can cache the crew's
// cosine. Every finder computes distances through this one function: the R-tree and the linear
// reference must agree to the last bit or their orderings could differ on near-ties.
inline double great_circle_m(lat_lon a, double cos_lat_a, lat_lon b, double cos_lat_b) {
  const double s_lat = std::sin((b.lat - a.lat) * degree_rad * 0.5);
  const double s_lon = std::sin((b.lon - a.lon) * degree_rad * 0.5);
  double h = s_lat * s_lat + cos_lat_a * cos_lat_b * s_lon * s_lon;
  if (h > 1) h = 1;
  return 2 * earth_radius_m * std::asin(std::sqrt(h));
}

inline double cos_lat(lat_lon p) {
  return std::cos(p.lat * degree_rad);
}

inline double great_circle_m(lat_lon a, lat_lon b) {
  return great_circle_m(a, cos_lat(a), b, cos_lat(b));
}

}  // namespace rescue::geo
