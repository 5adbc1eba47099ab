// The report's own fold: one summary per incident opened in the year up to the period's end,
// fault and terminal-link tallies, then every table computed from those at finish().
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rescue/report/report.hpp"

namespace rescue::report {
namespace v1 = rescue::v1;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::int64_t year_window_ms = 365 * day_ms;

struct incident_summary {
  std::uint64_t id = 0;
  std::int64_t alarm_ms = 0;
  std::string elevator_id, district, unit, building_operator;
  std::uint32_t target_minutes = 30;
  v1::SourceChannel source = v1::SOURCE_UNSPECIFIED;
  v1::RescueLevel highest = v1::LEVEL_UNSPECIFIED;
  std::optional<std::int64_t> first_offer_ms, answered_ms, arrived_ms, released_ms, ended_ms;
  bool cancelled = false, closed = false;
  v1::CancelReason cancel_reason = v1::CANCEL_UNSPECIFIED;
  v1::Cause cause;
  std::set<int> fire_reasons;
  std::map<std::string, std::string> offered_unit;  // crew -> unit of its offer
  std::map<std::string, std::uint32_t> declines_by_unit, expiries_by_unit, offers_by_unit;

  std::int64_t target_ms() const { return alarm_ms + std::int64_t{target_minutes} * 60'000; }
  bool entrapment() const {
    return !(cancelled &&
             (cancel_reason == v1::CANCEL_FALSE_ALARM || cancel_reason == v1::CANCEL_DUPLICATE));
  }
  bool self_recovered() const { return cancelled && cancel_reason == v1::CANCEL_SELF_RECOVERED; }
  bool rescue_needed() const { return entrapment() && !self_recovered(); }
};

struct link_state {
  bool online = false;
  bool ever_online = false;
  std::int64_t since_ms = 0;  // when the current state began (0: since before the journal)
  std::int64_t online_ms = 0, offline_ms = 0;  // accumulated within the period
};

// A double kept to `digits` significant digits, so that a figure computed through libm prints
// the same on every machine.
double significant(double x, int digits) {
  if (x == 0 || !std::isfinite(x)) return x;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

double ratio(std::uint64_t num, std::uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

v1::DurationStats duration_stats(std::vector<std::int64_t> ms) {
  v1::DurationStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  long double sum = 0;
  for (const auto v : ms)
    sum += static_cast<long double>(v);
  const auto n = ms.size();
  const auto rank = [&](double p) {
    std::size_t r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(n) - 1e-9));
    return ms[std::clamp<std::size_t>(r, 1, n) - 1];
  };
  s.set_count(static_cast<std::uint32_t>(n));
  s.set_mean_s(static_cast<double>(std::llround(sum / n)) / 1000.0);
  s.set_median_s(static_cast<double>(rank(0.5)) / 1000.0);
  s.set_p90_s(static_cast<double>(rank(0.9)) / 1000.0);
  s.set_max_s(static_cast<double>(ms.back()) / 1000.0);
  return s;
}

double mean_seconds(const std::vector<std::int64_t>& ms) {
  if (ms.empty()) return 0;
  long double sum = 0;
  for (const auto v : ms)
    sum += static_cast<long double>(v);
  return static_cast<double>(std::llround(sum / ms.size())) / 1000.0;
}

std::uint32_t minutes_over(std::int64_t at_ms, std::int64_t target_ms) {
  if (at_ms <= target_ms) return 0;
  return static_cast<std::uint32_t>((at_ms - target_ms + 59'999) / 60'000);
}

// P(X >= k) for X ~ Poisson(lambda), summed from k upwards so that a tiny tail keeps its digits.
double poisson_tail(unsigned k, double lambda) {
  if (k == 0) return 1.0;
  if (lambda <= 0) return 0.0;
  double term = std::exp(-lambda + k * std::log(lambda) - std::lgamma(k + 1.0));
  double sum = 0;
  for (unsigned i = k; i < k + 100000; ++i) {
    sum += term;
    term *= lambda / (i + 1.0);
    if (term < sum * 1e-17) break;
  }
  return std::min(1.0, sum);
}

std::string install_band(std::uint32_t year) {
  if (year == 0) return "unknown";
  const std::uint32_t first = year - year % 5;
  return std::to_string(first) + "-" + std::to_string(first + 4);
}

}  // namespace

struct builder::impl {
  const storage::registry& registry;
  period p;
  report_options options;
  std::int64_t year_from_ms;
  std::int64_t journal_end_ms = 0;
  bool any_event = false;

  std::unordered_map<std::uint64_t, incident_summary> incidents;
  // Faults in the period.
  std::uint32_t faults = 0;
  // Per elevator, one tally per classification its fault records carried (nearly always one):
  // a year of a city's faults is counted with one hash lookup each, no allocation; the tables
  // are summed from the tallies at finish().
  struct fault_tally {
    std::string unit, building_operator, brand, district;
    std::uint32_t year = 0;
    std::uint32_t count = 0;
    std::array<std::uint32_t, 32> by_code{};
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::vector<fault_tally>, string_hash, std::equal_to<>>
      fault_tallies;
  std::map<int, std::uint32_t> faults_by_code;
  std::map<int, std::uint32_t> elevators_by_code;
  std::map<std::string, std::uint32_t> faults_by_elevator, faults_by_unit, faults_by_operator,
      faults_by_brand, faults_by_year, faults_by_district;
  std::unordered_map<std::string, link_state> links;

  impl(const storage::registry& r, period pp, report_options o)
      : registry(r), p(std::move(pp)), options(o), year_from_ms(p.to_ms - year_window_ms) {}

  // Time spent in the current link state, within [from, t).
  void settle_link(link_state& l, std::int64_t t) {
    const std::int64_t a = std::max(l.since_ms, p.from_ms);
    const std::int64_t b = std::min(t, p.to_ms);
    if (b > a) (l.online ? l.online_ms : l.offline_ms) += b - a;
    l.since_ms = t;
  }

  void on_link(const v1::Event& e) {
    const auto& x = e.terminal_link();
    // Terminals not in the registry are tallied too and never read: finish() walks the
    // registry's terminals.
    if (e.at_ms() >= p.to_ms) return;
    auto [it, fresh] = links.try_emplace(x.terminal_id());
    link_state& l = it->second;
    if (fresh) l.since_ms = std::min(e.at_ms(), p.from_ms);
    if (l.online == x.online()) return;  // a repeated state changes nothing
    settle_link(l, e.at_ms());
    l.online = x.online();
    if (l.online) l.ever_online = l.ever_online || e.at_ms() < p.to_ms;
  }

  void on_fault(const v1::Event& e) {
    if (e.at_ms() < p.from_ms || e.at_ms() >= p.to_ms) return;
    const auto& f = e.fault_recorded();
    ++faults;
    auto it = fault_tallies.find(f.elevator_id());
    if (it == fault_tallies.end()) it = fault_tallies.try_emplace(f.elevator_id()).first;
    fault_tally* t = nullptr;
    for (auto& c : it->second) {
      if (c.year == f.install_year() && c.unit == f.maintenance_unit_id() &&
          c.building_operator == f.building_operator_id() && c.brand == f.brand() &&
          c.district == f.district_code()) {
        t = &c;
        break;
      }
    }
    if (!t) {
      t = &it->second.emplace_back();
      t->unit = f.maintenance_unit_id();
      t->building_operator = f.building_operator_id();
      t->brand = f.brand();
      t->district = f.district_code();
      t->year = f.install_year();
    }
    ++t->count;
    ++t->by_code[static_cast<std::size_t>(f.code()) % t->by_code.size()];
  }

  void settle_faults() {
    for (const auto& [elevator, tallies] : fault_tallies) {
      std::array<bool, 32> codes{};
      for (const auto& t : tallies) {
        faults_by_elevator[elevator] += t.count;
        if (!t.unit.empty()) faults_by_unit[t.unit] += t.count;
        if (!t.building_operator.empty()) faults_by_operator[t.building_operator] += t.count;
        faults_by_brand[t.brand.empty() ? std::string("unknown") : t.brand] += t.count;
        faults_by_year[t.year ? std::to_string(t.year) : std::string("unknown")] += t.count;
        faults_by_district[t.district] += t.count;
        for (std::size_t c = 0; c < t.by_code.size(); ++c) {
          if (!t.by_code[c]) continue;
          faults_by_code[static_cast<int>(c)] += t.by_code[c];
          codes[c] = true;
        }
      }
      for (std::size_t c = 0; c < codes.size(); ++c)
        if (codes[c]) ++elevators_by_code[static_cast<int>(c)];
    }
  }

  void on_opened(const v1::Event& e) {
    if (e.at_ms() < year_from_ms || e.at_ms() >= p.to_ms) return;
    const auto& o = e.opened();
    incident_summary s;
    s.id = e.incident_id();
    s.alarm_ms = e.at_ms();
    s.elevator_id = o.elevator().elevator_id();
    s.district = o.elevator().district_code();
    s.unit = o.elevator().maintenance_unit_id();
    s.building_operator = o.elevator().building_operator_id();
    s.target_minutes = o.elevator().target_minutes() ? o.elevator().target_minutes() : 30;
    s.source = o.alarm().source();
    s.highest = o.start_level();
    incidents.insert_or_assign(s.id, std::move(s));
  }

  void on_incident_event(const v1::Event& e) {
    const auto it = incidents.find(e.incident_id());
    if (it == incidents.end()) return;
    incident_summary& s = it->second;
    const std::int64_t at = e.at_ms();
    const auto end_here = [&] {
      if (!s.ended_ms) s.ended_ms = at;
    };
    switch (e.body_case()) {
      case v1::Event::kOfferMade: {
        const auto& o = e.offer_made();
        if (!s.first_offer_ms) s.first_offer_ms = at;
        s.offered_unit[o.crew_id()] = o.unit_id();
        ++s.offers_by_unit[o.unit_id()];
        break;
      }
      case v1::Event::kOfferAccepted:
        if (!s.answered_ms) s.answered_ms = at;
        break;
      case v1::Event::kOfferDeclined:
        if (const auto u = s.offered_unit.find(e.offer_declined().crew_id());
            u != s.offered_unit.end())
          ++s.declines_by_unit[u->second];
        break;
      case v1::Event::kOfferExpired:
        if (const auto u = s.offered_unit.find(e.offer_expired().crew_id());
            u != s.offered_unit.end())
          ++s.expiries_by_unit[u->second];
        break;
      case v1::Event::kCrewArrived:
      case v1::Event::kFireArrived:
        if (!s.arrived_ms) s.arrived_ms = at;
        break;
      case v1::Event::kPeopleReleased:
        if (!s.released_ms) s.released_ms = at;
        end_here();
        break;
      case v1::Event::kLevelEscalated: {
        const auto& x = e.level_escalated();
        if (x.to() > s.highest) s.highest = x.to();
        if (x.to() == v1::LEVEL_3_FIRE) s.fire_reasons.insert(x.reason());
        break;
      }
      case v1::Event::kCancelled:
        s.cancelled = true;
        s.cancel_reason = e.cancelled().reason();
        end_here();
        break;
      case v1::Event::kClosed:
        s.closed = true;
        s.cause = e.closed().cause();
        end_here();
        break;
      default:
        break;
    }
  }

  void add(const v1::Event& e) {
    any_event = true;
    journal_end_ms = std::max(journal_end_ms, e.at_ms());
    switch (e.body_case()) {
      case v1::Event::kOpened:
        on_opened(e);
        break;
      case v1::Event::kFaultRecorded:
        on_fault(e);
        break;
      case v1::Event::kTerminalLink:
        on_link(e);
        break;
      default:
        on_incident_event(e);
    }
  }

  std::string unit_name(const std::string& id) const {
    const auto* u = registry.unit(id);
    return u ? u->name() : std::string();
  }

  v1::Report finish();
};

builder::builder(const storage::registry& registry, period p, report_options options)
    : impl_(std::make_unique<impl>(registry, std::move(p), options)) {}
builder::~builder() = default;
void builder::add(const v1::Event& event) {
  impl_->add(event);
}
v1::Report builder::finish() {
  return impl_->finish();
}

v1::Report builder::impl::finish() {
  settle_faults();
  v1::Report r;
  r.set_format_version(1);
  const std::int64_t now = journal_end_ms;  // open incidents are judged here
  auto* per = r.mutable_period();
  per->set_label(p.label);
  per->set_from(china_time(p.from_ms));
  per->set_to(china_time(p.to_ms));
  per->set_journal_end(any_event ? china_time(journal_end_ms) : std::string());

  // The incidents of the period, by id so every list below has one order.
  std::vector<const incident_summary*> in_period;
  for (const auto& [id, s] : incidents)
    if (s.alarm_ms >= p.from_ms) in_period.push_back(&s);
  std::sort(in_period.begin(), in_period.end(),
            [](const auto* a, const auto* b) { return a->id < b->id; });

  // Registry counts.
  std::map<std::string, std::uint32_t> elevators_by_district, elevators_by_unit,
      elevators_by_operator;
  std::map<std::string, std::uint32_t> peer_size;  // brand + band
  for (const auto& el : registry.elevators()) {
    ++elevators_by_district[el.district_code()];
    if (!el.maintenance_unit_id().empty()) ++elevators_by_unit[el.maintenance_unit_id()];
    if (!el.building_operator_id().empty()) ++elevators_by_operator[el.building_operator_id()];
    ++peer_size[el.brand() + " " + install_band(el.install_year())];
  }
  const auto registry_elevators = static_cast<std::uint32_t>(registry.elevators().size());

  // Totals and the per-incident judgements.
  auto* t = r.mutable_totals();
  t->set_elevators(registry_elevators);
  struct judged_row {
    bool judged = false, on_time = false;
  };
  std::map<std::string, std::vector<std::int64_t>> arrival_by_district, arrival_by_unit;
  std::map<std::string, std::uint32_t> entrapments_by_district, arrived_by_district,
      on_time_by_district, entrapments_by_unit, judged_by_unit, on_time_by_unit,
      entrapments_by_operator;
  std::map<std::string, std::uint32_t> entrapments_by_elevator;
  std::map<int, std::pair<std::uint32_t, std::uint32_t>> by_source;
  std::vector<std::int64_t> response_ms, dispatch_ms, arrival_ms, rescue_ms;
  std::map<int, std::uint32_t> levels, fire_reasons;
  std::map<int, std::map<std::string, std::uint32_t>> causes;
  std::uint32_t hours[24] = {};
  std::uint32_t within1 = 0, within3 = 0, judged = 0, on_time = 0;
  std::map<std::string, std::uint32_t> offers_by_unit, declines_by_unit, expiries_by_unit;

  for (const auto* s : in_period) {
    t->set_incidents(t->incidents() + 1);
    auto& src = by_source[s->source];
    ++src.first;
    for (const auto& [unit, n] : s->offers_by_unit)
      offers_by_unit[unit] += n;
    for (const auto& [unit, n] : s->declines_by_unit)
      declines_by_unit[unit] += n;
    for (const auto& [unit, n] : s->expiries_by_unit)
      expiries_by_unit[unit] += n;
    if (s->cancelled && s->cancel_reason == v1::CANCEL_FALSE_ALARM)
      t->set_false_alarms(t->false_alarms() + 1);
    if (s->cancelled && s->cancel_reason == v1::CANCEL_DUPLICATE)
      t->set_duplicates(t->duplicates() + 1);
    if (!s->entrapment()) continue;
    ++src.second;
    t->set_entrapments(t->entrapments() + 1);
    ++entrapments_by_district[s->district];
    ++entrapments_by_elevator[s->elevator_id];
    if (!s->unit.empty()) ++entrapments_by_unit[s->unit];
    if (!s->building_operator.empty()) ++entrapments_by_operator[s->building_operator];
    ++hours[china_hour(s->alarm_ms)];
    if (s->self_recovered()) {
      t->set_self_recovered(t->self_recovered() + 1);
      continue;
    }
    t->set_rescue_needed(t->rescue_needed() + 1);
    if (s->arrived_ms) t->set_arrived(t->arrived() + 1);
    if (s->released_ms) t->set_released(t->released() + 1);
    if (!s->closed && !s->cancelled) t->set_still_open(t->still_open() + 1);
    if (s->answered_ms) {
      const auto d = *s->answered_ms - s->alarm_ms;
      response_ms.push_back(d);
      within1 += d <= 60'000;
      within3 += d <= 180'000;
    }
    if (s->first_offer_ms) dispatch_ms.push_back(*s->first_offer_ms - s->alarm_ms);
    ++levels[s->highest == v1::LEVEL_UNSPECIFIED ? v1::LEVEL_1_MAINTENANCE : s->highest];
    for (const int reason : s->fire_reasons)
      ++fire_reasons[reason];
    if (s->arrived_ms && s->released_ms) rescue_ms.push_back(*s->released_ms - *s->arrived_ms);
    if (s->closed)
      ++causes[s->cause.category()][s->cause.sub_cause()];
    else
      ++causes[v1::CAUSE_UNSPECIFIED][""];

    // Arrival against the elevator's target.
    const std::int64_t target = s->target_ms();
    bool is_judged = false, is_on_time = false;
    std::uint32_t over = 0;
    if (s->arrived_ms) {
      const auto d = *s->arrived_ms - s->alarm_ms;
      arrival_ms.push_back(d);
      arrival_by_district[s->district].push_back(d);
      ++arrived_by_district[s->district];
      if (!s->unit.empty()) arrival_by_unit[s->unit].push_back(d);
      is_judged = true;
      is_on_time = *s->arrived_ms <= target;
      over = minutes_over(*s->arrived_ms, target);
    } else {
      const std::int64_t until = s->ended_ms ? std::min(*s->ended_ms, now) : now;
      if (until > target) {
        is_judged = true;
        over = minutes_over(until, target);
      }
    }
    if (!is_judged) continue;
    ++judged;
    if (!s->unit.empty()) ++judged_by_unit[s->unit];
    if (is_on_time) {
      ++on_time;
      ++on_time_by_district[s->district];
      if (!s->unit.empty()) ++on_time_by_unit[s->unit];
      continue;
    }
    auto* late = r.add_late();
    late->set_incident_id(std::to_string(s->id));
    late->set_alarm_time(china_time(s->alarm_ms));
    late->set_elevator_id(s->elevator_id);
    late->set_district_code(s->district);
    late->set_maintenance_unit_id(s->unit);
    late->set_target_minutes(s->target_minutes);
    late->set_arrived(s->arrived_ms.has_value());
    if (s->arrived_ms)
      late->set_arrival_minutes(
          static_cast<double>(std::llround((*s->arrived_ms - s->alarm_ms) / 6000.0)) / 10.0);
    late->set_minutes_over(over);
    late->set_highest_level(s->highest == v1::LEVEL_UNSPECIFIED ? v1::LEVEL_1_MAINTENANCE
                                                                : s->highest);
  }
  std::stable_sort(r.mutable_late()->begin(), r.mutable_late()->end(),
                   [](const v1::LateIncident& a, const v1::LateIncident& b) {
                     return a.minutes_over() > b.minutes_over();
                   });
  t->set_faults(faults);
  t->set_entrapments_per_10k(ratio(t->entrapments() * 10000ull, registry_elevators));

  // Districts: every district of the registry and every one an incident or fault named.
  std::set<std::string> districts;
  for (const auto& [d, n] : elevators_by_district)
    districts.insert(d);
  for (const auto& [d, n] : entrapments_by_district)
    districts.insert(d);
  for (const auto& [d, n] : faults_by_district)
    districts.insert(d);
  for (const auto& d : districts) {
    auto* row = r.add_districts();
    row->set_district_code(d);
    row->set_elevators(elevators_by_district[d]);
    row->set_entrapments(entrapments_by_district[d]);
    row->set_entrapments_per_10k(ratio(row->entrapments() * 10000ull, row->elevators()));
    row->set_arrived(arrived_by_district[d]);
    row->set_on_time(on_time_by_district[d]);
    row->set_mean_arrival_s(mean_seconds(arrival_by_district[d]));
    row->set_faults(faults_by_district[d]);
  }

  for (const auto& [source, n] : by_source) {
    auto* row = r.add_sources();
    row->set_source(static_cast<v1::SourceChannel>(source));
    row->set_incidents(n.first);
    row->set_entrapments(n.second);
  }

  auto* resp = r.mutable_response();
  resp->set_rescue_needed(t->rescue_needed());
  resp->set_within_1_min(within1);
  resp->set_within_3_min(within3);
  resp->set_share_within_1_min(ratio(within1, t->rescue_needed()));
  resp->set_share_within_3_min(ratio(within3, t->rescue_needed()));
  *resp->mutable_response() = duration_stats(response_ms);
  *resp->mutable_dispatch() = duration_stats(dispatch_ms);

  static constexpr std::uint32_t edges[] = {0, 5, 10, 15, 20, 25, 30, 45, 60};
  for (std::size_t i = 0; i < std::size(edges); ++i) {
    auto* bucket = r.add_arrival_buckets();
    bucket->set_from_minutes(edges[i]);
    bucket->set_to_minutes(i + 1 < std::size(edges) ? edges[i + 1] : 0);
  }
  for (const auto ms : arrival_ms) {
    std::size_t i = std::size(edges) - 1;
    while (i > 0 && ms < std::int64_t{edges[i]} * 60'000)
      --i;
    auto* bucket = r.mutable_arrival_buckets(static_cast<int>(i));
    bucket->set_incidents(bucket->incidents() + 1);
  }
  auto* arr = r.mutable_arrival();
  *arr->mutable_arrival() = duration_stats(arrival_ms);
  arr->set_judged(judged);
  arr->set_on_time(on_time);
  arr->set_share_on_time(ratio(on_time, judged));
  arr->set_late(judged - on_time);

  for (const auto level : {v1::LEVEL_1_MAINTENANCE, v1::LEVEL_2_AREA, v1::LEVEL_3_FIRE}) {
    auto* row = r.add_levels();
    row->set_level(level);
    row->set_incidents(levels[level]);
  }
  for (const auto& [reason, n] : fire_reasons) {
    auto* row = r.add_fire_escalations();
    row->set_reason(static_cast<v1::EscalationReason>(reason));
    row->set_incidents(n);
  }
  *r.mutable_rescue() = duration_stats(rescue_ms);
  for (const auto& [category, subs] : causes) {
    std::uint32_t total = 0;
    for (const auto& [sub, n] : subs)
      total += n;
    auto* row = r.add_causes();
    row->set_category(static_cast<v1::CauseCategory>(category));
    row->set_incidents(total);
    for (const auto& [sub, n] : subs) {
      if (sub.empty()) continue;
      auto* s = r.add_causes();
      s->set_category(static_cast<v1::CauseCategory>(category));
      s->set_sub_cause(sub);
      s->set_incidents(n);
    }
  }
  for (std::uint32_t h = 0; h < 24; ++h) {
    auto* row = r.add_hours();
    row->set_hour(h);
    row->set_entrapments(hours[h]);
  }

  // Early warning: entrapments per elevator per calendar month of the period, and in the 365
  // days up to the period's end.
  std::map<std::string, std::map<std::string, std::uint32_t>> by_month;
  std::map<std::string, std::uint32_t> in_year;
  for (const auto& [id, s] : incidents) {
    if (!s.entrapment()) continue;
    ++in_year[s.elevator_id];
    if (s.alarm_ms >= p.from_ms) ++by_month[s.elevator_id][china_month(s.alarm_ms)];
  }
  std::set<std::string> warned;
  for (const auto& [el, months] : by_month)
    for (const auto& [m, n] : months)
      if (n >= warning_per_month) warned.insert(el);
  for (const auto& [el, n] : in_year)
    if (n >= warning_per_year) warned.insert(el);
  // An elevator gone from the registry: the unit of its latest incident's snapshot.
  std::map<std::string, std::pair<std::uint64_t, std::string>> unit_of_incident_elevator;
  for (const auto& [id, s] : incidents) {
    auto& latest = unit_of_incident_elevator[s.elevator_id];
    if (id >= latest.first) latest = {id, s.unit};
  }
  for (const auto& el : warned) {
    auto* row = r.add_warnings();
    row->set_elevator_id(el);
    const auto* reg = registry.elevator(el);
    if (reg) {
      row->set_registration_code(reg->registration_code().empty() ? reg->certificate_no()
                                                                  : reg->registration_code());
      row->set_address(reg->address());
      row->set_district_code(reg->district_code());
      row->set_maintenance_unit_id(reg->maintenance_unit_id());
    } else {
      row->set_maintenance_unit_id(unit_of_incident_elevator[el].second);
    }
    row->set_maintenance_unit_name(unit_name(row->maintenance_unit_id()));
    for (const auto& [m, n] : by_month[el]) {
      if (n > row->most_in_a_month()) {
        row->set_most_in_a_month(n);
        row->set_month(m);
      }
    }
    row->set_in_the_year(in_year[el]);
    row->set_month_rule(row->most_in_a_month() >= warning_per_month);
    row->set_year_rule(row->in_the_year() >= warning_per_year);
  }
  std::sort(r.mutable_warnings()->begin(), r.mutable_warnings()->end(),
            [](const v1::WarningRow& a, const v1::WarningRow& b) {
              if (a.in_the_year() != b.in_the_year()) return a.in_the_year() > b.in_the_year();
              if (a.most_in_a_month() != b.most_in_a_month())
                return a.most_in_a_month() > b.most_in_a_month();
              return a.elevator_id() < b.elevator_id();
            });

  // Fault outliers against the peer group (brand and five-year install band).
  std::map<std::string, std::uint32_t> peer_faults;
  std::uint32_t registry_faults = 0;
  for (const auto& [el, n] : faults_by_elevator) {
    const auto* reg = registry.elevator(el);
    if (!reg) continue;
    peer_faults[reg->brand() + " " + install_band(reg->install_year())] += n;
    registry_faults += n;
  }
  for (const auto& [el, n] : faults_by_elevator) {
    const auto* reg = registry.elevator(el);
    if (!reg || n < options.outlier_min_faults) continue;
    const std::string group = reg->brand() + " " + install_band(reg->install_year());
    const bool own_group = peer_size[group] >= options.min_peer_group;
    const double mean = own_group ? ratio(peer_faults[group], peer_size[group])
                                  : ratio(registry_faults, registry_elevators);
    const double tail = significant(poisson_tail(n, mean), 6);
    if (tail >= options.outlier_tail_probability) continue;
    auto* row = r.add_fault_outliers();
    row->set_elevator_id(el);
    row->set_brand(reg->brand());
    row->set_install_year(reg->install_year());
    row->set_peer_group(own_group ? group : "city");
    row->set_faults(n);
    row->set_peer_mean(significant(mean, 6));
    row->set_tail_probability(tail);
    row->set_maintenance_unit_id(reg->maintenance_unit_id());
    row->set_maintenance_unit_name(unit_name(reg->maintenance_unit_id()));
  }
  std::sort(r.mutable_fault_outliers()->begin(), r.mutable_fault_outliers()->end(),
            [](const v1::FaultOutlierRow& a, const v1::FaultOutlierRow& b) {
              if (a.tail_probability() != b.tail_probability())
                return a.tail_probability() < b.tail_probability();
              if (a.faults() != b.faults()) return a.faults() > b.faults();
              return a.elevator_id() < b.elevator_id();
            });

  for (const auto& [code, n] : faults_by_code) {
    auto* row = r.add_fault_codes();
    row->set_code(static_cast<v1::TerminalEventCode>(code));
    row->set_faults(n);
    row->set_elevators(elevators_by_code[code]);
  }
  const auto add_groups = [&](const char* dimension,
                              const std::map<std::string, std::uint32_t>& counts, std::size_t limit,
                              auto name_of) {
    std::vector<std::pair<std::string, std::uint32_t>> rows(counts.begin(), counts.end());
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    if (rows.size() > limit) rows.resize(limit);
    for (const auto& [key, n] : rows) {
      auto* row = r.add_fault_groups();
      row->set_dimension(dimension);
      row->set_key(key);
      row->set_name(name_of(key));
      row->set_faults(n);
    }
  };
  const auto no_name = [](const std::string&) { return std::string(); };
  const auto max = std::numeric_limits<std::size_t>::max();
  add_groups("elevator", faults_by_elevator, options.fault_elevators_listed, no_name);
  add_groups("maintenance_unit", faults_by_unit, max,
             [&](const std::string& id) { return unit_name(id); });
  add_groups("building_operator", faults_by_operator, max, [&](const std::string& id) {
    const auto* o = registry.building_operator(id);
    return o ? o->name() : std::string();
  });
  add_groups("brand", faults_by_brand, max, no_name);
  add_groups("install_year", faults_by_year, max, no_name);
  add_groups("district", faults_by_district, max, no_name);

  // Maintenance units: every unit with elevators, offers or faults; best first.
  std::map<std::string, std::uint32_t> repeat_by_unit, repeat_by_operator;
  for (const auto& [el, n] : entrapments_by_elevator) {
    if (n < 2) continue;
    const auto* reg = registry.elevator(el);
    if (!reg) continue;
    if (!reg->maintenance_unit_id().empty()) ++repeat_by_unit[reg->maintenance_unit_id()];
    if (!reg->building_operator_id().empty()) ++repeat_by_operator[reg->building_operator_id()];
  }
  std::set<std::string> unit_ids;
  for (const auto& [u, n] : elevators_by_unit)
    unit_ids.insert(u);
  for (const auto& [u, n] : offers_by_unit)
    unit_ids.insert(u);
  for (const auto& [u, n] : faults_by_unit)
    unit_ids.insert(u);
  for (const auto& [u, n] : entrapments_by_unit)
    unit_ids.insert(u);
  for (const auto& u : unit_ids) {
    if (u.empty()) continue;
    auto* row = r.add_units();
    row->set_unit_id(u);
    row->set_name(unit_name(u));
    row->set_elevators(elevators_by_unit[u]);
    row->set_entrapments(entrapments_by_unit[u]);
    row->set_judged(judged_by_unit[u]);
    row->set_on_time(on_time_by_unit[u]);
    row->set_share_on_time(ratio(row->on_time(), row->judged()));
    row->set_mean_arrival_s(mean_seconds(arrival_by_unit[u]));
    row->set_offers(offers_by_unit[u]);
    row->set_declines(declines_by_unit[u]);
    row->set_expiries(expiries_by_unit[u]);
    row->set_repeat_elevators(repeat_by_unit[u]);
    row->set_faults(faults_by_unit[u]);
  }
  std::sort(r.mutable_units()->begin(), r.mutable_units()->end(),
            [](const v1::UnitRow& a, const v1::UnitRow& b) {
              const bool ja = a.judged() > 0, jb = b.judged() > 0;
              if (ja != jb) return ja;
              if (ja) {
                if (a.share_on_time() != b.share_on_time())
                  return a.share_on_time() > b.share_on_time();
                if (a.mean_arrival_s() != b.mean_arrival_s())
                  return a.mean_arrival_s() < b.mean_arrival_s();
              }
              return a.unit_id() < b.unit_id();
            });
  for (int i = 0; i < r.units_size(); ++i)
    r.mutable_units(i)->set_rank(i + 1);

  // Building operators with an entrapment or a fault; the most entrapments per elevator first.
  std::set<std::string> operator_ids;
  for (const auto& [o, n] : entrapments_by_operator)
    operator_ids.insert(o);
  for (const auto& [o, n] : faults_by_operator)
    operator_ids.insert(o);
  for (const auto& o : operator_ids) {
    auto* row = r.add_operators();
    row->set_operator_id(o);
    const auto* reg = registry.building_operator(o);
    row->set_name(reg ? reg->name() : std::string());
    row->set_elevators(elevators_by_operator[o]);
    row->set_entrapments(entrapments_by_operator[o]);
    row->set_entrapments_per_100(ratio(row->entrapments() * 100ull, row->elevators()));
    row->set_repeat_elevators(repeat_by_operator[o]);
    row->set_faults(faults_by_operator[o]);
  }
  std::sort(r.mutable_operators()->begin(), r.mutable_operators()->end(),
            [](const v1::OperatorRow& a, const v1::OperatorRow& b) {
              if (a.entrapments_per_100() != b.entrapments_per_100())
                return a.entrapments_per_100() > b.entrapments_per_100();
              if (a.entrapments() != b.entrapments()) return a.entrapments() > b.entrapments();
              if (a.faults() != b.faults()) return a.faults() > b.faults();
              return a.operator_id() < b.operator_id();
            });
  for (int i = 0; i < r.operators_size(); ++i)
    r.mutable_operators(i)->set_rank(i + 1);

  // Terminal health, judged at the period's end or the journal's, whichever comes first.
  const std::int64_t horizon = std::clamp(journal_end_ms, p.from_ms, p.to_ms);
  auto* th = r.mutable_terminals();
  th->set_terminals(static_cast<std::uint32_t>(registry.terminals().size()));
  std::vector<v1::TerminalOffline> offline;
  std::uint64_t online_total = 0;
  for (const auto& term : registry.terminals()) {
    link_state l;
    l.since_ms = p.from_ms;
    if (const auto it = links.find(term.id()); it != links.end()) l = it->second;
    if (l.since_ms < horizon) {
      const std::int64_t a = std::max(l.since_ms, p.from_ms);
      if (horizon > a) (l.online ? l.online_ms : l.offline_ms) += horizon - a;
    }
    if (l.online) th->set_online_at_end(th->online_at_end() + 1);
    online_total += static_cast<std::uint64_t>(l.online_ms);
    if (l.offline_ms == 0 && l.ever_online) continue;
    v1::TerminalOffline row;
    row.set_terminal_id(term.id());
    row.set_elevator_id(term.elevator_id());
    if (const auto* el = registry.elevator(term.elevator_id()))
      row.set_maintenance_unit_id(el->maintenance_unit_id());
    row.set_offline_hours(static_cast<double>(std::llround(l.offline_ms / 36'000.0)) / 100.0);
    row.set_offline_at_end(!l.online);
    row.set_never_online(!l.ever_online);
    offline.push_back(std::move(row));
  }
  th->set_share_online(ratio(th->online_at_end(), th->terminals()));
  const std::uint64_t span = static_cast<std::uint64_t>(horizon - p.from_ms) * th->terminals();
  th->set_online_hours_share(ratio(online_total, span));
  std::stable_sort(offline.begin(), offline.end(), [](const auto& a, const auto& b) {
    if (a.offline_hours() != b.offline_hours()) return a.offline_hours() > b.offline_hours();
    return a.terminal_id() < b.terminal_id();
  });
  if (offline.size() > options.longest_offline_listed)
    offline.resize(options.longest_offline_listed);
  for (auto& row : offline)
    *th->add_longest_offline() = std::move(row);

  for (auto& d : report_definitions())
    *r.add_definitions() = std::move(d);
  return r;
}

v1::Report build_report(const storage::registry& registry, const period& p,
                        const std::vector<v1::Event>& events, report_options options) {
  builder b(registry, p, options);
  for (const auto& e : events)
    b.add(e);
  return b.finish();
}

}  // namespace rescue::report
