#include "rescue/dispatcher/crew_session.hpp"

#include <cmath>
#include <map>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/websocket/error.hpp>

#include "rescue/dispatcher/crew_hub.hpp"
#include "rescue/dispatcher/crew_token.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace v1 = rescue::v1;
using tcp = asio::ip::tcp;

namespace {

// The listener may hand over a stream on a shared executor: re-home the socket on a strand of
// its own, so this session's reads, writes and Beast's own timers never run concurrently.
beast::tcp_stream on_own_strand(beast::tcp_stream stream) {
  tcp::socket socket = stream.release_socket();
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return beast::tcp_stream(std::move(socket));
  const auto strand = asio::make_strand(socket.get_executor());
  const auto fd = socket.release(ec);
  if (ec) return beast::tcp_stream(std::move(socket));
  return beast::tcp_stream(tcp::socket(strand, local.protocol(), fd));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> query_of(std::string_view target) {
  std::map<std::string, std::string> out;
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return out;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    out[percent_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
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

crew_session::crew_session(beast::tcp_stream stream, http_request request, crew_hub& hub)
    : ws_(on_own_strand(std::move(stream))),
      request_(std::move(request)),
      hub_(hub),
      metrics_(hub.stats()) {}

crew_session::~crew_session() {
  if (counted_) metrics_.crew_connections.fetch_sub(1, std::memory_order_relaxed);
}

void crew_session::start() {
  asio::co_spawn(
      ws_.get_executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
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
          self->ws_.get_executor(), [self] { return self->write_loop(); }, asio::detached);
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
        asio::detached);
  });
}

asio::awaitable<void> crew_session::run() {
  const auto self = shared_from_this();
  if (!co_await authenticate()) co_return;
  spdlog::info("crew {} connected", crew_id_);
  hub_.attach(crew_id_, self);

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
        const double lat = l.position().lat();
        const double lon = l.position().lon();
        if (!l.has_position() || !std::isfinite(lat) || !std::isfinite(lon) || lat < -90 ||
            lat > 90 || lon < -180 || lon > 180) {
          // A GPS glitch is not a protocol violation: the position is ignored.
          spdlog::debug("crew {}: location out of range ignored", crew_id_);
          break;
        }
        hub_.service().crew_position(crew_id_, lat, lon,
                                     l.at_ms() > 0 ? l.at_ms() : to_ms(dispatch_service::now()));
        break;
      }
      case v1::CrewClientMessage::kAccept:
      case v1::CrewClientMessage::kDecline:
      case v1::CrewClientMessage::kDeparted:
      case v1::CrewClientMessage::kArrived:
      case v1::CrewClientMessage::kReleased:
        // Not awaited: reading goes on while the command becomes durable. Answers still leave
        // in order because the dispatch service completes in submission order.
        asio::co_spawn(
            ws_.get_executor(), [self, message] { return self->act(message); }, asio::detached);
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
  auto query = query_of(target);
  std::string token = query["token"];
  if (token.empty()) {
    const auto auth = request_[http::field::authorization];
    constexpr std::string_view bearer = "Bearer ";
    if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer)
      token = std::string(auth.substr(bearer.size()));
  }
  const std::string crew = query["crew"];
  const bool known = !crew.empty() && hub_.service().registry().crew(crew) != nullptr;
  if (!known || !crew_token_valid(hub_.config().crew_token_secret, crew, token)) {
    spdlog::warn("crew WebSocket refused for crew '{}': {}", crew,
                 !known ? "unknown crew" : "token does not match");
    // One answer for every case, so a caller cannot probe which crew ids exist.
    auto response = json_error(request_, http::status::unauthorized, "unauthorized",
                               "crew id and token do not match");
    response.keep_alive(false);
    auto& stream = beast::get_lowest_layer(ws_);
    stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] =
        co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
    if (ec) fail(ec, "write 401");
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
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
  command c;
  std::string action;
  incident_id id = 0;
  switch (message.body_case()) {
    case v1::CrewClientMessage::kAccept:
      id = message.accept().incident_id();
      c = cmd::accept_offer{id, crew_id_};
      action = "accept";
      break;
    case v1::CrewClientMessage::kDecline:
      id = message.decline().incident_id();
      c = cmd::decline_offer{id, crew_id_, message.decline().reason()};
      action = "decline";
      break;
    case v1::CrewClientMessage::kDeparted:
      id = message.departed().incident_id();
      c = cmd::crew_departed{id, crew_id_};
      action = "departed";
      break;
    case v1::CrewClientMessage::kArrived:
      id = message.arrived().incident_id();
      c = cmd::crew_arrived{id, crew_id_};
      action = "arrived";
      break;
    case v1::CrewClientMessage::kReleased:
      id = message.released().incident_id();
      c = cmd::people_released{id, crew_id_};
      action = "released";
      break;
    default:
      co_return;
  }
  const outcome out = co_await hub_.service().async_submit(std::move(c), asio::use_awaitable);
  std::string text = out.ok() ? "ok" : std::string(to_string(out.refused));
  text += " " + action + " " + std::to_string(id);
  if (!out.ok()) {
    text += ": " + out.reason;
    spdlog::info("crew {}: {} incident {} refused: {}", crew_id_, action, id, out.reason);
  }
  hub_.notice(crew_id_, std::move(text));
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
  spdlog::warn("crew {}: closing the connection: {}", crew_id_, reason);
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
