#include "terminal_sim.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include "rescue/dispatcher/spawn.hpp"

namespace rescue::sim {

namespace asio = boost::asio;
namespace v1 = rescue::v1;
using std::chrono::milliseconds;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

terminal_sim::terminal_sim(asio::io_context& io, const terminal_settings& settings,
                           v1::Terminal terminal, std::string district_code, stats& st,
                           std::uint64_t boot_id)
    : io_(io),
      settings_(settings),
      terminal_(std::move(terminal)),
      district_code_(std::move(district_code)),
      stats_(st),
      boot_id_(boot_id),
      stream_(io),
      heartbeat_timer_(io),
      decoder_(settings.max_frame_bytes) {
  // The registry's elevator index gives each car a plausible resting floor.
  floor_ = static_cast<std::int32_t>(boot_id_ % 18) + 1;
}

void terminal_sim::start(milliseconds delay) {
  asio::co_spawn(io_, run(delay), rescue::dispatcher::log_if_thrown("terminal sim run"));
}

void terminal_sim::stop() {
  stopped_ = true;
  heartbeat_timer_.cancel();
  stream_.cancel();
  boost::system::error_code ignored;
  stream_.socket().close(ignored);
}

void terminal_sim::raise_alarm(v1::TerminalEventCode code) {
  v1::TerminalFrame frame;
  auto* event = frame.mutable_event();
  event->set_seq(next_seq_++);
  event->set_code(code);
  event->set_occurred_at_ms(wall_ms());
  *event->mutable_status() = car_status(true);
  trapped_ = true;
  unacked u;
  protocol::append_frame(frame, u.bytes, settings_.max_frame_bytes);
  u.first_sent = u.last_sent = stats::clock::now();
  u.alarm = true;
  ++stats_.alarms_sent;
  stats_.alarm_sent(elevator_id(), u.first_sent);
  if (authenticated_) send_bytes(u.bytes);
  unacked_.emplace(event->seq(), std::move(u));
}

v1::CarStatus terminal_sim::car_status(bool trapped) const {
  v1::CarStatus s;
  s.set_service_mode(v1::SERVICE_NORMAL);
  s.set_floor(floor_);
  s.set_in_door_zone(!trapped);
  s.set_direction(v1::DIRECTION_STOPPED);
  s.set_door(v1::DOOR_CLOSED);
  s.set_occupied(trapped);
  s.set_reported_at_ms(wall_ms());
  return s;
}

asio::awaitable<void> terminal_sim::run(milliseconds delay) {
  asio::steady_timer wait(io_);
  wait.expires_after(delay);
  co_await wait.async_wait(tuple);
  milliseconds backoff{1000};
  while (!stopped_) {
    if (co_await connect_and_authenticate()) {
      backoff = milliseconds{1000};
      const std::uint64_t generation = generation_;
      asio::co_spawn(io_, heartbeat_loop(generation),
                     rescue::dispatcher::log_if_thrown("terminal sim heartbeat loop"));
      // Whatever the last connection left unacknowledged goes again, same boot id and seq.
      resend_due(true);
      v1::TerminalFrame frame;
      while (co_await read_frame(frame, settings_.read_timeout))
        on_frame(frame);
      ++stats_.terminal_disconnects;
    }
    if (authenticated_) --stats_.terminals_authenticated;
    authenticated_ = false;
    ++generation_;
    heartbeat_timer_.cancel();
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    if (stopped_) break;
    // Spread reconnects so that a server restart is not met by every terminal at once.
    wait.expires_after(backoff + milliseconds(boot_id_ % 1000));
    co_await wait.async_wait(tuple);
    backoff = std::min(backoff * 2, milliseconds{30'000});
  }
}

asio::awaitable<bool> terminal_sim::connect_and_authenticate() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(settings_.host, ec);
  if (ec) co_return false;
  decoder_ = protocol::frame_decoder(settings_.max_frame_bytes);
  out_.clear();
  write_active_ = false;
  stream_.expires_after(settings_.handshake_timeout);
  if (auto [c_ec] =
          co_await stream_.async_connect(asio::ip::tcp::endpoint(address, settings_.port), tuple);
      c_ec)
    co_return false;

  v1::TerminalFrame hello;
  hello.mutable_hello()->set_terminal_id(terminal_.id());
  hello.mutable_hello()->set_firmware("rescue-sim");
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_boot_id(boot_id_);
  std::string bytes;
  protocol::append_frame(hello, bytes, settings_.max_frame_bytes);
  if (auto [w_ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), tuple); w_ec)
    co_return false;

  v1::TerminalFrame frame;
  if (!co_await read_frame(frame, settings_.handshake_timeout) || !frame.has_challenge())
    co_return false;
  const std::string message = frame.challenge().nonce() + terminal_.id();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), terminal_.secret().data(), static_cast<int>(terminal_.secret().size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  v1::TerminalFrame answer;
  answer.mutable_auth_answer()->set_hmac(reinterpret_cast<const char*>(mac), mac_len);
  bytes.clear();
  protocol::append_frame(answer, bytes, settings_.max_frame_bytes);
  if (auto [w_ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), tuple); w_ec)
    co_return false;
  if (!co_await read_frame(frame, settings_.handshake_timeout) || !frame.has_auth_result())
    co_return false;
  if (!frame.auth_result().ok()) {
    ++stats_.terminal_auth_failures;
    std::fprintf(stderr, "terminal %s: authentication refused: %s\n", terminal_.id().c_str(),
                 frame.auth_result().reason().c_str());
    stopped_ = true;  // a wrong secret does not heal by retrying
    co_return false;
  }
  authenticated_ = true;
  ++stats_.terminals_authenticated;
  co_return true;
}

asio::awaitable<bool> terminal_sim::read_frame(v1::TerminalFrame& frame,
                                               std::chrono::seconds deadline) {
  for (;;) {
    boost::system::error_code ec;
    if (decoder_.next(frame, ec)) co_return true;
    if (ec) {
      std::fprintf(stderr, "terminal %s: bad frame from server: %s\n", terminal_.id().c_str(),
                   ec.message().c_str());
      co_return false;
    }
    read_buffer_.resize(1024);
    // Every read has a deadline: the server pings every 30 s, so silence means a dead link.
    stream_.expires_after(deadline);
    auto [r_ec, n] = co_await stream_.async_read_some(asio::buffer(read_buffer_), tuple);
    if (r_ec) co_return false;
    decoder_.feed(std::string_view(read_buffer_.data(), n));
  }
}

void terminal_sim::on_frame(const v1::TerminalFrame& frame) {
  switch (frame.body_case()) {
    case v1::TerminalFrame::kAck: {
      const auto it = unacked_.find(frame.ack().seq());
      if (it == unacked_.end()) break;  // a late duplicate ack
      if (it->second.alarm)
        stats_.alarm_acked(stats::clock::now() - it->second.first_sent);
      else
        ++stats_.statuses_acked;
      unacked_.erase(it);
      break;
    }
    case v1::TerminalFrame::kPing: {
      v1::TerminalFrame pong;
      pong.mutable_pong()->set_nonce(frame.ping().nonce());
      send(pong);
      ++stats_.pings_answered;
      break;
    }
    case v1::TerminalFrame::kGoodbye:
      ++stats_.terminal_goodbyes;
      std::fprintf(stderr, "terminal %s: goodbye: %s\n", terminal_.id().c_str(),
                   frame.goodbye().reason().c_str());
      break;
    default:
      break;
  }
}

asio::awaitable<void> terminal_sim::heartbeat_loop(std::uint64_t generation) {
  // Ticks at most every 5 s so that resends are not held back by a long heartbeat interval.
  const auto tick = std::min<milliseconds>(settings_.heartbeat, milliseconds{5000});
  auto next_heartbeat =
      stats::clock::now() +
      milliseconds(boot_id_ % std::max<std::int64_t>(1, settings_.heartbeat.count()));
  while (!stopped_ && generation == generation_) {
    heartbeat_timer_.expires_at(std::min(next_heartbeat, stats::clock::now() + tick));
    co_await heartbeat_timer_.async_wait(tuple);
    if (stopped_ || generation != generation_) co_return;
    const auto now = stats::clock::now();
    if (now >= next_heartbeat) {
      next_heartbeat += settings_.heartbeat;
      if (next_heartbeat < now) next_heartbeat = now + settings_.heartbeat;
      ++heartbeats_;
      if (settings_.status_every > 0 && heartbeats_ % settings_.status_every == 0) {
        v1::TerminalFrame frame;
        frame.mutable_status()->set_seq(next_seq_++);
        *frame.mutable_status()->mutable_status() = car_status(trapped_);
        unacked u;
        protocol::append_frame(frame, u.bytes, settings_.max_frame_bytes);
        u.first_sent = u.last_sent = now;
        send_bytes(u.bytes);
        unacked_.emplace(frame.status().seq(), std::move(u));
        ++stats_.statuses_sent;
      } else {
        v1::TerminalFrame frame;
        frame.mutable_heartbeat()->set_sent_at_ms(wall_ms());
        send(frame);
        ++stats_.heartbeats_sent;
      }
    }
    resend_due(false);
  }
}

void terminal_sim::resend_due(bool all) {
  const auto now = stats::clock::now();
  for (auto& [seq, u] : unacked_) {
    if (!all && now - u.last_sent < settings_.ack_timeout) continue;
    u.last_sent = now;
    send_bytes(u.bytes);
    if (u.alarm) ++stats_.events_resent;
  }
}

void terminal_sim::send(const v1::TerminalFrame& frame) {
  if (!authenticated_) return;
  protocol::append_frame(frame, out_, settings_.max_frame_bytes);
  if (!write_active_) {
    write_active_ = true;
    asio::co_spawn(io_, write_loop(generation_),
                   rescue::dispatcher::log_if_thrown("terminal sim write loop"));
  }
}

void terminal_sim::send_bytes(const std::string& bytes) {
  if (!authenticated_) return;
  out_ += bytes;
  if (!write_active_) {
    write_active_ = true;
    asio::co_spawn(io_, write_loop(generation_),
                   rescue::dispatcher::log_if_thrown("terminal sim write loop"));
  }
}

asio::awaitable<void> terminal_sim::write_loop(std::uint64_t generation) {
  // Single writer: frames queued while a write is in flight go out together in the next one.
  while (!out_.empty() && generation == generation_ && !stopped_) {
    writing_.swap(out_);
    out_.clear();
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(writing_), tuple);
    writing_.clear();
    if (ec) break;  // the reader notices the broken link and reconnects
  }
  if (generation == generation_) write_active_ = false;
}

}  // namespace rescue::sim
