#include "rescue/dispatcher/terminal_session.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/dispatcher/terminal_gateway.hpp"

namespace rescue::dispatcher {
namespace v1 = rescue::v1;

namespace {

// A terminal that does not read its acks and pings is broken; its queue must not grow.
constexpr std::size_t max_queued_frames = 256;

// Unknown terminals are challenged and checked like known ones, against this secret, so that
// neither the answer nor the time taken tells which ids exist.
const std::string& decoy_secret() {
  static const std::string secret = [] {
    std::string s(16, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size()));
    return s;
  }();
  return secret;
}

// Disconnections of connections that never authenticated: a flood of them must not flood the log.
log_limiter& unauthenticated_log() {
  static log_limiter limiter;
  return limiter;
}

}  // namespace

core::cmd::terminal_event terminal_command(const v1::TerminalEvent& event,
                                           const std::string& terminal_id, std::uint64_t boot_id) {
  core::cmd::terminal_event c;
  c.terminal_id = terminal_id;
  c.seq = event.seq();
  c.code = event.code();
  c.status = event.status();
  c.boot_id = boot_id;
  return c;
}

terminal_session::terminal_session(asio::ip::tcp::socket socket, terminal_gateway& gateway,
                                   connection_slot slot, asio::ip::address remote)
    : strand_(socket.get_executor()),
      socket_(terminal_stream::make(std::move(socket), gateway.tls_context())),
      gateway_(gateway),
      slot_(std::move(slot)),
      remote_(std::move(remote)),
      decoder_(gateway.config().max_frame_bytes),
      ping_timer_(strand_),
      drained_(strand_),
      last_rx_(std::chrono::steady_clock::now()) {}

std::string terminal_session::expected_answer(const std::string& secret, const std::string& nonce,
                                              const std::string& terminal_id) {
  const std::string message = nonce + terminal_id;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

void terminal_session::start() {
  asio::co_spawn(
      strand_, [self = shared_from_this()] { return self->run(); },
      log_if_thrown("terminal session"));
}

void terminal_session::close(std::string reason) {
  asio::post(strand_,
             [self = shared_from_this(), reason = std::move(reason)] { self->shutdown(reason); });
}

asio::awaitable<void> terminal_session::run() {
  const auto self = shared_from_this();
  const std::string peer = describe_peer(socket_.socket());
  if (const auto ec = co_await socket_.server_handshake(gateway_.config().tls.handshake_timeout)) {
    // Logged there at a bounded rate; shutdown() would log every scanner's connection again.
    note_tls_handshake_failure("terminal", peer, ec);
    if (!closed_) {  // else the server is stopping and closed it
      closed_ = true;
      boost::system::error_code ignored;
      socket_.socket().close(ignored);
      gateway_.stats().terminal_rejected_total.fetch_add(1, std::memory_order_relaxed);
    }
    co_return;
  }
  if (!co_await authenticate()) co_return;
  asio::co_spawn(
      strand_, [self] { return self->pinger(); }, log_if_thrown("terminal pinger"));

  v1::TerminalFrame frame;
  while (co_await read_frame(frame)) {
    gateway_.stats().terminal_frames_total.fetch_add(1, std::memory_order_relaxed);
    switch (frame.body_case()) {
      case v1::TerminalFrame::kHeartbeat:
      case v1::TerminalFrame::kPong:
        gateway_.seen(terminal_id_, nullptr);
        break;
      case v1::TerminalFrame::kStatus: {
        // Status is a snapshot superseded by the next one: kept in memory, acknowledged at once.
        gateway_.seen(terminal_id_, &frame.status().status());
        v1::TerminalFrame ack;
        ack.mutable_ack()->set_seq(frame.status().seq());
        send(ack);
        break;
      }
      case v1::TerminalFrame::kEvent:
        gateway_.seen(terminal_id_, frame.event().has_status() ? &frame.event().status() : nullptr);
        // Not awaited here: the next frame is read while this one becomes durable; acks still
        // leave in order because the dispatch service completes in submission order.
        asio::co_spawn(
            strand_,
            [self, event = frame.event()]() mutable {
              return self->handle_event(std::move(event));
            },
            log_if_thrown("terminal event"));
        break;
      default:
        shutdown("unexpected frame after authentication: field " +
                 std::to_string(frame.body_case()));
        co_return;
    }
  }
}

asio::awaitable<bool> terminal_session::authenticate() {
  const auto self = shared_from_this();
  asio::steady_timer auth_timer(strand_);
  auth_timer.expires_after(gateway_.config().terminal_auth_timeout);
  auto done = std::make_shared<bool>(false);
  auth_timer.async_wait([self, done](std::error_code ec) {
    if (!ec && !*done) self->shutdown("authentication timed out");
  });
  struct stop_timer {
    asio::steady_timer& timer;
    std::shared_ptr<bool> done;
    ~stop_timer() {
      *done = true;
      timer.cancel();
    }
  } guard{auth_timer, done};

  if (gateway_.throttle().locked(remote_)) {
    shutdown("too many failed authentications from this address; try later");
    co_return false;
  }
  v1::TerminalFrame frame;
  if (!co_await read_frame(frame)) co_return false;
  if (!frame.has_hello() || frame.hello().terminal_id().empty()) {
    shutdown("first frame must be a hello with a terminal id");
    co_return false;
  }
  const std::string claimed = frame.hello().terminal_id();
  const auto* terminal = gateway_.service().registry().terminal(claimed);
  boot_id_ = frame.hello().boot_id();

  // Known or not, the terminal gets a challenge and the same answer to a wrong response.
  std::string nonce(32, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size()));
  v1::TerminalFrame challenge;
  challenge.mutable_challenge()->set_nonce(nonce);
  send(challenge);

  if (!co_await read_frame(frame)) co_return false;
  const std::string expected =
      expected_answer(terminal ? terminal->secret() : decoy_secret(), nonce, claimed);
  const bool matches =
      frame.has_auth_answer() && frame.auth_answer().hmac().size() == expected.size() &&
      CRYPTO_memcmp(frame.auth_answer().hmac().data(), expected.data(), expected.size()) == 0;
  if (!terminal || !matches) {
    co_await refuse_authentication(claimed, !terminal                 ? "unknown terminal id"
                                            : frame.has_auth_answer() ? "wrong answer"
                                                                      : "no answer");
    co_return false;
  }
  v1::TerminalFrame result;
  result.mutable_auth_result()->set_ok(true);
  send(result);
  terminal_id_ = claimed;
  elevator_id_ = terminal->elevator_id();
  gateway_.online(terminal_id_, elevator_id_, self);
  co_return true;
}

asio::awaitable<void> terminal_session::refuse_authentication(std::string_view claimed,
                                                              std::string_view why) {
  const auto self = shared_from_this();
  gateway_.throttle().failed(remote_, "terminal", claimed, why);
  // Flushed before closing, so the terminal learns why even when the socket is slow. The challenge
  // may still be on its way out (its write completes after the answer was read): the refusal goes
  // behind it, and the auth timer still bounds the whole wait.
  v1::TerminalFrame result;
  result.mutable_auth_result()->set_ok(false);
  result.mutable_auth_result()->set_reason("authentication failed");
  v1::TerminalFrame bye;
  bye.mutable_goodbye()->set_reason("authentication failed");
  send(result);
  send(bye);
  while (writing_ && !closed_) {
    drained_.expires_at(asio::steady_timer::time_point::max());
    co_await drained_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  said_goodbye_ = true;
  shutdown("authentication failed");
}

asio::awaitable<bool> terminal_session::read_frame(v1::TerminalFrame& frame) {
  for (;;) {
    if (closed_) co_return false;
    boost::system::error_code ec;
    if (decoder_.next(frame, ec)) co_return true;
    if (ec) {
      shutdown("bad frame: " + ec.message() +
               (decoder_.detail().empty() ? std::string{} : ": " + decoder_.detail()));
      co_return false;
    }
    // Terminal frames are small; a small buffer keeps 20 000 idle connections cheap.
    read_buffer_.resize(1024);
    auto [read_ec, n] = co_await socket_.async_read_some(asio::buffer(read_buffer_),
                                                         asio::as_tuple(asio::use_awaitable));
    if (read_ec) {
      shutdown(read_ec == asio::error::eof ? "closed by terminal" : read_ec.message());
      co_return false;
    }
    last_rx_ = std::chrono::steady_clock::now();
    decoder_.feed(std::string_view(read_buffer_.data(), n));
  }
}

asio::awaitable<void> terminal_session::pinger() {
  const auto self = shared_from_this();
  const auto interval = gateway_.config().terminal_ping_interval;
  const auto idle = gateway_.config().terminal_idle_timeout;
  auto last_ping = std::chrono::steady_clock::now();
  std::uint64_t nonce = 0;
  while (!closed_) {
    const auto wake = std::min(last_ping + interval, last_rx_ + idle);
    ping_timer_.expires_at(wake);
    auto [ec] = co_await ping_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || closed_) co_return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_rx_ >= idle) {
      shutdown("idle for " + std::to_string(idle.count()) + " s");
      co_return;
    }
    if (now - last_ping >= interval) {
      v1::TerminalFrame ping;
      ping.mutable_ping()->set_nonce(++nonce);
      send(ping);
      last_ping = now;
    }
  }
}

asio::awaitable<void> terminal_session::handle_event(v1::TerminalEvent event) {
  const auto self = shared_from_this();
  const core::outcome out = co_await gateway_.service().async_submit(
      terminal_command(event, terminal_id_, boot_id_), asio::use_awaitable);
  for (const auto& effect : out.effects) {
    if (const auto* ack = std::get_if<core::fx::ack_terminal>(&effect)) {
      v1::TerminalFrame frame;
      frame.mutable_ack()->set_seq(ack->seq);
      send(frame);
      co_return;
    }
  }
  // Without an ack the terminal resends; a refusal here is a registry or journal problem.
  spdlog::error("terminal {} event seq {} not acknowledged: {}", terminal_id_, event.seq(),
                out.ok() ? std::string("no acknowledgement") : log_safe(out.reason, 256));
}

void terminal_session::send(const v1::TerminalFrame& frame) {
  if (closed_) return;
  if (outbox_.size() >= max_queued_frames) {
    shutdown("terminal does not read: " + std::to_string(outbox_.size()) + " frames queued");
    return;
  }
  std::string bytes;
  if (const auto ec = protocol::append_frame(frame, bytes, gateway_.config().max_frame_bytes)) {
    spdlog::error("terminal {}: cannot frame a reply: {}", terminal_id_, ec.message());
    return;
  }
  outbox_.push_back(std::move(bytes));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(
        strand_, [self = shared_from_this()] { return self->write_loop(); },
        log_if_thrown("terminal writer"));
  }
}

asio::awaitable<void> terminal_session::write_loop() {
  const auto self = shared_from_this();
  while (!outbox_.empty() && !closed_) {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(outbox_.front()),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) {
      shutdown("write failed: " + ec.message());
      break;
    }
    outbox_.pop_front();
  }
  writing_ = false;
  drained_.cancel();
}

void terminal_session::shutdown(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  const bool orderly = reason == "closed by terminal" || reason == "server stopping";
  std::uint64_t suppressed = 0;
  if (!terminal_id_.empty()) {
    if (orderly)
      spdlog::info("terminal {} disconnected: {}", terminal_id_, log_safe(reason, 256));
    else
      spdlog::warn("terminal {} disconnected: {}", terminal_id_, log_safe(reason, 256));
  } else if (unauthenticated_log().allow(suppressed)) {
    spdlog::log(orderly ? spdlog::level::info : spdlog::level::warn,
                "unauthenticated terminal {} disconnected: {}{}", remote_.to_string(),
                log_safe(reason, 256), suppressed_note(suppressed));
  }
  if (!orderly && reason.rfind("idle", 0) != 0)
    gateway_.stats().terminal_rejected_total.fetch_add(1, std::memory_order_relaxed);

  // Best effort goodbye: a non-blocking write of one small frame, never waiting on the peer.
  boost::system::error_code ec;
  v1::TerminalFrame bye;
  bye.mutable_goodbye()->set_reason(reason);
  std::string bytes;
  // Only between frames: a goodbye must not land inside a frame that is half written.
  if (!writing_ && !said_goodbye_ &&
      !protocol::append_frame(bye, bytes, gateway_.config().max_frame_bytes)) {
    socket_.socket().non_blocking(true, ec);
    if (!ec) socket_.write_some(asio::buffer(bytes), ec);
  }
  socket_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.socket().close(ec);
  ping_timer_.cancel();
  gateway_.offline(terminal_id_, this, reason);
}

}  // namespace rescue::dispatcher
