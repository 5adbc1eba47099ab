// The question the incident core asks when it needs a crew: who, ranked by travel time, and why not
// the others.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "rescue/common.pb.h"

namespace rescue::geo {

struct crew_query {
  // LEVEL_1_MAINTENANCE: crews of `maintenance_unit_id` only. LEVEL_2_AREA: crews of other units
  // and rescue stations that take part in area rescue, within the configured radius.
  rescue::v1::RescueLevel level = rescue::v1::LEVEL_1_MAINTENANCE;
  std::string elevator_id;
  std::string maintenance_unit_id;
  std::string district_code;
  rescue::v1::GeoPoint location;
  std::int64_t now_ms = 0;  // for position staleness and the hour-of-day speed
  std::size_t max_candidates = 5;
  // Crews the core knows are engaged on other open incidents (reported as busy) and crews that
  // already declined or let an offer expire on this incident (reported as already tried).
  std::unordered_set<std::string> engaged;
  std::unordered_set<std::string> already_tried;
  // The core's shift changes, by crew (not owned; outlives the query). A crew not in it is on
  // duty as the registry says. Null: the registry's duty for everyone.
  const std::map<std::string, bool>* duty = nullptr;
};

struct crew_ranking {
  std::vector<rescue::v1::Candidate> candidates;  // best first, rank from 1
  std::vector<rescue::v1::Exclusion> exclusions;  // nearer than the last candidate, passed over
};

// What an operator's hand-picked crew would mean: its ETA, or why it cannot take the job.
struct crew_assessment {
  bool known = false;
  std::optional<rescue::v1::Candidate> candidate;
  rescue::v1::ExclusionReason reason = rescue::v1::EXCLUSION_UNSPECIFIED;
};

class crew_finder {
 public:
  virtual ~crew_finder() = default;
  virtual crew_ranking rank(const crew_query& query) const = 0;
  // Level and already-tried are ignored: the operator may override the ladder.
  virtual crew_assessment assess(const std::string& crew_id, const crew_query& query) const = 0;
};

}  // namespace rescue::geo
