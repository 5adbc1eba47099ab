#include "rescue/dispatcher/terminal_gateway.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/dispatcher/terminal_session.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

terminal_gateway::terminal_gateway(asio::io_context& io, const server_config& config,
                                   dispatch_service& service, metrics& m)
    : io_(io), config_(config), service_(service), metrics_(m), acceptor_(io) {
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
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
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
      spdlog::warn("terminal accept failed: {}", ec.message());
      continue;
    }
    boost::system::error_code opt_ec;
    socket.set_option(asio::ip::tcp::no_delay(true), opt_ec);
    auto session = std::make_shared<terminal_session>(std::move(socket), *this);
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
    p.online_since_ms = p.last_seen_ms = to_ms(dispatch_service::now());
  }
  metrics_.terminal_connections.fetch_add(1, std::memory_order_relaxed);
  if (previous && previous != session) previous->close("replaced by a new connection");
}

void terminal_gateway::seen(const std::string& terminal_id, const rescue::v1::CarStatus* status) {
  std::lock_guard lock(mutex_);
  auto& p = presence_[terminal_id];
  p.last_seen_ms = to_ms(dispatch_service::now());
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
  spdlog::info("terminal {} offline: {}", terminal_id, reason);
}

void terminal_gateway::add_routes(http_router& router) {
  router.add(http::verb::get, "/api/v1/terminals", access::auditor,
             [this](request_context ctx) -> asio::awaitable<http_response> {
               std::string body = "{\"terminals\":[";
               bool first = true;
               for (const auto& p : presence()) {
                 if (!first) body += ',';
                 first = false;
                 body += "{\"terminal_id\":\"" + p.terminal_id + "\",\"elevator_id\":\"" +
                         p.elevator_id + "\",\"online\":" + (p.online ? "true" : "false") +
                         ",\"last_seen_ms\":" + std::to_string(p.last_seen_ms) +
                         ",\"status\":" + protocol::to_json(p.status) + "}";
               }
               body += "]}";
               co_return json_response(ctx.request, http::status::ok, std::move(body));
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
