// Districts grouped into shards: which shard decides a command, and which incident ids are
// whose. Each shard is its own journal (stream, sequence, chain, lease); the incident id carries
// the shard's number, so any instance routes a command on an incident without a lookup.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rescue/core/incident_core.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::core {

struct shard_spec {
  std::string name;  // the store's suffix: store "<city>.<name>"
  // 1 to 999, never reused for another shard: ids of its incidents are number * 10^12 + n.
  std::uint32_t number = 0;
  // 6-digit district codes; "*" takes every district no other shard lists.
  std::vector<std::string> districts;
};

// Incident ids of shard `number` start at number * ids_per_shard + 1. Unsharded ids stay below
// ids_per_shard, as they always were.
inline constexpr incident_id ids_per_shard = 1'000'000'000'000ULL;
inline constexpr std::uint32_t max_shard_number = 999;

class shard_map {
 public:
  // Unsharded: one journal decides everything.
  shard_map() = default;
  // Throws std::invalid_argument naming the fault: duplicate names or numbers, a number out of
  // range, a district listed twice or not a district code, a second "*", or a district of the
  // registry's elevators that no shard takes.
  shard_map(std::vector<shard_spec> shards, const storage::registry& registry);

  bool sharded() const { return !shards_.empty(); }
  const std::vector<shard_spec>& shards() const { return shards_; }

  const shard_spec* by_name(std::string_view name) const;
  const shard_spec* of_district(std::string_view district_code) const;
  // Null for an id below ids_per_shard or of a number no shard has.
  const shard_spec* of_incident(incident_id id) const;
  // Where a crew's shift changes are journalled: the shard holding most of its unit's
  // elevators (the lowest number on a tie, and for a unit with none).
  const shard_spec* home_of_crew(std::string_view crew_id) const;

  static incident_id first_incident_id(const shard_spec& s) {
    return static_cast<incident_id>(s.number) * ids_per_shard + 1;
  }

  // The shard that must decide `c`; null when the command names nothing the registry knows
  // (the deciding core then refuses it with the reason) or when unsharded.
  const shard_spec* route(const command& c) const;

 private:
  std::vector<shard_spec> shards_;  // by number
  std::unordered_map<std::string, std::size_t> by_district_;
  std::size_t fallback_ = npos;  // the "*" shard
  std::unordered_map<std::string, std::size_t> home_of_unit_;
  const storage::registry* registry_ = nullptr;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  std::size_t index_of_district(std::string_view code) const;
};

}  // namespace rescue::core
