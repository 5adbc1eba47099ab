#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <google/protobuf/util/message_differencer.h>

#include "rescue/storage/registry_csv.hpp"

namespace fs = std::filesystem;
namespace v1 = rescue::v1;
using rescue::storage::import_error;
using rescue::storage::import_registry_csv;
using rescue::storage::registry_import;
using rescue::storage::write_registry_csv;

namespace {

// A valid small city; each test breaks one thing in it.
const std::map<std::string, std::string> baseline = {
    {"maintenance_units.csv",
     "id,name,licence,contact_name,contact_phone,level2,base_lat,base_lon\n"
     "MU1,渝中电梯维保有限公司,TS3150001-2026,张伟,13800000001,yes,29.556,106.568\n"
     "MU2,\"江北电梯工程有限公司, 二分公司\",TS3150002-2026,,,no,29.606,106.574\n"},
    {"rescue_stations.csv",
     "id,name,licence,contact_name,contact_phone,level2,base_lat,base_lon\n"
     "RS1,解放碑网格救援站,,,,yes,29.55,106.57\n"},
    {"building_operators.csv",
     "id,name,contact_name,contact_phone\n"
     "BO1,\"重庆\"\"好\"\"物业\",李娜,023-60000001\n"
     "BO2,渝中商场管理公司,,\n"},
    {"elevators.csv",
     "id,registration_code,certificate_no,rescue_code,address,district_code,lat,lon,place_type,"
     "brand,install_year,maintenance_unit_id,building_operator_id,area\n"
     "E1,31105001032015000001,,10001,\"重庆市渝中区解放碑街道 12号 3栋\",500103,29.557,106.569,"
     "residential,通力,2015,MU1,BO1,urban\n"
     "E2,,梯11渝A0002(09),200002,重庆市渝中区七星岗街道 8号,500103,29.558,106.57,mall,奥的斯,"
     "2009,MU2,BO2,urban\n"
     "E3,31105001092018000003,,10003,重庆市北碚区天生街道 3号,500109,29.81,106.4,other,,,,,"
     "rural\n"},
    {"crews.csv",
     "id,unit_id,name,certificate,phone,on_duty,lat,lon,position_at_ms\n"
     "C1,MU1,王强,T1500001,13900000001,yes,29.55,106.56,1700000000000\n"
     "C2,RS1,赵敏,,13900000002,no,,,\n"},
    {"terminals.csv",
     "id,elevator_id,secret\n"
     "T1,E1,00ff10ab\n"},
    {"rectifications.csv",
     "elevator_id,origin,found_on,status,status_on,remark\n"
     "E1,listed,2026-03-01,rectifying,2026-03-01,\"曳引机异响, 待更换\"\n"
     "E1,listed,2026-03-01,rectified,2026-10-15,\n"
     "E2,review,2026-11-02,sealed,2026-11-05,\n"},
};

// A scratch directory under the system temp dir, removed afterwards.
class csv_dir {
 public:
  csv_dir() {
    static std::atomic<unsigned> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    dir_ = fs::temp_directory_path() /
           ("rescue-registry-test-" + std::to_string(stamp) + "-" +
            std::to_string(std::random_device{}()) + "-" + std::to_string(counter++));
    fs::create_directories(dir_);
    for (const auto& [name, text] : baseline)
      write(name, text);
  }
  ~csv_dir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  csv_dir(const csv_dir&) = delete;
  csv_dir& operator=(const csv_dir&) = delete;

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  void append(const std::string& name, const std::string& line) const {
    write(name, baseline.at(name) + line);
  }
  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_;
};

// Exactly one error, at file:line, blaming field.
void require_one_error(const registry_import& r, const std::string& file, std::size_t line,
                       const std::string& field) {
  for (const import_error& e : r.errors)
    INFO(e.to_string());
  REQUIRE(r.errors.size() == 1);
  INFO(r.errors[0].to_string());
  CHECK(r.errors[0].file == file);
  CHECK(r.errors[0].line == line);
  CHECK(r.errors[0].field == field);
}

const std::string elevator_row_tail = ",重庆市渝中区 1号,500103,29.56,106.57,office,,,MU1,,urban\n";

}  // namespace

TEST_CASE("the baseline imports without errors", "[unit][csv]") {
  csv_dir dir;
  const registry_import r = import_registry_csv(dir.path());
  for (const import_error& e : r.errors)
    FAIL(e.to_string());
  CHECK(r.registry.units().size() == 3);
  CHECK(r.registry.building_operators().size() == 2);
  CHECK(r.registry.elevators().size() == 3);
  CHECK(r.registry.crews().size() == 2);
  CHECK(r.registry.terminals().size() == 1);

  CHECK(r.registry.unit("MU2")->name() == "江北电梯工程有限公司, 二分公司");
  CHECK(r.registry.unit("RS1")->kind() == v1::ORG_RESCUE_STATION);
  CHECK(r.registry.unit("MU1")->level2_participant());
  CHECK_FALSE(r.registry.unit("MU2")->level2_participant());
  CHECK(r.registry.building_operator("BO1")->name() == "重庆\"好\"物业");
  const v1::Elevator* e1 = r.registry.elevator_by_rescue_code("10001");
  REQUIRE(e1 != nullptr);
  CHECK(e1->address() == "重庆市渝中区解放碑街道 12号 3栋");
  CHECK(e1->place_type() == v1::PLACE_RESIDENTIAL);
  CHECK(e1->install_year() == 2015);
  CHECK(e1->location().lat() == 29.557);
  CHECK(r.registry.elevator_by_registration_code("梯11渝A0002(09)")->id() == "E2");
  CHECK(r.registry.elevator_by_registration_code("31105001092018000003")->area() == v1::AREA_RURAL);
  CHECK(r.registry.elevator("E3")->maintenance_unit_id().empty());
  CHECK(r.registry.elevator_by_terminal("T1")->id() == "E1");
  CHECK(r.registry.terminal("T1")->secret() == std::string("\x00\xff\x10\xab", 4));
  CHECK(r.registry.crew("C1")->position_at_ms() == 1'700'000'000'000);
  CHECK(r.registry.crew("C1")->on_duty());
  CHECK_FALSE(r.registry.crew("C2")->has_position());
  CHECK(r.registry.crew("C2")->certificate().empty());
  REQUIRE(r.registry.rectifications().size() == 3);
  const auto& first = r.registry.rectifications()[0];
  CHECK(first.elevator_id() == "E1");
  CHECK(first.origin() == v1::ORIGIN_LISTED);
  CHECK(first.status() == v1::RECTIFICATION_RECTIFYING);
  CHECK(first.remark() == "曳引机异响, 待更换");
  CHECK(r.registry.rectifications()[1].status_on() == "2026-10-15");
  CHECK(r.registry.rectifications()[2].origin() == v1::ORIGIN_REVIEW);
  CHECK(r.registry.rectifications()[2].status() == v1::RECTIFICATION_SEALED);
}

TEST_CASE("rectification rows are validated like every other row", "[unit][csv]") {
  struct bad {
    const char* row;
    const char* field;
  } cases[] = {
      {"E9,listed,2026-03-01,sealed,2026-03-02,\n", "elevator_id"},
      {"E3,listed,2026-03-01,fixed,2026-03-02,\n", "status"},
      {"E3,found,2026-03-01,sealed,2026-03-02,\n", "origin"},
      {"E3,listed,2026-02-30,sealed,2026-03-02,\n", "found_on"},
      {"E3,listed,2026-03-01,sealed,26-3-2,\n", "status_on"},
      {"E3,listed,2026-03-05,sealed,2026-03-02,\n", "status_on"},
      {"E3,review,2026-03-01,supervised,2026-03-02,\n", "status"},
      {"E1,review,2026-03-01,sealed,2026-11-02,\n", "origin"},
      {"E1,listed,2026-04-01,sealed,2026-11-02,\n", "found_on"},
  };
  for (const auto& c : cases) {
    INFO(c.row);
    csv_dir dir;
    dir.append("rectifications.csv", c.row);
    require_one_error(import_registry_csv(dir.path()), "rectifications.csv", 5, c.field);
  }
}

TEST_CASE("error text names file, line and field", "[unit][csv]") {
  const import_error e{"elevators.csv", 17, "registration_code", "must be 20 digits (got '123')"};
  CHECK(e.to_string() == "elevators.csv:17: registration_code: must be 20 digits (got '123')");
  const import_error missing{"crews.csv", 0, "", "file not found in /x"};
  CHECK(missing.to_string() == "crews.csv: file not found in /x");
}

TEST_CASE("a bad registration code is reported and only that row skipped", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,123,,10004" + elevator_row_tail);
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "elevators.csv", 5, "registration_code");
  CHECK(r.errors[0].to_string() ==
        "elevators.csv:5: registration_code: must be 20 digits (got '123')");
  CHECK(r.registry.elevators().size() == 3);
  CHECK(r.registry.elevator("E4") == nullptr);
  CHECK(r.registry.crews().size() == 2);
}

TEST_CASE("an elevator with neither registration code nor certificate is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,,,10004" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "registration_code");
}

TEST_CASE("a duplicate registration code is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,31105001032015000001,,10004" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "registration_code");
}

TEST_CASE("a duplicate certificate number is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,,梯11渝A0002(09),10004" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "certificate_no");
}

TEST_CASE("a duplicate rescue code is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,31105001032015000004,,200002" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "rescue_code");
}

TEST_CASE("a rescue code that is not 5-6 digits is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,31105001032015000004,,1234567" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "rescue_code");
}

TEST_CASE("a district code that is not 6 digits is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,5001,29.56,106.57,office,,,MU1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "district_code");
}

TEST_CASE("a latitude out of range is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,95.1,106.57,office,,,MU1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "lat");
}

TEST_CASE("a longitude out of range is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,186.57,office,,,MU1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "lon");
}

TEST_CASE("a coordinate that is not a number is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.5x,106.57,office,,,MU1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "lat");
}

TEST_CASE("an unknown maintenance unit is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,106.57,office,,,MU9,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "maintenance_unit_id");
}

TEST_CASE("a rescue station as maintenance unit is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,106.57,office,,,RS1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "maintenance_unit_id");
}

TEST_CASE("an unknown building operator is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,106.57,office,,,MU1,BO9,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "building_operator_id");
}

TEST_CASE("a duplicate elevator id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E2,31105001032015000004,,10004" + elevator_row_tail);
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "id");
}

TEST_CASE("a duplicate maintenance unit id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("maintenance_units.csv", "MU1,又一家,,,,no,29.5,106.5\n");
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "maintenance_units.csv", 4, "id");
  CHECK(r.registry.unit("MU1")->name() == "渝中电梯维保有限公司");
}

TEST_CASE("a rescue station reusing a maintenance unit id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("rescue_stations.csv", "MU2,重名救援站,,,,yes,29.5,106.5\n");
  require_one_error(import_registry_csv(dir.path()), "rescue_stations.csv", 3, "id");
}

TEST_CASE("a duplicate building operator id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("building_operators.csv", "BO2,重名物业,,\n");
  require_one_error(import_registry_csv(dir.path()), "building_operators.csv", 4, "id");
}

TEST_CASE("a duplicate crew id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("crews.csv", "C1,MU2,重名,,,yes,,,\n");
  require_one_error(import_registry_csv(dir.path()), "crews.csv", 4, "id");
}

TEST_CASE("a duplicate terminal id is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("terminals.csv", "T1,E2,abcd\n");
  require_one_error(import_registry_csv(dir.path()), "terminals.csv", 3, "id");
}

TEST_CASE("a second terminal for one elevator is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("terminals.csv", "T2,E1,abcd\n");
  require_one_error(import_registry_csv(dir.path()), "terminals.csv", 3, "elevator_id");
}

TEST_CASE("a terminal secret that is not hex is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("terminals.csv", "T2,E2,xyz0\n");
  require_one_error(import_registry_csv(dir.path()), "terminals.csv", 3, "secret");
}

TEST_CASE("a crew of an unknown unit is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("crews.csv", "C3,MU9,刘洋,T1500003,,yes,29.5,106.5,\n");
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "crews.csv", 4, "unit_id");
  CHECK(r.registry.crew("C3") == nullptr);
}

TEST_CASE("a missing required column is reported against the header", "[unit][csv]") {
  csv_dir dir;
  dir.write("crews.csv",
            "id,unit_id,name,certificate,phone,lat,lon\n"
            "C1,MU1,王强,T1500001,13900000001,29.55,106.56\n");
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "crews.csv", 1, "on_duty");
  CHECK(r.registry.crews().empty());
  CHECK(r.registry.elevators().size() == 3);
}

TEST_CASE("an unknown column is reported and the rest of the row still loads", "[unit][csv]") {
  csv_dir dir;
  dir.write("building_operators.csv",
            "id,name,contact_phone,contact_nmae\n"
            "BO1,重庆好物业,023-60000001,李娜\n"
            "BO2,渝中商场管理公司,,\n");
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "building_operators.csv", 1, "contact_nmae");
  CHECK(r.registry.building_operators().size() == 2);
  CHECK(r.registry.building_operator("BO1")->contact_name().empty());
}

TEST_CASE("columns may come in any order", "[unit][csv]") {
  csv_dir dir;
  dir.write("terminals.csv",
            "secret,elevator_id,id\n"
            "beef,E2,T9\n");
  const registry_import r = import_registry_csv(dir.path());
  REQUIRE(r.ok());
  CHECK(r.registry.elevator_by_terminal("T9")->id() == "E2");
}

TEST_CASE("an unknown place type word is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,106.57,castle,,,MU1,,urban\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "place_type");
}

TEST_CASE("an area that is not urban or rural is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,地址,500103,29.56,106.57,office,,,MU1,,suburb\n");
  require_one_error(import_registry_csv(dir.path()), "elevators.csv", 5, "area");
}

TEST_CASE("an on_duty value that is not yes or no is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("crews.csv", "C3,MU1,刘洋,T1500003,,true,,,\n");
  require_one_error(import_registry_csv(dir.path()), "crews.csv", 4, "on_duty");
}

TEST_CASE("an unterminated quote is reported where the field opened", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,31105001032015000004,,10004,\"重庆市渝中区 1号,500103\n");
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "elevators.csv", 5, "address");
  CHECK(r.registry.elevators().size() == 3);
}

TEST_CASE("a quoted field may span lines and line numbers follow", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv",
             "E4,31105001032015000004,,10004,\"重庆市渝中区\n1号\",500103,29.56,106.57,office,,,"
             "MU1,,urban\n"
             "E5,123,,10005" +
                 elevator_row_tail);
  const registry_import r = import_registry_csv(dir.path());
  require_one_error(r, "elevators.csv", 7, "registration_code");
  CHECK(r.registry.elevator("E4")->address() == "重庆市渝中区\n1号");
}

TEST_CASE("a field that is not UTF-8 is refused", "[unit][csv]") {
  csv_dir dir;
  // "重庆" in GBK.
  dir.append("building_operators.csv", "BO3,\xD6\xD8\xC7\xEC物业,,\n");
  require_one_error(import_registry_csv(dir.path()), "building_operators.csv", 4, "name");
}

TEST_CASE("a row with the wrong number of fields is refused", "[unit][csv]") {
  csv_dir dir;
  dir.append("building_operators.csv", "BO3,少一列物业\n");
  require_one_error(import_registry_csv(dir.path()), "building_operators.csv", 4, "");
}

TEST_CASE("CRLF line ends and a byte order mark are accepted", "[unit][csv]") {
  csv_dir dir;
  dir.write("building_operators.csv",
            "\xEF\xBB\xBFid,name,contact_name,contact_phone\r\n"
            "BO1,\"重庆\"\"好\"\"物业\",李娜,023-60000001\r\n"
            "BO2,渝中商场管理公司,,\r\n");
  const registry_import r = import_registry_csv(dir.path());
  for (const import_error& e : r.errors)
    FAIL(e.to_string());
  CHECK(r.registry.building_operator("BO2")->contact_phone().empty());
}

TEST_CASE("terminals.csv is optional but the other files are not", "[unit][csv]") {
  csv_dir dir;
  fs::remove(dir.path() / "terminals.csv");
  CHECK(import_registry_csv(dir.path()).ok());
  fs::remove(dir.path() / "building_operators.csv");
  const registry_import r = import_registry_csv(dir.path());
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].file == "building_operators.csv");
  CHECK(r.errors[0].line == 0);
}

TEST_CASE("every error in a file is reported, not only the first", "[unit][csv]") {
  csv_dir dir;
  dir.append("elevators.csv", "E4,123,,10004" + elevator_row_tail + "E5,,,10005" +
                                  elevator_row_tail + "E6,31105001032015000006,,10006" +
                                  elevator_row_tail);
  const registry_import r = import_registry_csv(dir.path());
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].line == 5);
  CHECK(r.errors[1].line == 6);
  CHECK(r.registry.elevator("E6") != nullptr);
}

namespace {

// Writes reg out, imports it back and requires equal records in the same order.
void require_round_trip(const rescue::storage::registry& reg) {
  csv_dir copy;
  REQUIRE_FALSE(write_registry_csv(reg, copy.path()));
  const registry_import back = import_registry_csv(copy.path());
  for (const import_error& e : back.errors)
    FAIL(e.to_string());

  using google::protobuf::util::MessageDifferencer;
  auto same = [](const auto& a, const auto& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].ShortDebugString() << "\nvs\n" << b[i].ShortDebugString());
      CHECK(MessageDifferencer::Equals(a[i], b[i]));
    }
  };
  // Units come back grouped by file (maintenance units first), which is how the sources are.
  same(reg.units(), back.registry.units());
  same(reg.building_operators(), back.registry.building_operators());
  same(reg.elevators(), back.registry.elevators());
  same(reg.crews(), back.registry.crews());
  same(reg.terminals(), back.registry.terminals());
  same(reg.rectifications(), back.registry.rectifications());
}

}  // namespace

TEST_CASE("write then import gives equal records", "[unit][csv]") {
  csv_dir source;
  // Quotes, commas and line breaks in text must survive the trip too.
  source.append("building_operators.csv", "BO3,\"带,逗号\n和换行的\"\"物业\"\"\",,\n");
  const registry_import first = import_registry_csv(source.path());
  for (const import_error& e : first.errors)
    FAIL(e.to_string());
  REQUIRE(first.registry.building_operator("BO3")->name() == "带,逗号\n和换行的\"物业\"");
  require_round_trip(first.registry);
}

TEST_CASE("the Chongqing sample imports cleanly", "[unit][csv][sample]") {
  const registry_import r =
      import_registry_csv(fs::path(RESCUE_TEST_DATA_DIR) / "chongqing-sample");
  for (const import_error& e : r.errors)
    FAIL(e.to_string());
  CHECK(r.registry.elevators().size() == 400);
  CHECK(r.registry.units().size() == 16);
  CHECK(r.registry.crews().size() == 96);
  CHECK(r.registry.building_operators().size() == 40);
  CHECK(r.registry.terminals().size() == 320);
}

TEST_CASE("the Chongqing sample survives a write and import", "[unit][csv][sample]") {
  const registry_import r =
      import_registry_csv(fs::path(RESCUE_TEST_DATA_DIR) / "chongqing-sample");
  REQUIRE(r.ok());
  require_round_trip(r.registry);
}
