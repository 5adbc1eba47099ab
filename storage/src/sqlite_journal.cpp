#include "rescue/storage/sqlite_journal.hpp"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/signing.hpp"

namespace rescue::storage {

namespace {

class sqlite_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int value) const override { return sqlite3_errstr(value); }
};

std::error_code sqlite_error(int rc) {
  return {rc, sqlite_category()};
}

// Every statement the journal runs, kept prepared for the life of the connection.
constexpr const char* schema_sql = R"sql(
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
PRAGMA user_version = 1;
)sql";

constexpr const char* record_columns =
    "SELECT seq, at_ms, incident_id, event_type, payload, prev_hash, hash FROM journal ";

struct db_deleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using db_ptr = std::unique_ptr<sqlite3, db_deleter>;

struct stmt_deleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

// Resets the statement on every exit path so a failed step never leaves a read transaction open.
struct stmt_reset {
  sqlite3_stmt* s;
  ~stmt_reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

std::error_code prepare(sqlite3* db, const char* sql, stmt_ptr& out) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  out.reset(s);
  return rc == SQLITE_OK ? std::error_code{} : sqlite_error(rc);
}

std::error_code exec(sqlite3* db, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? std::error_code{} : sqlite_error(sqlite3_extended_errcode(db));
}

std::string column_blob(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string{};
}

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string{};
}

void read_record(sqlite3_stmt* s, journal_record& r) {
  r.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  r.at_ms = sqlite3_column_int64(s, 1);
  r.incident_id = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
  r.event_type = column_text(s, 3);
  r.payload = column_blob(s, 4);
  r.prev_hash = column_blob(s, 5);
  r.hash = column_blob(s, 6);
}

// Steps a bound statement to the end, handing each row to `visit`.
std::error_code step_records(sqlite3* db, sqlite3_stmt* s, const record_visitor& visit) {
  journal_record r;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return sqlite_error(sqlite3_extended_errcode(db));
    read_record(s, r);
    if (!visit(r)) return {};
  }
}

std::error_code open_db(const std::filesystem::path& path, bool read_only, db_ptr& out) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // Each connection is used by one thread at a time under our own locks.
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  out.reset(db);
  if (rc != SQLITE_OK) return sqlite_error(rc);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return {};
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An event serialized on the caller's thread, so the writer thread only hashes and inserts.
struct prepared_event {
  std::uint64_t incident_id = 0;
  std::int64_t at_ms = 0;
  std::string event_type;
  std::string payload;
};

struct pending_append {
  std::vector<prepared_event> events;
  append_handler done;
};

}  // namespace

const std::error_category& sqlite_category() noexcept {
  static const sqlite_category_impl category;
  return category;
}

struct sqlite_journal::impl {
  sqlite_journal_config config;
  std::unique_ptr<signing_key> key;

  // Writer side: touched only by the writer thread after open().
  db_ptr write_db;
  stmt_ptr insert_record, insert_checkpoint, max_seq;
  std::uint64_t next_seq = 1;
  std::string last_hash = genesis_hash();
  std::uint64_t checkpoint_seq = 0;  // last signed seq
  std::optional<std::chrono::steady_clock::time_point> oldest_unsigned;
  record_hasher hasher;

  // Reader side: a pool of connections, one per concurrent reader, so scans run in parallel;
  // WAL lets them read while the writer commits.
  struct reader {
    db_ptr db;
    stmt_ptr by_incident, range, after, all_checkpoints, max_seq;
  };
  std::mutex read_mu;
  std::vector<std::unique_ptr<reader>> idle_readers;

  // Hands a reader back to the pool when the operation ends.
  struct reader_lease {
    impl* owner;
    std::unique_ptr<reader> r;
    ~reader_lease() {
      if (!r) return;
      std::lock_guard lock(owner->read_mu);
      owner->idle_readers.push_back(std::move(r));
    }
  };
  std::error_code lease_reader(reader_lease& lease);
  std::error_code open_reader(std::unique_ptr<reader>& out);

  // The queue between callers and the writer thread.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<pending_append> queue;
  bool stopping = false;
  bool closed = false;
  std::thread writer;

  std::mutex listener_mu;
  tail_listener listener;

  std::atomic<std::uint64_t> durable_seq{0};
  std::atomic<std::uint64_t> transactions{0}, events{0}, checkpoints{0}, largest{0};

  std::error_code open_writer();
  void run();
  std::error_code commit(std::vector<pending_append>& batch,
                         std::vector<std::vector<std::uint64_t>>& seqs, bool force_checkpoint);
  std::error_code write_checkpoint(std::uint64_t upto, const std::string& hash);
  bool checkpoint_due(std::chrono::steady_clock::time_point now) const;
};

std::error_code sqlite_journal::impl::open_writer() {
  if (auto ec = open_db(config.path, false, write_db)) return ec;
  sqlite3* db = write_db.get();
  // WAL: readers never block the writer. synchronous=FULL: every commit fsyncs the WAL, which is
  // what "durable" means in the append completion.
  if (auto ec = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) return ec;
  if (auto ec = exec(db, schema_sql)) return ec;
  if (auto ec = prepare(db,
                        "INSERT INTO journal (seq, at_ms, incident_id, event_type, payload, "
                        "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        insert_record))
    return ec;
  if (auto ec = prepare(db,
                        "INSERT INTO checkpoints (upto_seq, hash, at_ms, signature, public_key) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
                        insert_checkpoint))
    return ec;
  if (auto ec = prepare(db, "SELECT max(seq) FROM journal", max_seq)) return ec;

  // Resume the chain where the file ends.
  stmt_ptr last;
  if (auto ec = prepare(db, "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", last))
    return ec;
  if (sqlite3_step(last.get()) == SQLITE_ROW) {
    next_seq = static_cast<std::uint64_t>(sqlite3_column_int64(last.get(), 0)) + 1;
    last_hash = column_blob(last.get(), 1);
    if (last_hash.size() != 32) return journal_errc::corrupt_record;
  }
  stmt_ptr cp;
  if (auto ec = prepare(db, "SELECT max(upto_seq) FROM checkpoints", cp)) return ec;
  if (sqlite3_step(cp.get()) == SQLITE_ROW)
    checkpoint_seq = static_cast<std::uint64_t>(sqlite3_column_int64(cp.get(), 0));
  if (key && checkpoint_seq + 1 < next_seq) oldest_unsigned = std::chrono::steady_clock::now();
  durable_seq = next_seq - 1;
  return {};
}

std::error_code sqlite_journal::impl::open_reader(std::unique_ptr<reader>& out) {
  auto r = std::make_unique<reader>();
  if (auto ec = open_db(config.path, config.read_only, r->db)) return ec;
  sqlite3* db = r->db.get();
  const std::string cols = record_columns;
  if (auto ec = prepare(db, (cols + "WHERE incident_id = ?1 ORDER BY seq").c_str(), r->by_incident))
    return ec;
  if (auto ec = prepare(db, (cols + "WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq").c_str(), r->range))
    return ec;
  if (auto ec = prepare(db, (cols + "WHERE seq > ?1 ORDER BY seq LIMIT ?2").c_str(), r->after))
    return ec;
  if (auto ec = prepare(db, "SELECT max(seq) FROM journal", r->max_seq)) return ec;
  if (auto ec = prepare(db,
                        "SELECT upto_seq, hash, at_ms, signature, public_key FROM checkpoints "
                        "ORDER BY upto_seq",
                        r->all_checkpoints))
    return ec;
  out = std::move(r);
  return {};
}

std::error_code sqlite_journal::impl::lease_reader(reader_lease& lease) {
  {
    std::lock_guard lock(read_mu);
    if (!idle_readers.empty()) {
      lease.r = std::move(idle_readers.back());
      idle_readers.pop_back();
      return {};
    }
  }
  return open_reader(lease.r);
}

bool sqlite_journal::impl::checkpoint_due(std::chrono::steady_clock::time_point now) const {
  if (!key || checkpoint_seq + 1 >= next_seq) return false;
  if (next_seq - 1 - checkpoint_seq >= config.checkpoint_every_records) return true;
  return oldest_unsigned && now - *oldest_unsigned >= config.checkpoint_every;
}

std::error_code sqlite_journal::impl::write_checkpoint(std::uint64_t upto,
                                                       const std::string& hash) {
  sqlite3_stmt* s = insert_checkpoint.get();
  stmt_reset reset{s};
  const std::int64_t at = wall_ms();
  const std::string sig = key->sign(checkpoint_message(upto, hash, at));
  const std::string& pem = key->public_pem();
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(upto));
  sqlite3_bind_blob(s, 2, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, at);
  sqlite3_bind_blob(s, 4, sig.data(), static_cast<int>(sig.size()), SQLITE_STATIC);
  sqlite3_bind_text(s, 5, pem.data(), static_cast<int>(pem.size()), SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) return sqlite_error(sqlite3_extended_errcode(write_db.get()));
  return {};
}

std::error_code sqlite_journal::impl::commit(std::vector<pending_append>& batch,
                                             std::vector<std::vector<std::uint64_t>>& seqs,
                                             bool force_checkpoint) {
  sqlite3* db = write_db.get();
  const std::uint64_t start_seq = next_seq;
  const std::string start_hash = last_hash;
  auto fail = [&](std::error_code ec) {
    exec(db, "ROLLBACK");
    next_seq = start_seq;
    last_hash = start_hash;
    return ec;
  };

  if (auto ec = exec(db, "BEGIN IMMEDIATE")) return ec;
  {
    // Another process appending to the same file would fork the chain: refuse instead.
    stmt_reset reset{max_seq.get()};
    if (sqlite3_step(max_seq.get()) != SQLITE_ROW)
      return fail(sqlite_error(sqlite3_extended_errcode(db)));
    if (static_cast<std::uint64_t>(sqlite3_column_int64(max_seq.get(), 0)) != next_seq - 1)
      return fail(sqlite_error(SQLITE_BUSY));
  }

  std::uint64_t count = 0;
  sqlite3_stmt* s = insert_record.get();
  seqs.resize(batch.size());
  for (std::size_t b = 0; b < batch.size(); ++b) {
    seqs[b].clear();
    seqs[b].reserve(batch[b].events.size());
    for (const prepared_event& e : batch[b].events) {
      const std::uint64_t seq = next_seq;
      std::string h = hasher.hash(seq, e.at_ms, e.incident_id, e.event_type, e.payload, last_hash);
      stmt_reset reset{s};
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq));
      sqlite3_bind_int64(s, 2, e.at_ms);
      // SQLite integers are signed: ids above 2^63 are stored as their two's complement.
      sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(e.incident_id));
      sqlite3_bind_text(s, 4, e.event_type.data(), static_cast<int>(e.event_type.size()),
                        SQLITE_STATIC);
      sqlite3_bind_blob(s, 5, e.payload.data(), static_cast<int>(e.payload.size()), SQLITE_STATIC);
      sqlite3_bind_blob(s, 6, last_hash.data(), 32, SQLITE_STATIC);
      sqlite3_bind_blob(s, 7, h.data(), 32, SQLITE_STATIC);
      if (sqlite3_step(s) != SQLITE_DONE) return fail(sqlite_error(sqlite3_extended_errcode(db)));
      last_hash = std::move(h);
      seqs[b].push_back(seq);
      ++next_seq;
      ++count;
    }
  }

  const auto now = std::chrono::steady_clock::now();
  if (count > 0 && key && !oldest_unsigned) oldest_unsigned = now;
  bool signed_now = false;
  if (checkpoint_due(now) || (force_checkpoint && key && checkpoint_seq + 1 < next_seq)) {
    if (auto ec = write_checkpoint(next_seq - 1, last_hash)) return fail(ec);
    signed_now = true;
  }
  if (auto ec = exec(db, "COMMIT")) return fail(ec);

  if (signed_now) {
    checkpoint_seq = next_seq - 1;
    oldest_unsigned.reset();
    checkpoints.fetch_add(1, std::memory_order_relaxed);
  }
  transactions.fetch_add(1, std::memory_order_relaxed);
  events.fetch_add(count, std::memory_order_relaxed);
  if (count > largest.load(std::memory_order_relaxed))
    largest.store(count, std::memory_order_relaxed);
  durable_seq.store(next_seq - 1, std::memory_order_release);
  return {};
}

void sqlite_journal::impl::run() {
  std::vector<pending_append> batch;
  std::vector<std::vector<std::uint64_t>> seqs;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(queue_mu);
      for (;;) {
        if (!queue.empty() || stopping) break;
        if (key && oldest_unsigned) {
          const auto deadline = *oldest_unsigned + config.checkpoint_every;
          if (std::chrono::steady_clock::now() >= deadline) break;
          queue_cv.wait_until(lock, deadline);
        } else {
          queue_cv.wait(lock);
        }
      }
      // Group commit: everything that queued up while the last commit was in flight goes into
      // this transaction, up to the cap; a single batch is never split.
      std::size_t taken = 0;
      while (!queue.empty() && (batch.empty() || taken + queue.front().events.size() <=
                                                     config.max_transaction_events)) {
        taken += queue.front().events.size();
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      stop = stopping && queue.empty();
    }

    // A stop drains the queue and then signs whatever is unsigned, so a clean shutdown leaves
    // the whole file under a checkpoint.
    std::error_code ec;
    if (!batch.empty() || checkpoint_due(std::chrono::steady_clock::now()) || stop)
      ec = commit(batch, seqs, stop);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].done) continue;
      if (ec)
        batch[i].done(ec, {});
      else
        batch[i].done({}, std::move(seqs[i]));
    }
    if (!ec && !batch.empty()) {
      std::lock_guard lock(listener_mu);
      if (listener) listener(durable_seq.load(std::memory_order_acquire));
    }
    batch.clear();
    if (stop) return;
  }
}

sqlite_journal::sqlite_journal(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

sqlite_journal::~sqlite_journal() {
  close();
}

std::unique_ptr<sqlite_journal> sqlite_journal::open(const sqlite_journal_config& config,
                                                     std::error_code& ec) {
  auto p = std::make_unique<impl>();
  p->config = config;
  if (!config.read_only && !config.signing_key_path.empty()) {
    p->key = signing_key::load_or_create(config.signing_key_path, ec);
    if (!p->key) {
      if (!ec) ec = journal_errc::key_unavailable;
      return nullptr;
    }
  }
  if (config.read_only) {
    std::error_code exists_ec;
    if (!std::filesystem::exists(config.path, exists_ec)) {
      ec = std::make_error_code(std::errc::no_such_file_or_directory);
      return nullptr;
    }
    p->closed = true;
  } else if ((ec = p->open_writer())) {
    return nullptr;
  }
  // Open one reader now so a file that is not a journal fails here, not on the first read.
  {
    impl::reader_lease lease{p.get(), nullptr};
    if ((ec = p->lease_reader(lease))) return nullptr;
  }
  if (!config.read_only) p->writer = std::thread([raw = p.get()] { raw->run(); });
  ec.clear();
  return std::unique_ptr<sqlite_journal>(new sqlite_journal(std::move(p)));
}

void sqlite_journal::append(std::vector<rescue::v1::Event> events, append_handler done) {
  pending_append item;
  item.done = std::move(done);
  item.events.reserve(events.size());
  const std::int64_t now = wall_ms();
  for (const auto& e : events) {
    prepared_event p;
    p.incident_id = e.incident_id();
    // The core stamps server time; an unstamped event gets the time it was handed over.
    p.at_ms = e.at_ms() != 0 ? e.at_ms() : now;
    p.event_type = event_type_name(e);
    if (e.body_case() == rescue::v1::Event::BODY_NOT_SET || !e.SerializeToString(&p.payload)) {
      if (item.done) item.done(journal_errc::invalid_event, {});
      return;
    }
    item.events.push_back(std::move(p));
  }
  {
    std::unique_lock lock(impl_->queue_mu);
    if (!impl_->closed) {
      impl_->queue.push_back(std::move(item));
      lock.unlock();
      impl_->queue_cv.notify_one();
      return;
    }
  }
  if (item.done) item.done(journal_errc::closed, {});
}

std::error_code sqlite_journal::read_incident(std::uint64_t incident_id,
                                              std::vector<journal_record>& out) {
  impl::reader_lease lease{impl_.get(), nullptr};
  if (auto ec = impl_->lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->by_incident.get();
  stmt_reset reset{s};
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(incident_id));
  return step_records(lease.r->db.get(), s, [&](const journal_record& r) {
    out.push_back(r);
    return true;
  });
}

std::error_code sqlite_journal::scan(std::uint64_t from, std::uint64_t to,
                                     const record_visitor& visit) {
  impl::reader_lease lease{impl_.get(), nullptr};
  if (auto ec = impl_->lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->range.get();
  stmt_reset reset{s};
  const auto clamp = [](std::uint64_t v) {
    return static_cast<sqlite3_int64>(std::min<std::uint64_t>(v, INT64_MAX));
  };
  sqlite3_bind_int64(s, 1, clamp(from));
  sqlite3_bind_int64(s, 2, clamp(to));
  return step_records(lease.r->db.get(), s, visit);
}

std::error_code sqlite_journal::read_after(std::uint64_t after, std::size_t max,
                                           std::vector<journal_record>& out) {
  impl::reader_lease lease{impl_.get(), nullptr};
  if (auto ec = impl_->lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->after.get();
  stmt_reset reset{s};
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(std::min<std::uint64_t>(after, INT64_MAX)));
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(std::min<std::size_t>(max, INT64_MAX)));
  return step_records(lease.r->db.get(), s, [&](const journal_record& r) {
    out.push_back(r);
    return true;
  });
}

void sqlite_journal::set_tail_listener(tail_listener listener) {
  std::lock_guard lock(impl_->listener_mu);
  impl_->listener = std::move(listener);
}

std::uint64_t sqlite_journal::last_seq() const {
  if (impl_->config.read_only) {
    // Someone else may be writing the file: ask it.
    impl::reader_lease lease{impl_.get(), nullptr};
    if (impl_->lease_reader(lease)) return 0;
    sqlite3_stmt* s = lease.r->max_seq.get();
    stmt_reset reset{s};
    if (sqlite3_step(s) != SQLITE_ROW) return 0;
    return static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  }
  return impl_->durable_seq.load(std::memory_order_acquire);
}

std::error_code sqlite_journal::read_checkpoints(std::vector<journal_checkpoint>& out) {
  impl::reader_lease lease{impl_.get(), nullptr};
  if (auto ec = impl_->lease_reader(lease)) return ec;
  sqlite3_stmt* s = lease.r->all_checkpoints.get();
  stmt_reset reset{s};
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) return sqlite_error(sqlite3_extended_errcode(lease.r->db.get()));
    journal_checkpoint cp;
    cp.upto_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    cp.hash = column_blob(s, 1);
    cp.at_ms = sqlite3_column_int64(s, 2);
    cp.signature = column_blob(s, 3);
    cp.public_key = column_text(s, 4);
    out.push_back(std::move(cp));
  }
}

journal_stats sqlite_journal::stats() const {
  journal_stats s;
  s.transactions = impl_->transactions.load(std::memory_order_relaxed);
  s.events = impl_->events.load(std::memory_order_relaxed);
  s.checkpoints = impl_->checkpoints.load(std::memory_order_relaxed);
  s.largest_transaction = impl_->largest.load(std::memory_order_relaxed);
  return s;
}

void sqlite_journal::close() {
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->stopping = true;
    impl_->closed = true;
  }
  impl_->queue_cv.notify_one();
  // Called from a completion handler (the writer thread itself): the writer stops after this
  // round; joining here would deadlock.
  if (impl_->writer.joinable() && impl_->writer.get_id() != std::this_thread::get_id())
    impl_->writer.join();
}

}  // namespace rescue::storage
