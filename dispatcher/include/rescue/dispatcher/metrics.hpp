// Process-wide counters, gauges and histograms, rendered in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rescue::dispatcher {

// Lock-free: updated from any thread, read by /metrics.
class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds_s);
  void observe(std::chrono::nanoseconds d);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // one per bound, plus +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct metrics {
  std::atomic<std::uint64_t> alarms_total{0};  // alarms received (terminal and calls)
  std::atomic<std::uint64_t> incidents_opened_total{0};
  std::atomic<std::uint64_t> offers_total{0};
  std::atomic<std::uint64_t> escalations_total{0};  // level 2 and fire
  std::atomic<std::uint64_t> fire_escalations_total{0};
  std::atomic<std::uint64_t> late_arrivals_total{0};
  std::atomic<std::uint64_t> commands_refused_total{0};
  std::atomic<std::uint64_t> terminal_frames_total{0};
  std::atomic<std::uint64_t> terminal_duplicates_total{0};
  // Sequence numbers that did not follow on (gaps, numbers going back, a repeated number with a
  // new event): decided as new events all the same, counted so a broken terminal shows.
  std::atomic<std::uint64_t> terminal_seq_gaps_total{0};
  std::atomic<std::uint64_t> terminal_seq_backwards_total{0};
  std::atomic<std::uint64_t> terminal_rejected_total{0};  // failed auth or bad frames
  // Fault records (FaultRecorded) by TerminalEventCode number; codes beyond the array are not
  // counted here (they are journalled all the same).
  std::array<std::atomic<std::uint64_t>, 64> terminal_faults_total{};
  std::atomic<std::uint64_t> crew_messages_total{0};
  std::atomic<std::uint64_t> crew_positions_refused_total{0};  // impossible or future fixes
  std::atomic<std::uint64_t> crew_positions_flushed_total{0};  // rows handed to the store
  std::atomic<std::uint64_t> crew_position_flush_failures_total{0};
  std::atomic<std::uint64_t> webhook_failures_total{0};
  std::atomic<std::uint64_t> auth_failures_total{0};   // every channel, every address
  std::atomic<std::uint64_t> auth_throttled_total{0};  // attempts refused while locked out
  std::atomic<std::uint64_t> terminal_connections_refused_total{0};  // over a cap
  std::atomic<std::uint64_t> http_connections_refused_total{0};      // over a cap
  std::atomic<std::uint64_t> accept_failures_total{0};  // both listeners, EMFILE and the like
  std::atomic<std::int64_t> open_incidents{0};
  std::atomic<std::int64_t> terminal_connections{0};
  std::atomic<std::int64_t> crew_connections{0};
  std::atomic<std::int64_t> console_connections{0};
  std::atomic<std::int64_t> http_connections{0};  // console port, WebSockets included
  std::atomic<std::int64_t> outbox_pending{0};
  histogram journal_commit_seconds{{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1}};
  histogram alarm_to_offer_seconds{
      {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}};
  // The KPIs of the report (docs/reports.md), live: alarm to the first crew accepting, and alarm
  // to the first rescuer on site, in the journal's server time.
  histogram response_seconds{{60, 120, 180, 300, 600, 900, 1800, 3600}};
  histogram arrival_seconds{{60, 180, 300, 600, 900, 1200, 1800, 2700, 3600}};

  std::string render() const;
};

}  // namespace rescue::dispatcher
