#include "rescue/geo/linear_crew_finder.hpp"

#include <algorithm>
#include <vector>

#include "ranking_rules.hpp"

namespace rescue::geo {

void linear_crew_finder::register_unit(const std::string& unit_id,
                                       rescue::v1::OrganisationKind kind, bool level2_participant) {
  table_.register_unit(unit_id, kind, level2_participant);
}

void linear_crew_finder::register_unit(const rescue::v1::MaintenanceUnit& unit) {
  table_.register_unit(unit.id(), unit.kind(), unit.level2_participant());
}

crew_update linear_crew_finder::upsert(const crew_record& crew) {
  lat_lon previous;
  bool existed = false;
  return table_.upsert(crew, &previous, &existed) ? crew_update::applied
                                                  : crew_update::invalid_position;
}

crew_update linear_crew_finder::upsert(const rescue::v1::CrewMember& member) {
  return upsert(crew_record::from(member));
}

crew_update linear_crew_finder::move(const std::string& crew_id, lat_lon position,
                                     std::int64_t at_ms) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  if (!is_valid(position)) return crew_update::invalid_position;
  table_.set_position(*slot, position, at_ms);
  return crew_update::applied;
}

crew_update linear_crew_finder::remove(const std::string& crew_id) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  table_.remove(*slot);
  return crew_update::applied;
}

crew_update linear_crew_finder::set_on_duty(const std::string& crew_id, bool on_duty) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  table_.crew(*slot).on_duty = on_duty;
  return crew_update::applied;
}

crew_update linear_crew_finder::set_busy(const std::string& crew_id, std::uint64_t job) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  table_.crew(*slot).current_job = job;
  return crew_update::applied;
}

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
