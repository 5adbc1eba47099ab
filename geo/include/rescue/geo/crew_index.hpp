// The live crew map: every crew's position in an R-tree, updated on each GPS ping, answering the
// incident core's "who is nearest and qualified" through crew_finder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rescue/geo/crew_finder.hpp"
#include "rescue/geo/crew_store.hpp"
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
class crew_index final : public crew_finder, public crew_store {
 public:
  explicit crew_index(ranking_config config = {});
  ~crew_index() override;
  crew_index(crew_index&&) noexcept;
  crew_index& operator=(crew_index&&) noexcept;

  const ranking_config& config() const { return config_; }

  crew_ranking rank(const crew_query& query) const override;
  crew_assessment assess(const std::string& crew_id, const crew_query& query) const override;

 private:
  struct tree;

  void placed(std::uint32_t slot, std::optional<lat_lon> from, std::optional<lat_lon> to) override;

  ranking_config config_;
  std::unique_ptr<tree> tree_;
};

}  // namespace rescue::geo
