// A stand-in for the fire centre (119): receives the server's escalation webhooks on loopback,
// acknowledges each escalation and later reports fire rescue on site.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "stats.hpp"

namespace rescue::sim {

struct fire_settings {
  std::uint16_t listen_port = 0;  // on 127.0.0.1
  std::string server_host = "127.0.0.1";
  std::uint16_t server_http_port = 8096;
  std::string inbound_token;                  // [fire] inbound_token of the server
  std::chrono::milliseconds ack_delay{2000};  // real time before acknowledging
  double arrival_after_s = 900;  // simulated seconds from the escalation to fire on site
  double time_scale = 20.0;
  std::chrono::seconds read_timeout{30};
};

class fire_receiver {
 public:
  fire_receiver(boost::asio::io_context& io, const fire_settings& settings, stats& st);

  // Binds 127.0.0.1:listen_port (throws when it cannot) and starts accepting.
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> respond_to(std::uint64_t incident_id, std::int64_t alarm_at_ms);
  // The incident id of an escalation body, 0 when it is not one.
  static std::uint64_t incident_of(const std::string& body, std::int64_t& alarm_at_ms);

  boost::asio::io_context& io_;
  const fire_settings& settings_;
  stats& stats_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<std::uint64_t> seen_;  // the outbox delivers at least once
  bool stopped_ = false;
};

}  // namespace rescue::sim
