// rescue-dispatchd assembled: registry, journal, dispatch service and every channel, with the
// order of start-up and shutdown that keeps acknowledged work durable.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "rescue/dispatcher/server_config.hpp"

namespace rescue::storage {
class sqlite_journal;
class registry;
}  // namespace rescue::storage

namespace rescue::dispatcher {

class dispatch_service;
class outbox;
class crew_hub;
class fire_routes;
class console_api;
class live_feed;
class ops_routes;
class http_router;
class http_listener;
class terminal_gateway;
struct metrics;

struct server_ports {
  std::uint16_t terminal = 0;
  std::uint16_t http = 0;
};

class server {
 public:
  // Loads the registry, opens the journal and the outbox, and recovers the incident state.
  // Throws std::runtime_error with a readable message when any of that fails.
  explicit server(server_config config);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds both ports and starts accepting.
  server_ports start();
  // Runs the io_context on config.threads threads (this one included) until stopped.
  void run();
  // Graceful stop, safe from any thread or a signal: stop accepting, close connections, make
  // everything queued durable, then let run() return.
  void stop();

 private:
  void begin_shutdown();

  server_config config_;
  boost::asio::io_context io_;
  std::unique_ptr<metrics> metrics_;
  std::unique_ptr<storage::registry> registry_;
  std::unique_ptr<storage::sqlite_journal> journal_;
  std::unique_ptr<dispatch_service> service_;
  std::unique_ptr<outbox> outbox_;
  std::unique_ptr<crew_hub> crews_;
  std::unique_ptr<fire_routes> fire_;
  std::unique_ptr<console_api> console_;
  std::shared_ptr<live_feed> live_;
  std::unique_ptr<ops_routes> ops_;
  std::unique_ptr<http_router> router_;
  std::shared_ptr<http_listener> http_;
  std::unique_ptr<terminal_gateway> terminals_;
  boost::asio::signal_set signals_;
  std::atomic<bool> stopping_{false};
  // Keeps run() going while the journal flushes, so the last completions still run.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> draining_;
  std::thread closer_;
};

}  // namespace rescue::dispatcher
