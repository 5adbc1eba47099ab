#include "rescue/dispatcher/crew_session.hpp"

#include <cmath>
#include <map>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket/error.hpp>

#include "rescue/dispatcher/crew_hub.hpp"
#include "rescue/dispatcher/crew_token.hpp"
#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/geo/position_fix.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace v1 = rescue::v1;
using tcp = asio::ip::tcp;

namespace {

// The listener may hand over a stream on a shared executor: re-home the socket on a strand of
// its own, so this session's reads, writes and Beast's own timers never run concurrently. A TLS
// stream cannot move (its state lives with the socket); the listener accepts those on a strand.
http_stream on_own_strand(http_stream flex) {
  if (flex.is_tls()) return flex;
  tcp::socket socket = flex.next_layer().release_socket();
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return beast::tcp_stream(std::move(socket));
  const auto strand = asio::make_strand(socket.get_executor());
  const auto fd = socket.release(ec);
  if (ec) return beast::tcp_stream(std::move(socket));
  return beast::tcp_stream(tcp::socket(strand, local.protocol(), fd));
}

// A close frame carries at most 123 bytes of reason; cut on a UTF-8 boundary.
std::string close_text(std::string reason) {
  constexpr std::size_t limit = 120;
  if (reason.size() <= limit) return reason;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80)
    --cut;
  reason.resize(cut);
  return reason;
}

}  // namespace

std::optional<crew_action> crew_command(const v1::CrewClientMessage& message,
                                        const std::string& crew_id) {
  switch (message.body_case()) {
    case v1::CrewClientMessage::kAccept: {
      const core::incident_id id = message.accept().incident_id();
      return crew_action{core::cmd::accept_offer{id, crew_id}, "accept", id};
    }
    case v1::CrewClientMessage::kDecline: {
      const core::incident_id id = message.decline().incident_id();
      return crew_action{core::cmd::decline_offer{id, crew_id, message.decline().reason()},
                         "decline", id};
    }
    case v1::CrewClientMessage::kDeparted: {
      const core::incident_id id = message.departed().incident_id();
      return crew_action{core::cmd::crew_departed{id, crew_id}, "departed", id};
    }
    case v1::CrewClientMessage::kArrived: {
      const core::incident_id id = message.arrived().incident_id();
      return crew_action{core::cmd::crew_arrived{id, crew_id}, "arrived", id};
    }
    case v1::CrewClientMessage::kReleased: {
      const core::incident_id id = message.released().incident_id();
      return crew_action{core::cmd::people_released{id, crew_id}, "released", id};
    }
    case v1::CrewClientMessage::kShift: {
      const bool on = message.shift().on_duty();
      return crew_action{core::cmd::set_duty{crew_id, on, crew_id}, "shift", 0, on ? "on" : "off"};
    }
    default:
      return std::nullopt;
  }
}

geo::position_fix location_fix(const v1::Location& location, std::int64_t received_at_ms) {
  if (!location.has_position()) return geo::position_fix{"the location has no position", 0};
  return geo::check_position_fix(location.position().lat(), location.position().lon(),
                                 location.at_ms(), received_at_ms);
}

crew_session::crew_session(websocket_upgrade upgrade, crew_hub& hub)
    : ws_(on_own_strand(std::move(upgrade.stream))),
      request_(std::move(upgrade.request)),
      slot_(std::move(upgrade.slot)),
      remote_(upgrade.remote),
      throttle_(std::move(upgrade.throttle)),
      hub_(hub),
      metrics_(hub.stats()) {}

crew_session::~crew_session() {
  if (counted_) metrics_.crew_connections.fetch_sub(1, std::memory_order_relaxed);
}

void crew_session::start() {
  asio::co_spawn(
      ws_.get_executor(), [self = shared_from_this()] { return self->run(); },
      log_if_thrown("crew session"));
}

void crew_session::deliver(std::shared_ptr<const std::string> json) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), json = std::move(json)]() mutable {
    if (self->closing_ || !self->upgraded_) return;  // the hub keeps it until a receipt
    if (self->queue_.size() >= max_queued_writes) {
      self->close(websocket::close_code::policy_error, "phone does not read its messages");
      return;
    }
    self->queue_.push_back(std::move(json));
    if (!self->writing_) {
      self->writing_ = true;
      asio::co_spawn(
          self->ws_.get_executor(), [self] { return self->write_loop(); },
          log_if_thrown("crew session writer"));
    }
  });
}

void crew_session::close(websocket::close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    if (self->closing_) return;
    self->closing_ = true;
    self->close_reason_ = reason;
    if (!self->upgraded_) {
      beast::get_lowest_layer(self->ws_).close();
      return;
    }
    asio::co_spawn(
        self->ws_.get_executor(),
        [self, r = websocket::close_reason(code, close_text(reason))] {
          return self->close_now(r);
        },
        log_if_thrown("crew session close"));
  });
}

asio::awaitable<void> crew_session::run() {
  const auto self = shared_from_this();
  if (!co_await authenticate()) co_return;
  spdlog::info("crew {} connected", crew_id_);
  hub_.attach(crew_id_, self);
  hub_.send_status(crew_id_);

  std::string text;
  while (co_await read_message(text)) {
    metrics_.crew_messages_total.fetch_add(1, std::memory_order_relaxed);
    v1::CrewClientMessage message;
    if (const std::string error = protocol::from_json(text, message); !error.empty()) {
      policy_violation("malformed message: " + error);
      break;
    }
    switch (message.body_case()) {
      case v1::CrewClientMessage::kReceipt:
        hub_.receipt(crew_id_, message.receipt().seq());
        break;
      case v1::CrewClientMessage::kLocation: {
        const auto& l = message.location();
        const auto fix = location_fix(l, core::to_ms(dispatch_service::now()));
        if (!fix.refused.empty()) {
          // A GPS glitch or a wrong clock is not a protocol violation: the fix is refused, the
          // crew told why, the connection stays.
          metrics_.crew_positions_refused_total.fetch_add(1, std::memory_order_relaxed);
          // Notices are kept until receipted: a phone repeating a bad fix hears it once a
          // while, not once a fix.
          const auto now = std::chrono::steady_clock::now();
          if (fix.refused != last_position_refusal_ ||
              now - last_position_refusal_at_ >= std::chrono::seconds(30)) {
            last_position_refusal_ = fix.refused;
            last_position_refusal_at_ = now;
            hub_.notice(crew_id_, "invalid_request location: " + fix.refused);
          }
          break;
        }
        hub_.service().crew_position(crew_id_, l.position().lat(), l.position().lon(), fix.at_ms);
        break;
      }
      case v1::CrewClientMessage::kAccept:
      case v1::CrewClientMessage::kDecline:
      case v1::CrewClientMessage::kDeparted:
      case v1::CrewClientMessage::kArrived:
      case v1::CrewClientMessage::kReleased:
      case v1::CrewClientMessage::kShift:
        // Not awaited: reading goes on while the command becomes durable. Answers still leave
        // in order because the dispatch service completes in submission order.
        asio::co_spawn(
            ws_.get_executor(), [self, message] { return self->act(message); },
            log_if_thrown("crew command"));
        break;
      case v1::CrewClientMessage::BODY_NOT_SET:
        policy_violation("message has no body");
        break;
    }
    if (closing_) break;
  }
  hub_.detach(crew_id_, this);
  spdlog::info("crew {} disconnected{}{}", crew_id_, close_reason_.empty() ? "" : ": ",
               close_reason_);
}

asio::awaitable<bool> crew_session::authenticate() {
  const std::string_view target(request_.target().data(), request_.target().size());
  const std::size_t question = target.find('?');
  auto query = question == std::string_view::npos ? std::map<std::string, std::string>{}
                                                  : parse_query(target.substr(question + 1));
  std::string token = query["token"];
  if (token.empty()) {
    const auto auth = request_[http::field::authorization];
    constexpr std::string_view bearer = "Bearer ";
    if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer)
      token = std::string(auth.substr(bearer.size()));
  }
  const std::string crew = query["crew"];
  const bool known = !crew.empty() && hub_.service().registry().crew(crew) != nullptr;
  if (!known || !crew_token_valid(hub_.credentials().current()->crew_token_secret, crew, token)) {
    if (throttle_)
      throttle_->failed(remote_, "crew", crew, !known ? "unknown crew" : "token does not match");
    // One answer for every case, so a caller cannot probe which crew ids exist.
    auto response = json_error(request_, http::status::unauthorized, "unauthorized",
                               "crew id and token do not match");
    response.keep_alive(false);
    // Through the TLS layer when there is one: the lowest layer would write plaintext into it.
    auto& stream = ws_.next_layer();
    stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] =
        co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
    if (ec) fail(ec, "write 401");
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(ws_).close();
    co_return false;
  }
  crew_id_ = crew;

  beast::get_lowest_layer(ws_).expires_never();  // the WebSocket timeouts take over
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(10);
  timeouts.idle_timeout = idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "rescue-dispatchd"); }));
  // Unlimited here: read_message enforces crew_max_message_bytes itself, so an oversized
  // message gets a policy-violation close with a reason instead of Beast's bare 1009.
  ws_.read_message_max(0);
  ws_.text(true);
  auto [ec] = co_await ws_.async_accept(request_, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    fail(ec, "upgrade");
    co_return false;
  }
  if (closing_) co_return false;  // closed (server stopping) while upgrading
  upgraded_ = true;
  counted_ = true;
  metrics_.crew_connections.fetch_add(1, std::memory_order_relaxed);
  co_return true;
}

asio::awaitable<bool> crew_session::read_message(std::string& text) {
  const std::size_t max = hub_.config().crew_max_message_bytes;
  buffer_.clear();
  do {
    auto [ec, n] = co_await ws_.async_read_some(buffer_, max + 1 - buffer_.size(),
                                                asio::as_tuple(asio::use_awaitable));
    if (ec) {
      fail(ec, "read");
      co_return false;
    }
    if (closing_) co_return false;
    if (buffer_.size() > max) {
      policy_violation("message larger than " + std::to_string(max) + " bytes");
      co_return false;
    }
  } while (!ws_.is_message_done());
  if (!ws_.got_text()) {
    policy_violation("binary messages are not accepted: send JSON text");
    co_return false;
  }
  text = beast::buffers_to_string(buffer_.data());
  co_return true;
}

asio::awaitable<void> crew_session::act(v1::CrewClientMessage message) {
  const auto self = shared_from_this();
  std::optional<crew_action> a = crew_command(message, crew_id_);
  if (!a) co_return;
  const std::string action(a->name);
  const core::incident_id id = a->incident;
  const core::outcome out =
      co_await hub_.service().async_submit(std::move(a->c), asio::use_awaitable);
  const std::string object = a->object.empty() ? std::to_string(id) : std::string(a->object);
  std::string text = out.ok() ? "ok" : std::string(to_string(out.refused));
  text += " " + action + " " + object;
  if (!out.ok()) {
    text += ": " + out.reason;
    spdlog::info("crew {}: {} {} refused: {}", crew_id_, action,
                 a->object.empty() ? "incident " + object : object, log_safe(out.reason, 256));
  } else if (!a->object.empty()) {
    spdlog::info("crew {}: signed {} duty", crew_id_, object);
  }
  hub_.notice(crew_id_, std::move(text));
  if (out.ok() && !a->object.empty()) hub_.send_status(crew_id_);  // a shift: its new standing
}

asio::awaitable<void> crew_session::write_loop() {
  const auto self = shared_from_this();
  while (!queue_.empty() && !closing_) {
    auto [ec, n] = co_await ws_.async_write(asio::buffer(*queue_.front()),
                                            asio::as_tuple(asio::use_awaitable));
    if (ec) {
      fail(ec, "write");
      break;
    }
    queue_.pop_front();
  }
  writing_ = false;
}

asio::awaitable<void> crew_session::close_now(websocket::close_reason reason) {
  const auto self = shared_from_this();
  auto [ec] = co_await ws_.async_close(reason, asio::as_tuple(asio::use_awaitable));
  if (ec) fail(ec, "close");
  beast::get_lowest_layer(ws_).close();
}

void crew_session::policy_violation(std::string reason) {
  spdlog::warn("crew {}: closing the connection: {}", crew_id_, log_safe(reason, 256));
  if (close_reason_.empty()) close_reason_ = reason;
  close(websocket::close_code::policy_error, std::move(reason));
}

void crew_session::fail(beast::error_code ec, std::string_view what) {
  // Our own cancellations and orderly closes are not failures.
  if (ec == asio::error::operation_aborted || ec == websocket::error::closed) return;
  if (close_reason_.empty()) close_reason_ = std::string(what) + ": " + ec.message();
  spdlog::info("crew {}: {}: {}", crew_id_.empty() ? "(unauthenticated)" : crew_id_, what,
               ec.message());
}

}  // namespace rescue::dispatcher
