// Brute-force reference of the crew ranking: scans every crew. The yardstick for crew_index in
// property tests and benchmarks; too slow for a city.
#pragma once

#include <cstdint>
#include <string>

#include "rescue/geo/crew_finder.hpp"
#include "rescue/geo/crew_table.hpp"
#include "rescue/geo/ranking_config.hpp"
#include "rescue/registry.pb.h"

namespace rescue::geo {

class linear_crew_finder final : public crew_finder {
 public:
  explicit linear_crew_finder(ranking_config config = {}) : config_(std::move(config)) {}

  void register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                     bool level2_participant);
  void register_unit(const rescue::v1::MaintenanceUnit& unit);

  crew_update upsert(const crew_record& crew);
  crew_update upsert(const rescue::v1::CrewMember& member);
  crew_update move(const std::string& crew_id, lat_lon position, std::int64_t at_ms);
  crew_update remove(const std::string& crew_id);
  crew_update set_on_duty(const std::string& crew_id, bool on_duty);
  crew_update set_busy(const std::string& crew_id, std::uint64_t job);

  std::size_t size() const { return table_.size(); }
  void reserve(std::size_t crews) { table_.reserve(crews); }
  const crew_table& table() const { return table_; }

  // Every crew's distance, then a heap popped in (distance, id) order into the same walk the
  // index uses: no pruning, no cleverness.
  crew_ranking rank(const crew_query& query) const override;
  crew_assessment assess(const std::string& crew_id, const crew_query& query) const override;

 private:
  ranking_config config_;
  crew_table table_;
};

}  // namespace rescue::geo
