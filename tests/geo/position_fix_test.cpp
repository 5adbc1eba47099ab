#include <catch2/catch.hpp>

#include <limits>

#include "rescue/geo/position_fix.hpp"

using rescue::geo::check_position_fix;

namespace {
constexpr std::int64_t now = 1'700'000'000'000;
}

TEST_CASE("a fix is kept at the earlier of the phone's stamp and the receive time", "[unit][geo]") {
  CHECK(check_position_fix(29.5, 106.5, now - 5000, now).at_ms == now - 5000);
  CHECK(check_position_fix(29.5, 106.5, now + 20'000, now).at_ms == now);
  CHECK(check_position_fix(29.5, 106.5, 0, now).at_ms == now);
  CHECK(check_position_fix(29.5, 106.5, -4, now).at_ms == now);
  CHECK(check_position_fix(29.5, 106.5, now - 5000, now).refused.empty());
}

TEST_CASE("a fix stamped beyond the clock allowance is refused, one at the allowance is not",
          "[unit][geo]") {
  const auto ahead = rescue::geo::max_clock_ahead.count();
  CHECK(ahead == 30'000);
  CHECK(check_position_fix(29.5, 106.5, now + ahead, now).refused.empty());
  const auto late = check_position_fix(29.5, 106.5, now + ahead + 1, now);
  CHECK_FALSE(late.refused.empty());
  CHECK(late.refused.find("ahead of the server's clock") != std::string::npos);
  CHECK_FALSE(check_position_fix(29.5, 106.5, now + 3'600'000, now).refused.empty());
}

TEST_CASE("impossible coordinates and the no-fix origin are refused", "[unit][geo]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [lat, lon] : std::vector<std::pair<double, double>>{{90.0001, 106.5},
                                                                       {-90.5, 106.5},
                                                                       {29.5, 180.5},
                                                                       {29.5, -181},
                                                                       {nan, 106.5},
                                                                       {29.5, nan},
                                                                       {inf, 106.5},
                                                                       {29.5, -inf},
                                                                       {0.0, 0.0}}) {
    INFO(lat << ", " << lon);
    CHECK_FALSE(check_position_fix(lat, lon, now, now).refused.empty());
  }
  CHECK(check_position_fix(90, 180, now, now).refused.empty());
  CHECK(check_position_fix(-90, -180, now, now).refused.empty());
  CHECK(check_position_fix(0.0, 106.5, now, now).refused.empty());
}
