// Builds the live crew index from the registry: every unit and station, every crew at its last
// known position.
#pragma once

#include "rescue/geo/crew_index.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::dispatcher {

geo::crew_index build_crew_index(const storage::registry& registry,
                                 const geo::ranking_config& config);

}  // namespace rescue::dispatcher
