#include "rescue/storage/sqlite_outbox_store.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <string>

#include "sqlite_db.hpp"
#include "sqlite_schema.hpp"

namespace rescue::storage {

namespace {

using namespace sqlite;

// The delivery file. `deliveries` has a row for every call up to delivery_state.seen_through;
// calls the journal committed after that are taken in (as due at once) before each read.
constexpr const char* delivery_tables_sql = R"sql(
CREATE TABLE IF NOT EXISTS deliveries (
  id              INTEGER PRIMARY KEY,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  delivered_ms    INTEGER,
  last_error      TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_ms)
  WHERE delivered_ms IS NULL;
CREATE TABLE IF NOT EXISTS delivery_state (
  one          INTEGER PRIMARY KEY CHECK (one = 1),
  seen_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO delivery_state (one, seen_through) VALUES (1, 0);
PRAGMA user_version = 2;
)sql";

// Layout 1 of this file held the calls too. The journal's upgrade copied them (same ids) into
// the journal file; what remains here is how each delivery stood. The old table is kept, renamed.
constexpr const char* convert_layout1_sql = R"sql(
INSERT INTO deliveries (id, attempts, next_attempt_ms, delivered_ms, last_error)
  SELECT id, attempts, next_attempt_ms, delivered_ms, last_error FROM main.outbox;
UPDATE delivery_state SET seen_through = (SELECT coalesce(max(id), 0) FROM main.outbox);
ALTER TABLE main.outbox RENAME TO outbox_layout1;
)sql";

// A call joined with its delivery state.
constexpr const char* row_columns =
    "SELECT m.id, m.kind, m.incident_id, m.url, m.body, m.created_ms, d.attempts, "
    "d.next_attempt_ms, d.delivered_ms, d.last_error FROM deliveries d "
    "JOIN journal_file.outbox m ON m.id = d.id ";

outbox_row read_row(sqlite3_stmt* s) {
  outbox_row r;
  r.id = sqlite3_column_int64(s, 0);
  r.kind = column_text(s, 1);
  r.incident_id = column_u64(s, 2);
  r.url = column_text(s, 3);
  r.body = column_text(s, 4);
  r.created_ms = sqlite3_column_int64(s, 5);
  r.attempts = sqlite3_column_int64(s, 6);
  r.next_attempt_ms = sqlite3_column_int64(s, 7);
  if (sqlite3_column_type(s, 8) != SQLITE_NULL) r.delivered_ms = sqlite3_column_int64(s, 8);
  r.last_error = column_text(s, 9);
  return r;
}

std::error_code read_rows(sqlite3* db, sqlite3_stmt* s, std::vector<outbox_row>& out) {
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return last_error(db);
    out.push_back(read_row(s));
  }
}

// Runs `body` in one transaction of the delivery file. Deferred, not IMMEDIATE: an immediate
// transaction would take the write lock of the attached journal file too, which belongs to the
// journal's writer; this connection is the delivery file's only writer anyway.
template <class Body>
std::error_code in_transaction(sqlite3* db, Body body) {
  if (auto ec = exec(db, "BEGIN")) return ec;
  auto ec = body();
  if (!ec) ec = exec(db, "COMMIT");
  if (ec) exec(db, "ROLLBACK");
  return ec;
}

}  // namespace

// One connection under a mutex: outbox traffic is a few calls a minute, not worth a pool.
struct sqlite_outbox_store::impl {
  std::mutex mu;
  db_ptr db;
  stmt_ptr newest_call, take_in, mark_seen, due, attempt, by_incident, all, pending;
  std::int64_t seen_through = 0;

  std::error_code take_in_new_calls();
};

std::error_code sqlite_outbox_store::impl::take_in_new_calls() {
  sqlite3* d = db.get();
  std::int64_t newest = 0;
  {
    stmt_reset reset{newest_call.get()};
    if (sqlite3_step(newest_call.get()) != SQLITE_ROW) return last_error(d);
    newest = sqlite3_column_int64(newest_call.get(), 0);
  }
  // Nothing new: no write, no fsync.
  if (newest <= seen_through) return {};
  const auto ec = in_transaction(d, [&]() -> std::error_code {
    {
      stmt_reset reset{take_in.get()};
      sqlite3_bind_int64(take_in.get(), 1, seen_through);
      sqlite3_bind_int64(take_in.get(), 2, newest);
      bind_text(take_in.get(), 3, outbox_no_url_error);
      if (auto e = step_done(d, take_in.get())) return e;
    }
    stmt_reset reset{mark_seen.get()};
    sqlite3_bind_int64(mark_seen.get(), 1, newest);
    return step_done(d, mark_seen.get());
  });
  if (!ec) seen_through = newest;
  return ec;
}

sqlite_outbox_store::sqlite_outbox_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
sqlite_outbox_store::~sqlite_outbox_store() = default;

std::unique_ptr<sqlite_outbox_store> sqlite_outbox_store::open(const sqlite_outbox_config& config,
                                                               std::error_code& ec) {
  auto p = std::make_unique<impl>();
  std::error_code exists_ec;
  if (!std::filesystem::exists(config.journal_path, exists_ec)) {
    ec = std::make_error_code(std::errc::no_such_file_or_directory);
    return nullptr;
  }
  if ((ec = open_db(config.path, false, p->db))) return nullptr;
  sqlite3* db = p->db.get();
  // The journal writer's settings: an attempt is on disk when record_attempt returns.
  if ((ec = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"))) return nullptr;
  {
    // The calls are read from the journal file; nothing here writes to it.
    stmt_ptr attach;
    if ((ec = prepare(db, "ATTACH DATABASE ?1 AS journal_file", attach))) return nullptr;
    bind_text(attach.get(), 1, config.journal_path.native());
    if ((ec = step_done(db, attach.get()))) return nullptr;
  }
  int journal_version = 0;
  if ((ec = user_version(db, journal_version, "journal_file"))) return nullptr;
  if (journal_version != sqlite_schema_version) {
    ec = journal_errc::unsupported_schema;
    return nullptr;
  }
  ec = in_transaction(db, [db]() -> std::error_code {
    int version = 0;
    if (auto e = user_version(db, version)) return e;
    if (version > sqlite_delivery_schema_version) return journal_errc::unsupported_schema;
    bool layout1 = false;
    if (auto e = has_table(db, "main", "outbox", layout1)) return e;
    if (auto e = exec(db, delivery_tables_sql)) return e;
    return layout1 ? exec(db, convert_layout1_sql) : std::error_code{};
  });
  if (ec) return nullptr;

  const std::string cols = row_columns;
  if ((ec = prepare(db, "SELECT coalesce(max(id), 0) FROM journal_file.outbox", p->newest_call)) ||
      (ec = prepare(db,
                    "INSERT OR IGNORE INTO deliveries (id, attempts, next_attempt_ms, last_error) "
                    "SELECT id, 0, created_ms, CASE WHEN url = '' THEN ?3 END "
                    "FROM journal_file.outbox WHERE id > ?1 AND id <= ?2 ORDER BY id",
                    p->take_in)) ||
      (ec = prepare(db, "UPDATE delivery_state SET seen_through = ?1", p->mark_seen)) ||
      (ec = prepare(db,
                    (cols + "WHERE d.delivered_ms IS NULL AND m.url <> '' "
                            "ORDER BY d.next_attempt_ms, d.id LIMIT ?1")
                        .c_str(),
                    p->due)) ||
      (ec = prepare(db,
                    "UPDATE deliveries SET attempts = ?2, delivered_ms = ?3, next_attempt_ms = ?4, "
                    "last_error = ?5 WHERE id = ?1",
                    p->attempt)) ||
      (ec = prepare(db, (cols + "WHERE m.incident_id = ?1 ORDER BY m.id").c_str(),
                    p->by_incident)) ||
      (ec = prepare(db, (cols + "ORDER BY m.id").c_str(), p->all)) ||
      (ec = prepare(db, "SELECT count(*) FROM deliveries WHERE delivered_ms IS NULL", p->pending)))
    return nullptr;
  {
    stmt_ptr seen;
    if ((ec = prepare(db, "SELECT seen_through FROM delivery_state", seen))) return nullptr;
    if (sqlite3_step(seen.get()) != SQLITE_ROW) {
      ec = last_error(db);
      return nullptr;
    }
    p->seen_through = sqlite3_column_int64(seen.get(), 0);
  }
  if ((ec = p->take_in_new_calls())) return nullptr;
  return std::unique_ptr<sqlite_outbox_store>(new sqlite_outbox_store(std::move(p)));
}

std::error_code sqlite_outbox_store::due(std::size_t max, std::vector<outbox_row>& out) {
  std::lock_guard lock(impl_->mu);
  if (auto ec = impl_->take_in_new_calls()) return ec;
  sqlite3_stmt* s = impl_->due.get();
  stmt_reset reset{s};
  sqlite3_bind_int64(
      s, 1,
      static_cast<sqlite3_int64>(std::min<std::size_t>(
          max, static_cast<std::size_t>(std::numeric_limits<sqlite3_int64>::max()))));
  return read_rows(impl_->db.get(), s, out);
}

std::error_code sqlite_outbox_store::record_attempt(const outbox_attempt& a) {
  std::lock_guard lock(impl_->mu);
  sqlite3_stmt* s = impl_->attempt.get();
  stmt_reset reset{s};
  sqlite3_bind_int64(s, 1, a.id);
  sqlite3_bind_int64(s, 2, a.attempts);
  if (a.delivered_ms) sqlite3_bind_int64(s, 3, *a.delivered_ms);
  sqlite3_bind_int64(s, 4, a.next_attempt_ms);
  if (!a.last_error.empty()) bind_text(s, 5, a.last_error);
  return step_done(impl_->db.get(), s);
}

std::error_code sqlite_outbox_store::by_incident(std::uint64_t incident_id,
                                                 std::vector<outbox_row>& out) {
  std::lock_guard lock(impl_->mu);
  if (auto ec = impl_->take_in_new_calls()) return ec;
  sqlite3_stmt* s = impl_->by_incident.get();
  stmt_reset reset{s};
  bind_u64(s, 1, incident_id);
  return read_rows(impl_->db.get(), s, out);
}

std::error_code sqlite_outbox_store::rows(std::vector<outbox_row>& out) {
  std::lock_guard lock(impl_->mu);
  if (auto ec = impl_->take_in_new_calls()) return ec;
  sqlite3_stmt* s = impl_->all.get();
  stmt_reset reset{s};
  return read_rows(impl_->db.get(), s, out);
}

std::error_code sqlite_outbox_store::pending(std::size_t& count) {
  std::lock_guard lock(impl_->mu);
  if (auto ec = impl_->take_in_new_calls()) return ec;
  sqlite3_stmt* s = impl_->pending.get();
  stmt_reset reset{s};
  if (sqlite3_step(s) != SQLITE_ROW) return last_error(impl_->db.get());
  count = static_cast<std::size_t>(sqlite3_column_int64(s, 0));
  return {};
}

sqlite_durability sqlite_outbox_store::durability() const {
  std::lock_guard lock(impl_->mu);
  return query_durability(impl_->db.get());
}

}  // namespace rescue::storage
