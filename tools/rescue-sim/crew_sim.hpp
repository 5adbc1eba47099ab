// One simulated crew phone: a WebSocket that sends its position, receipts every message, answers
// offers with the configured probabilities, then travels, arrives and releases the people.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "rescue/crew.pb.h"
#include "rescue/registry.pb.h"
#include "stats.hpp"

namespace rescue::sim {

struct crew_settings {
  std::string host = "127.0.0.1";
  std::uint16_t http_port = 8096;
  std::string token_secret;
  double accept_prob = 0.8;
  double decline_prob = 0.1;  // the rest of the offers are left to expire
  double speed_kmh = 25.0;
  double road_factor = 1.4;  // the server's ETA model uses the same factor by default
  double time_scale = 20.0;  // simulated seconds per real second while travelling and rescuing
  double release_after_s = 600.0;  // simulated seconds on site before the people are out
  std::chrono::seconds location_every{30};
  std::chrono::milliseconds decide_min{1000};
  std::chrono::milliseconds decide_max{6000};
  std::chrono::seconds idle_timeout{90};  // read deadline: the server pings an idle phone at 30 s
};

class crew_sim {
 public:
  // Called when the crew reports the people released (the driver frees the elevator).
  using released_fn =
      std::function<void(std::uint64_t incident_id, const std::string& elevator_id)>;

  crew_sim(boost::asio::io_context& io, const crew_settings& settings,
           const rescue::v1::CrewMember& crew, stats& st, std::uint64_t seed,
           released_fn on_released);

  void start(std::chrono::milliseconds delay);
  void stop();
  bool connected() const { return connected_; }

 private:
  using ws_stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;

  struct job {
    std::uint64_t incident_id = 0;
    std::string elevator_id;
    rescue::v1::GeoPoint target;
    std::int64_t alarm_at_ms = 0;
    bool accepted = false;  // the server confirmed our accept
  };

  boost::asio::awaitable<void> run(std::chrono::milliseconds delay);
  boost::asio::awaitable<bool> connect();
  boost::asio::awaitable<void> location_loop(std::uint64_t generation);
  boost::asio::awaitable<void> write_loop(std::uint64_t generation);
  boost::asio::awaitable<void> decide(rescue::v1::JobOffer offer);
  boost::asio::awaitable<void> work(std::uint64_t incident_id);
  void on_message(const rescue::v1::CrewServerMessage& message);
  void on_notice(const std::string& text);
  void send(const rescue::v1::CrewClientMessage& message);
  void send_location();
  rescue::v1::GeoPoint position_now() const;
  double uniform();

  boost::asio::io_context& io_;
  const crew_settings& settings_;
  std::string crew_id_;
  stats& stats_;
  std::mt19937_64 random_;
  released_fn on_released_;
  std::optional<ws_stream> ws_;  // fresh per connection: a failed WebSocket is not reusable
  boost::asio::steady_timer location_timer_;
  boost::asio::steady_timer job_timer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool connected_ = false;
  bool stopped_ = false;
  std::uint64_t generation_ = 0;
  std::uint64_t highest_seq_ = 0;        // resends after a reconnect repeat seqs we have seen
  std::set<std::uint64_t> open_offers_;  // offered, not yet answered or withdrawn

  // Position and the current trip: position_now() interpolates while travelling.
  rescue::v1::GeoPoint position_;
  rescue::v1::GeoPoint trip_from_;
  stats::clock::time_point trip_start_{};
  stats::clock::duration trip_real_{};
  bool travelling_ = false;
  job job_;
};

}  // namespace rescue::sim
