// The dispatch policy the incident core follows: timeouts, windows and targets, from TOML.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace rescue::dispatcher {

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

// Reads the [dispatch] table of a TOML document. Unknown keys, wrong types and out-of-range
// values are errors naming the key. Throws std::runtime_error: policy is read at start-up only.
escalation_policy parse_escalation_policy(std::string_view toml_text, std::string_view source);
escalation_policy load_escalation_policy(const std::filesystem::path& path);

}  // namespace rescue::dispatcher
