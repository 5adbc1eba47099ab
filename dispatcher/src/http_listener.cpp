#include "rescue/dispatcher/http_listener.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/dispatcher/spawn.hpp"

namespace rescue::dispatcher {

using tcp = asio::ip::tcp;

http_listener::http_listener(asio::io_context& io, const server_config& config,
                             const http_router& router, http_limits limits, metrics* m,
                             std::shared_ptr<auth_throttle> throttle,
                             std::shared_ptr<credential_store> creds)
    : io_(io),
      acceptor_(asio::make_strand(io)),
      shared_(std::make_shared<http_shared_state>(
          config, router, limits, m,
          throttle ? std::move(throttle)
                   : std::make_shared<auth_throttle>(
                         auth_throttle_config{config.auth_max_failures, config.auth_failure_window,
                                              config.auth_lockout},
                         m),
          std::move(creds))),
      connections_(std::make_shared<connection_limiter>(config.http_max_connections,
                                                        config.http_max_connections_per_address,
                                                        m ? &m->http_connections : nullptr)) {}

http_listener::~http_listener() = default;

std::uint16_t http_listener::start() {
  const auto& config = shared_->config;
  const tcp::endpoint endpoint{asio::ip::make_address(config.listen_address), config.http_port};
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  const auto port = acceptor_.local_endpoint().port();
  spdlog::info("http: listening on {}:{}", config.listen_address, port);
  asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()),
                 log_if_thrown("http accept loop"));
  return port;
}

void http_listener::stop() {
  shared_->stopping = true;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
  std::vector<std::weak_ptr<http_session>> sessions;
  {
    std::lock_guard lock(mutex_);
    sessions.swap(sessions_);
  }
  for (const auto& weak : sessions)
    if (auto session = weak.lock()) session->stop();
}

void http_listener::track(const std::shared_ptr<http_session>& session) {
  std::lock_guard lock(mutex_);
  // Forget finished sessions now and then so the list stays the size of the live ones.
  if (sessions_.size() >= 64 && sessions_.size() % 64 == 0)
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
  sessions_.push_back(session);
}

asio::awaitable<void> http_listener::accept_loop(std::shared_ptr<http_listener> self) {
  (void)self;  // keeps the listener alive while it accepts
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_),
                                                        asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      // Out of file descriptors and the like: keep serving the connections we have.
      if (shared_->stats) shared_->stats->accept_failures_total.fetch_add(1);
      co_await pacer_.after_failure(acceptor_, ec);
      continue;
    }
    pacer_.after_success();
    if (shared_->stopping) co_return;
    boost::system::error_code ep_ec;
    const auto remote = socket.remote_endpoint(ep_ec);
    if (ep_ec) continue;  // gone already; the socket closes here
    connection_limiter::verdict why{};
    auto slot = connections_->try_admit(remote.address(), why);
    if (!slot) {
      // Closed at once rather than left waiting: the client learns, the descriptor is free.
      if (shared_->stats) shared_->stats->http_connections_refused_total.fetch_add(1);
      pacer_.refused(remote.address(), why, connections_->open());
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto session =
        std::make_shared<http_session>(tcp::socket(std::move(socket)), shared_, std::move(slot));
    track(session);
    session->start();
  }
}

}  // namespace rescue::dispatcher
