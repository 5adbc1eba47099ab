// The car-terminal gateway: accepts terminal connections and keeps what the platform knows of
// each terminal (online or not, latest car status). Sessions do the per-connection protocol.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "rescue/common.pb.h"
#include "rescue/dispatcher/accept_pacer.hpp"
#include "rescue/dispatcher/auth_throttle.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/dispatcher/tls.hpp"

namespace rescue::dispatcher {

class terminal_session;

struct terminal_presence {
  std::string terminal_id;
  std::string elevator_id;
  bool online = false;
  std::int64_t last_seen_ms = 0;  // last frame received
  std::int64_t online_since_ms = 0;
  rescue::v1::CarStatus status;  // latest reported
  std::string last_disconnect_reason;
};

class terminal_gateway {
 public:
  // Connections are capped by config.terminal_max_connections and
  // terminal_max_connections_per_address; failed handshakes count in `throttle`.
  terminal_gateway(asio::io_context& io, const server_config& config, dispatch_service& service,
                   metrics& m, std::shared_ptr<auth_throttle> throttle);
  ~terminal_gateway();

  // Binds and starts accepting; returns the bound port (useful with port 0).
  std::uint16_t start();
  // Stops accepting and closes every session.
  void stop();

  // GET /api/v1/terminals (console, either role): every terminal, online or offline, with its
  // latest car status.
  void add_routes(http_router& router);

  // Snapshot for the console and operations.
  std::vector<terminal_presence> presence() const;
  bool latest_status(const std::string& terminal_id, rescue::v1::CarStatus& out) const;

  // ---- used by sessions ----
  const server_config& config() const { return config_; }
  // The terminal port's TLS context, or null when the port is plain TCP.
  ssl::context* tls_context() const { return tls_.get(); }
  dispatch_service& service() { return service_; }
  metrics& stats() { return metrics_; }
  auth_throttle& throttle() { return *throttle_; }
  // Registers an authenticated session; an older session of the same terminal is closed.
  void online(const std::string& terminal_id, const std::string& elevator_id,
              const std::shared_ptr<terminal_session>& session);
  void seen(const std::string& terminal_id, const rescue::v1::CarStatus* status);
  // Journals a link change (core::cmd::terminal_link).
  void record_link(const std::string& terminal_id, bool online, const std::string& reason);
  void offline(const std::string& terminal_id, const terminal_session* session,
               const std::string& reason);

 private:
  asio::awaitable<void> accept_loop();

  asio::io_context& io_;
  const server_config& config_;
  dispatch_service& service_;
  metrics& metrics_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<ssl::context> tls_;
  std::shared_ptr<auth_throttle> throttle_;
  std::shared_ptr<connection_limiter> connections_;
  accept_pacer pacer_{"terminal"};

  mutable std::mutex mutex_;
  std::unordered_map<std::string, terminal_presence> presence_;
  std::unordered_map<std::string, std::weak_ptr<terminal_session>> sessions_;
  std::vector<std::weak_ptr<terminal_session>> unauthenticated_;
  bool stopped_ = false;
};

}  // namespace rescue::dispatcher
