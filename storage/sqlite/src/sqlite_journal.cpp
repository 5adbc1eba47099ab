#include "rescue/storage/sqlite_journal.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <vector>

#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/private_files.hpp"
#include "sqlite_db.hpp"
#include "sqlite_schema.hpp"

namespace rescue::storage {

namespace {

using namespace sqlite;

class sqlite_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int value) const override { return sqlite3_errstr(value); }
};

constexpr const char* record_columns =
    "SELECT seq, at_ms, incident_id, event_type, payload, prev_hash, hash FROM journal ";

void read_record(sqlite3_stmt* s, journal_record& r) {
  r.seq = column_u64(s, 0);
  r.at_ms = sqlite3_column_int64(s, 1);
  r.incident_id = column_u64(s, 2);
  r.event_type = column_text(s, 3);
  r.payload = column_blob(s, 4);
  r.prev_hash = column_blob(s, 5);
  r.hash = column_blob(s, 6);
}

// Steps a bound statement to the end, handing each row to `visit`.
std::error_code step_records(sqlite3* db, sqlite3_stmt* s, const record_visitor& visit) {
  journal_record r;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return last_error(db);
    read_record(s, r);
    if (!visit(r)) return {};
  }
}

sqlite3_int64 clamp(std::uint64_t v) {
  return static_cast<sqlite3_int64>(
      std::min<std::uint64_t>(v, std::numeric_limits<sqlite3_int64>::max()));
}

// One WAL file: a writer connection for append, a pool of reader connections for the rest.
class sqlite_journal_backend final : public journal_backend {
 public:
  std::error_code open(const sqlite_journal_config& config, sqlite_upgrade& upgrade);
  sqlite_durability durability() const { return write_durability_; }

  std::error_code read_tail(journal_tail& out) override;
  std::error_code append(std::uint64_t expected_last_seq, const backend_batch& batch) override;
  std::error_code scan(std::uint64_t from, std::uint64_t to, const record_visitor& visit) override;
  std::error_code read_incident(std::uint64_t incident_id,
                                std::vector<journal_record>& out) override;
  std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) override;

 private:
  struct reader {
    db_ptr db;
    stmt_ptr by_incident, range, all_checkpoints, last_record, last_checkpoint;
  };
  // Hands a reader back to the pool when the operation ends.
  struct reader_lease {
    sqlite_journal_backend* owner;
    std::unique_ptr<reader> r;
    ~reader_lease() {
      if (!r) return;
      std::lock_guard lock(owner->read_mu_);
      owner->idle_readers_.push_back(std::move(r));
    }
  };
  std::error_code lease_reader(reader_lease& lease);
  std::error_code open_reader(std::unique_ptr<reader>& out);
  std::error_code open_writer(const sqlite_journal_config& config, sqlite_upgrade& upgrade);
  std::error_code write_batch(std::uint64_t expected_last_seq, const backend_batch& batch);

  std::filesystem::path path_;
  bool read_only_ = false;

  // Writer side: used by the journal's writer thread only.
  db_ptr write_db_;
  sqlite_durability write_durability_;
  stmt_ptr insert_record_, insert_checkpoint_, insert_outbox_, max_seq_;

  // A pool of connections, one per concurrent reader, so scans run in parallel; WAL lets them
  // read while the writer commits.
  std::mutex read_mu_;
  std::vector<std::unique_ptr<reader>> idle_readers_;
};

std::error_code sqlite_journal_backend::open(const sqlite_journal_config& config,
                                             sqlite_upgrade& upgrade) {
  path_ = config.path;
  read_only_ = config.read_only;
  if (read_only_) {
    std::error_code exists_ec;
    if (!std::filesystem::exists(path_, exists_ec))
      return std::make_error_code(std::errc::no_such_file_or_directory);
  } else if (auto ec = open_writer(config, upgrade)) {
    return ec;
  }
  // Open one reader now so a file that is not a journal fails here, not on the first read.
  reader_lease lease{this, nullptr};
  if (auto ec = lease_reader(lease)) return ec;
  int version = 0;
  if (auto ec = user_version(lease.r->db.get(), version)) return ec;
  if (version > sqlite_schema_version) return journal_errc::unsupported_schema;
  return {};
}

std::error_code sqlite_journal_backend::open_writer(const sqlite_journal_config& config,
                                                    sqlite_upgrade& upgrade) {
  if (auto ec = open_db(path_, false, write_db_)) return ec;
  sqlite3* db = write_db_.get();
  // WAL: readers never block the writer. synchronous=FULL: every commit fsyncs the WAL, which is
  // what "durable" means in the append completion.
  if (auto ec = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) return ec;
  write_durability_ = query_durability(db);
  if (auto ec = apply_schema(db, config.legacy_outbox_path, upgrade)) return ec;
  if (auto ec = prepare(db,
                        "INSERT INTO journal (seq, at_ms, incident_id, event_type, payload, "
                        "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        insert_record_))
    return ec;
  if (auto ec = prepare(db,
                        "INSERT INTO checkpoints (upto_seq, hash, at_ms, signature, public_key) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
                        insert_checkpoint_))
    return ec;
  if (auto ec = prepare(db, insert_outbox_sql, insert_outbox_)) return ec;
  return prepare(db, "SELECT max(seq) FROM journal", max_seq_);
}

std::error_code sqlite_journal_backend::open_reader(std::unique_ptr<reader>& out) {
  auto r = std::make_unique<reader>();
  if (auto ec = open_db(path_, read_only_, r->db)) return ec;
  sqlite3* db = r->db.get();
  const std::string cols = record_columns;
  if (auto ec = prepare(db, (cols + "WHERE incident_id = ?1 ORDER BY seq").c_str(), r->by_incident))
    return ec;
  if (auto ec = prepare(db, (cols + "WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq").c_str(), r->range))
    return ec;
  if (auto ec =
          prepare(db, "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", r->last_record))
    return ec;
  if (auto ec = prepare(db, "SELECT max(upto_seq) FROM checkpoints", r->last_checkpoint)) return ec;
  if (auto ec = prepare(db,
                        "SELECT upto_seq, hash, at_ms, signature, public_key FROM checkpoints "
                        "ORDER BY upto_seq",
                        r->all_checkpoints))
    return ec;
  out = std::move(r);
  return {};
}

std::error_code sqlite_journal_backend::lease_reader(reader_lease& lease) {
  {
    std::lock_guard lock(read_mu_);
    if (!idle_readers_.empty()) {
      lease.r = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return {};
    }
  }
  return open_reader(lease.r);
}

std::error_code sqlite_journal_backend::read_tail(journal_tail& out) {
  reader_lease lease{this, nullptr};
  if (auto ec = lease_reader(lease)) return ec;
  sqlite3* db = lease.r->db.get();
  out = journal_tail{};
  out.last_hash = genesis_hash();
  // One read transaction: the record and the checkpoint come from the same snapshot.
  if (auto ec = exec(db, "BEGIN")) return ec;
  const auto ec = [&]() -> std::error_code {
    {
      sqlite3_stmt* s = lease.r->last_record.get();
      stmt_reset reset{s};
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        out.last_seq = column_u64(s, 0);
        out.last_hash = column_blob(s, 1);
      } else if (rc != SQLITE_DONE) {
        return last_error(db);
      }
    }
    sqlite3_stmt* s = lease.r->last_checkpoint.get();
    stmt_reset reset{s};
    if (sqlite3_step(s) != SQLITE_ROW) return last_error(db);
    out.last_checkpoint = column_u64(s, 0);
    return {};
  }();
  exec(db, "COMMIT");
  return ec;
}

std::error_code sqlite_journal_backend::write_batch(std::uint64_t expected_last_seq,
                                                    const backend_batch& batch) {
  sqlite3* db = write_db_.get();
  {
    // Another process appending to the same file would fork the chain: refuse instead.
    stmt_reset reset{max_seq_.get()};
    if (sqlite3_step(max_seq_.get()) != SQLITE_ROW) return last_error(db);
    if (column_u64(max_seq_.get(), 0) != expected_last_seq) return journal_errc::stale_writer;
  }
  sqlite3_stmt* s = insert_record_.get();
  for (const record_view& r : batch.records) {
    stmt_reset reset{s};
    bind_u64(s, 1, r.seq);
    sqlite3_bind_int64(s, 2, r.at_ms);
    bind_u64(s, 3, r.incident_id);
    bind_text(s, 4, r.event_type);
    bind_blob(s, 5, r.payload);
    bind_blob(s, 6, r.prev_hash);
    bind_blob(s, 7, r.hash);
    if (auto ec = step_done(db, s)) return ec;
  }
  for (const outbox_row& r : batch.outbox)
    if (auto ec = insert_outbox_row(db, insert_outbox_.get(), r)) return ec;
  if (const auto& cp = batch.checkpoint) {
    s = insert_checkpoint_.get();
    stmt_reset reset{s};
    bind_u64(s, 1, cp->upto_seq);
    bind_blob(s, 2, cp->hash);
    sqlite3_bind_int64(s, 3, cp->at_ms);
    bind_blob(s, 4, cp->signature);
    bind_text(s, 5, cp->public_key);
    if (auto ec = step_done(db, s)) return ec;
  }
  return {};
}

std::error_code sqlite_journal_backend::append(std::uint64_t expected_last_seq,
                                               const backend_batch& batch) {
  if (!write_db_) return journal_errc::closed;
  sqlite3* db = write_db_.get();
  if (auto ec = exec(db, "BEGIN IMMEDIATE")) return ec;
  auto ec = write_batch(expected_last_seq, batch);
  if (!ec) ec = exec(db, "COMMIT");
  if (ec) exec(db, "ROLLBACK");
  return ec;
}

std::error_code sqlite_journal_backend::scan(std::uint64_t from, std::uint64_t to,
                                             const record_visitor& visit) {
  reader_lease lease{this, nullptr};
  if (auto ec = lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->range.get();
  stmt_reset reset{s};
  sqlite3_bind_int64(s, 1, clamp(from));
  sqlite3_bind_int64(s, 2, clamp(to));
  return step_records(lease.r->db.get(), s, visit);
}

std::error_code sqlite_journal_backend::read_incident(std::uint64_t incident_id,
                                                      std::vector<journal_record>& out) {
  reader_lease lease{this, nullptr};
  if (auto ec = lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->by_incident.get();
  stmt_reset reset{s};
  bind_u64(s, 1, incident_id);
  return step_records(lease.r->db.get(), s, [&](const journal_record& r) {
    out.push_back(r);
    return true;
  });
}

std::error_code sqlite_journal_backend::read_checkpoints(std::vector<journal_checkpoint>& out) {
  reader_lease lease{this, nullptr};
  if (auto ec = lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->all_checkpoints.get();
  stmt_reset reset{s};
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return last_error(lease.r->db.get());
    journal_checkpoint cp;
    cp.upto_seq = column_u64(s, 0);
    cp.hash = column_blob(s, 1);
    cp.at_ms = sqlite3_column_int64(s, 2);
    cp.signature = column_blob(s, 3);
    cp.public_key = column_text(s, 4);
    out.push_back(std::move(cp));
  }
}

}  // namespace

namespace sqlite {

std::error_code open_db(const std::filesystem::path& path, bool read_only, db_ptr& out) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Each connection is used by one thread at a time under our own locks.
  flags |= SQLITE_OPEN_NOMUTEX;
  if (!read_only)
    if (const auto ec = create_private_file(path)) return ec;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  out.reset(db);
  if (rc != SQLITE_OK) return error(rc);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return {};
}

}  // namespace sqlite

const std::error_category& sqlite_category() noexcept {
  static const sqlite_category_impl category;
  return category;
}

std::unique_ptr<sqlite_journal> sqlite_journal::open(const sqlite_journal_config& config,
                                                     std::error_code& ec) {
  auto backend = std::make_unique<sqlite_journal_backend>();
  sqlite_upgrade upgrade;
  if ((ec = backend->open(config, upgrade))) return nullptr;
  const sqlite_durability durability = backend->durability();
  journal_writer_config wc;
  wc.signing_key_path = config.signing_key_path;
  wc.checkpoint_every_records = config.checkpoint_every_records;
  wc.checkpoint_every = config.checkpoint_every;
  wc.max_transaction_events = config.max_transaction_events;
  wc.read_only = config.read_only;
  std::unique_ptr<sqlite_journal> j(new sqlite_journal(std::move(backend), wc));
  j->durability_ = durability;
  j->upgrade_ = upgrade;
  if ((ec = j->start())) return nullptr;
  return j;
}

}  // namespace rescue::storage
