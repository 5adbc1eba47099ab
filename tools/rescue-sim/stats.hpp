// What a simulator run observed: counters, latency samples and per-incident outcomes, printed at
// the end. Single-threaded: everything runs on the simulator's one io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rescue/common.pb.h"

namespace rescue::sim {

// Wall-clock milliseconds since the Unix epoch: the clock the server stamps its records with.
inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class stats {
 public:
  using clock = std::chrono::steady_clock;

  // ---- terminals ----
  std::uint64_t terminals_authenticated = 0;  // currently connected and authenticated
  std::uint64_t terminal_auth_failures = 0;
  std::uint64_t terminal_disconnects = 0;
  std::uint64_t terminal_goodbyes = 0;
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t statuses_sent = 0;
  std::uint64_t statuses_acked = 0;
  std::uint64_t events_resent = 0;
  std::uint64_t pings_answered = 0;
  std::uint64_t alarms_sent = 0;  // terminal events raising an alarm (first send only)
  std::uint64_t alarms_acked = 0;
  std::uint64_t burst_alarms_sent = 0;

  // ---- console calls ----
  std::uint64_t calls_sent = 0;
  std::uint64_t calls_accepted = 0;  // 200 or 201
  std::uint64_t calls_failed = 0;

  // ---- crews ----
  std::uint64_t crews_connected = 0;  // currently
  std::uint64_t crew_connect_failures = 0;
  std::uint64_t offers_received = 0;  // every offer message (re-offers and resends excluded)
  std::uint64_t accepts_sent = 0;
  std::uint64_t accepts_refused = 0;
  std::uint64_t declines_sent = 0;
  std::uint64_t offers_ignored = 0;  // left to expire
  std::uint64_t withdrawals = 0;
  std::uint64_t releases = 0;

  // ---- fire centre ----
  std::uint64_t fire_escalations = 0;  // distinct incidents
  std::uint64_t fire_acks_ok = 0;
  std::uint64_t fire_arrivals_ok = 0;
  std::uint64_t fire_calls_failed = 0;

  // An alarm left the simulator for this elevator (terminal event or console call). Only the
  // earliest unmatched alarm per elevator is kept: a second one merges into the same incident.
  void alarm_sent(const std::string& elevator_id, clock::time_point at);
  void alarm_acked(clock::duration latency);
  // A crew received an offer. The first offer of each incident closes its alarm-to-offer sample.
  void offer_received(std::uint64_t incident_id, const std::string& elevator_id,
                      rescue::v1::RescueLevel level, clock::time_point at);
  void fire_escalated(std::uint64_t incident_id);
  // Alarm to crew on site in simulated seconds (travel expanded by the time scale).
  void crew_arrived(std::uint64_t incident_id, double simulated_s);
  void fire_arrived(std::uint64_t incident_id, double simulated_s);

  // Whether the elevator has an alarm in flight the simulator has not seen an offer for.
  bool awaiting_offer(const std::string& elevator_id) const {
    return pending_alarms_.contains(elevator_id);
  }

  // Prints the outcome block. frames_per_s and rss come from the caller (server side).
  void print(std::FILE* out) const;

  static double percentile(std::vector<double> samples_ms, double p);

  // Filled in by the driver before print().
  double run_seconds = 0;
  // The server's terminal_frames_total counts only TerminalEvents (dispatch_service), so the
  // frame rate is measured here: frames written to the sockets, and those the server acked.
  double steady_events_per_s_server = -1;  // from /metrics terminal_frames_total, -1 unknown
  double steady_frames_per_s_sent = -1;    // heartbeats, statuses, events and pongs written
  double steady_frames_per_s_acked = -1;   // statuses and events acknowledged
  double steady_heartbeats_per_s = -1;
  double steady_window_s = 0;
  double run_events_per_s_server = -1;
  long server_rss_before_kb = -1;
  long server_rss_after_connect_kb = -1;
  long server_rss_end_kb = -1;
  std::uint64_t terminals_at_rss = 0;
  double connect_seconds = 0;

  // Samples for the steady-state frame rate (the driver reads these counters twice).
  std::uint64_t acked_frames() const { return statuses_acked + alarms_acked; }
  std::uint64_t sent_frames() const {
    return heartbeats_sent + statuses_sent + alarms_sent + events_resent + pings_answered;
  }

 private:
  std::unordered_map<std::string, clock::time_point> pending_alarms_;
  std::vector<double> ack_ms_;
  std::vector<double> offer_ms_;
  std::unordered_set<std::uint64_t> offered_incidents_;
  std::map<std::uint64_t, rescue::v1::RescueLevel> level_by_incident_;
  std::map<std::uint64_t, double> arrival_s_;  // first arrival (crew or fire) per incident
  std::uint64_t fire_first_ = 0;               // incidents where fire arrived first
};

}  // namespace rescue::sim
