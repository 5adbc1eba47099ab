#include "rescue/storage/sqlite_crew_position_store.hpp"

#include <mutex>

#include "sqlite_db.hpp"

namespace rescue::storage {

namespace {

using namespace sqlite;

constexpr const char* positions_table_sql = R"sql(
CREATE TABLE IF NOT EXISTS crew_positions (
  crew_id TEXT    PRIMARY KEY,
  lat     REAL    NOT NULL,
  lon     REAL    NOT NULL,
  at_ms   INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 1;
)sql";

// Newest wins: an older or equally old stamp leaves the stored row alone, so a flush that lands
// after a later one (or a replayed batch) cannot move a crew back in time.
constexpr const char* upsert_sql =
    "INSERT INTO crew_positions (crew_id, lat, lon, at_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (crew_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, "
    "at_ms = excluded.at_ms WHERE excluded.at_ms > crew_positions.at_ms";

}  // namespace

// One connection under a mutex: one writer (the position writer) and a read at start-up.
struct sqlite_crew_position_store::impl {
  std::mutex mu;
  db_ptr db;
  stmt_ptr upsert, all;
};

sqlite_crew_position_store::sqlite_crew_position_store(std::unique_ptr<impl> p)
    : impl_(std::move(p)) {}
sqlite_crew_position_store::~sqlite_crew_position_store() = default;

std::unique_ptr<sqlite_crew_position_store> sqlite_crew_position_store::open(
    const sqlite_crew_position_config& config, std::error_code& ec) {
  auto p = std::make_unique<impl>();
  if ((ec = open_db(config.path, false, p->db))) return nullptr;
  sqlite3* db = p->db.get();
  // NORMAL, not the journal's FULL: in WAL mode a commit is in the OS's hands when it returns, so
  // a killed process loses nothing; only a power cut can take the last commits, and what they
  // held (where crews were a second ago) is not a promise made to anyone.
  if ((ec = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"))) return nullptr;
  int version = 0;
  if ((ec = user_version(db, version))) return nullptr;
  if (version > sqlite_positions_schema_version) {
    ec = journal_errc::unsupported_schema;
    return nullptr;
  }
  if ((ec = exec(db, positions_table_sql))) return nullptr;
  if ((ec = prepare(db, upsert_sql, p->upsert)) ||
      (ec = prepare(db, "SELECT crew_id, lat, lon, at_ms FROM crew_positions", p->all)))
    return nullptr;
  return std::unique_ptr<sqlite_crew_position_store>(new sqlite_crew_position_store(std::move(p)));
}

std::error_code sqlite_crew_position_store::save(const std::vector<crew_position>& batch) {
  if (batch.empty()) return {};
  std::lock_guard lock(impl_->mu);
  sqlite3* db = impl_->db.get();
  if (auto ec = exec(db, "BEGIN IMMEDIATE")) return ec;
  std::error_code ec;
  sqlite3_stmt* s = impl_->upsert.get();
  for (const auto& p : batch) {
    stmt_reset reset{s};
    bind_text(s, 1, p.crew_id);
    sqlite3_bind_double(s, 2, p.lat);
    sqlite3_bind_double(s, 3, p.lon);
    sqlite3_bind_int64(s, 4, p.at_ms);
    if ((ec = step_done(db, s))) break;
  }
  if (!ec) ec = exec(db, "COMMIT");
  if (ec) exec(db, "ROLLBACK");
  return ec;
}

std::error_code sqlite_crew_position_store::load_all(std::vector<crew_position>& out) {
  std::lock_guard lock(impl_->mu);
  sqlite3* db = impl_->db.get();
  sqlite3_stmt* s = impl_->all.get();
  stmt_reset reset{s};
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return last_error(db);
    crew_position p;
    p.crew_id = column_text(s, 0);
    p.lat = sqlite3_column_double(s, 1);
    p.lon = sqlite3_column_double(s, 2);
    p.at_ms = sqlite3_column_int64(s, 3);
    out.push_back(std::move(p));
  }
}

sqlite_durability sqlite_crew_position_store::durability() const {
  std::lock_guard lock(impl_->mu);
  return query_durability(impl_->db.get());
}

}  // namespace rescue::storage
