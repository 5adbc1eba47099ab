// The quarterly statistics table: rows A-K from rectification histories, both identities, and a
// table that breaks them refused with the rows and elevators named.
#include <catch2/catch.hpp>
#include <fstream>

#include "journal_test_util.hpp"
#include "report_city.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/report/quarterly.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "run_command.hpp"

using namespace rescue;
using namespace rescue::test_report;

namespace {

void rectify(storage::registry& reg, int elevator, v1::RectificationOrigin origin,
             const char* found, v1::RectificationStatus status, const char* on) {
  v1::Rectification r;
  r.set_elevator_id(elevator_id(elevator));
  r.set_origin(origin);
  r.set_found_on(found);
  r.set_status(status);
  r.set_status_on(on);
  const auto refused = reg.add_rectification(r);
  INFO(refused.value_or(""));
  REQUIRE_FALSE(refused);
}

// Listed: E01-E06 with histories; review: E11-E14 (E14 found in the previous quarter); E20 found
// after the quarter.
storage::registry quarter_city() {
  auto reg = make_registry();
  using o = v1::RectificationOrigin;
  const auto L = o::ORIGIN_LISTED, R = o::ORIGIN_REVIEW;
  rectify(reg, 1, L, "2026-02-01", v1::RECTIFICATION_RECTIFYING, "2026-02-01");
  rectify(reg, 1, L, "2026-02-01", v1::RECTIFICATION_RECTIFIED, "2026-11-20");   // B
  rectify(reg, 2, L, "2026-05-10", v1::RECTIFICATION_RECTIFYING, "2026-05-10");  // C
  rectify(reg, 3, L, "2026-10-03", v1::RECTIFICATION_SEALED, "2026-10-04");      // D
  rectify(reg, 4, L, "2025-12-01", v1::RECTIFICATION_SUPERVISED, "2025-12-01");  // E
  rectify(reg, 5, L, "2026-06-01", v1::RECTIFICATION_SUPERVISED, "2026-06-01");
  rectify(reg, 5, L, "2026-06-01", v1::RECTIFICATION_RECTIFIED, "2027-01-05");    // after: still E
  rectify(reg, 6, L, "2026-12-31", v1::RECTIFICATION_RECTIFYING, "2026-12-31");   // C, last day
  rectify(reg, 11, R, "2026-10-10", v1::RECTIFICATION_RECTIFIED, "2026-10-20");   // G
  rectify(reg, 12, R, "2026-11-11", v1::RECTIFICATION_RECTIFYING, "2026-11-12");  // H
  rectify(reg, 13, R, "2026-12-01", v1::RECTIFICATION_SEALED, "2026-12-02");      // I
  rectify(reg, 14, R, "2026-09-30", v1::RECTIFICATION_SEALED, "2026-09-30");      // earlier
  rectify(reg, 20, L, "2027-01-02", v1::RECTIFICATION_SEALED, "2027-01-02");      // later
  return reg;
}

std::map<std::string, std::uint32_t> values(const v1::QuarterlyTable& t) {
  std::map<std::string, std::uint32_t> v;
  for (const auto& r : t.rows())
    v[r.code()] = r.value();
  return v;
}

}  // namespace

TEST_CASE("the quarterly table counts problem elevators by their status on the last day",
          "[report][quarterly]") {
  const auto reg = quarter_city();
  std::string error;
  const auto q = *report::parse_period("2026-Q4", error);
  report::quarterly_facts facts;
  facts.cities_with_platform = 3;
  facts.quality_published = "quarterly";
  const auto t = report::quarterly_table(reg, q, facts);
  CHECK(t.problems().empty());
  CHECK(t.first_day() == "2026-10-01");
  CHECK(t.last_day() == "2026-12-31");
  auto v = values(t);
  CHECK(v["A"] == 6);
  CHECK(v["B"] == 1);
  CHECK(v["C"] == 2);
  CHECK(v["D"] == 1);
  CHECK(v["E"] == 2);
  CHECK(v["F"] == 3);
  CHECK(v["G"] == 1);
  CHECK(v["H"] == 1);
  CHECK(v["I"] == 1);
  CHECK(v["J"] == 3);
  CHECK(v["K"] == elevator_count);
  CHECK(v["A"] == v["B"] + v["C"] + v["D"] + v["E"]);
  CHECK(v["F"] == v["G"] + v["H"] + v["I"]);
  CHECK(t.rows_size() == 11);
  CHECK(t.emergency_number_open());
  CHECK(t.quality_published());
  CHECK(t.quality_publish_frequency() == "quarterly");

  // The third quarter: E01 is still being rectified, E03 and E06 were not yet found, E14 is F.
  const auto q3 = report::quarterly_table(reg, *report::parse_period("2026-Q3", error), facts);
  v = values(q3);
  CHECK(v["A"] == 4);
  CHECK(v["B"] == 0);
  CHECK(v["C"] == 2);
  CHECK(v["E"] == 2);
  CHECK(v["F"] == 1);
  CHECK(v["I"] == 1);

  const auto md = report::render_quarterly_markdown(t, report::language::zh);
  CHECK(md.find("# 电梯应急处置服务平台建设情况季度统计表 2026-Q4") == 0);
  CHECK(md.find("| A | 问题电梯总数 | 6 |") != std::string::npos);
  CHECK(md.find("|  | 公布频次 | 每季度 |") != std::string::npos);
  const auto en = report::render_quarterly_csv(t, report::language::en);
  CHECK(en.find("\r\nK,Elevators the platform covers,40\r\n") != std::string::npos);
}

TEST_CASE("a quarterly table that breaks its identities names the rows and the elevators",
          "[report][quarterly]") {
  auto reg = quarter_city();
  // Found in November, its first status only recorded in January: no status on the last day.
  rectify(reg, 7, v1::ORIGIN_LISTED, "2026-11-01", v1::RECTIFICATION_RECTIFYING, "2027-01-03");
  rectify(reg, 15, v1::ORIGIN_REVIEW, "2026-12-20", v1::RECTIFICATION_SEALED, "2027-01-04");
  std::string error;
  const auto t = report::quarterly_table(reg, *report::parse_period("2026-Q4", error),
                                         report::quarterly_facts{});
  REQUIRE(t.problems_size() == 2);
  CHECK(t.problems(0).rfind("A (7) != B + C + D + E (6)", 0) == 0);
  CHECK(t.problems(0).find("E07 (first status 2027-01-03)") != std::string::npos);
  CHECK(t.problems(1).rfind("F (4) != G + H + I (3)", 0) == 0);
  CHECK(t.problems(1).find("E15") != std::string::npos);

  // rescuectl refuses to print it, and says why.
  test::scratch_dir dir;
  REQUIRE_FALSE(storage::write_registry_csv(reg, dir / "registry"));
  const auto r = test::rescuectl("quarterly --registry " + (dir / "registry").string() +
                                 " --quarter 2026-Q4 --quality-published monthly");
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("breaks its identities") != std::string::npos);
  CHECK(r.out.find("E07") != std::string::npos);
  CHECK(r.out.find("| A |") == std::string::npos);
}

TEST_CASE("rescuectl quarterly prints the table from the registry's CSV files",
          "[report][quarterly]") {
  test::scratch_dir dir;
  REQUIRE_FALSE(storage::write_registry_csv(quarter_city(), dir / "registry"));
  const std::string base = "quarterly --registry " + (dir / "registry").string();
  const auto json = test::rescuectl(base +
                                    " --quarter 2026-Q4 --cities 2 --quality-published "
                                    "monthly --format json");
  REQUIRE(json.exit_code == 0);
  v1::QuarterlyTable t;
  REQUIRE(protocol::from_json(json.out, t).empty());
  CHECK(values(t)["A"] == 6);
  CHECK(values(t)["J"] == 2);
  CHECK(t.quality_publish_frequency() == "monthly");
  const auto xlsx = dir / "q4.xlsx";
  CHECK(test::rescuectl(base + " --quarter 2026-Q4 --quality-published no --format xlsx --out " +
                        xlsx.string())
            .exit_code == 0);
  CHECK(std::filesystem::file_size(xlsx) > 0);
  for (const char* bad :
       {"--quarter 2026-11 --quality-published no",
        "--quarter 2026-Q4 --quality-published sometimes",
        "--quarter 2026-Q4 --quality-published no --emergency-number-open maybe"}) {
    INFO(bad);
    CHECK(test::rescuectl(base + " " + bad).exit_code == 2);
  }
}
