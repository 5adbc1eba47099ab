#include "rescue/dispatcher/terminal_gateway.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/console.pb.h"
#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/dispatcher/terminal_session.hpp"

namespace rescue::dispatcher {

terminal_gateway::terminal_gateway(asio::io_context& io, const server_config& config,
                                   dispatch_service& service, metrics& m,
                                   std::shared_ptr<auth_throttle> throttle)
    : io_(io),
      config_(config),
      service_(service),
      metrics_(m),
      acceptor_(io),
      tls_(config.tls.terminal ? make_server_tls_context(config.tls, "terminal", true) : nullptr),
      throttle_(std::move(throttle)),
      connections_(std::make_shared<connection_limiter>(
          config.terminal_max_connections, config.terminal_max_connections_per_address)) {
  // Every terminal in the registry is known, and offline until it connects.
  for (const auto& t : service.registry().terminals()) {
    terminal_presence p;
    p.terminal_id = t.id();
    p.elevator_id = t.elevator_id();
    p.last_disconnect_reason = "never connected";
    presence_.emplace(t.id(), std::move(p));
  }
}

terminal_gateway::~terminal_gateway() = default;

std::uint16_t terminal_gateway::start() {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(config_.listen_address),
                                         config_.terminal_port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), log_if_thrown("terminal accept loop"));
  return acceptor_.local_endpoint().port();
}

void terminal_gateway::stop() {
  std::vector<std::shared_ptr<terminal_session>> open;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [id, weak] : sessions_)
      if (auto s = weak.lock()) open.push_back(std::move(s));
    for (auto& weak : unauthenticated_)
      if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  for (auto& s : open)
    s->close("server stopping");
}

asio::awaitable<void> terminal_gateway::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_),
                                                        asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      // Out of descriptors the acceptor stays readable: without a pause this loop would spin.
      metrics_.accept_failures_total.fetch_add(1, std::memory_order_relaxed);
      co_await pacer_.after_failure(acceptor_, ec);
      continue;
    }
    pacer_.after_success();
    boost::system::error_code opt_ec;
    const auto remote = socket.remote_endpoint(opt_ec);
    if (opt_ec) continue;  // gone already
    connection_limiter::verdict why{};
    auto slot = connections_->try_admit(remote.address(), why);
    if (!slot) {
      metrics_.terminal_connections_refused_total.fetch_add(1, std::memory_order_relaxed);
      pacer_.refused(remote.address(), why, connections_->open());
      socket.close(opt_ec);
      continue;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), opt_ec);
    auto session = std::make_shared<terminal_session>(std::move(socket), *this, std::move(slot),
                                                      remote.address());
    {
      std::lock_guard lock(mutex_);
      if (stopped_) co_return;
      // Forget sessions that ended before authenticating, then remember this one.
      std::erase_if(unauthenticated_, [](const auto& w) { return w.expired(); });
      unauthenticated_.push_back(session);
    }
    session->start();
  }
}

void terminal_gateway::online(const std::string& terminal_id, const std::string& elevator_id,
                              const std::shared_ptr<terminal_session>& session) {
  std::shared_ptr<terminal_session> previous;
  {
    std::lock_guard lock(mutex_);
    auto& slot = sessions_[terminal_id];
    previous = slot.lock();
    slot = session;
    auto& p = presence_[terminal_id];
    p.terminal_id = terminal_id;
    p.elevator_id = elevator_id;
    p.online = true;
    p.online_since_ms = p.last_seen_ms = core::to_ms(dispatch_service::now());
  }
  metrics_.terminal_connections.fetch_add(1, std::memory_order_relaxed);
  if (previous && previous != session) previous->close("replaced by a new connection");
  record_link(terminal_id, true, {});
}

void terminal_gateway::record_link(const std::string& terminal_id, bool online,
                                   const std::string& reason) {
  // Journalled for the report's terminal health; the core records only a change, so a
  // connection replacing another adds nothing. Nobody waits on it: a refusal is only logged.
  service_.async_submit(
      core::cmd::terminal_link{terminal_id, online, reason}, [terminal_id](core::outcome out) {
        if (!out.ok())
          spdlog::warn("terminal {} link not recorded: {}", terminal_id, log_safe(out.reason, 256));
      });
}

void terminal_gateway::seen(const std::string& terminal_id, const rescue::v1::CarStatus* status) {
  std::lock_guard lock(mutex_);
  auto& p = presence_[terminal_id];
  p.last_seen_ms = core::to_ms(dispatch_service::now());
  if (status) p.status = *status;
}

void terminal_gateway::offline(const std::string& terminal_id, const terminal_session* session,
                               const std::string& reason) {
  if (terminal_id.empty()) return;  // never authenticated: never online
  {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(terminal_id);
    // A replaced session going away must not mark its successor's terminal offline.
    if (it == sessions_.end() || it->second.lock().get() != session) return;
    sessions_.erase(it);
    auto& p = presence_[terminal_id];
    p.online = false;
    p.last_disconnect_reason = reason;
  }
  metrics_.terminal_connections.fetch_sub(1, std::memory_order_relaxed);
  // Silence is not an incident: the terminal is reported offline, people are not assumed trapped.
  spdlog::info("terminal {} offline: {}", terminal_id, log_safe(reason, 256));
  record_link(terminal_id, false, reason);
}

void terminal_gateway::add_routes(http_router& router) {
  router.add(http::verb::get, "/api/v1/terminals", access::auditor,
             [this](request_context ctx) -> asio::awaitable<http_response> {
               rescue::v1::TerminalList list;
               for (const auto& p : presence()) {
                 rescue::v1::TerminalPresence& t = *list.add_terminals();
                 t.set_terminal_id(p.terminal_id);
                 t.set_elevator_id(p.elevator_id);
                 t.set_online(p.online);
                 t.set_last_seen_ms(p.last_seen_ms);
                 *t.mutable_status() = p.status;
               }
               co_return json_list_response(ctx.request, list, list.terminals().empty());
             });
}

std::vector<terminal_presence> terminal_gateway::presence() const {
  std::lock_guard lock(mutex_);
  std::vector<terminal_presence> out;
  out.reserve(presence_.size());
  for (const auto& [id, p] : presence_)
    out.push_back(p);
  return out;
}

bool terminal_gateway::latest_status(const std::string& terminal_id,
                                     rescue::v1::CarStatus& out) const {
  std::lock_guard lock(mutex_);
  const auto it = presence_.find(terminal_id);
  if (it == presence_.end()) return false;
  out = it->second.status;
  return true;
}

}  // namespace rescue::dispatcher
