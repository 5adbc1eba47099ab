// The dispatch policy the incident core follows: timeouts, windows and targets. A plain value;
// the server reads it from the [dispatch] table of its config (server_config.hpp).
#pragma once

#include <chrono>
#include <cstddef>

namespace rescue::core {

struct escalation_policy {
  // How long one crew has to accept an offer before it goes to the next candidate.
  std::chrono::seconds offer_timeout{60};
  // How long level 1 (the elevator's own maintenance unit) has to accept before level 2.
  std::chrono::seconds level1_window{180};
  // How long level 2 has to accept before fire rescue (level 3) is called.
  std::chrono::seconds level2_window{300};
  // Escalate as soon as the best crew's ETA exceeds the time left to the arrival target.
  bool predictive_escalation = true;
  // Call fire rescue at once when someone is injured or unwell.
  bool fire_on_injured = true;
  std::chrono::minutes urban_target{30};
  std::chrono::minutes rural_target{60};
  // After people are released, a further alarm for the same elevator within this window joins
  // the incident (a late call about the same entrapment); later ones open a new incident.
  std::chrono::seconds merge_window{600};
  // How many ranked candidates the core asks for and records.
  std::size_t max_candidates = 5;
};

}  // namespace rescue::core
