// The durable outbox for outgoing webhooks (fire centre, SMS gateway): a row is on disk before
// enqueue returns, and a delivery loop retries it with back-off until an HTTP 2xx, across restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/webhook_client.hpp"

struct sqlite3;

namespace rescue::dispatcher {

namespace asio = boost::asio;

struct outbox_config {
  std::filesystem::path path;  // its own SQLite file, created when missing
  std::chrono::milliseconds retry_initial = std::chrono::seconds(2);  // doubles per failure...
  std::chrono::milliseconds retry_max = std::chrono::minutes(5);      // ...up to this
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  std::size_t max_in_flight = 8;  // concurrent deliveries
};

struct outbox_row {
  std::int64_t id = 0;
  std::string kind;  // "fire_escalation", "crew_sms"
  std::string url;   // empty: no webhook configured; kept, never sent
  std::string body;
  std::int64_t created_ms = 0;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_ms = 0;
  std::optional<std::int64_t> delivered_ms;
  std::string last_error;
};

class outbox {
 public:
  // Opens or creates the database. Throws std::runtime_error naming the file: start-up only.
  outbox(asio::io_context& io, outbox_config config, metrics& m);
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  // Starts the delivery loop; rows left pending by an earlier run are delivered first.
  void start();
  // Stops the loop. Deliveries in flight may finish; anything unconfirmed stays pending.
  void stop();

  // Writes the row (synchronous=FULL, so it is on disk) and wakes the loop; safe from any
  // thread. Returns the row id, or 0 when the write failed (logged, counted as a failure).
  std::int64_t enqueue(std::string_view kind, std::string_view url, std::string_view body);

  // For operations and tests.
  std::vector<outbox_row> rows() const;
  std::size_t pending() const;

  // The wait after `failures` failed attempts: retry_initial * 2^(failures-1), capped.
  std::chrono::milliseconds backoff(std::int64_t failures) const;

 private:
  asio::awaitable<void> run();
  asio::awaitable<void> deliver(outbox_row row);
  void wake();
  void refresh_gauge();  // with mutex_ held

  outbox_config config_;
  metrics& metrics_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer wake_timer_;
  webhook_client client_;

  mutable std::mutex mutex_;  // guards db_
  sqlite3* db_ = nullptr;

  // On the strand.
  std::set<std::int64_t> in_flight_;
  bool dirty_ = false;
  bool running_ = false;
  bool stopped_ = false;
};

}  // namespace rescue::dispatcher
