// Test support shared by the test executables that run the dispatch service over a tiny city.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::test_support {

namespace v1 = rescue::v1;

// A fresh folder under the system temp dir, removed with everything in it at the end.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& prefix = "rescue-test-") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

inline std::int64_t now_ms() {
  return rescue::core::to_ms(rescue::dispatcher::dispatch_service::now());
}

// Unit U1 with crews c1 (nearest) and c2; elevator E1 (rescue code 10001) bound to U1.
inline rescue::storage::registry small_city() {
  rescue::storage::registry reg;
  v1::MaintenanceUnit unit;
  unit.set_id("U1");
  unit.set_name("渝中电梯维保");
  unit.set_licence("TS3150001-2025");
  unit.set_kind(v1::ORG_MAINTENANCE_UNIT);
  unit.set_level2_participant(true);
  unit.mutable_base()->set_lat(29.55);
  unit.mutable_base()->set_lon(106.57);
  REQUIRE_FALSE(reg.add_unit(unit));
  v1::Elevator e;
  e.set_id("E1");
  e.set_registration_code("31105001002019000001");
  e.set_rescue_code("10001");
  e.set_address("重庆市渝中区解放碑 1号");
  e.set_district_code("500103");
  e.mutable_location()->set_lat(29.556);
  e.mutable_location()->set_lon(106.568);
  e.set_place_type(v1::PLACE_RESIDENTIAL);
  e.set_maintenance_unit_id("U1");
  e.set_area(v1::AREA_URBAN);
  REQUIRE_FALSE(reg.add_elevator(e));
  for (int i = 1; i <= 2; ++i) {
    v1::CrewMember c;
    c.set_id("c" + std::to_string(i));
    c.set_unit_id("U1");
    c.set_name("crew " + std::to_string(i));
    c.set_certificate("T-" + std::to_string(i));
    c.set_phone("1380000000" + std::to_string(i));
    c.set_on_duty(true);
    c.mutable_position()->set_lat(29.556 + 0.01 * i);
    c.mutable_position()->set_lon(106.568);
    c.set_position_at_ms(now_ms());
    REQUIRE_FALSE(reg.add_crew(c));
  }
  return reg;
}

}  // namespace rescue::test_support
