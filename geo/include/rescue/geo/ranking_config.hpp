// Tunables of the crew ranking: ETA model, staleness, level-2 radius, how much of the audit trail
// is kept.
#pragma once

#include <chrono>
#include <cstddef>

#include "rescue/geo/eta_model.hpp"

namespace rescue::geo {

struct ranking_config {
  eta_model eta;
  // A phone that has not reported for this long may be anywhere: its crew is not ranked.
  std::chrono::milliseconds max_position_age{std::chrono::minutes(5)};
  // Level 2 orders out other organisations only within this great-circle radius.
  double level2_max_radius_m = 15000;
  // Exclusions are an audit trail, not a dump of the city: keep the nearest ones, and at most
  // `max_wrong_level_exclusions` of the "wrong level" kind so that other units' crews cannot
  // crowd out the reasons the elevator's own unit was passed over.
  std::size_t max_exclusions = 32;
  std::size_t max_wrong_level_exclusions = 8;
};

}  // namespace rescue::geo
