// The live crew map: every crew's position in an R-tree, updated on each GPS ping, answering the
// incident core's "who is nearest and qualified" through crew_finder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rescue/geo/crew_finder.hpp"
#include "rescue/geo/crew_table.hpp"
#include "rescue/geo/ranking_config.hpp"
#include "rescue/registry.pb.h"

namespace rescue::geo {

// Not thread-safe: one owner (the dispatcher's geo strand) applies pings and answers queries.
//
// Search: the R-tree holds crews as points on the unit sphere, so its Euclidean (chord) order is
// the great-circle order. Nearest neighbours are pulled lazily, re-ranked by the exact haversine
// distance and released only once no unseen crew can be nearer; the walk stops as soon as
// enough qualified crews are found or the level-2 radius is passed. The result is identical to
// linear_crew_finder's brute-force scan.
class crew_index final : public crew_finder {
 public:
  explicit crew_index(ranking_config config = {});
  ~crew_index() override;
  crew_index(crew_index&&) noexcept;
  crew_index& operator=(crew_index&&) noexcept;

  void register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                     bool level2_participant);
  void register_unit(const rescue::v1::MaintenanceUnit& unit);

  // Inserts the crew, or replaces everything known about it.
  crew_update upsert(const crew_record& crew);
  crew_update upsert(const rescue::v1::CrewMember& member);
  // A GPS ping.
  crew_update move(const std::string& crew_id, lat_lon position, std::int64_t at_ms);
  crew_update remove(const std::string& crew_id);
  crew_update set_on_duty(const std::string& crew_id, bool on_duty);
  // The crew's current job; 0 = free.
  crew_update set_busy(const std::string& crew_id, std::uint64_t job);

  std::size_t size() const { return table_.size(); }
  void reserve(std::size_t crews) { table_.reserve(crews); }
  const ranking_config& config() const { return config_; }
  const crew_table& table() const { return table_; }

  crew_ranking rank(const crew_query& query) const override;
  crew_assessment assess(const std::string& crew_id, const crew_query& query) const override;

 private:
  struct tree;

  ranking_config config_;
  crew_table table_;
  std::unique_ptr<tree> tree_;
};

}  // namespace rescue::geo
