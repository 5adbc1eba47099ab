#include "stats.hpp"

#include <algorithm>
#include <cmath>

#include <spdlog/fmt/fmt.h>

namespace rescue::sim {

void stats::alarm_sent(const std::string& elevator_id, clock::time_point at) {
  pending_alarms_.try_emplace(elevator_id, at);
}

void stats::alarm_acked(clock::duration latency) {
  ++alarms_acked;
  ack_ms_.push_back(std::chrono::duration<double, std::milli>(latency).count());
}

void stats::offer_received(std::uint64_t incident_id, const std::string& elevator_id,
                           rescue::v1::RescueLevel level, clock::time_point at) {
  auto& highest = level_by_incident_[incident_id];
  if (level > highest) highest = level;
  if (!offered_incidents_.insert(incident_id).second) return;
  const auto pending = pending_alarms_.find(elevator_id);
  // No pending alarm: the incident predates this run (recovered by the server) or merged.
  if (pending == pending_alarms_.end()) return;
  offer_ms_.push_back(std::chrono::duration<double, std::milli>(at - pending->second).count());
  pending_alarms_.erase(pending);
}

void stats::fire_escalated(std::uint64_t incident_id) {
  ++fire_escalations;
  level_by_incident_[incident_id] = rescue::v1::LEVEL_3_FIRE;
}

void stats::crew_arrived(std::uint64_t incident_id, double simulated_s) {
  arrival_s_.try_emplace(incident_id, simulated_s);
}

void stats::fire_arrived(std::uint64_t incident_id, double simulated_s) {
  if (arrival_s_.try_emplace(incident_id, simulated_s).second) ++fire_first_;
}

double stats::percentile(std::vector<double> samples_ms, double p) {
  if (samples_ms.empty()) return std::nan("");
  std::sort(samples_ms.begin(), samples_ms.end());
  // Nearest rank: the smallest sample with at least p of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples_ms.size())));
  return samples_ms[std::clamp<std::size_t>(rank, 1, samples_ms.size()) - 1];
}

void stats::print(std::FILE* out) const {
  const auto ms = [](double v) {
    if (std::isnan(v)) return std::string("n/a");
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v);
    return std::string(text);
  };
  std::fprintf(out, "\n== rescue-sim outcome after %.1f s ==\n", run_seconds);
  fmt::print(out,
             "terminals: {} authenticated at the end (all connected in {:.1f} s), {} auth "
             "failures, {} disconnects, {} goodbyes\n",
             terminals_authenticated, connect_seconds, terminal_auth_failures, terminal_disconnects,
             terminal_goodbyes);
  fmt::print(out,
             "frames: {} heartbeats, {} status ({} acked), {} pings answered, {} events resent\n",
             heartbeats_sent, statuses_sent, statuses_acked, pings_answered, events_resent);
  fmt::print(
      out, "alarms sent: {} terminal ({} in the burst), {} phone calls ({} accepted, {} failed)\n",
      alarms_sent, burst_alarms_sent, calls_sent, calls_accepted, calls_failed);
  fmt::print(out, "alarms acknowledged: {} of {}; ack latency p50 {} ms, p99 {} ms (n={})\n",
             alarms_acked, alarms_sent, ms(percentile(ack_ms_, 0.50)),
             ms(percentile(ack_ms_, 0.99)), ack_ms_.size());
  std::fprintf(out,
               "alarm to offer: p50 %s ms, p99 %s ms (n=%zu incidents offered, %zu alarms still "
               "without an offer)\n",
               ms(percentile(offer_ms_, 0.50)).c_str(), ms(percentile(offer_ms_, 0.99)).c_str(),
               offer_ms_.size(), pending_alarms_.size());
  fmt::print(out,
             "crews: {} connected at the end, {} offers, {} accepted ({} refused), {} declined, {} "
             "left to expire, {} withdrawn, {} released\n",
             crews_connected, offers_received, accepts_sent, accepts_refused, declines_sent,
             offers_ignored, withdrawals, releases);
  std::size_t within30 = 0;
  std::vector<double> arrival_min;
  for (const auto& [id, s] : arrival_s_) {
    arrival_min.push_back(s / 60.0);
    if (s <= 30 * 60) ++within30;
  }
  double mean = 0;
  for (double m : arrival_min)
    mean += m;
  if (!arrival_min.empty()) mean /= static_cast<double>(arrival_min.size());
  std::fprintf(out,
               "incidents with arrival: %zu (%llu by fire first); within 30 simulated minutes: %zu "
               "(%.1f %%); mean %.1f min, p90 %s min\n",
               arrival_s_.size(), static_cast<unsigned long long>(fire_first_), within30,
               arrival_s_.empty()
                   ? 0.0
                   : 100.0 * static_cast<double>(within30) / static_cast<double>(arrival_s_.size()),
               mean, ms(percentile(arrival_min, 0.90)).c_str());
  std::size_t levels[4] = {0, 0, 0, 0};
  for (const auto& [id, level] : level_by_incident_)
    if (level >= 1 && level <= 3) ++levels[level];
  std::fprintf(out,
               "levels used (highest per incident): level 1 %zu, level 2 %zu, level 3 (fire) %zu\n",
               levels[1], levels[2], levels[3]);
  fmt::print(out, "fire escalations: {} (acknowledged {}, arrival reported {}, failed calls {})\n",
             fire_escalations, fire_acks_ok, fire_arrivals_ok, fire_calls_failed);
  if (steady_frames_per_s_sent >= 0)
    std::fprintf(out,
                 "terminal frames/s, steady window of %.1f s: %.0f written (%.0f heartbeats/s), "
                 "%.0f acknowledged by the server (status reports and events)\n",
                 steady_window_s, steady_frames_per_s_sent, steady_heartbeats_per_s,
                 steady_frames_per_s_acked);
  if (steady_events_per_s_server >= 0 || run_events_per_s_server >= 0)
    std::fprintf(
        out,
        "server terminal_frames_total (every frame received): %.1f/s in the steady window, %.1f/s "
        "over the whole traffic phase\n",
        steady_events_per_s_server, run_events_per_s_server);
  if (server_rss_before_kb >= 0) {
    std::fprintf(
        out, "server VmRSS: %ld kB before terminals, %ld kB with %llu terminals, %ld kB at the end",
        server_rss_before_kb, server_rss_after_connect_kb,
        static_cast<unsigned long long>(terminals_at_rss), server_rss_end_kb);
    if (terminals_at_rss > 0)
      std::fprintf(out, "; %.1f kB per terminal connection",
                   static_cast<double>(server_rss_after_connect_kb - server_rss_before_kb) /
                       static_cast<double>(terminals_at_rss));
    std::fprintf(out, "\n");
  }
}

}  // namespace rescue::sim
