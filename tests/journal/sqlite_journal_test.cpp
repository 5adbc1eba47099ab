// What belongs to the SQLite backend's files themselves: the durability pragmas, the append-only
// triggers, and the layouts: files of the earlier layout open, upgrade once and keep their
// outbox; files of a newer layout are refused.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "journal_test_util.hpp"
#include "layout1_files.hpp"
#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/signing.hpp"
#include "rescue/storage/sqlite_crew_position_store.hpp"
#include "rescue/storage/sqlite_durability.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "rescue/storage/sqlite_outbox_store.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::append_wait;
using rescue::test::note_event;
using rescue::test::scratch_dir;

namespace {

std::unique_ptr<sqlite_journal> open_journal(const sqlite_journal_config& config) {
  std::error_code ec;
  auto j = sqlite_journal::open(config, ec);
  INFO(ec.message());
  REQUIRE(j);
  return j;
}

sqlite_journal_config config_in(const scratch_dir& dir) {
  sqlite_journal_config c;
  c.path = dir / "journal.db";
  c.signing_key_path = dir / "journal.key";
  c.checkpoint_every_records = 10;
  c.legacy_outbox_path = dir / "outbox.db";
  return c;
}

std::unique_ptr<sqlite_outbox_store> open_outbox(const scratch_dir& dir, std::error_code& ec) {
  return sqlite_outbox_store::open({dir / "journal.db", dir / "outbox.db"}, ec);
}

int user_version_of(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const int v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

// The statement's SQLite result code on the file, run with a connection of the test's own.
int run_sql(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

// A copy of the journal the earlier version wrote, as `dir`/journal.db.
void copy_layout1_journal(const scratch_dir& dir) {
  std::filesystem::copy_file(rescue::test::layout1_journal_fixture(), dir / "journal.db");
  std::filesystem::permissions(
      dir / "journal.db", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("the journal's writer runs in WAL mode with synchronous=FULL, and the file stays WAL",
          "[sqlite]") {
  scratch_dir dir;
  const auto config = config_in(dir);
  {
    auto j = open_journal(config);
    // What "durable" in the append completion rests on: every commit fsyncs the WAL.
    const auto d = j->durability();
    CHECK(d.journal_mode == "wal");
    CHECK(d.synchronous == 2);  // FULL
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
  }
  // WAL is a property of the file: an auditor's connection (sqlite3 tool) sees it too.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(config.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  CHECK(query_durability(db).journal_mode == "wal");
  sqlite3_close(db);
  CHECK(user_version_of(config.path) == sqlite_schema_version);
}

TEST_CASE("the outbox's delivery file runs in WAL mode with synchronous=FULL", "[sqlite]") {
  // record_attempt() promises the attempt is on disk when it returns: that is synchronous=FULL.
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  std::error_code ec;
  auto outbox = open_outbox(dir, ec);
  REQUIRE(outbox);
  const auto d = outbox->durability();
  CHECK(d.journal_mode == "wal");
  CHECK(d.synchronous == 2);  // FULL
  CHECK(user_version_of(dir / "outbox.db") == sqlite_delivery_schema_version);
}

TEST_CASE("the crew positions file runs in WAL mode with synchronous=NORMAL", "[sqlite]") {
  // Positions are no promise to anyone: a commit need not wait for an fsync, and WAL keeps a
  // killed process from losing what it committed.
  scratch_dir dir;
  std::error_code ec;
  auto positions = sqlite_crew_position_store::open({dir / "positions.db"}, ec);
  INFO(ec.message());
  REQUIRE(positions);
  const auto d = positions->durability();
  CHECK(d.journal_mode == "wal");
  CHECK(d.synchronous == 1);  // NORMAL
  REQUIRE_FALSE(positions->save({{"c1", 29.5, 106.5, 1}}));
  positions.reset();
  CHECK(user_version_of(dir / "positions.db") == sqlite_positions_schema_version);
}

TEST_CASE("a crew positions file of a newer layout is refused", "[sqlite]") {
  scratch_dir dir;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "positions.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  std::error_code ec;
  CHECK_FALSE(sqlite_crew_position_store::open({dir / "positions.db"}, ec));
  CHECK(ec == journal_errc::unsupported_schema);
}

TEST_CASE("triggers refuse changing or deleting records, checkpoints and outbox calls",
          "[sqlite]") {
  scratch_dir dir;
  {
    auto j = open_journal(config_in(dir));
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
    auto done = std::make_shared<std::promise<std::error_code>>();
    auto stored = done->get_future();
    j->append({}, {{"crew_sms", 1, "http://127.0.0.1:9/", "{}"}},
              [done](std::error_code ec, auto) { done->set_value(ec); });
    REQUIRE_FALSE(stored.get());
  }  // closing signs a checkpoint
  const auto file = dir / "journal.db";
  for (const char* sql : {"UPDATE journal SET at_ms = 0", "DELETE FROM journal",
                          "UPDATE checkpoints SET at_ms = 0", "DELETE FROM checkpoints",
                          "UPDATE outbox SET url = 'http://elsewhere/'", "DELETE FROM outbox"}) {
    INFO(sql);
    CHECK(run_sql(file, sql) == SQLITE_CONSTRAINT);
  }
}

TEST_CASE("turning a journal of this build back into layout 1 gives the earlier version's schema",
          "[sqlite]") {
  // What the upgrade tests elsewhere build their old files with.
  scratch_dir dir;
  { open_journal(config_in(dir)); }
  rescue::test::downgrade_to_layout1(dir / "journal.db");
  CHECK(rescue::test::schema_of(dir / "journal.db") ==
        rescue::test::schema_of(rescue::test::layout1_journal_fixture()));
  CHECK(user_version_of(dir / "journal.db") == 1);
}

TEST_CASE("a journal of the earlier layout opens, upgrades once, and takes its outbox file's calls",
          "[sqlite]") {
  scratch_dir dir;
  copy_layout1_journal(dir);
  // The earlier outbox file: a fire call still failing, and an SMS delivered long ago.
  rescue::test::layout1_outbox_row fire;
  fire.kind = "fire_escalation";
  fire.url = "http://127.0.0.1:9/119";
  fire.body = R"({"kind":"fire_escalation","incident_id":2,"reason":"ESCALATION_INJURED"})";
  fire.attempts = 3;
  fire.next_attempt_ms = 1'700'000'060'000;
  fire.last_error = "HTTP 503: busy";
  rescue::test::layout1_outbox_row sms;
  sms.kind = "crew_sms";
  sms.url = "http://127.0.0.1:9/sms";
  sms.body = R"({"kind":"crew_offer_unreceipted","crew_id":"c1","incident_id":1,"seq":4})";
  sms.attempts = 1;
  sms.delivered_ms = 1'700'000'000'900;
  rescue::test::write_layout1_outbox(dir / "outbox.db", {fire, sms});
  CHECK(user_version_of(dir / "journal.db") == 1);
  verify_options pinned;
  pinned.expected_public_key = read_file(rescue::test::layout1_journal_fixture_key());
  REQUIRE_FALSE(pinned.expected_public_key.empty());

  // A read-only open (an auditor's rescuectl) reads the old file and leaves it as it is.
  auto config = config_in(dir);
  config.signing_key_path.clear();  // the old checkpoint stays the only one: verify pins its key
  {
    auto read_only = config;
    read_only.read_only = true;
    auto j = open_journal(read_only);
    CHECK(j->last_seq() == 24);
    const auto result = verify_journal(*j, pinned);
    INFO(result.reason);
    CHECK(result.ok());
    CHECK(j->upgrade().from_version == 0);
  }
  CHECK(user_version_of(dir / "journal.db") == 1);

  {
    auto j = open_journal(config);
    CHECK(j->upgrade().from_version == 1);
    CHECK(j->upgrade().legacy_outbox_rows == 2);
    CHECK(user_version_of(dir / "journal.db") == sqlite_schema_version);
    // The old records verify, and the chain goes on from them.
    CHECK(j->last_seq() == 24);
    auto r = append_wait(*j, {note_event(1, "new")});
    CHECK(r.seqs == std::vector<std::uint64_t>{25});
    const auto result = verify_journal(*j, pinned);
    INFO(result.reason);
    CHECK(result.ok());
    CHECK(result.records_checked == 25);
    CHECK(result.checkpoints_checked == 1);

    // The calls moved in with their incident as a column, their delivery state kept.
    std::error_code ec;
    auto outbox = open_outbox(dir, ec);
    INFO(ec.message());
    REQUIRE(outbox);
    std::vector<outbox_row> rows;
    REQUIRE_FALSE(outbox->rows(rows));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].id == 1);
    CHECK(rows[0].kind == "fire_escalation");
    CHECK(rows[0].incident_id == 2);
    CHECK(rows[0].body == fire.body);
    CHECK(rows[0].attempts == 3);
    CHECK(rows[0].next_attempt_ms == 1'700'000'060'000);
    CHECK(rows[0].last_error == "HTTP 503: busy");
    CHECK_FALSE(rows[0].delivered_ms);
    CHECK(rows[1].kind == "crew_sms");
    CHECK(rows[1].incident_id == 1);
    CHECK(rows[1].delivered_ms == 1'700'000'000'900);
    std::size_t pending = 0;
    REQUIRE_FALSE(outbox->pending(pending));
    CHECK(pending == 1);
    rows.clear();
    REQUIRE_FALSE(outbox->by_incident(2, rows));
    CHECK(rows.size() == 1);
  }
  CHECK(user_version_of(dir / "outbox.db") == sqlite_delivery_schema_version);

  // The next open upgrades nothing and moves nothing again.
  auto j = open_journal(config);
  CHECK(j->upgrade().from_version == 0);
  std::error_code ec;
  auto outbox = open_outbox(dir, ec);
  REQUIRE(outbox);
  std::vector<outbox_row> rows;
  REQUIRE_FALSE(outbox->rows(rows));
  CHECK(rows.size() == 2);
}

TEST_CASE("a journal of the earlier layout without an outbox file upgrades with no calls",
          "[sqlite]") {
  scratch_dir dir;
  copy_layout1_journal(dir);
  auto j = open_journal(config_in(dir));
  CHECK(j->upgrade().from_version == 1);
  CHECK(j->upgrade().legacy_outbox_rows == 0);
  std::error_code ec;
  auto outbox = open_outbox(dir, ec);
  REQUIRE(outbox);
  std::size_t pending = 1;
  REQUIRE_FALSE(outbox->pending(pending));
  CHECK(pending == 0);
}

TEST_CASE("the outbox refuses a journal file that was not upgraded yet", "[sqlite]") {
  scratch_dir dir;
  copy_layout1_journal(dir);
  std::error_code ec;
  CHECK_FALSE(open_outbox(dir, ec));
  CHECK(ec == journal_errc::unsupported_schema);
}

TEST_CASE("a journal file of a newer layout is refused, read-only too", "[sqlite]") {
  scratch_dir dir;
  auto config = config_in(dir);
  { open_journal(config); }
  REQUIRE(run_sql(config.path, "PRAGMA user_version = 3") == SQLITE_OK);
  std::error_code ec;
  CHECK_FALSE(sqlite_journal::open(config, ec));
  CHECK(ec == journal_errc::unsupported_schema);
  config.read_only = true;
  ec.clear();
  CHECK_FALSE(sqlite_journal::open(config, ec));
  CHECK(ec == journal_errc::unsupported_schema);
}
