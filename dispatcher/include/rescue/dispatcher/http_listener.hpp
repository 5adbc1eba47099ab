// Accepts console-port connections (API, live feed, crew WebSocket, web assets, metrics) and
// starts one http_session per connection, each on its own strand.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "rescue/dispatcher/accept_pacer.hpp"
#include "rescue/dispatcher/auth_throttle.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/http_session.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace rescue::dispatcher {

class http_listener : public std::enable_shared_from_this<http_listener> {
 public:
  // `config` and `router` must outlive the listener and all its sessions. The router must
  // not change once start() is called: sessions read it from several threads. `m` may be null;
  // without `throttle` the listener makes its own from the config. Connections are capped by
  // config.http_max_connections and http_max_connections_per_address. Tokens are checked
  // against `creds`, made from `config` when null. Throws when TLS cannot be set up.
  http_listener(asio::io_context& io, const server_config& config, const http_router& router,
                http_limits limits = {}, metrics* m = nullptr,
                std::shared_ptr<auth_throttle> throttle = nullptr,
                std::shared_ptr<credential_store> creds = {});
  ~http_listener();
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  // Binds config.listen_address:config.http_port and starts accepting; returns the bound port
  // (useful with port 0). Throws std::system_error when the address cannot be bound.
  std::uint16_t start();
  // Closes the acceptor; idle connections close at once, busy ones after their response.
  // WebSocket connections already handed to a route belong to that route. Thread-safe.
  void stop();

 private:
  asio::awaitable<void> accept_loop(std::shared_ptr<http_listener> self);
  void track(const std::shared_ptr<http_session>& session);

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<http_shared_state> shared_;
  std::shared_ptr<connection_limiter> connections_;
  accept_pacer pacer_{"http"};
  std::mutex mutex_;
  std::vector<std::weak_ptr<http_session>> sessions_;
};

}  // namespace rescue::dispatcher
