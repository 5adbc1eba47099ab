// Crew and organisation records shared by the crew finders: ids, licence, the registry's duty,
// position. Whether a crew is engaged, and its shift changes, are the incident core's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rescue/geo/great_circle.hpp"
#include "rescue/registry.pb.h"

namespace rescue::geo {

// What a finder needs to know about one crew member; built from the registry's CrewMember or by
// hand in tests and tools.
struct crew_record {
  std::string id;
  std::string unit_id;
  bool licensed = false;
  bool on_duty = false;  // the registry's; the core's shift changes override it (crew_query)
  lat_lon position;
  std::int64_t position_at_ms = 0;

  // A crew without a certificate is unlicensed; a crew without a position gets (0, 0) at time 0,
  // which is always stale, so it is never ranked but can still be assessed.
  static crew_record from(const rescue::v1::CrewMember& member);
};

enum class crew_update {
  applied,
  unknown_crew,
  invalid_position,  // not finite or outside [-90, 90] × [-180, 180]
};

inline constexpr std::uint32_t no_slot = 0xffffffffu;

struct unit_entry {
  std::string id;
  rescue::v1::OrganisationKind kind = rescue::v1::ORG_UNSPECIFIED;
  bool level2_participant = false;
  bool registered = false;           // crews may name a unit before the unit itself is loaded
  std::vector<std::uint32_t> crews;  // slots of the unit's crews, for level-1 searches
};

struct crew_entry {
  std::string id;
  std::uint32_t unit = no_slot;
  std::uint32_t index_in_unit = 0;
  bool live = false;
  bool licensed = false;
  bool on_duty = false;
  lat_lon position;
  double cos_lat = 1;
  std::int64_t position_at_ms = 0;
};

// Slot-addressed storage: a crew keeps its slot for life, so the spatial index can refer to it by
// a 32-bit number and a GPS ping touches one hash lookup and one vector element.
class crew_table {
 public:
  std::optional<std::uint32_t> find(const std::string& crew_id) const;
  std::optional<std::uint32_t> find_unit(const std::string& unit_id) const;

  void register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                     bool level2_participant);

  // Inserts or replaces; returns the slot, or nothing for an invalid position.
  std::optional<std::uint32_t> upsert(const crew_record& record, lat_lon* previous_position,
                                      bool* existed);
  bool remove(std::uint32_t slot);
  void set_position(std::uint32_t slot, lat_lon position, std::int64_t at_ms);

  crew_entry& crew(std::uint32_t slot) { return crews_[slot]; }
  const crew_entry& crew(std::uint32_t slot) const { return crews_[slot]; }
  const unit_entry& unit(std::uint32_t unit) const { return units_[unit]; }
  const std::vector<crew_entry>& crews() const { return crews_; }
  std::size_t size() const { return by_id_.size(); }
  void reserve(std::size_t crews);

 private:
  std::uint32_t intern_unit(const std::string& unit_id);

  std::vector<crew_entry> crews_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<std::string, std::uint32_t> by_id_;
  std::vector<unit_entry> units_;
  std::unordered_map<std::string, std::uint32_t> unit_by_id_;
};

}  // namespace rescue::geo
