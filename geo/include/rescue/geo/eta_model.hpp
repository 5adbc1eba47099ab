// Estimated travel time for a crew: turn-out time plus road distance over a district- and
// hour-dependent speed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rescue::geo {

// Hours in local time, [start_hour, end_hour), 0-24.
struct hour_range {
  int start_hour = 0;
  int end_hour = 0;
};

struct eta_model {
  // Straight-line to road distance; 1.3-1.5 is typical for a hilly city with bridges.
  double road_factor = 1.4;
  double default_speed_kmh = 25.0;
  // Speeds for districts that differ from the default (6-digit administrative code → km/h), e.g.
  // the old centre with its narrow one-way streets.
  std::map<std::string, double, std::less<>> district_speed_kmh;
  // Rush hours slow every district by the same factor.
  std::vector<hour_range> peak_hours = {{7, 9}, {17, 19}};
  double peak_speed_factor = 0.6;
  // The time between accepting the job and driving off.
  std::chrono::seconds turn_out{120};
  // Local time for the peak hours: China Standard Time, no daylight saving.
  std::chrono::seconds utc_offset{8 * 3600};

  double speed_kmh(const std::string& district_code, std::int64_t now_ms) const;
  bool is_peak(std::int64_t now_ms) const;
  // Whole seconds, rounded up: an ETA is a promise, so it errs late.
  std::uint32_t eta_s(double distance_m, const std::string& district_code,
                      std::int64_t now_ms) const;
  std::uint32_t eta_s(double distance_m, double speed_kmh) const;
};

}  // namespace rescue::geo
