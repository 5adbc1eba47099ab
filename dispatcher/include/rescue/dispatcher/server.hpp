// rescue-dispatchd assembled: registry, journal, dispatch service and every channel, with the
// order of start-up and shutdown that keeps acknowledged work durable.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "rescue/dispatcher/server_config.hpp"

namespace rescue::storage {
class crew_position_store;
class journal;
class outbox_store;
class registry;
}  // namespace rescue::storage

namespace rescue::dispatcher {

class dispatch_service;
class outbox;
class position_writer;
class shard_link;
class crew_hub;
class fire_routes;
class report_routes;
class console_api;
class live_feed;
class ops_routes;
class http_router;
class http_listener;
class terminal_gateway;
class auth_throttle;
class credential_store;
struct metrics;

struct server_ports {
  std::uint16_t terminal = 0;
  std::uint16_t http = 0;
};

// A standby (another instance held the store's lease) was told to stop before it took over.
struct stopped_on_standby : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class server {
 public:
  // Loads the registry, opens the storage backend (journal and outbox), and recovers the
  // incident state. Throws std::runtime_error with a readable message when any of that fails,
  // stopped_on_standby when SIGINT or SIGTERM came while it waited for the store's lease.
  explicit server(server_config config);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds both ports and starts accepting.
  server_ports start();
  // Runs the io_context on config.threads threads (this one included) until stopped.
  void run();
  // Graceful stop, safe from any thread or a signal: stop accepting and reading, let the
  // dispatch service finish what was submitted (durable, effects run; later commands refused),
  // close the journal, then let run() return.
  void stop();

 private:
  void begin_shutdown();
  // SIGHUP: re-reads the config file's credentials, then waits for the next SIGHUP.
  void watch_reload();

  server_config config_;
  boost::asio::io_context io_;
  std::unique_ptr<metrics> metrics_;
  std::shared_ptr<credential_store> credentials_;
  std::unique_ptr<storage::registry> registry_;
  // Both from the backend `[storage] backend` names; the journal also stores the outbox's calls.
  std::unique_ptr<storage::journal> journal_;
  std::unique_ptr<storage::outbox_store> outbox_store_;
  bool storage_predates_outbox_ = false;  // upgraded now: fire calls may be missing (start())
  // Each crew's last position (null when not configured), and the write-behind that stores the
  // pings into it; both outlive the service, whose listener feeds the writer.
  std::unique_ptr<storage::crew_position_store> positions_store_;
  std::unique_ptr<position_writer> positions_;
  std::unique_ptr<dispatch_service> service_;
  // A sharded city: the shards, and the ties to the others' inboxes and journals.
  std::unique_ptr<core::shard_map> shards_;
  std::unique_ptr<shard_link> link_;
  std::string inbox_after_;  // the own inbox's last entry the journal names
  std::unique_ptr<outbox> outbox_;
  std::unique_ptr<crew_hub> crews_;
  std::unique_ptr<fire_routes> fire_;
  std::unique_ptr<console_api> console_;
  std::unique_ptr<report_routes> reports_;
  std::shared_ptr<live_feed> live_;
  std::unique_ptr<ops_routes> ops_;
  std::unique_ptr<http_router> router_;
  std::shared_ptr<http_listener> http_;
  std::shared_ptr<auth_throttle> throttle_;
  std::unique_ptr<terminal_gateway> terminals_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set reload_signals_;
  std::atomic<bool> stopping_{false};
  // Keeps run() going while the journal flushes, so the last completions still run.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> draining_;
  std::thread closer_;
};

}  // namespace rescue::dispatcher
