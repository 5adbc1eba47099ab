#include <catch2/catch.hpp>

#include "rescue/geo/eta_model.hpp"
#include "rescue/geo/great_circle.hpp"

using namespace rescue::geo;

namespace {
// 2024-03-01 00:00:00 UTC = 08:00 in Chongqing.
constexpr std::int64_t midnight_utc_ms = 1709251200000;
constexpr std::int64_t hour_ms = 3600 * 1000;
// 03:00 local: no rush hour.
constexpr std::int64_t night_ms = midnight_utc_ms - 5 * hour_ms;
}  // namespace

TEST_CASE("ETA is turn-out plus distance times road factor over speed", "[unit]") {
  eta_model m;
  // 10 km straight line, ×1.4 = 14 km at 25 km/h = 2016 s, + 120 s turn-out.
  CHECK(m.eta_s(10000, "500103", night_ms) == 2136);
  m.road_factor = 1.0;
  CHECK(m.eta_s(10000, "500103", night_ms) == 1440 + 120);
  CHECK(m.eta_s(0, "500103", night_ms) == 120);
}

TEST_CASE("ETA rounds up to the next whole second", "[unit]") {
  eta_model m;
  m.road_factor = 1.0;
  m.turn_out = std::chrono::seconds(0);
  m.default_speed_kmh = 36;  // 10 m/s
  CHECK(m.eta_s(10.1, "", night_ms) == 2);
}

TEST_CASE("peak hours are judged in local time UTC+8 and slow every district", "[unit]") {
  eta_model m;
  CHECK(m.is_peak(midnight_utc_ms));                      // 08:00 local
  CHECK_FALSE(m.is_peak(midnight_utc_ms + 1 * hour_ms));  // 09:00 local: end is exclusive
  CHECK(m.is_peak(midnight_utc_ms - hour_ms));            // 07:00 local
  CHECK_FALSE(m.is_peak(midnight_utc_ms - hour_ms - 1));  // 06:59:59.999
  CHECK(m.is_peak(midnight_utc_ms + 10 * hour_ms));       // 18:00 local
  CHECK_FALSE(m.is_peak(night_ms));
  CHECK(m.speed_kmh("x", midnight_utc_ms) == Approx(25 * 0.6));
  CHECK(m.speed_kmh("x", night_ms) == Approx(25));
  CHECK(m.eta_s(10000, "x", midnight_utc_ms) > m.eta_s(10000, "x", night_ms));
}

TEST_CASE("a district override replaces the default speed and still slows at peak", "[unit]") {
  eta_model m;
  m.district_speed_kmh["500103"] = 15;
  CHECK(m.speed_kmh("500103", night_ms) == Approx(15));
  CHECK(m.speed_kmh("500112", night_ms) == Approx(25));
  CHECK(m.speed_kmh("500103", midnight_utc_ms) == Approx(9));
  m.road_factor = 1.0;
  m.turn_out = std::chrono::seconds(0);
  CHECK(m.eta_s(1500, "500103", night_ms) == 360);
}

TEST_CASE("a zero speed gives the largest ETA instead of dividing by zero", "[unit]") {
  eta_model m;
  m.district_speed_kmh["closed"] = 0;
  CHECK(m.eta_s(100, "closed", night_ms) == 0xffffffffu);
}

TEST_CASE("great-circle distance matches known city distances", "[unit]") {
  // Yuzhong to Jiangbei centres, about 5.6 km.
  const double d = great_circle_m({29.556, 106.568}, {29.606, 106.574});
  CHECK(d == Approx(5590).margin(30));
  CHECK(great_circle_m({29.5, 106.5}, {29.5, 106.5}) == 0);
  // One degree of latitude is about 111.2 km.
  CHECK(great_circle_m({0, 0}, {1, 0}) == Approx(111195).margin(5));
}
