// Delivers the durable outbox (storage::outbox_store) of outgoing webhooks (fire centre, SMS
// gateway): a loop retries each call with back-off until an HTTP 2xx, across restarts. Calls are
// stored by the journal, with the events that cause them or (enqueue) on their own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/webhook_client.hpp"
#include "rescue/storage/journal.hpp"
#include "rescue/storage/outbox_store.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;

struct outbox_config {
  std::chrono::milliseconds retry_initial = std::chrono::seconds(2);  // doubles per failure...
  std::chrono::milliseconds retry_max = std::chrono::minutes(5);      // ...up to this
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  std::size_t max_in_flight = 8;  // concurrent deliveries
  webhook_tls_options tls;        // how https:// is verified, whether plain http:// may leave
};

using outbox_row = storage::outbox_row;

class outbox {
 public:
  // Delivers the calls of `store`, which `journal` stores; the loop is woken right after every
  // commit that stored calls (until this outbox is destroyed).
  outbox(asio::io_context& io, storage::outbox_store& store, storage::journal& journal,
         outbox_config config, metrics& m);
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  // Starts the delivery loop; rows left pending by an earlier run are delivered first.
  void start();
  // Stops the loop. Deliveries in flight may finish; anything unconfirmed stays pending.
  void stop();

  // Stores a call that no journal event causes (a crew SMS fallback) through the journal, which
  // wakes the loop once it is durable; returns at once, safe from any thread. A failed write is
  // logged and counted; `done`, when given, runs on the journal's writer thread either way.
  void enqueue(std::string_view kind, std::uint64_t incident_id, std::string_view url,
               std::string_view body, std::function<void(std::error_code)> done = {});

  // New rows are stored: look again now. Safe from any thread; before start() it does nothing.
  void wake();

  // Every row about one incident, by id. These three read the store on the calling thread:
  // for start-up and tests, never on an io thread (the loop reads on a thread of its own).
  std::vector<outbox_row> rows_about(std::uint64_t incident_id) const;
  std::vector<outbox_row> rows() const;
  std::size_t pending() const;

  // The wait after `failures` failed attempts: retry_initial * 2^(failures-1), capped.
  std::chrono::milliseconds backoff(std::int64_t failures) const;

 private:
  asio::awaitable<void> run();
  asio::awaitable<void> deliver(outbox_row row);
  // On the store's thread: the outbox_pending gauge from the store's count.
  void refresh_gauge() const;

  storage::outbox_store& store_;
  storage::journal& journal_;
  outbox_config config_;
  metrics& metrics_;
  asio::strand<asio::io_context::executor_type> strand_;
  // The store's calls block (a file, a Redis round trip): they run here, one at a time.
  asio::thread_pool store_thread_{1};
  asio::steady_timer wake_timer_;
  webhook_client client_;

  // On the strand.
  std::set<std::int64_t> in_flight_;
  bool dirty_ = false;
  bool running_ = false;
  bool stopped_ = false;
  std::atomic<bool> started_{false};  // start() was called: wake() has a loop to wake
};

}  // namespace rescue::dispatcher
