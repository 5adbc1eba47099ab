#include "rescue/geo/linear_crew_finder.hpp"

#include <algorithm>
#include <vector>

#include "ranking_rules.hpp"

namespace rescue::geo {

crew_ranking linear_crew_finder::rank(const crew_query& query) const {
  const detail::query_context ctx(table_, query, config_);
  detail::ranking_walk walk(ctx);
  if (walk.done()) return std::move(walk).finish();

  struct entry {
    double distance_m;
    const crew_entry* crew;
  };
  std::vector<entry> all;
  all.reserve(table_.size());
  for (const crew_entry& c : table_.crews()) {
    if (c.live) all.push_back({ctx.distance_m(c), &c});
  }
  // Min-heap on (distance, id).
  const auto farther = [](const entry& a, const entry& b) {
    return detail::nearer(b.distance_m, b.crew->id, a.distance_m, a.crew->id);
  };
  std::make_heap(all.begin(), all.end(), farther);
  auto end = all.end();
  while (end != all.begin()) {
    std::pop_heap(all.begin(), end, farther);
    --end;
    if (!walk.take(*end->crew, end->distance_m, detail::classify(*end->crew, ctx))) break;
  }
  return std::move(walk).finish();
}

crew_assessment linear_crew_finder::assess(const std::string& crew_id,
                                           const crew_query& query) const {
  return detail::assess(table_, crew_id, query, config_);
}

}  // namespace rescue::geo
