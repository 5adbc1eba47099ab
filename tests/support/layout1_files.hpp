// Files as the version before the transactional outbox left them: a journal of layout 1 (no
// outbox table, `PRAGMA user_version` 1) and the separate outbox file beside it. For the tests
// that open old files.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rescue/storage/journal.hpp"
#include "sqlite_journal_rows.hpp"

namespace rescue::test {

// A journal file the earlier version wrote (tests/data/journal-layout1/README.md). Copy it
// before opening it for writing: that upgrades it.
inline std::filesystem::path layout1_journal_fixture() {
  return std::filesystem::path(RESCUE_TEST_DATA_DIR) / "journal-layout1" / "journal.db";
}
inline std::filesystem::path layout1_journal_fixture_key() {
  return std::filesystem::path(RESCUE_TEST_DATA_DIR) / "journal-layout1" /
         "journal-signing.pub.pem";
}

// The earlier version's SQL for its outbox file, verbatim.
inline constexpr const char* layout1_outbox_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS outbox("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL,"
    "  delivered_ms INTEGER,"
    "  last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS outbox_undelivered ON outbox(next_attempt_ms)"
    "  WHERE delivered_ms IS NULL;";

struct layout1_outbox_row {
  std::string kind;
  std::string url;
  std::string body;
  std::int64_t created_ms = 1'700'000'000'000;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_ms = 1'700'000'000'000;
  std::optional<std::int64_t> delivered_ms;
  std::string last_error;  // empty: NULL
};

namespace layout1_detail {

inline sqlite3* open(const std::filesystem::path& path, const char* schema) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL;", nullptr, nullptr, &error);
  INFO((error ? error : ""));
  REQUIRE(rc == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, schema, nullptr, nullptr, nullptr) == SQLITE_OK);
  return db;
}

inline sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
  return s;
}

inline void text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

}  // namespace layout1_detail

// Turns a closed journal file of this build back into layout 1 (what that version would have
// written for the same records): drops what layout 2 added, the outbox calls with it.
inline void downgrade_to_layout1(const std::filesystem::path& journal_file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(journal_file.c_str(), &db) == SQLITE_OK);
  exec_sql(db,
           "BEGIN; DROP TRIGGER outbox_no_update; DROP TRIGGER outbox_no_delete;"
           "DROP INDEX outbox_by_incident; DROP TABLE outbox; PRAGMA user_version = 1; COMMIT;");
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

// The schema of a SQLite file: `type name: sql` of every object, sorted.
inline std::vector<std::string> schema_of(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM "
                             "sqlite_master ORDER BY 1",
                             -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(s) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// The separate outbox file of that version, holding `rows` (ids 1, 2, ...).
inline void write_layout1_outbox(const std::filesystem::path& path,
                                 const std::vector<layout1_outbox_row>& rows) {
  using namespace layout1_detail;
  sqlite3* db = open(path, layout1_outbox_schema);
  sqlite3_stmt* s = prepare(db,
                            "INSERT INTO outbox(kind, url, body, created_ms, attempts, "
                            "next_attempt_ms, delivered_ms, last_error) "
                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& r : rows) {
    text(s, 1, r.kind);
    text(s, 2, r.url);
    text(s, 3, r.body);
    sqlite3_bind_int64(s, 4, r.created_ms);
    sqlite3_bind_int64(s, 5, r.attempts);
    sqlite3_bind_int64(s, 6, r.next_attempt_ms);
    if (r.delivered_ms) sqlite3_bind_int64(s, 7, *r.delivered_ms);
    if (!r.last_error.empty()) text(s, 8, r.last_error);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

}  // namespace rescue::test
