#include "rescue/geo/crew_store.hpp"

namespace rescue::geo {

void crew_store::register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                               bool level2_participant) {
  table_.register_unit(unit_id, kind, level2_participant);
}

void crew_store::register_unit(const rescue::v1::MaintenanceUnit& unit) {
  table_.register_unit(unit.id(), unit.kind(), unit.level2_participant());
}

crew_update crew_store::upsert(const crew_record& crew) {
  lat_lon previous;
  bool existed = false;
  const auto slot = table_.upsert(crew, &previous, &existed);
  if (!slot) return crew_update::invalid_position;
  placed(*slot, existed ? std::optional(previous) : std::nullopt, crew.position);
  return crew_update::applied;
}

crew_update crew_store::upsert(const rescue::v1::CrewMember& member) {
  return upsert(crew_record::from(member));
}

crew_update crew_store::move(const std::string& crew_id, lat_lon position, std::int64_t at_ms) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  if (!is_valid(position)) return crew_update::invalid_position;
  const lat_lon previous = table_.crew(*slot).position;
  // A crew standing still only refreshes its timestamp.
  if (previous.lat != position.lat || previous.lon != position.lon)
    placed(*slot, previous, position);
  table_.set_position(*slot, position, at_ms);
  return crew_update::applied;
}

crew_update crew_store::remove(const std::string& crew_id) {
  const auto slot = table_.find(crew_id);
  if (!slot) return crew_update::unknown_crew;
  placed(*slot, table_.crew(*slot).position, std::nullopt);
  table_.remove(*slot);
  return crew_update::applied;
}

void crew_store::placed(std::uint32_t, std::optional<lat_lon>, std::optional<lat_lon>) {}

}  // namespace rescue::geo
