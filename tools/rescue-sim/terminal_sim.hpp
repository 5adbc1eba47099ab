// One simulated car terminal: a TCP connection that authenticates, heartbeats, reports status,
// raises alarms and resends them until the server acknowledges, reconnecting when dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "rescue/protocol/framing.hpp"
#include "rescue/registry.pb.h"
#include "rescue/terminal.pb.h"
#include "stats.hpp"

namespace rescue::sim {

struct terminal_settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9633;
  std::chrono::milliseconds heartbeat{30'000};
  unsigned status_every = 4;               // one StatusReport per this many heartbeats; 0 = none
  std::chrono::seconds ack_timeout{10};    // resend an unacknowledged frame after this
  std::chrono::seconds read_timeout{100};  // > the server's 30 s ping: a silent link is dead
  std::chrono::seconds handshake_timeout{15};
  std::uint32_t max_frame_bytes = 16384;
};

class terminal_sim {
 public:
  terminal_sim(boost::asio::io_context& io, const terminal_settings& settings,
               rescue::v1::Terminal terminal, std::string district_code, stats& st,
               std::uint64_t boot_id);

  // Connects after `delay` (spreads the connection ramp) and keeps reconnecting until stop().
  void start(std::chrono::milliseconds delay);
  void stop();

  // Raises an entrapment or alarm-button event: sent now if connected, else on reconnect.
  void raise_alarm(rescue::v1::TerminalEventCode code);

  bool authenticated() const { return authenticated_; }
  const std::string& elevator_id() const { return terminal_.elevator_id(); }
  const std::string& district_code() const { return district_code_; }

 private:
  struct unacked {
    std::string bytes;  // the framed TerminalFrame, resent unchanged
    stats::clock::time_point first_sent;
    stats::clock::time_point last_sent;
    bool alarm = false;
  };

  boost::asio::awaitable<void> run(std::chrono::milliseconds delay);
  boost::asio::awaitable<bool> connect_and_authenticate();
  boost::asio::awaitable<bool> read_frame(rescue::v1::TerminalFrame& frame,
                                          std::chrono::seconds deadline);
  boost::asio::awaitable<void> heartbeat_loop(std::uint64_t generation);
  boost::asio::awaitable<void> write_loop(std::uint64_t generation);
  void send_bytes(const std::string& bytes);
  void send(const rescue::v1::TerminalFrame& frame);
  void on_frame(const rescue::v1::TerminalFrame& frame);
  void resend_due(bool all);
  rescue::v1::CarStatus car_status(bool trapped) const;

  boost::asio::io_context& io_;
  const terminal_settings& settings_;
  rescue::v1::Terminal terminal_;
  std::string district_code_;
  stats& stats_;
  std::uint64_t boot_id_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer heartbeat_timer_;
  rescue::protocol::frame_decoder decoder_;
  std::string read_buffer_;
  std::string out_;      // frames waiting for the writer
  std::string writing_;  // frames being written
  bool write_active_ = false;
  bool authenticated_ = false;
  bool stopped_ = false;
  bool trapped_ = false;
  std::uint64_t generation_ = 0;  // one per connection: loops of an old connection stop
  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, unacked> unacked_;
  std::uint32_t heartbeats_ = 0;
  std::int32_t floor_ = 1;
};

}  // namespace rescue::sim
