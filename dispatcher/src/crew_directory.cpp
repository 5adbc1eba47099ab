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

}  // namespace rescue::dispatcher
