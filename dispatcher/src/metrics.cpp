#include "rescue/dispatcher/metrics.hpp"

#include <cstdio>
#include <string_view>

#include "rescue/common.pb.h"
#include "rescue/core/incident_core.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/dispatcher/tls.hpp"

namespace rescue::dispatcher {
namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The HELP and TYPE header of a metric family; `full` is the name with its "rescue_" prefix.
void header(std::string& out, std::string_view full, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out.append(full).append(" ").append(help);
  out += "\n# TYPE ";
  out.append(full).append(" ").append(type);
  out += '\n';
}

void line(std::string& out, const char* name, const char* type, const char* help,
          const std::string& value) {
  const std::string full = std::string("rescue_") + name;
  header(out, full, type, help);
  out += full + " " + value + "\n";
}

}  // namespace

histogram::histogram(std::vector<double> upper_bounds_s)
    : bounds_(std::move(upper_bounds_s)), buckets_(bounds_.size() + 1) {}

void histogram::observe(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  std::size_t i = 0;
  while (i < bounds_.size() && s > bounds_[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
}

void histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  const std::string full = "rescue_" + name;
  header(out, full, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += full + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  out += full + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += full + "_sum " + number(static_cast<double>(sum_ns_.load()) / 1e9) + "\n";
  out += full + "_count " + std::to_string(count_.load()) + "\n";
}

std::string metrics::render() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    line(out, name, "counter", help, std::to_string(v.load(std::memory_order_relaxed)));
  };
  auto gauge = [&](const char* name, const char* help, const std::atomic<std::int64_t>& v) {
    line(out, name, "gauge", help, std::to_string(v.load(std::memory_order_relaxed)));
  };
  counter("alarms_total", "Alarms received from terminals and calls.", alarms_total);
  counter("incidents_opened_total", "Incidents opened.", incidents_opened_total);
  counter("offers_total", "Job offers pushed to crews.", offers_total);
  counter("escalations_total", "Escalations to level 2 or fire rescue.", escalations_total);
  counter("fire_escalations_total", "Escalations to fire rescue (119).", fire_escalations_total);
  counter("late_arrivals_total", "Arrivals after the arrival target.", late_arrivals_total);
  counter("commands_refused_total", "Commands the incident core refused.", commands_refused_total);
  counter("terminal_frames_total", "Frames received from car terminals.", terminal_frames_total);
  counter("terminal_duplicates_total", "Terminal frames dropped as resends of durable ones.",
          terminal_duplicates_total);
  counter("terminal_seq_gaps_total",
          "Terminal events whose sequence number skipped ahead; decided as new events.",
          terminal_seq_gaps_total);
  counter("terminal_seq_backwards_total",
          "Terminal events whose sequence number went back or repeated with a different event; "
          "decided as new events.",
          terminal_seq_backwards_total);
  {
    // Every fault code the schema knows, so each series exists from the start.
    const std::string full = "rescue_terminal_faults_total";
    header(out, full, "counter", "Terminal faults recorded (no entrapment), by event code.");
    const auto* codes = rescue::v1::TerminalEventCode_descriptor();
    for (int i = 0; i < codes->value_count(); ++i) {
      const auto* v = codes->value(i);
      if (!rescue::core::is_fault_code(static_cast<rescue::v1::TerminalEventCode>(v->number())) ||
          static_cast<std::size_t>(v->number()) >= terminal_faults_total.size())
        continue;
      out += full + "{code=\"" + v->name() + "\"} " +
             std::to_string(terminal_faults_total[static_cast<std::size_t>(v->number())].load(
                 std::memory_order_relaxed)) +
             "\n";
    }
  }
  counter("terminal_rejected_total", "Terminal connections closed for bad auth or bad frames.",
          terminal_rejected_total);
  counter("crew_messages_total", "Messages received from crew phones.", crew_messages_total);
  counter("crew_positions_refused_total",
          "Crew GPS fixes refused: impossible coordinates or stamped in the future.",
          crew_positions_refused_total);
  counter("crew_positions_flushed_total",
          "Crew positions stored for the next start (latest per crew, about once a second).",
          crew_positions_flushed_total);
  counter("crew_position_flush_failures_total",
          "Failed writes of crew positions; the positions are retried at the next flush.",
          crew_position_flush_failures_total);
  counter("webhook_failures_total", "Failed outgoing webhook attempts.", webhook_failures_total);
  line(out, "tls_handshake_failures_total", "counter",
       "Failed TLS handshakes on the terminal and console ports.",
       std::to_string(tls_handshake_failures()));
  counter("auth_failures_total", "Failed authentications on every channel.", auth_failures_total);
  counter("auth_throttled_total",
          "Authentication attempts refused while the address is locked out.", auth_throttled_total);
  counter("terminal_connections_refused_total",
          "Terminal connections closed at once: listener or address cap reached.",
          terminal_connections_refused_total);
  counter("http_connections_refused_total",
          "Console-port connections closed at once: listener or address cap reached.",
          http_connections_refused_total);
  counter("accept_failures_total", "Failed accepts on both listeners (out of descriptors...).",
          accept_failures_total);
  line(out, "escaped_exceptions_total", "counter",
       "Exceptions that ended a coroutine or a handler instead of being handled in it.",
       std::to_string(escaped_exceptions()));
  gauge("open_incidents", "Incidents held in memory.", open_incidents);
  gauge("terminal_connections", "Connected car terminals.", terminal_connections);
  gauge("crew_connections", "Connected crew phones.", crew_connections);
  gauge("console_connections", "Console live-feed connections.", console_connections);
  gauge("http_connections", "Open console-port connections, WebSockets included.",
        http_connections);
  gauge("outbox_pending", "Outgoing webhook calls not yet delivered.", outbox_pending);
  journal_commit_seconds.render(out, "journal_commit_seconds",
                                "Time from append to durable, per command.");
  alarm_to_offer_seconds.render(out, "alarm_to_offer_seconds",
                                "Time from receiving an alarm to pushing the first offer.");
  response_seconds.render(out, "response_seconds",
                          "Time from an incident's alarm to the first crew accepting it.");
  arrival_seconds.render(out, "arrival_seconds",
                         "Time from an incident's alarm to the first rescuer (crew or fire) on "
                         "site; the target is 1800 s (urban) or 3600 s (rural).");
  return out;
}

}  // namespace rescue::dispatcher
