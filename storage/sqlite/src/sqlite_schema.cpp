#include "sqlite_schema.hpp"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <string>

namespace rescue::storage::sqlite {

namespace {

// Layout 1, unchanged: the journal and its checkpoints.
constexpr const char* journal_tables_sql = R"sql(
CREATE TABLE IF NOT EXISTS journal (
  seq         INTEGER PRIMARY KEY,
  at_ms       INTEGER NOT NULL,
  incident_id INTEGER NOT NULL,
  event_type  TEXT    NOT NULL,
  payload     BLOB    NOT NULL,
  prev_hash   BLOB    NOT NULL,
  hash        BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_incident ON journal (incident_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
  upto_seq   INTEGER PRIMARY KEY,
  hash       BLOB    NOT NULL,
  at_ms      INTEGER NOT NULL,
  signature  BLOB    NOT NULL,
  public_key TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
  BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
  BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
)sql";

// Layout 2 adds the outbox's calls, in the journal file so that a call is stored in the
// transaction of the event that causes it, and append-only like the journal. How their
// delivery stands changes with every attempt and is kept in the outbox file instead
// (sqlite_outbox_store.cpp), so the journal file keeps one writer and no row of it ever changes.
constexpr const char* outbox_tables_sql = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  id          INTEGER PRIMARY KEY,
  kind        TEXT    NOT NULL,
  incident_id INTEGER NOT NULL,
  url         TEXT    NOT NULL,
  body        TEXT    NOT NULL,
  created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_incident ON outbox (incident_id, id);
CREATE TRIGGER IF NOT EXISTS outbox_no_update BEFORE UPDATE ON outbox
  BEGIN SELECT RAISE(ABORT, 'outbox calls are append-only'); END;
CREATE TRIGGER IF NOT EXISTS outbox_no_delete BEFORE DELETE ON outbox
  BEGIN SELECT RAISE(ABORT, 'outbox calls are append-only'); END;
PRAGMA user_version = 2;
)sql";

static_assert(sqlite_schema_version == 2, "outbox_tables_sql sets the version");

// Bodies written by layout-1 servers carry the incident as the top-level "incident_id" number
// (fire escalations and crew SMS alike); read once, with a JSON parser, while moving the row.
std::uint64_t legacy_incident_id(const std::string& body) {
  google::protobuf::Struct parsed;
  if (!google::protobuf::util::JsonStringToMessage(body, &parsed).ok()) return 0;
  const auto it = parsed.fields().find("incident_id");
  if (it == parsed.fields().end() || !it->second.has_number_value()) return 0;
  const double id = it->second.number_value();
  return id >= 1 && id < 9.007199254740992e15 && std::floor(id) == id
             ? static_cast<std::uint64_t>(id)
             : 0;
}

// Copies the calls of the layout-1 outbox file into the outbox table, ids kept (the table is new
// and empty); their delivery state stays in that file, which the outbox store converts next.
// Runs inside the upgrade's transaction on `db`.
std::error_code import_legacy_outbox(sqlite3* db, const std::filesystem::path& legacy,
                                     std::size_t& moved) {
  std::error_code exists_ec;
  if (legacy.empty() || !std::filesystem::exists(legacy, exists_ec)) return {};
  db_ptr old;
  // Read-write without create: a file left by kill -9 still has its WAL to recover.
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(legacy.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  old.reset(raw);
  if (rc != SQLITE_OK) return error(rc);
  sqlite3_busy_timeout(old.get(), 5000);
  bool layout1 = false;
  if (auto ec = has_table(old.get(), "main", "outbox", layout1)) return ec;
  if (!layout1) return {};  // created, never written; or converted already

  stmt_ptr select, insert;
  if (auto ec = prepare(old.get(), "SELECT id, kind, url, body, created_ms FROM outbox ORDER BY id",
                        select))
    return ec;
  if (auto ec = prepare(db,
                        "INSERT INTO outbox (id, kind, incident_id, url, body, created_ms) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        insert))
    return ec;
  for (;;) {
    const int step = sqlite3_step(select.get());
    if (step == SQLITE_DONE) return {};
    if (step != SQLITE_ROW) return last_error(old.get());
    sqlite3_stmt* s = insert.get();
    stmt_reset reset{s};
    const std::string body = column_text(select.get(), 3);
    sqlite3_bind_int64(s, 1, sqlite3_column_int64(select.get(), 0));
    sqlite3_bind_value(s, 2, sqlite3_column_value(select.get(), 1));
    bind_u64(s, 3, legacy_incident_id(body));
    sqlite3_bind_value(s, 4, sqlite3_column_value(select.get(), 2));
    bind_text(s, 5, body);
    sqlite3_bind_int64(s, 6, sqlite3_column_int64(select.get(), 4));
    if (auto ec = step_done(db, s)) return ec;
    ++moved;
  }
}

}  // namespace

std::error_code apply_schema(sqlite3* db, const std::filesystem::path& legacy_outbox,
                             sqlite_upgrade& out) {
  // IMMEDIATE: two processes opening an old file at once upgrade it once; the second one reads
  // the version after the first committed.
  if (auto ec = exec(db, "BEGIN IMMEDIATE")) return ec;
  const auto fail = [db](std::error_code ec) {
    exec(db, "ROLLBACK");
    return ec;
  };
  int version = 0;
  if (auto ec = user_version(db, version)) return fail(ec);
  if (version > sqlite_schema_version) return fail(journal_errc::unsupported_schema);
  if (version == 1) {
    if (auto ec = exec(db, outbox_tables_sql)) return fail(ec);
    if (auto ec = import_legacy_outbox(db, legacy_outbox, out.legacy_outbox_rows)) return fail(ec);
    out.from_version = 1;
  } else {
    // New (or current: every statement is IF NOT EXISTS).
    if (auto ec = exec(db, journal_tables_sql)) return fail(ec);
    if (auto ec = exec(db, outbox_tables_sql)) return fail(ec);
  }
  if (auto ec = exec(db, "COMMIT")) return fail(ec);
  return {};
}

std::error_code insert_outbox_row(sqlite3* db, sqlite3_stmt* insert, const outbox_row& r) {
  stmt_reset reset{insert};
  bind_text(insert, 1, r.kind);
  bind_u64(insert, 2, r.incident_id);
  bind_text(insert, 3, r.url);
  bind_text(insert, 4, r.body);
  sqlite3_bind_int64(insert, 5, r.created_ms);
  return step_done(db, insert);
}

std::error_code has_table(sqlite3* db, const char* schema, const char* table, bool& out) {
  stmt_ptr s;
  const std::string sql = std::string("SELECT count(*) FROM ") + schema +
                          ".sqlite_master WHERE type = 'table' AND name = ?1";
  if (auto ec = prepare(db, sql.c_str(), s)) return ec;
  sqlite3_bind_text(s.get(), 1, table, -1, SQLITE_STATIC);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return last_error(db);
  out = sqlite3_column_int(s.get(), 0) != 0;
  return {};
}

std::error_code user_version(sqlite3* db, int& out, const char* schema) {
  stmt_ptr s;
  const std::string sql = std::string("PRAGMA ") + schema + ".user_version";
  if (auto ec = prepare(db, sql.c_str(), s)) return ec;
  if (sqlite3_step(s.get()) != SQLITE_ROW) return last_error(db);
  out = sqlite3_column_int(s.get(), 0);
  return {};
}

}  // namespace rescue::storage::sqlite
