#include "rescue/dispatcher/outbox.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rescue::dispatcher {

namespace {

// How many undelivered rows one pass of the loop looks at; more wait for the next pass.
constexpr int rows_per_pass = 256;
// The loop looks again at least this often, so a clock step never strands a row.
constexpr auto max_sleep = std::chrono::seconds(30);

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement that finalizes itself.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  explicit operator bool() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }
  std::string text(int i) const {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

void exec_or_throw(sqlite3* db, const char* sql, const std::filesystem::path& path) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("outbox " + path.string() + ": " + message);
  }
}

outbox_row read_row(const statement& s) {
  outbox_row r;
  r.id = sqlite3_column_int64(s.get(), 0);
  r.kind = s.text(1);
  r.url = s.text(2);
  r.body = s.text(3);
  r.created_ms = sqlite3_column_int64(s.get(), 4);
  r.attempts = sqlite3_column_int64(s.get(), 5);
  r.next_attempt_ms = sqlite3_column_int64(s.get(), 6);
  if (sqlite3_column_type(s.get(), 7) != SQLITE_NULL)
    r.delivered_ms = sqlite3_column_int64(s.get(), 7);
  r.last_error = s.text(8);
  return r;
}

constexpr const char* row_columns =
    "SELECT id, kind, url, body, created_ms, attempts, next_attempt_ms, delivered_ms, "
    "last_error FROM outbox ";

}  // namespace

outbox::outbox(asio::io_context& io, outbox_config config, metrics& m)
    : config_(std::move(config)),
      metrics_(m),
      strand_(asio::make_strand(io)),
      wake_timer_(strand_),
      client_(config_.request_timeout) {
  if (config_.path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.path.parent_path(), ec);
  }
  const int rc =
      sqlite3_open_v2(config_.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("outbox " + config_.path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    exec_or_throw(db_,
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
                  "  WHERE delivered_ms IS NULL;",
                  config_.path);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
  std::lock_guard lock(mutex_);
  refresh_gauge();
}

outbox::~outbox() {
  std::lock_guard lock(mutex_);
  sqlite3_close(db_);
  db_ = nullptr;
}

void outbox::start() {
  asio::post(strand_, [this] {
    if (running_) return;
    running_ = true;
    stopped_ = false;
    asio::co_spawn(strand_, run(), asio::detached);
  });
}

void outbox::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    wake_timer_.cancel();
  });
}

std::int64_t outbox::enqueue(std::string_view kind, std::string_view url, std::string_view body) {
  std::int64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    statement s(db_,
                "INSERT INTO outbox(kind, url, body, created_ms, attempts, next_attempt_ms, "
                "last_error) VALUES(?, ?, ?, ?, 0, ?, ?)");
    const std::int64_t now = wall_ms();
    if (s) {
      s.bind(1, kind);
      s.bind(2, url);
      s.bind(3, body);
      s.bind(4, now);
      s.bind(5, now);
      if (url.empty())
        s.bind(6, std::string_view("no webhook URL configured"));
      else
        s.bind_null(6);
    }
    if (!s || sqlite3_step(s.get()) != SQLITE_DONE) {
      spdlog::error("outbox: cannot store a {} message: {}", kind, sqlite3_errmsg(db_));
      metrics_.webhook_failures_total.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    id = sqlite3_last_insert_rowid(db_);
    refresh_gauge();
  }
  if (url.empty())
    spdlog::warn("outbox: {} message {} kept undelivered: no webhook URL configured", kind, id);
  wake();
  return id;
}

std::vector<outbox_row> outbox::rows() const {
  std::lock_guard lock(mutex_);
  std::vector<outbox_row> out;
  statement s(db_, (std::string(row_columns) + "ORDER BY id").c_str());
  while (s && sqlite3_step(s.get()) == SQLITE_ROW)
    out.push_back(read_row(s));
  return out;
}

std::size_t outbox::pending() const {
  std::lock_guard lock(mutex_);
  statement s(db_, "SELECT count(*) FROM outbox WHERE delivered_ms IS NULL");
  if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return 0;
  return static_cast<std::size_t>(sqlite3_column_int64(s.get(), 0));
}

std::chrono::milliseconds outbox::backoff(std::int64_t failures) const {
  auto wait = config_.retry_initial;
  for (std::int64_t i = 1; i < failures && wait < config_.retry_max; ++i)
    wait *= 2;
  return std::min(wait, config_.retry_max);
}

void outbox::refresh_gauge() {
  statement s(db_, "SELECT count(*) FROM outbox WHERE delivered_ms IS NULL");
  if (s && sqlite3_step(s.get()) == SQLITE_ROW)
    metrics_.outbox_pending = sqlite3_column_int64(s.get(), 0);
}

void outbox::wake() {
  asio::post(strand_, [this] {
    dirty_ = true;
    wake_timer_.cancel();
  });
}

asio::awaitable<void> outbox::run() {
  while (!stopped_) {
    dirty_ = false;
    const std::int64_t now = wall_ms();
    std::int64_t next_due = now + std::chrono::milliseconds(max_sleep).count();
    std::vector<outbox_row> due;
    {
      std::lock_guard lock(mutex_);
      statement s(db_, (std::string(row_columns) +
                        "WHERE delivered_ms IS NULL AND url <> '' ORDER BY next_attempt_ms, id "
                        "LIMIT " +
                        std::to_string(rows_per_pass))
                           .c_str());
      while (s && sqlite3_step(s.get()) == SQLITE_ROW) {
        outbox_row r = read_row(s);
        if (in_flight_.count(r.id)) continue;
        if (r.next_attempt_ms > now) {
          next_due = std::min(next_due, r.next_attempt_ms);
          break;  // ordered by due time: the rest are later still
        }
        due.push_back(std::move(r));
      }
    }
    for (auto& r : due) {
      if (in_flight_.size() >= config_.max_in_flight) break;  // a finished delivery wakes us
      in_flight_.insert(r.id);
      asio::co_spawn(strand_, deliver(std::move(r)), asio::detached);
    }
    if (dirty_) continue;
    wake_timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, next_due - now)));
    co_await wake_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  running_ = false;
}

asio::awaitable<void> outbox::deliver(outbox_row row) {
  const webhook_result result = co_await client_.post_json(row.url, row.body);
  const std::int64_t now = wall_ms();
  const std::int64_t attempts = row.attempts + 1;
  {
    std::lock_guard lock(mutex_);
    if (db_) {
      statement s(db_,
                  "UPDATE outbox SET attempts = ?, delivered_ms = ?, next_attempt_ms = ?, "
                  "last_error = ? WHERE id = ?");
      s.bind(1, attempts);
      if (result.delivered()) {
        s.bind(2, now);
        s.bind(3, row.next_attempt_ms);
        s.bind_null(4);
      } else {
        s.bind_null(2);
        s.bind(3, now + backoff(attempts).count());
        s.bind(4, std::string_view(result.describe()));
      }
      s.bind(5, row.id);
      if (!s || sqlite3_step(s.get()) != SQLITE_DONE)
        spdlog::error("outbox: cannot record delivery of {}: {}", row.id, sqlite3_errmsg(db_));
      refresh_gauge();
    }
  }
  if (result.delivered()) {
    spdlog::info("outbox: {} message {} delivered to {} after {} attempt(s)", row.kind, row.id,
                 row.url, attempts);
  } else {
    metrics_.webhook_failures_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("outbox: {} message {} to {} failed (attempt {}): {}; next in {} ms", row.kind,
                 row.id, row.url, attempts, result.describe(), backoff(attempts).count());
  }
  in_flight_.erase(row.id);
  dirty_ = true;
  wake_timer_.cancel();
}

}  // namespace rescue::dispatcher
