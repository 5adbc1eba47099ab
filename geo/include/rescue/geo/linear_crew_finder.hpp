// Brute-force reference of the crew ranking: scans every crew. The yardstick for crew_index in
// property tests and benchmarks; too slow for a city.
#pragma once

#include <cstdint>
#include <string>

#include "rescue/geo/crew_finder.hpp"
#include "rescue/geo/crew_store.hpp"
#include "rescue/geo/ranking_config.hpp"
#include "rescue/registry.pb.h"

namespace rescue::geo {

class linear_crew_finder final : public crew_finder, public crew_store {
 public:
  explicit linear_crew_finder(ranking_config config = {}) : config_(std::move(config)) {}

  // Every crew's distance, then a heap popped in (distance, id) order into the same walk the
  // index uses: no pruning, no cleverness.
  crew_ranking rank(const crew_query& query) const override;
  crew_assessment assess(const std::string& crew_id, const crew_query& query) const override;

 private:
  ranking_config config_;
};

}  // namespace rescue::geo
