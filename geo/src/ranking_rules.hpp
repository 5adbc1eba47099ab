// The ranking rules both finders share: who qualifies, and how a distance-ordered walk over crews
// becomes candidates and exclusions. Private to geo/.
#pragma once

#include <optional>

#include "rescue/geo/crew_finder.hpp"
#include "rescue/geo/crew_table.hpp"
#include "rescue/geo/ranking_config.hpp"

namespace rescue::geo::detail {

struct query_context {
  query_context(const crew_table& table, const crew_query& query, const ranking_config& config);

  const crew_table& table;
  const crew_query& query;
  const ranking_config& config;
  lat_lon at;
  double cos_at;
  bool level2;
  std::optional<std::uint32_t> own_unit;  // the elevator's maintenance unit, if any crew names it
  double speed_kmh;

  double distance_m(const crew_entry& c) const {
    return great_circle_m(at, cos_at, c.position, c.cos_lat);
  }
};

// Why `c` cannot take the job at the query's level, distance aside; EXCLUSION_UNSPECIFIED when it
// qualifies. The order of checks decides which reason an auditor sees when several apply: the
// ladder first, then the crew's paperwork, then its momentary state.
rescue::v1::ExclusionReason classify(const crew_entry& c, const query_context& ctx);

// The operator's override: level and earlier refusals do not count.
rescue::v1::ExclusionReason classify_for_assess(const crew_entry& c, const query_context& ctx);

// Strict order of the walk: distance, then crew id for exact ties.
inline bool nearer(double da, const std::string& ia, double db, const std::string& ib) {
  return da < db || (da == db && ia < ib);
}

// Consumes crews in (distance, id) order. Stops once max_candidates qualified, or at level 1 once
// every crew of the unit has been seen, or at level 2 at the radius; at level 2 with too few
// candidates it goes on past the radius to report the nearest crew that would have qualified as
// out of range.
class ranking_walk {
 public:
  explicit ranking_walk(const query_context& ctx);

  // Returns false once the ranking is complete; feed nothing after that.
  bool take(const crew_entry& c, double distance_m, rescue::v1::ExclusionReason reason);
  bool done() const { return done_; }
  crew_ranking finish() &&;

 private:
  const query_context& ctx_;
  crew_ranking result_;
  std::size_t unit_crews_left_ = 0;
  std::size_t wrong_level_ = 0;
  bool past_radius_ = false;
  bool done_ = false;
};

crew_assessment assess(const crew_table& table, const std::string& crew_id, const crew_query& query,
                       const ranking_config& config);

}  // namespace rescue::geo::detail
