// One car terminal's connection: challenge-response authentication, then frames in, acks out
// once durable, pings every interval, and a drop when the link goes idle.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "rescue/core/incident_core.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/tls.hpp"
#include "rescue/protocol/framing.hpp"
#include "rescue/terminal.pb.h"

namespace rescue::dispatcher {

namespace asio = boost::asio;
class terminal_gateway;

// The core command an event frame from the authenticated terminal `terminal_id` asks for. Pure,
// so the translation can be tested and fuzzed without a socket.
core::cmd::terminal_event terminal_command(const rescue::v1::TerminalEvent& event,
                                           const std::string& terminal_id, std::uint64_t boot_id);

class terminal_session : public std::enable_shared_from_this<terminal_session> {
 public:
  // `slot` is the connection's place in the gateway's caps; `remote` its client address.
  terminal_session(asio::ip::tcp::socket socket, terminal_gateway& gateway, connection_slot slot,
                   asio::ip::address remote);

  void start();
  // Sends a goodbye with `reason` (best effort) and closes; safe from any thread.
  void close(std::string reason);

  // Computes the answer a terminal must give to a challenge: HMAC-SHA256(secret, nonce || id).
  static std::string expected_answer(const std::string& secret, const std::string& nonce,
                                     const std::string& terminal_id);

 private:
  asio::awaitable<void> run();
  asio::awaitable<bool> authenticate();
  asio::awaitable<void> refuse_authentication(std::string_view claimed, std::string_view why);
  asio::awaitable<bool> read_frame(rescue::v1::TerminalFrame& frame);
  asio::awaitable<void> pinger();
  asio::awaitable<void> handle_event(rescue::v1::TerminalEvent event);
  asio::awaitable<void> write_loop();
  void send(const rescue::v1::TerminalFrame& frame);
  void shutdown(const std::string& reason);

  asio::strand<asio::any_io_executor> strand_;
  terminal_stream socket_;  // plain TCP or TLS, per tls.terminal
  terminal_gateway& gateway_;
  connection_slot slot_;
  asio::ip::address remote_;
  protocol::frame_decoder decoder_;
  asio::steady_timer ping_timer_;
  // Woken (cancelled) each time the writer finishes, for a refusal that must follow what is queued.
  asio::steady_timer drained_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  bool said_goodbye_ = false;
  std::string terminal_id_;
  std::string elevator_id_;
  std::uint64_t boot_id_ = 0;
  std::chrono::steady_clock::time_point last_rx_;
  std::string read_buffer_;
};

}  // namespace rescue::dispatcher
