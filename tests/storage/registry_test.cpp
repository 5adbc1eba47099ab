#include <catch2/catch.hpp>

#include <unistd.h>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "rescue/storage/registry.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "rescue/storage/registry_sqlite.hpp"

namespace v1 = rescue::v1;
using rescue::storage::registry;

namespace {

v1::MaintenanceUnit make_unit(std::string id,
                              v1::OrganisationKind kind = v1::ORG_MAINTENANCE_UNIT) {
  v1::MaintenanceUnit u;
  u.set_id(std::move(id));
  u.set_name("渝中电梯维保有限公司");
  u.set_kind(kind);
  u.set_level2_participant(true);
  u.mutable_base()->set_lat(29.556);
  u.mutable_base()->set_lon(106.568);
  return u;
}

v1::Elevator make_elevator(std::string id, std::string registration_code, std::string rescue_code) {
  v1::Elevator e;
  e.set_id(std::move(id));
  e.set_registration_code(std::move(registration_code));
  e.set_rescue_code(std::move(rescue_code));
  e.set_address("重庆市渝中区解放碑街道 12号 3栋");
  e.set_district_code("500103");
  e.mutable_location()->set_lat(29.557);
  e.mutable_location()->set_lon(106.569);
  e.set_area(v1::AREA_URBAN);
  e.set_maintenance_unit_id("MU1");
  return e;
}

// A registry with one unit, one station, one operator and two elevators (one certificate-only).
registry base_registry() {
  registry reg;
  REQUIRE_FALSE(reg.add_unit(make_unit("MU1")));
  REQUIRE_FALSE(reg.add_unit(make_unit("RS1", v1::ORG_RESCUE_STATION)));
  v1::BuildingOperator op;
  op.set_id("BO1");
  op.set_name("重庆好物业");
  REQUIRE_FALSE(reg.add_building_operator(op));
  auto e1 = make_elevator("E1", "31105001032015000001", "10001");
  e1.set_building_operator_id("BO1");
  REQUIRE_FALSE(reg.add_elevator(e1));
  auto e2 = make_elevator("E2", "", "200002");
  e2.set_certificate_no("梯11渝A0002(09)");
  REQUIRE_FALSE(reg.add_elevator(e2));
  return reg;
}

// The reason names the field first, as documented in registry.hpp.
void require_refused(const std::optional<std::string>& reason, const std::string& field) {
  REQUIRE(reason.has_value());
  CHECK(reason->rfind(field + ": ", 0) == 0);
}

}  // namespace

TEST_CASE("code format helpers accept only the documented shapes", "[unit][registry]") {
  using namespace rescue::storage;
  CHECK(is_registration_code("31105001032015000001"));
  CHECK_FALSE(is_registration_code("3110500103201500000"));
  CHECK_FALSE(is_registration_code("3110500103201500000x"));
  CHECK(is_rescue_code("12345"));
  CHECK(is_rescue_code("123456"));
  CHECK_FALSE(is_rescue_code("1234"));
  CHECK_FALSE(is_rescue_code("1234567"));
  CHECK(is_district_code("500103"));
  CHECK_FALSE(is_district_code("50010"));
  CHECK(is_valid_location(29.5, 106.5));
  CHECK_FALSE(is_valid_location(0, 0));
  CHECK_FALSE(is_valid_location(91, 106));
  CHECK_FALSE(is_valid_location(29, -181));
}

TEST_CASE("elevators are found by id, rescue code, registration code and certificate",
          "[unit][registry]") {
  const registry reg = base_registry();
  REQUIRE(reg.elevator("E1") != nullptr);
  CHECK(reg.elevator("E1")->rescue_code() == "10001");
  CHECK(reg.elevator_by_rescue_code("200002")->id() == "E2");
  CHECK(reg.elevator_by_registration_code("31105001032015000001")->id() == "E1");
  CHECK(reg.elevator_by_registration_code("梯11渝A0002(09)")->id() == "E2");
  CHECK(reg.elevator("E9") == nullptr);
  CHECK(reg.elevator_by_rescue_code("99999") == nullptr);
  CHECK(reg.elevator_by_registration_code("") == nullptr);
  CHECK(reg.unit("RS1")->kind() == v1::ORG_RESCUE_STATION);
  CHECK(reg.building_operator("BO1")->name() == "重庆好物业");
}

TEST_CASE("a terminal binds to its elevator and is found both ways", "[unit][registry]") {
  registry reg = base_registry();
  v1::Terminal t;
  t.set_id("T1");
  t.set_elevator_id("E1");
  t.set_secret(std::string("\x00\x01\xff", 3));
  REQUIRE_FALSE(reg.add_terminal(t));
  CHECK(reg.elevator_by_terminal("T1")->id() == "E1");
  CHECK(reg.elevator("E1")->terminal_id() == "T1");
  CHECK(reg.terminal("T1")->secret() == std::string("\x00\x01\xff", 3));
  CHECK(reg.elevator_by_terminal("T2") == nullptr);

  SECTION("a second terminal for the same elevator is refused") {
    t.set_id("T2");
    require_refused(reg.add_terminal(t), "elevator_id");
    CHECK(reg.terminal("T2") == nullptr);
  }
  SECTION("a duplicate terminal id is refused") {
    t.set_elevator_id("E2");
    require_refused(reg.add_terminal(t), "id");
  }
  SECTION("a terminal of an unknown elevator is refused") {
    t.set_id("T3");
    t.set_elevator_id("E9");
    require_refused(reg.add_terminal(t), "elevator_id");
  }
  SECTION("a terminal without a secret is refused") {
    t.set_id("T4");
    t.set_elevator_id("E2");
    t.clear_secret();
    require_refused(reg.add_terminal(t), "secret");
  }
}

TEST_CASE("an elevator declaring its terminal accepts only that terminal", "[unit][registry]") {
  registry reg = base_registry();
  auto e = make_elevator("E3", "31105001032015000003", "10003");
  e.set_terminal_id("T7");
  REQUIRE_FALSE(reg.add_elevator(e));
  v1::Terminal t;
  t.set_id("T8");
  t.set_elevator_id("E3");
  t.set_secret("k");
  require_refused(reg.add_terminal(t), "elevator_id");
  t.set_id("T7");
  CHECK_FALSE(reg.add_terminal(t));
  CHECK(reg.elevator_by_terminal("T7")->id() == "E3");
}

TEST_CASE("elevator rules refuse bad records and change nothing", "[unit][registry]") {
  registry reg = base_registry();
  auto e = make_elevator("E3", "31105001032015000003", "10003");
  std::string field;

  SECTION("registration code of 19 digits") {
    e.set_registration_code("3110500103201500000");
    field = "registration_code";
  }
  SECTION("neither registration code nor certificate") {
    e.clear_registration_code();
    field = "registration_code";
  }
  SECTION("registration code already used") {
    e.set_registration_code("31105001032015000001");
    field = "registration_code";
  }
  SECTION("certificate number already used") {
    e.clear_registration_code();
    e.set_certificate_no("梯11渝A0002(09)");
    field = "certificate_no";
  }
  SECTION("rescue code already used") {
    e.set_rescue_code("200002");
    field = "rescue_code";
  }
  SECTION("rescue code of 4 digits") {
    e.set_rescue_code("1234");
    field = "rescue_code";
  }
  SECTION("district code of 5 digits") {
    e.set_district_code("50010");
    field = "district_code";
  }
  SECTION("latitude out of range") {
    e.mutable_location()->set_lat(95);
    field = "lat";
  }
  SECTION("longitude out of range") {
    e.mutable_location()->set_lon(-200);
    field = "lon";
  }
  SECTION("location (0, 0)") {
    e.mutable_location()->set_lat(0);
    e.mutable_location()->set_lon(0);
    field = "lat";
  }
  SECTION("no area") {
    e.set_area(v1::AREA_UNSPECIFIED);
    field = "area";
  }
  SECTION("unknown maintenance unit") {
    e.set_maintenance_unit_id("MU9");
    field = "maintenance_unit_id";
  }
  SECTION("a rescue station as maintenance unit") {
    e.set_maintenance_unit_id("RS1");
    field = "maintenance_unit_id";
  }
  SECTION("unknown building operator") {
    e.set_building_operator_id("BO9");
    field = "building_operator_id";
  }
  SECTION("duplicate id") {
    e.set_id("E1");
    field = "id";
  }
  require_refused(reg.add_elevator(e), field);
  CHECK(reg.elevators().size() == 2);
  CHECK(reg.elevator_by_rescue_code("10003") == nullptr);
  CHECK(reg.elevator_by_registration_code("31105001032015000003") == nullptr);
}

TEST_CASE("an elevator without a maintenance unit is accepted", "[unit][registry]") {
  registry reg = base_registry();
  auto e = make_elevator("E3", "31105001032015000003", "10003");
  e.clear_maintenance_unit_id();
  CHECK_FALSE(reg.add_elevator(e));
  CHECK(reg.elevator("E3")->maintenance_unit_id().empty());
}

TEST_CASE("unit ids are unique across maintenance units and rescue stations", "[unit][registry]") {
  registry reg = base_registry();
  require_refused(reg.add_unit(make_unit("MU1", v1::ORG_RESCUE_STATION)), "id");
  require_refused(reg.add_unit(make_unit("RS1")), "id");
  require_refused(reg.add_unit(make_unit("X1", v1::ORG_UNSPECIFIED)), "kind");
  CHECK(reg.units().size() == 2);
}

TEST_CASE("crews need a known unit and a unique id", "[unit][registry]") {
  registry reg = base_registry();
  v1::CrewMember c;
  c.set_id("C1");
  c.set_unit_id("RS1");
  c.set_on_duty(true);
  REQUIRE_FALSE(reg.add_crew(c));
  CHECK(reg.crew("C1")->unit_id() == "RS1");
  require_refused(reg.add_crew(c), "id");
  c.set_id("C2");
  c.set_unit_id("MU9");
  require_refused(reg.add_crew(c), "unit_id");
  c.set_unit_id("MU1");
  c.mutable_position()->set_lat(-91);
  c.mutable_position()->set_lon(106);
  require_refused(reg.add_crew(c), "lat");
  CHECK(reg.crews().size() == 1);
}

TEST_CASE("building operator ids are unique", "[unit][registry]") {
  registry reg = base_registry();
  v1::BuildingOperator op;
  op.set_id("BO1");
  op.set_name("另一家物业");
  require_refused(reg.add_building_operator(op), "id");
  CHECK(reg.building_operators().size() == 1);
}

TEST_CASE("the registry written as SQLite tables reads back for auditors, without secrets",
          "[unit][sqlite]") {
  const auto imported = rescue::storage::import_registry_csv(
      std::filesystem::path(RESCUE_TEST_DATA_DIR) / "chongqing-sample");
  REQUIRE(imported.ok());
  const auto file = std::filesystem::temp_directory_path() /
                    ("rescue-registry-" + std::to_string(::getpid()) + ".db");
  REQUIRE(rescue::storage::write_registry_sqlite(imported.registry, file, "sample", 1234).empty());
  // Written twice: the second replaces the first whole.
  REQUIRE(rescue::storage::write_registry_sqlite(imported.registry, file, "sample", 5678).empty());

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string value(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    return value;
  };
  const auto& reg = imported.registry;
  CHECK(scalar("SELECT COUNT(*) FROM elevators") == std::to_string(reg.elevators().size()));
  CHECK(scalar("SELECT COUNT(*) FROM units") == std::to_string(reg.units().size()));
  CHECK(scalar("SELECT COUNT(*) FROM crews") == std::to_string(reg.crews().size()));
  CHECK(scalar("SELECT COUNT(*) FROM terminals") == std::to_string(reg.terminals().size()));
  CHECK(scalar("SELECT COUNT(*) FROM building_operators") ==
        std::to_string(reg.building_operators().size()));
  CHECK(scalar("SELECT value FROM registry_meta WHERE key = 'loaded_at_ms'") == "5678");
  const auto& e = reg.elevators().front();
  CHECK(scalar(("SELECT address FROM elevators WHERE rescue_code = '" + e.rescue_code() + "'")
                   .c_str()) == e.address());
  CHECK(scalar("SELECT COUNT(*) FROM elevators e JOIN units u ON u.id = e.maintenance_unit_id") ==
        std::to_string(
            std::count_if(reg.elevators().begin(), reg.elevators().end(),
                          [](const auto& x) { return !x.maintenance_unit_id().empty(); })));
  // No column anywhere holds a terminal secret.
  CHECK(scalar("SELECT COUNT(*) FROM pragma_table_info('terminals')") == "2");
  sqlite3_close(db);
  std::filesystem::remove(file);
}
