#include "rescue/dispatcher/crew_directory.hpp"

#include <stdexcept>

namespace rescue::dispatcher {

geo::crew_index build_crew_index(const storage::registry& registry,
                                 const geo::ranking_config& config) {
  geo::crew_index index(config);
  for (const auto& unit : registry.units())
    index.register_unit(unit);
  index.reserve(registry.crews().size());
  for (const auto& crew : registry.crews()) {
    // The registry validated every crew; a refusal here is a broken invariant.
    if (index.upsert(crew) != geo::crew_update::applied)
      throw std::logic_error("crew " + crew.id() + " refused by the crew index");
  }
  return index;
}

position_restore_report restore_positions(geo::crew_index& index,
                                          const std::vector<storage::crew_position>& stored) {
  position_restore_report report;
  report.stored = stored.size();
  for (const auto& p : stored) {
    const auto slot = index.table().find(p.crew_id);
    if (!slot) {
      ++report.unknown;
      continue;
    }
    if (p.at_ms <= index.table().crew(*slot).position_at_ms) {
      ++report.older;
      continue;
    }
    if (index.move(p.crew_id, geo::lat_lon{p.lat, p.lon}, p.at_ms) == geo::crew_update::applied)
      ++report.restored;
    else
      ++report.invalid;
  }
  return report;
}

}  // namespace rescue::dispatcher
