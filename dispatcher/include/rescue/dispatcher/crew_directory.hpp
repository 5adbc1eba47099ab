// Builds the live crew index from the registry: every unit and station, every crew at its last
// known position, the registry's or, when newer, the one stored before the last stop.
#pragma once

#include <cstddef>
#include <vector>

#include "rescue/geo/crew_index.hpp"
#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::dispatcher {

geo::crew_index build_crew_index(const storage::registry& registry,
                                 const geo::ranking_config& config);

struct position_restore_report {
  std::size_t stored = 0;    // positions the store held
  std::size_t restored = 0;  // taken into the index
  std::size_t older = 0;     // not newer than the registry's position: the registry's stands
  std::size_t unknown = 0;   // crews no longer in the registry
  std::size_t invalid = 0;   // coordinates the index refuses
};

// Moves every crew of `index` to its stored position when that is newer than the one it has
// (the registry's, with its `position_at_ms`); crews the index does not know are skipped.
position_restore_report restore_positions(geo::crew_index& index,
                                          const std::vector<storage::crew_position>& stored);

}  // namespace rescue::dispatcher
