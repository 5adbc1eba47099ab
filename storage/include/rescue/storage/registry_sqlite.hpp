// A read-only copy of the registry as SQLite tables beside the journal, for auditors' queries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "rescue/storage/registry.hpp"

namespace rescue::storage {

// Replaces `file` with the registry's records (tables elevators, units, building_operators,
// crews, terminals without their secrets, and registry_meta), written to a temporary file and
// renamed into place so a reader never sees half a registry. Returns an empty string on
// success, otherwise a readable reason; `file` is then left as it was.
std::string write_registry_sqlite(const registry& reg, const std::filesystem::path& file,
                                  const std::string& source, std::int64_t loaded_at_ms);

}  // namespace rescue::storage
