// The registry: one elevator, one record, and the units, stations, operators, crews and
// terminals around it. An in-memory value with lookups; import and persistence live beside it.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rescue/registry.pb.h"

namespace rescue::storage {

// Pointers returned by the lookups stay valid until the next add_* call.
class registry {
 public:
  // Each add returns a readable reason and changes nothing when the record breaks a rule
  // (malformed code, coordinates out of range, duplicate id or code, unknown reference).
  // References are checked against what was added before: add units and operators first.
  // A reason starts with the offending field and ": " ("rescue_code: must be 5 or 6 digits..."),
  // using the CSV column names (lat, lon, base_lat, base_lon) for coordinates.
  std::optional<std::string> add_unit(rescue::v1::MaintenanceUnit unit);
  std::optional<std::string> add_building_operator(rescue::v1::BuildingOperator op);
  std::optional<std::string> add_elevator(rescue::v1::Elevator elevator);
  std::optional<std::string> add_crew(rescue::v1::CrewMember crew);
  // Binds the terminal to its elevator (sets the elevator's terminal_id); an elevator that was
  // added with a terminal_id accepts only that terminal.
  std::optional<std::string> add_terminal(rescue::v1::Terminal terminal);
  // One status of a problem elevator from a date (add elevators first). Refused: an unknown
  // elevator, a missing origin or status, a date that is not YYYY-MM-DD, a status dated before
  // the elevator was found, "supervised" for an elevator found in review, or an origin or
  // found_on that differs from the elevator's earlier records.
  std::optional<std::string> add_rectification(rescue::v1::Rectification r);

  // Room for this many more elevators or terminals in the lists and their indexes, so that a
  // city's import does not grow them step by step.
  void reserve_elevators(std::size_t more);
  void reserve_terminals(std::size_t more);

  const rescue::v1::Elevator* elevator(std::string_view id) const;
  const rescue::v1::Elevator* elevator_by_rescue_code(std::string_view rescue_code) const;
  // Matches the 20-digit registration code, or the use-registration certificate number for
  // elevators that have no code.
  const rescue::v1::Elevator* elevator_by_registration_code(std::string_view code) const;
  const rescue::v1::Elevator* elevator_by_terminal(std::string_view terminal_id) const;
  const rescue::v1::MaintenanceUnit* unit(std::string_view id) const;
  const rescue::v1::BuildingOperator* building_operator(std::string_view id) const;
  const rescue::v1::CrewMember* crew(std::string_view id) const;
  const rescue::v1::Terminal* terminal(std::string_view id) const;

  const std::vector<rescue::v1::Elevator>& elevators() const { return elevators_; }
  const std::vector<rescue::v1::MaintenanceUnit>& units() const { return units_; }
  const std::vector<rescue::v1::BuildingOperator>& building_operators() const { return operators_; }
  const std::vector<rescue::v1::CrewMember>& crews() const { return crews_; }
  const std::vector<rescue::v1::Terminal>& terminals() const { return terminals_; }
  // In the order added.
  const std::vector<rescue::v1::Rectification>& rectifications() const { return rectifications_; }

 private:
  // Transparent hashing lets lookups take a string_view without building a std::string.
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using index = std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>>;
  std::vector<rescue::v1::Elevator> elevators_;
  std::vector<rescue::v1::MaintenanceUnit> units_;
  std::vector<rescue::v1::BuildingOperator> operators_;
  std::vector<rescue::v1::CrewMember> crews_;
  std::vector<rescue::v1::Terminal> terminals_;
  std::vector<rescue::v1::Rectification> rectifications_;
  index rectification_by_elevator_;  // the elevator's first record
  index elevator_by_id_, elevator_by_rescue_code_, elevator_by_registration_code_,
      elevator_by_terminal_, terminal_by_elevator_, unit_by_id_, operator_by_id_, crew_by_id_,
      terminal_by_id_;
};

// Validation rules shared by the import and by add_*: exposed so tools can check one value.
bool is_registration_code(std::string_view code);  // exactly 20 digits
bool is_rescue_code(std::string_view code);        // 5 or 6 digits
bool is_district_code(std::string_view code);      // 6 digits
bool is_valid_location(double lat, double lon);    // within WGS-84 ranges, not (0, 0)
bool is_calendar_date(std::string_view date);      // YYYY-MM-DD, a real day of 2000-2200

}  // namespace rescue::storage
