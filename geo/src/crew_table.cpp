#include "rescue/geo/crew_table.hpp"

namespace rescue::geo {

crew_record crew_record::from(const rescue::v1::CrewMember& member) {
  crew_record r;
  r.id = member.id();
  r.unit_id = member.unit_id();
  r.licensed = !member.certificate().empty();
  r.on_duty = member.on_duty();
  if (member.has_position()) {
    r.position = {member.position().lat(), member.position().lon()};
    r.position_at_ms = member.position_at_ms();
  }
  return r;
}

std::optional<std::uint32_t> crew_table::find(const std::string& crew_id) const {
  auto it = by_id_.find(crew_id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint32_t> crew_table::find_unit(const std::string& unit_id) const {
  auto it = unit_by_id_.find(unit_id);
  if (it == unit_by_id_.end()) return std::nullopt;
  return it->second;
}

std::uint32_t crew_table::intern_unit(const std::string& unit_id) {
  auto [it, inserted] = unit_by_id_.try_emplace(unit_id, static_cast<std::uint32_t>(units_.size()));
  if (inserted) {
    unit_entry u;
    u.id = unit_id;
    units_.push_back(std::move(u));
  }
  return it->second;
}

void crew_table::register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                               bool level2_participant) {
  unit_entry& u = units_[intern_unit(unit_id)];
  u.kind = kind;
  u.level2_participant = level2_participant;
  u.registered = true;
}

void crew_table::reserve(std::size_t crews) {
  crews_.reserve(crews);
  by_id_.reserve(crews);
}

std::optional<std::uint32_t> crew_table::upsert(const crew_record& record,
                                                lat_lon* previous_position, bool* existed) {
  if (!is_valid(record.position)) return std::nullopt;
  std::uint32_t slot;
  auto it = by_id_.find(record.id);
  *existed = it != by_id_.end();
  if (*existed) {
    slot = it->second;
    *previous_position = crews_[slot].position;
    const std::uint32_t unit = intern_unit(record.unit_id);
    if (unit != crews_[slot].unit) {
      remove(slot);
      by_id_.emplace(record.id, slot);
      free_slots_.pop_back();  // remove() freed this very slot
    }
  } else if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    by_id_.emplace(record.id, slot);
  } else {
    slot = static_cast<std::uint32_t>(crews_.size());
    crews_.emplace_back();
    by_id_.emplace(record.id, slot);
  }
  crew_entry& c = crews_[slot];
  const std::uint32_t unit = intern_unit(record.unit_id);
  if (!c.live || c.unit != unit) {
    c.unit = unit;
    c.index_in_unit = static_cast<std::uint32_t>(units_[unit].crews.size());
    units_[unit].crews.push_back(slot);
  }
  c.id = record.id;
  c.live = true;
  c.licensed = record.licensed;
  c.on_duty = record.on_duty;
  set_position(slot, record.position, record.position_at_ms);
  return slot;
}

bool crew_table::remove(std::uint32_t slot) {
  crew_entry& c = crews_[slot];
  if (!c.live) return false;
  // Swap-remove from the unit's list, fixing the moved crew's back-reference.
  std::vector<std::uint32_t>& members = units_[c.unit].crews;
  const std::uint32_t last = members.back();
  members[c.index_in_unit] = last;
  crews_[last].index_in_unit = c.index_in_unit;
  members.pop_back();
  by_id_.erase(c.id);
  c.live = false;
  c.id.clear();
  free_slots_.push_back(slot);
  return true;
}

void crew_table::set_position(std::uint32_t slot, lat_lon position, std::int64_t at_ms) {
  crew_entry& c = crews_[slot];
  c.position = position;
  c.cos_lat = cos_lat(position);
  c.position_at_ms = at_ms;
}

}  // namespace rescue::geo
