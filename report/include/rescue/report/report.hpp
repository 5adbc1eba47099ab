// The KPI report of a period, computed from the journal and the registry only (rescue.v1.Report
// in report.proto): feed every journal event in order, then finish. Pure: no clock, no I/O; the
// same events and registry give the same report. Open incidents are judged at the time of the
// journal's last event, never at the reader's clock.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "rescue/journal.pb.h"
#include "rescue/report.pb.h"
#include "rescue/report/period.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::report {

struct report_options {
  std::size_t longest_offline_listed = 20;   // terminals in TerminalHealth.longest_offline
  std::size_t fault_elevators_listed = 100;  // elevators in the "elevator" fault group
  // Fault outliers: an elevator with at least this many faults whose Poisson tail probability
  // under its peer group's mean is below the threshold; peer groups smaller than
  // min_peer_group fall back to the whole city.
  unsigned outlier_min_faults = 5;
  double outlier_tail_probability = 0.001;
  std::size_t min_peer_group = 20;
};

// The thresholds of the early warning (the 2017 notice's repeat-entrapment rules).
constexpr unsigned warning_per_month = 3;
constexpr unsigned warning_per_year = 4;

class builder {
 public:
  builder(const storage::registry& registry, period p, report_options options = {});
  ~builder();
  builder(const builder&) = delete;
  builder& operator=(const builder&) = delete;

  // Every journal event, in journal order. Events the report does not need cost a lookup.
  void add(const rescue::v1::Event& event);
  // The report; the builder is spent.
  rescue::v1::Report finish();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

rescue::v1::Report build_report(const storage::registry& registry, const period& p,
                                const std::vector<rescue::v1::Event>& events,
                                report_options options = {});

// The legend: every figure's definition, in the order the report prints them.
std::vector<rescue::v1::Definition> report_definitions();

}  // namespace rescue::report
