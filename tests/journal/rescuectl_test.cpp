// rescuectl against real journal files: exit codes and what it prints.
#include <sqlite3.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "journal_test_util.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/storage/signing.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "run_command.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::append_wait;
using rescue::test::note_event;
using rescue::test::rescuectl;
using rescue::test::scratch_dir;

namespace {

v1::Event ranked_event(std::uint64_t incident) {
  v1::Event e;
  e.set_incident_id(incident);
  e.set_at_ms(1'714'530'225'123);  // 2024-05-01T02:23:45.123Z
  auto* ranked = e.mutable_candidates_ranked();
  ranked->set_level(v1::LEVEL_1_MAINTENANCE);
  auto* c = ranked->add_candidates();
  c->set_crew_id("crew-7");
  c->set_unit_id("unit-2");
  c->set_rank(1);
  c->set_eta_s(420);
  c->set_distance_m(3200);
  auto* x = ranked->add_exclusions();
  x->set_crew_id("crew-3");
  x->set_unit_id("unit-2");
  x->set_distance_m(800);
  x->set_reason(v1::EXCLUSION_BUSY);
  return e;
}

struct cli_fixture {
  scratch_dir dir;
  std::string db = (dir / "journal.db").string();
  std::string key = (dir / "journal.key").string();

  cli_fixture() {
    sqlite_journal_config c;
    c.path = db;
    c.signing_key_path = key;
    c.checkpoint_every_records = 5;
    std::error_code ec;
    auto j = sqlite_journal::open(c, ec);
    REQUIRE(j);
    REQUIRE_FALSE(append_wait(*j, {note_event(42, "opened"), ranked_event(42)}).ec);
    for (int i = 0; i < 10; ++i)
      REQUIRE_FALSE(append_wait(*j, {note_event(43, "other")}).ec);
    REQUIRE_FALSE(append_wait(*j, {note_event(42, "closing note")}).ec);
  }
};

}  // namespace

TEST_CASE("rescuectl verify exits 0 on an intact journal", "[sqlite][rescuectl]") {
  cli_fixture f;
  auto r = rescuectl("verify --journal " + f.db);
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("13 records"));
}

TEST_CASE("rescuectl verify with the pinned public key exits 0, with another key exits 1",
          "[sqlite][rescuectl]") {
  cli_fixture f;
  const auto pem_path = (f.dir / "pub.pem").string();
  auto pub = rescuectl("public-key --key " + f.key);
  REQUIRE(pub.exit_code == 0);
  CHECK_THAT(pub.out, Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
  std::ofstream(pem_path) << pub.out;
  auto r = rescuectl("verify --journal " + f.db + " --public-key " + pem_path);
  INFO(r.out);
  CHECK(r.exit_code == 0);

  const auto other_path = (f.dir / "other.pem").string();
  std::ofstream(other_path) << signing_key::generate()->public_pem();
  r = rescuectl("verify --journal " + f.db + " --public-key " + other_path);
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("FAILED at seq 5"));
}

TEST_CASE("rescuectl verify exits 1 and names the seq of an altered record",
          "[sqlite][rescuectl]") {
  cli_fixture f;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(f.db.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DROP TRIGGER journal_no_update;"
                       "UPDATE journal SET at_ms = at_ms + 60000 WHERE seq = 7;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto r = rescuectl("verify --journal " + f.db);
  INFO(r.out);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("FAILED at seq 7") && Catch::Contains("hash mismatch"));
}

TEST_CASE("rescuectl exits 2 when the journal cannot be opened or arguments are wrong",
          "[sqlite][rescuectl]") {
  scratch_dir dir;
  CHECK(rescuectl("verify --journal " + (dir / "absent.db").string()).exit_code == 2);
  CHECK(rescuectl("verify").exit_code == 2);
  CHECK(rescuectl("public-key --key " + (dir / "absent.key").string()).exit_code == 2);
}

TEST_CASE("rescuectl timeline shows times in UTC+8 and the ranked candidates with ETAs",
          "[sqlite][rescuectl]") {
  cli_fixture f;
  auto r = rescuectl("timeline 42 --journal " + f.db);
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("3 events"));
  CHECK_THAT(r.out, Catch::Contains("2024-05-01T10:23:45.123+08:00  candidates_ranked"));
  CHECK_THAT(r.out, Catch::Contains("#1 crew crew-7 (unit unit-2)  ETA 7m00s  3200 m"));
  CHECK_THAT(r.out, Catch::Contains("excluded crew crew-3 (unit unit-2)  800 m  EXCLUSION_BUSY"));
  CHECK_THAT(r.out, Catch::Contains("text: \"closing note\""));

  r = rescuectl("timeline 42 --json --journal " + f.db);
  REQUIRE(r.exit_code == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 3);
  CHECK_THAT(r.out, Catch::Contains("\"event_type\":\"candidates_ranked\"") &&
                        Catch::Contains("\"crew_id\":\"crew-7\""));
  CHECK(rescuectl("timeline 999 --journal " + f.db).exit_code == 1);
}

TEST_CASE("rescuectl export prints one JSON line per record in the range", "[sqlite][rescuectl]") {
  cli_fixture f;
  auto r = rescuectl("export --journal " + f.db + " --from 2 --to 6");
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 5);
  // Each line is a JournalRecordLine; 64-bit integers are strings, as in every JSON body.
  CHECK_THAT(r.out, Catch::StartsWith("{\"seq\":\"2\","));
  std::istringstream lines(r.out);
  std::uint64_t expected = 2;
  for (std::string line; std::getline(lines, line); ++expected) {
    rescue::v1::JournalRecordLine record;
    INFO(line);
    REQUIRE(rescue::protocol::from_json(line, record).empty());
    CHECK(record.seq() == expected);
    CHECK(record.event_type() == rescue::protocol::event_type_name(record.event()));
    CHECK(record.hash().size() == 64);
  }
  CHECK(expected == 7);
}
