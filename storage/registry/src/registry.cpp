#include "rescue/storage/registry.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace rescue::storage {

namespace {

namespace v1 = rescue::v1;

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Each reason starts with the offending field so the CSV import can attach it to a column.
std::string reason(std::string_view field, std::string_view what) {
  std::string out;
  out.reserve(field.size() + 2 + what.size());
  out.append(field).append(": ").append(what);
  return out;
}

std::string quoted(std::string_view value) {
  std::string out = "'";
  out.append(value).append("'");
  return out;
}

std::optional<std::string> check_location(const v1::GeoPoint& p, std::string_view lat_field,
                                          std::string_view lon_field) {
  if (!std::isfinite(p.lat()) || p.lat() < -90.0 || p.lat() > 90.0)
    return reason(lat_field, "must be between -90 and 90 (got " + std::to_string(p.lat()) + ")");
  if (!std::isfinite(p.lon()) || p.lon() < -180.0 || p.lon() > 180.0)
    return reason(lon_field, "must be between -180 and 180 (got " + std::to_string(p.lon()) + ")");
  // (0, 0) is what an unset GPS fix looks like, never a real elevator in China.
  if (!is_valid_location(p.lat(), p.lon())) return reason(lat_field, "location (0, 0) is not set");
  return std::nullopt;
}

template <class Index>
const std::size_t* find(const Index& idx, std::string_view key) {
  auto it = idx.find(key);
  return it == idx.end() ? nullptr : &it->second;
}

}  // namespace

bool is_registration_code(std::string_view code) {
  return code.size() == 20 && all_digits(code);
}

bool is_rescue_code(std::string_view code) {
  return (code.size() == 5 || code.size() == 6) && all_digits(code);
}

bool is_district_code(std::string_view code) {
  return code.size() == 6 && all_digits(code);
}

bool is_calendar_date(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || !all_digits(date.substr(0, 4)) ||
      !all_digits(date.substr(5, 2)) || !all_digits(date.substr(8, 2)))
    return false;
  const int y = std::stoi(std::string(date.substr(0, 4)));
  const int m = std::stoi(std::string(date.substr(5, 2)));
  const int d = std::stoi(std::string(date.substr(8, 2)));
  if (y < 2000 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool is_valid_location(double lat, double lon) {
  return std::isfinite(lat) && std::isfinite(lon) && lat >= -90.0 && lat <= 90.0 && lon >= -180.0 &&
         lon <= 180.0 && !(lat == 0.0 && lon == 0.0);
}

std::optional<std::string> registry::add_unit(v1::MaintenanceUnit unit) {
  if (unit.id().empty()) return reason("id", "is required");
  if (unit_by_id_.contains(unit.id()))
    return reason("id", "duplicate unit or station id " + quoted(unit.id()));
  if (unit.name().empty()) return reason("name", "is required");
  if (unit.kind() != v1::ORG_MAINTENANCE_UNIT && unit.kind() != v1::ORG_RESCUE_STATION)
    return reason("kind", "must be a maintenance unit or a rescue station");
  if (unit.has_base()) {
    if (auto bad = check_location(unit.base(), "base_lat", "base_lon")) return bad;
  }
  unit_by_id_.emplace(unit.id(), units_.size());
  units_.push_back(std::move(unit));
  return std::nullopt;
}

std::optional<std::string> registry::add_building_operator(v1::BuildingOperator op) {
  if (op.id().empty()) return reason("id", "is required");
  if (operator_by_id_.contains(op.id()))
    return reason("id", "duplicate building operator id " + quoted(op.id()));
  if (op.name().empty()) return reason("name", "is required");
  operator_by_id_.emplace(op.id(), operators_.size());
  operators_.push_back(std::move(op));
  return std::nullopt;
}

std::optional<std::string> registry::add_elevator(v1::Elevator e) {
  if (e.id().empty()) return reason("id", "is required");
  if (elevator_by_id_.contains(e.id()))
    return reason("id", "duplicate elevator id " + quoted(e.id()));

  // Old elevators predate the 20-digit code; their certificate number identifies them instead.
  if (e.registration_code().empty() && e.certificate_no().empty())
    return reason("registration_code", "required unless certificate_no is given");
  if (!e.registration_code().empty()) {
    if (!is_registration_code(e.registration_code()))
      return reason("registration_code",
                    "must be 20 digits (got " + quoted(e.registration_code()) + ")");
    if (auto* other = find(elevator_by_registration_code_, e.registration_code()))
      return reason("registration_code", quoted(e.registration_code()) +
                                             " already used by elevator " +
                                             quoted(elevators_[*other].id()));
  }
  if (!e.certificate_no().empty() && e.certificate_no() != e.registration_code()) {
    if (auto* other = find(elevator_by_registration_code_, e.certificate_no()))
      return reason("certificate_no", quoted(e.certificate_no()) + " already used by elevator " +
                                          quoted(elevators_[*other].id()));
  }

  if (!is_rescue_code(e.rescue_code()))
    return reason("rescue_code", "must be 5 or 6 digits (got " + quoted(e.rescue_code()) + ")");
  if (auto* other = find(elevator_by_rescue_code_, e.rescue_code()))
    return reason("rescue_code", quoted(e.rescue_code()) + " already used by elevator " +
                                     quoted(elevators_[*other].id()));

  if (!is_district_code(e.district_code()))
    return reason("district_code", "must be 6 digits (got " + quoted(e.district_code()) + ")");
  if (!e.has_location()) return reason("lat", "location is required");
  if (auto bad = check_location(e.location(), "lat", "lon")) return bad;
  if (e.area() != v1::AREA_URBAN && e.area() != v1::AREA_RURAL)
    return reason("area", "must be urban or rural");
  if (e.install_year() != 0 && (e.install_year() < 1850 || e.install_year() > 2100))
    return reason("install_year",
                  "must be between 1850 and 2100 (got " + std::to_string(e.install_year()) + ")");

  if (!e.maintenance_unit_id().empty()) {
    const v1::MaintenanceUnit* u = unit(e.maintenance_unit_id());
    if (u == nullptr)
      return reason("maintenance_unit_id",
                    "unknown maintenance unit " + quoted(e.maintenance_unit_id()));
    if (u->kind() != v1::ORG_MAINTENANCE_UNIT)
      return reason("maintenance_unit_id", quoted(e.maintenance_unit_id()) +
                                               " is a rescue station, not a maintenance unit");
  }
  if (!e.building_operator_id().empty() && building_operator(e.building_operator_id()) == nullptr)
    return reason("building_operator_id",
                  "unknown building operator " + quoted(e.building_operator_id()));

  const std::size_t at = elevators_.size();
  elevator_by_id_.emplace(e.id(), at);
  elevator_by_rescue_code_.emplace(e.rescue_code(), at);
  if (!e.registration_code().empty())
    elevator_by_registration_code_.emplace(e.registration_code(), at);
  if (!e.certificate_no().empty()) elevator_by_registration_code_.emplace(e.certificate_no(), at);
  elevators_.push_back(std::move(e));
  return std::nullopt;
}

std::optional<std::string> registry::add_crew(v1::CrewMember c) {
  if (c.id().empty()) return reason("id", "is required");
  if (crew_by_id_.contains(c.id())) return reason("id", "duplicate crew id " + quoted(c.id()));
  if (c.unit_id().empty()) return reason("unit_id", "is required");
  if (unit(c.unit_id()) == nullptr)
    return reason("unit_id", "unknown unit or station " + quoted(c.unit_id()));
  if (c.has_position()) {
    if (auto bad = check_location(c.position(), "lat", "lon")) return bad;
  }
  crew_by_id_.emplace(c.id(), crews_.size());
  crews_.push_back(std::move(c));
  return std::nullopt;
}

std::optional<std::string> registry::add_terminal(v1::Terminal t) {
  if (t.id().empty()) return reason("id", "is required");
  if (terminal_by_id_.contains(t.id()))
    return reason("id", "duplicate terminal id " + quoted(t.id()));
  const std::size_t* at = find(elevator_by_id_, t.elevator_id());
  if (at == nullptr) return reason("elevator_id", "unknown elevator " + quoted(t.elevator_id()));
  if (auto* other = find(terminal_by_elevator_, t.elevator_id()))
    return reason("elevator_id", "elevator " + quoted(t.elevator_id()) + " already has terminal " +
                                     quoted(terminals_[*other].id()));
  v1::Elevator& e = elevators_[*at];
  if (!e.terminal_id().empty() && e.terminal_id() != t.id())
    return reason("elevator_id", "elevator " + quoted(t.elevator_id()) + " is bound to terminal " +
                                     quoted(e.terminal_id()));
  if (t.secret().empty()) return reason("secret", "is required");

  e.set_terminal_id(t.id());
  elevator_by_terminal_.emplace(t.id(), *at);
  terminal_by_elevator_.emplace(t.elevator_id(), terminals_.size());
  terminal_by_id_.emplace(t.id(), terminals_.size());
  terminals_.push_back(std::move(t));
  return std::nullopt;
}

std::optional<std::string> registry::add_rectification(v1::Rectification r) {
  const std::size_t* at = find(elevator_by_id_, r.elevator_id());
  if (at == nullptr) return reason("elevator_id", "unknown elevator " + quoted(r.elevator_id()));
  if (r.origin() == v1::ORIGIN_UNSPECIFIED) return reason("origin", "is required");
  if (r.status() == v1::RECTIFICATION_UNSPECIFIED) return reason("status", "is required");
  if (!is_calendar_date(r.found_on()))
    return reason("found_on", "must be a date YYYY-MM-DD (got " + quoted(r.found_on()) + ")");
  if (!is_calendar_date(r.status_on()))
    return reason("status_on", "must be a date YYYY-MM-DD (got " + quoted(r.status_on()) + ")");
  if (r.status_on() < r.found_on())
    return reason("status_on", "is before found_on " + quoted(r.found_on()));
  if (r.origin() == v1::ORIGIN_REVIEW && r.status() == v1::RECTIFICATION_SUPERVISED)
    return reason("status",
                  "supervised is for listed problem elevators, not those found in review");
  if (const std::size_t* first = find(rectification_by_elevator_, r.elevator_id())) {
    const v1::Rectification& earlier = rectifications_[*first];
    if (earlier.origin() != r.origin())
      return reason("origin", "differs from the elevator's earlier record");
    if (earlier.found_on() != r.found_on())
      return reason("found_on", "differs from the elevator's earlier record (" +
                                    quoted(earlier.found_on()) + ")");
  } else {
    rectification_by_elevator_.emplace(r.elevator_id(), rectifications_.size());
  }
  rectifications_.push_back(std::move(r));
  return std::nullopt;
}

void registry::reserve_elevators(std::size_t more) {
  const std::size_t n = elevators_.size() + more;
  elevators_.reserve(n);
  for (index* i : {&elevator_by_id_, &elevator_by_rescue_code_, &elevator_by_registration_code_})
    i->reserve(n);
}

void registry::reserve_terminals(std::size_t more) {
  const std::size_t n = terminals_.size() + more;
  terminals_.reserve(n);
  for (index* i : {&terminal_by_id_, &elevator_by_terminal_, &terminal_by_elevator_})
    i->reserve(n);
}

const v1::Elevator* registry::elevator(std::string_view id) const {
  auto* at = find(elevator_by_id_, id);
  return at ? &elevators_[*at] : nullptr;
}

const v1::Elevator* registry::elevator_by_rescue_code(std::string_view rescue_code) const {
  auto* at = find(elevator_by_rescue_code_, rescue_code);
  return at ? &elevators_[*at] : nullptr;
}

const v1::Elevator* registry::elevator_by_registration_code(std::string_view code) const {
  auto* at = find(elevator_by_registration_code_, code);
  return at ? &elevators_[*at] : nullptr;
}

const v1::Elevator* registry::elevator_by_terminal(std::string_view terminal_id) const {
  auto* at = find(elevator_by_terminal_, terminal_id);
  return at ? &elevators_[*at] : nullptr;
}

const v1::MaintenanceUnit* registry::unit(std::string_view id) const {
  auto* at = find(unit_by_id_, id);
  return at ? &units_[*at] : nullptr;
}

const v1::BuildingOperator* registry::building_operator(std::string_view id) const {
  auto* at = find(operator_by_id_, id);
  return at ? &operators_[*at] : nullptr;
}

const v1::CrewMember* registry::crew(std::string_view id) const {
  auto* at = find(crew_by_id_, id);
  return at ? &crews_[*at] : nullptr;
}

const v1::Terminal* registry::terminal(std::string_view id) const {
  auto* at = find(terminal_by_id_, id);
  return at ? &terminals_[*at] : nullptr;
}

}  // namespace rescue::storage
