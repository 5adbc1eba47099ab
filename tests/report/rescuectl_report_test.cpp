// rescuectl report through the real path: the seeded month appended to a SQLite journal, the
// registry written as the CSV files a city hands over, every format produced by the binary.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <google/protobuf/util/message_differencer.h>

#include "journal_test_util.hpp"
#include "report_city.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/report/report.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "run_command.hpp"

using namespace rescue;
using namespace rescue::test_report;
using rescue::test::rescuectl;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct journal_fixture {
  test::scratch_dir dir;
  std::string db = (dir / "journal.db").string();
  std::string registry = (dir / "registry").string();
  scenario s = make_scenario(20261101);
  std::vector<v1::Event> events = events_of(s);
  storage::registry reg = make_registry();

  journal_fixture() {
    storage::sqlite_journal_config c;
    c.path = db;
    c.signing_key_path = (dir / "journal.key").string();
    std::error_code ec;
    auto j = storage::sqlite_journal::open(c, ec);
    REQUIRE(j);
    for (std::size_t i = 0; i < events.size(); i += 100) {
      std::vector<v1::Event> batch(
          events.begin() + static_cast<std::ptrdiff_t>(i),
          events.begin() + static_cast<std::ptrdiff_t>(std::min(i + 100, events.size())));
      REQUIRE_FALSE(test::append_wait(*j, std::move(batch)).ec);
    }
    REQUIRE_FALSE(storage::write_registry_csv(reg, registry));
  }

  std::string args(const std::string& more) const {
    return "report --journal " + db + " --registry " + registry + " " + more;
  }
};

}  // namespace

TEST_CASE("rescuectl report prints the same report as the builder, as JSON, byte for byte",
          "[report]") {
  journal_fixture f;
  const auto json = rescuectl(f.args("--period 2026-11 --format json"));
  REQUIRE(json.exit_code == 0);
  v1::Report got;
  REQUIRE(protocol::from_json(json.out, got).empty());
  // The registry read back from CSV and the journal read back from SQLite give the report the
  // builder gives on the events in memory.
  const auto want = report::build_report(f.reg, f.s.period, f.events);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  CHECK(d.Compare(want, got));
  INFO(diff);
  CHECK(rescuectl(f.args("--period 2026-11 --format json")).out == json.out);

  const auto out = f.dir / "r.csv";
  REQUIRE(rescuectl(f.args("--period 2026-11 --format csv --out " + out.string())).exit_code == 0);
  const auto csv = slurp(out);
  REQUIRE(rescuectl(f.args("--period 2026-11 --format csv --out " + out.string())).exit_code == 0);
  CHECK(slurp(out) == csv);
  CHECK(csv.find("各区县困人") != std::string::npos);
  // A line of the summary table: the entrapments of the month.
  CHECK(csv.find("\r\n困人事件," + std::to_string(want.totals().entrapments()) + "\r\n") !=
        std::string::npos);

  // The seeded month's report in both languages, kept under the build folder for a reader.
  const auto samples = std::filesystem::path(RESCUE_BIN_DIR) / ".." / "report-samples";
  std::filesystem::create_directories(samples);
  REQUIRE(rescuectl(f.args("--period 2026-11 --out " + (samples / "2026-11.zh.md").string()))
              .exit_code == 0);
  REQUIRE(rescuectl(f.args("--period 2026-11 --format xlsx --out " +
                           (samples / "2026-11.zh.xlsx").string()))
              .exit_code == 0);
  const auto md = rescuectl(f.args("--period 2026-11 --lang en"));
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.rfind("# Elevator emergency report 2026-11", 0) == 0);
  std::ofstream(samples / "2026-11.en.md") << md.out;
  CHECK(md.out.find("| Entrapments | " + std::to_string(want.totals().entrapments()) + " |") !=
        std::string::npos);
}

TEST_CASE("rescuectl report refuses a request it cannot answer, and says why", "[report]") {
  journal_fixture f;
  struct bad {
    const char* args;
    const char* says;
  } cases[] = {
      {"--period 2026-13", "is not a period"},
      {"", "a period is required"},
      {"--period 2026-11 --from 2026-11-01 --to 2026-11-02", "not both"},
      {"--period 2026-11 --format pdf", "--format must be"},
      {"--period 2026-11 --format xlsx", "needs --out"},
      {"--period 2026-11 --lang fr", "--lang must be"},
      {"--from 2026-11-05 --to 2026-11-01", "must come after"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    const auto r = rescuectl(f.args(c.args));
    CHECK(r.exit_code == 2);
    CHECK(r.out.find(c.says) != std::string::npos);
  }
  const auto r = rescuectl("report --journal " + f.db + " --registry " +
                           (f.dir / "nowhere").string() + " --period 2026-11");
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("has no elevators") != std::string::npos);
}

#ifdef RESCUE_PYTHON
TEST_CASE("rescuectl report writes an Excel workbook that reads back with its figures",
          "[report]") {
  journal_fixture f;
  const auto xlsx = f.dir / "report.xlsx";
  const auto r = rescuectl(f.args("--period 2026-11 --format xlsx --out " + xlsx.string()));
  REQUIRE(r.exit_code == 0);
  REQUIRE(std::filesystem::file_size(xlsx) > 0);
  const auto want = report::build_report(f.reg, f.s.period, f.events);

  // openpyxl reads the workbook and prints sheet names, the summary's figure/value pairs and the
  // units sheet's rows, tab-separated.
  const auto script = f.dir / "read.py";
  std::ofstream(script) << R"(import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
print("sheets\t" + "\t".join(wb.sheetnames))
ws = wb["概况"]
print("title\t" + str(ws.cell(1, 1).value))
for row in ws.iter_rows(min_row=5, values_only=True):
    v = round(row[1], 6) if isinstance(row[1], float) else row[1]
    print("summary\t%s\t%s" % (row[0], v))
ws = wb["维保单位排名"]
for row in ws.iter_rows(min_row=5, values_only=True):
    print("unit\t" + "\t".join(repr(v) for v in row))
)";
  const auto py = rescue::test::run_command(std::string(RESCUE_PYTHON) + " " + script.string() +
                                            " " + xlsx.string());
  INFO(py.out);
  REQUIRE(py.exit_code == 0);
  CHECK(py.out.find("sheets\t概况\t各区县困人\t报警来源") != std::string::npos);
  CHECK(py.out.find("title\t电梯应急处置统计报告 2026-11 · 概况") != std::string::npos);
  // Counts are numbers, shares are fractions (formatted as percentages by the cell).
  CHECK(py.out.find("summary\t困人事件\t" + std::to_string(want.totals().entrapments()) + "\n") !=
        std::string::npos);
  char share[64];
  std::snprintf(share, sizeof share, "%.6f", want.arrival().share_on_time());
  std::string six = share;
  while (six.back() == '0')
    six.pop_back();
  if (six.back() == '.') six += '0';
  CHECK(py.out.find("summary\t按时到场率\t" + six + "\n") != std::string::npos);
  const auto& top = want.units(0);
  CHECK(py.out.find("unit\t1\t'" + top.unit_id() + "'\t'" + top.name() + "'\t" +
                    std::to_string(top.elevators()) + "\t" + std::to_string(top.entrapments())) !=
        std::string::npos);
}
#endif
