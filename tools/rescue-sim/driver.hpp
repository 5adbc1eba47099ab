// Runs a simulation against a live rescue-dispatchd: crews connect, terminals ramp up, then
// Poisson alarms, phone calls and an optional district burst until the run ends; prints outcomes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "crew_sim.hpp"
#include "fire_receiver.hpp"
#include "rescue/storage/registry.hpp"
#include "stats.hpp"
#include "terminal_sim.hpp"

namespace rescue::sim {

struct drive_options {
  std::string registry_dir;
  std::string host = "127.0.0.1";
  std::uint16_t terminal_port = 9633;
  std::uint16_t http_port = 8096;
  // More instances of a sharded city: terminal i connects to the i-th port of terminal_port and
  // these, round robin, and crew j's phone to the j-th of http_port and http_ports.
  std::vector<std::uint16_t> terminal_ports;
  std::vector<std::uint16_t> http_ports;
  // Defaults are the sample deploy/rescue-dispatchd.toml's values, so the demo needs no flags.
  std::string crew_secret = "change-me-sample-crew-secret";
  std::string fire_token = "sample-fire-centre-token-01";
  std::string operator_token = "sample-operator-token-0001";
  std::size_t terminals = 0;   // 0 = every terminal of the registry
  double connect_rate = 2000;  // new terminal connections per second during the ramp
  double heartbeat_s = 30;
  unsigned status_every = 4;
  double alarm_rate = 0.1;     // terminal alarms per second over all terminals
  double calls_rate = 0.02;    // phone calls per second through the console API
  double injured_prob = 0.05;  // share of phone calls reporting someone injured (fire at once)
  std::string burst_district;  // empty: the burst hits every district
  double burst_at_s = -1;      // < 0: no burst
  double burst_rate = 0;
  double burst_s = 0;
  double accept_prob = 0.8;
  double decline_prob = 0.1;
  double speed_kmh = 25;
  double time_scale = 20;
  double release_after_s = 600;
  double duration_s = 120;      // traffic phase, after every terminal connected
  std::uint16_t fire_port = 0;  // 0: no fire-centre receiver
  double fire_arrival_after_s = 900;
  std::uint64_t seed = 96333;
  int server_pid = 0;
  double connect_timeout_s = 120;
  bool crews = true;
};

class driver {
 public:
  explicit driver(drive_options options);
  // Runs to the end of the traffic phase and prints the outcome; returns the exit status.
  int run();

 private:
  boost::asio::awaitable<void> phases();
  boost::asio::awaitable<void> alarm_generator();
  boost::asio::awaitable<void> call_generator();
  boost::asio::awaitable<void> burst();
  boost::asio::awaitable<void> progress();
  boost::asio::awaitable<double> scrape_frames_total();
  boost::asio::awaitable<void> sleep(std::chrono::steady_clock::duration d);
  terminal_sim* pick_idle_terminal();
  void raise_limits(std::size_t connections) const;
  long server_rss_kb() const;
  double exponential(double rate);
  void stop_all();

  boost::asio::io_context io_{1};  // first member: destroyed last, after everything using it
  drive_options options_;
  terminal_settings terminal_settings_;
  crew_settings crew_settings_;
  // One per further instance (drive_options::terminal_ports, http_ports); deques keep the
  // references the simulated terminals and crews hold.
  std::deque<terminal_settings> more_terminal_settings_;
  std::deque<crew_settings> more_crew_settings_;
  fire_settings fire_settings_;
  stats stats_;
  std::mt19937_64 random_;
  rescue::storage::registry registry_;
  std::vector<std::unique_ptr<terminal_sim>> terminals_;
  std::vector<std::unique_ptr<crew_sim>> crews_;
  std::unique_ptr<fire_receiver> fire_;
  std::unordered_set<std::string> busy_elevators_;  // alarm raised, people not yet released
  bool running_ = false;
  int exit_status_ = 0;
};

}  // namespace rescue::sim
