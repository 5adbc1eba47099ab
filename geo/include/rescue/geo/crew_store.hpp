// The crews a finder ranks, kept up to date: registration, GPS pings, duty and jobs, over one
// crew_table. Both finders are one of these; the R-tree index hears of every change of place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rescue/geo/crew_table.hpp"
#include "rescue/registry.pb.h"

namespace rescue::geo {

class crew_store {
 public:
  crew_store() = default;
  crew_store(crew_store&&) noexcept = default;
  crew_store& operator=(crew_store&&) noexcept = default;

  void register_unit(const std::string& unit_id, rescue::v1::OrganisationKind kind,
                     bool level2_participant);
  void register_unit(const rescue::v1::MaintenanceUnit& unit);

  // Inserts the crew, or replaces everything known about it.
  crew_update upsert(const crew_record& crew);
  crew_update upsert(const rescue::v1::CrewMember& member);
  // A GPS ping.
  crew_update move(const std::string& crew_id, lat_lon position, std::int64_t at_ms);
  crew_update remove(const std::string& crew_id);

  std::size_t size() const { return table_.size(); }
  void reserve(std::size_t crews) { table_.reserve(crews); }
  const crew_table& table() const { return table_; }

 protected:
  ~crew_store() = default;

  // The crew in `slot` changed place: `from` is empty for a new crew, `to` for a removed one.
  // Called before the table records the change. Pings that do not move the crew are not told.
  virtual void placed(std::uint32_t slot, std::optional<lat_lon> from, std::optional<lat_lon> to);

  crew_table table_;
};

}  // namespace rescue::geo
