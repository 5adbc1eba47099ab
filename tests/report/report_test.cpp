// The report against a seeded month whose figures are computed here from the plan, figure by
// figure; periods; the hand-made edge cases; determinism of every rendering.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include <google/protobuf/util/message_differencer.h>

#include "report_city.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"
#include "rescue/upload.pb.h"

using namespace rescue;
using namespace rescue::test_report;
using rescue::report::china_midnight_ms;

namespace {

struct expected_stats {
  std::uint32_t count = 0;
  double mean_s = 0, median_s = 0, p90_s = 0, max_s = 0;
};

// Written out here, apart from the report code: nearest rank, mean of milliseconds.
expected_stats stats_of(std::vector<std::int64_t> ms) {
  expected_stats e;
  if (ms.empty()) return e;
  std::sort(ms.begin(), ms.end());
  std::int64_t sum = 0;
  for (auto v : ms)
    sum += v;
  const auto n = ms.size();
  e.count = static_cast<std::uint32_t>(n);
  e.mean_s = std::round(static_cast<double>(sum) / static_cast<double>(n)) / 1000.0;
  const auto nearest = [&](std::size_t numerator) {  // rank ceil(numerator/10 * n)
    std::size_t rank = (numerator * n + 9) / 10;
    return ms[std::max<std::size_t>(rank, 1) - 1] / 1000.0;
  };
  e.median_s = nearest(5);
  e.p90_s = nearest(9);
  e.max_s = ms.back() / 1000.0;
  return e;
}

void check_stats(const v1::DurationStats& got, const expected_stats& want) {
  CHECK(got.count() == want.count);
  CHECK(got.mean_s() == Approx(want.mean_s).margin(0.0005));
  CHECK(got.median_s() == want.median_s);
  CHECK(got.p90_s() == want.p90_s);
  CHECK(got.max_s() == want.max_s);
}

bool entrapment(const plan& p) {
  return p.kind != outcome::false_alarm && p.kind != outcome::duplicate;
}
bool rescue_needed(const plan& p) {
  return entrapment(p) && p.kind != outcome::self_recovered;
}
bool in_period(const scenario& s, const plan& p) {
  return p.alarm_ms >= s.period.from_ms && p.alarm_ms < s.period.to_ms;
}
std::optional<std::int64_t> answered(const plan& p) {
  std::optional<std::int64_t> a;
  for (const auto& o : p.offers)
    if (o.end == plan::offer::accepted) a = o.end_at;
  return a;
}
int highest(const plan& p) {
  return p.fire ? 3 : p.level2 ? 2 : 1;
}

}  // namespace

TEST_CASE("report periods are months, quarters, years and from..to in UTC+8", "[report]") {
  std::string error;
  auto m = report::parse_period("2026-11", error);
  REQUIRE(m);
  CHECK(report::china_time(m->from_ms) == "2026-11-01T00:00:00+08:00");
  CHECK(report::china_time(m->to_ms) == "2026-12-01T00:00:00+08:00");
  CHECK(m->from_ms == 1'793'462'400'000);  // 2026-10-31T16:00:00Z
  auto q = report::parse_period("2026-Q4", error);
  REQUIRE(q);
  CHECK(report::china_time(q->from_ms) == "2026-10-01T00:00:00+08:00");
  CHECK(report::china_time(q->to_ms) == "2027-01-01T00:00:00+08:00");
  auto y = report::parse_period("2024", error);
  REQUIRE(y);
  CHECK(y->to_ms - y->from_ms == 366LL * 86'400'000);  // a leap year
  auto f = report::period_between("2026-11-03", "2026-11-03T08:30", error);
  REQUIRE(f);
  CHECK(f->to_ms - f->from_ms == 510LL * 60'000);
  CHECK(report::china_hour(f->from_ms) == 0);
  CHECK(report::china_month(m->to_ms - 1) == "2026-11");

  for (const char* bad : {"2026-13", "2026-Q5", "26-11", "2026-11-01", "", "1800"}) {
    INFO(bad);
    CHECK_FALSE(report::parse_period(bad, error));
    CHECK_FALSE(error.empty());
  }
  CHECK_FALSE(report::period_between("2026-02-30", "2026-03-01", error));
  CHECK_FALSE(report::period_between("2026-03-02", "2026-03-01", error));
  CHECK(error.find("after") != std::string::npos);
}

TEST_CASE("the seeded month's report matches figures computed from its plan", "[report]") {
  const auto reg = make_registry();
  REQUIRE(reg.elevators().size() == elevator_count);
  REQUIRE(reg.terminals().size() == terminal_count);
  const scenario s = make_scenario(20261101);
  const auto events = events_of(s);
  const v1::Report r = report::build_report(reg, s.period, events);

  std::vector<const plan*> month;
  for (const auto& p : s.incidents)
    if (in_period(s, p)) month.push_back(&p);

  SECTION("totals") {
    std::uint32_t entrap = 0, false_alarms = 0, dups = 0, selfrec = 0, needed = 0, arrived = 0,
                  open = 0;
    for (const auto* p : month) {
      false_alarms += p->kind == outcome::false_alarm;
      dups += p->kind == outcome::duplicate;
      entrap += entrapment(*p);
      selfrec += p->kind == outcome::self_recovered;
      needed += rescue_needed(*p);
      arrived += p->arrive != 0;
      open += p->kind == outcome::open;
    }
    REQUIRE(open > 0);
    REQUIRE(selfrec > 0);
    const auto& t = r.totals();
    CHECK(t.incidents() == month.size());
    CHECK(t.entrapments() == entrap);
    CHECK(t.false_alarms() == false_alarms);
    CHECK(t.duplicates() == dups);
    CHECK(t.self_recovered() == selfrec);
    CHECK(t.rescue_needed() == needed);
    CHECK(t.arrived() == arrived);
    CHECK(t.released() == arrived);
    CHECK(t.still_open() == open);
    CHECK(t.elevators() == elevator_count);
    CHECK(t.entrapments_per_10k() == Approx(entrap * 10000.0 / elevator_count));
    std::uint32_t faults = 0;
    for (const auto& f : s.faults)
      faults += f.at_ms >= s.period.from_ms;
    CHECK(t.faults() == faults);
    CHECK(r.period().from() == "2026-11-01T00:00:00+08:00");
    CHECK(r.period().journal_end() == "2026-12-05T00:00:00+08:00");
  }

  SECTION("districts and sources") {
    for (const auto& d : r.districts()) {
      std::uint32_t entrap = 0, elevators = 0, on_time = 0;
      for (int i = 1; i <= elevator_count; ++i)
        elevators += district_of(i) == d.district_code();
      for (const auto* p : month) {
        if (district_of(p->elevator) != d.district_code() || !entrapment(*p)) continue;
        ++entrap;
        on_time += rescue_needed(*p) && p->arrive && p->arrive <= target_of(p->elevator) * 60'000;
      }
      INFO(d.district_code());
      CHECK(d.elevators() == elevators);
      CHECK(d.entrapments() == entrap);
      CHECK(d.on_time() == on_time);
      CHECK(d.entrapments_per_10k() == Approx(entrap * 10000.0 / elevators));
    }
    CHECK(r.districts_size() == 3);
    std::map<int, std::uint32_t> by_source;
    for (const auto* p : month)
      ++by_source[p->source];
    REQUIRE(r.sources_size() == static_cast<int>(by_source.size()));
    for (const auto& row : r.sources())
      CHECK(row.incidents() == by_source[row.source()]);
  }

  SECTION("response, dispatch, arrival and rescue time") {
    std::vector<std::int64_t> response, dispatch, arrival, rescue;
    std::uint32_t needed = 0, w1 = 0, w3 = 0, judged = 0, on_time = 0;
    for (const auto* p : month) {
      if (!rescue_needed(*p)) continue;
      ++needed;
      if (const auto a = answered(*p)) {
        response.push_back(*a);
        w1 += *a <= 60'000;
        w3 += *a <= 180'000;
      }
      if (!p->offers.empty()) dispatch.push_back(p->offers.front().at);
      if (p->arrive) {
        arrival.push_back(p->arrive);
        rescue.push_back(p->release - p->arrive);
        ++judged;
        on_time += p->arrive <= target_of(p->elevator) * 60'000;
      } else {
        ++judged;  // open since November: its target passed long before the journal's end
      }
    }
    const auto& rs = r.response();
    CHECK(rs.rescue_needed() == needed);
    CHECK(rs.within_1_min() == w1);
    CHECK(rs.within_3_min() == w3);
    CHECK(rs.share_within_3_min() == Approx(double(w3) / needed));
    check_stats(rs.response(), stats_of(response));
    check_stats(rs.dispatch(), stats_of(dispatch));
    check_stats(r.arrival().arrival(), stats_of(arrival));
    check_stats(r.rescue(), stats_of(rescue));
    CHECK(r.arrival().judged() == judged);
    CHECK(r.arrival().on_time() == on_time);
    CHECK(r.arrival().late() == judged - on_time);
    CHECK(r.arrival().share_on_time() == Approx(double(on_time) / judged));
    // The distribution: every arrival in exactly one bucket, by its minutes.
    const std::int64_t edges[] = {0, 5, 10, 15, 20, 25, 30, 45, 60};
    REQUIRE(r.arrival_buckets_size() == 9);
    for (int b = 0; b < 9; ++b) {
      std::uint32_t n = 0;
      for (const auto a : arrival)
        n += a >= edges[b] * 60'000 && (b == 8 || a < edges[b + 1] * 60'000);
      CHECK(r.arrival_buckets(b).from_minutes() == edges[b]);
      CHECK(r.arrival_buckets(b).incidents() == n);
    }
    CHECK(r.arrival_buckets(8).to_minutes() == 0);
  }

  SECTION("late incidents, with their minutes over, most first") {
    struct late_row {
      std::uint64_t id;
      std::uint32_t over;
      bool arrived;
    };
    std::vector<late_row> want;
    for (const auto* p : month) {
      if (!rescue_needed(*p)) continue;
      const std::int64_t target = p->alarm_ms + target_of(p->elevator) * 60'000LL;
      const std::int64_t at = p->arrive ? p->alarm_ms + p->arrive : s.journal_end_ms;
      if (at <= target) continue;
      want.push_back(
          {p->id, static_cast<std::uint32_t>((at - target + 59'999) / 60'000), p->arrive != 0});
    }
    std::stable_sort(want.begin(), want.end(),
                     [](const auto& a, const auto& b) { return a.over > b.over; });
    REQUIRE(r.late_size() == static_cast<int>(want.size()));
    REQUIRE_FALSE(want.empty());
    for (int i = 0; i < r.late_size(); ++i) {
      CHECK(r.late(i).incident_id() == std::to_string(want[i].id));
      CHECK(r.late(i).minutes_over() == want[i].over);
      CHECK(r.late(i).arrived() == want[i].arrived);
    }
  }

  SECTION("levels, fire escalations, causes and hours") {
    std::map<int, std::uint32_t> levels;
    std::uint32_t fire = 0;
    std::map<std::pair<int, std::string>, std::uint32_t> causes;
    std::uint32_t hours[24] = {};
    for (const auto* p : month) {
      if (entrapment(*p)) ++hours[((p->alarm_ms / 1000 + 8 * 3600) / 3600) % 24];
      if (!rescue_needed(*p)) continue;
      ++levels[highest(*p)];
      fire += p->fire;
      if (p->close)
        ++causes[{p->category, p->sub_cause}];
      else
        ++causes[{0, ""}];
    }
    REQUIRE(r.levels_size() == 3);
    for (const auto& l : r.levels())
      CHECK(l.incidents() == levels[l.level()]);
    if (fire) {
      REQUIRE(r.fire_escalations_size() == 1);
      CHECK(r.fire_escalations(0).reason() == v1::ESCALATION_INJURED);
      CHECK(r.fire_escalations(0).incidents() == fire);
    }
    std::uint32_t total_rows = 0;
    for (const auto& c : r.causes()) {
      if (c.sub_cause().empty()) {
        total_rows += c.incidents();
        continue;
      }
      CHECK(c.incidents() == causes[{c.category(), c.sub_cause()}]);
    }
    CHECK(total_rows == r.totals().rescue_needed());
    REQUIRE(r.hours_size() == 24);
    for (const auto& h : r.hours())
      CHECK(h.entrapments() == hours[h.hour()]);
  }

  SECTION("early warning: three in a month, four in a year") {
    std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> want;  // month max, year
    std::map<std::string, std::map<std::string, std::uint32_t>> per_month;
    std::map<std::string, std::uint32_t> per_year;
    for (const auto& p : s.incidents) {
      if (!entrapment(p) || p.alarm_ms >= s.period.to_ms ||
          p.alarm_ms < s.period.to_ms - 365LL * 86'400'000)
        continue;
      ++per_year[elevator_id(p.elevator)];
      if (in_period(s, p)) ++per_month[elevator_id(p.elevator)][report::china_month(p.alarm_ms)];
    }
    std::set<std::string> warned;
    for (const auto& [el, months] : per_month)
      for (const auto& [m, n] : months)
        if (n >= 3) warned.insert(el);
    for (const auto& [el, n] : per_year)
      if (n >= 4) warned.insert(el);
    REQUIRE(warned.count("E07"));
    REQUIRE(warned.count("E08"));
    REQUIRE(r.warnings_size() == static_cast<int>(warned.size()));
    for (const auto& w : r.warnings()) {
      INFO(w.elevator_id());
      CHECK(warned.count(w.elevator_id()));
      CHECK(w.in_the_year() == per_year[w.elevator_id()]);
      CHECK(w.maintenance_unit_name() == (unit_of(std::stoi(w.elevator_id().substr(1))) == "U1"
                                              ? "渝中电梯维保"
                                              : "江北电梯维保"));
    }
    const auto find = [&](const char* id) {
      for (const auto& w : r.warnings())
        if (w.elevator_id() == id) return w;
      FAIL("no warning for " << id);
      return v1::WarningRow{};
    };
    CHECK(find("E07").month_rule());
    CHECK(find("E07").most_in_a_month() == 3);
    CHECK(find("E07").month() == "2026-11");
    CHECK(find("E08").year_rule());
    CHECK_FALSE(find("E08").month_rule());
    CHECK(find("E08").in_the_year() == 4);
  }

  SECTION("faults by code and classification, and the outlier") {
    std::map<int, std::uint32_t> by_code;
    std::map<std::string, std::uint32_t> by_unit, by_elevator;
    std::uint32_t group_a = 0;
    for (const auto& f : s.faults) {
      if (f.at_ms < s.period.from_ms) continue;
      ++by_code[f.code];
      ++by_unit[unit_of(f.elevator)];
      ++by_elevator[elevator_id(f.elevator)];
      group_a += f.elevator < 30;
    }
    REQUIRE(r.fault_codes_size() == static_cast<int>(by_code.size()));
    for (const auto& row : r.fault_codes())
      CHECK(row.faults() == by_code[row.code()]);
    for (const auto& g : r.fault_groups()) {
      if (g.dimension() == "maintenance_unit") CHECK(g.faults() == by_unit[g.key()]);
      if (g.dimension() == "elevator") CHECK(g.faults() == by_elevator[g.key()]);
    }
    CHECK(r.fault_groups(0).dimension() == "elevator");
    CHECK(r.fault_groups(0).key() == "E12");
    // E12: 15 faults in a group of 29 BrandA 2010-2014 elevators averaging group_a / 29.
    REQUIRE(r.fault_outliers_size() == 1);
    const auto& o = r.fault_outliers(0);
    CHECK(o.elevator_id() == "E12");
    CHECK(o.faults() == 15);
    CHECK(o.peer_group() == "BrandA 2010-2014");
    const double lambda = group_a / 29.0;
    CHECK(o.peer_mean() == Approx(lambda).epsilon(1e-5));
    // P(X >= 15) = 1 - sum_{i<15} e^-l l^i / i!, computed here in long double.
    long double cdf = 0, term = std::exp(-static_cast<long double>(lambda));
    for (int i = 0; i < 15; ++i) {
      cdf += term;
      term *= lambda / (i + 1);
    }
    CHECK(o.tail_probability() == Approx(static_cast<double>(1 - cdf)).epsilon(1e-3));
    CHECK(o.maintenance_unit_id() == "U2");
  }

  SECTION("maintenance unit ranking and building operators") {
    struct unit_want {
      std::uint32_t entrap = 0, judged = 0, on_time = 0, offers = 0, declines = 0, expiries = 0;
      std::vector<std::int64_t> arrivals;
    };
    std::map<std::string, unit_want> want;
    std::map<std::string, std::uint32_t> entrap_by_elevator;
    for (const auto* p : month) {
      for (const auto& o : p->offers) {
        ++want[o.unit].offers;
        want[o.unit].declines += o.end == plan::offer::declined;
        want[o.unit].expiries += o.end == plan::offer::expired;
      }
      if (!entrapment(*p)) continue;
      ++entrap_by_elevator[elevator_id(p->elevator)];
      auto& u = want[unit_of(p->elevator)];
      ++u.entrap;
      if (!rescue_needed(*p)) continue;
      ++u.judged;  // every rescue-needed incident of this month is judged (see above)
      if (p->arrive) u.arrivals.push_back(p->arrive);
      u.on_time += p->arrive && p->arrive <= target_of(p->elevator) * 60'000;
    }
    REQUIRE(r.units_size() == 3);
    for (const auto& u : r.units()) {
      INFO(u.unit_id());
      const auto& w = want[u.unit_id()];
      CHECK(u.entrapments() == w.entrap);
      CHECK(u.judged() == w.judged);
      CHECK(u.on_time() == w.on_time);
      CHECK(u.offers() == w.offers);
      CHECK(u.declines() == w.declines);
      CHECK(u.expiries() == w.expiries);
      CHECK(u.mean_arrival_s() == Approx(stats_of(w.arrivals).mean_s).margin(0.0005));
      std::uint32_t repeat = 0;
      for (const auto& [el, n] : entrap_by_elevator)
        repeat += n >= 2 && unit_of(std::stoi(el.substr(1))) == u.unit_id();
      CHECK(u.repeat_elevators() == repeat);
    }
    // U1 and U2 are judged and ranked by on-time share; S1 (a station, no elevators) comes last.
    CHECK(r.units(2).unit_id() == "S1");
    CHECK(r.units(0).share_on_time() >= r.units(1).share_on_time());
    CHECK(r.units(0).rank() == 1);
    for (int i = 1; i < r.operators_size(); ++i)
      CHECK(r.operators(i - 1).entrapments_per_100() >= r.operators(i).entrapments_per_100());
  }

  SECTION("terminal health") {
    const auto& th = r.terminals();
    CHECK(th.terminals() == terminal_count);
    CHECK(th.online_at_end() == terminal_count - 2);  // T02 dropped, T03 never came
    CHECK(th.share_online() == Approx(0.8));
    // Terminal-days online: eight for 30 days, T02 for 15, T03 none.
    CHECK(th.online_hours_share() == Approx((8 * 30 + 15) / 300.0));
    REQUIRE(th.longest_offline_size() == 2);
    CHECK(th.longest_offline(0).terminal_id() == "T03");
    CHECK(th.longest_offline(0).never_online());
    CHECK(th.longest_offline(0).offline_hours() == Approx(720));
    CHECK(th.longest_offline(1).terminal_id() == "T02");
    CHECK(th.longest_offline(1).offline_hours() == Approx(360));
    CHECK(th.longest_offline(1).offline_at_end());
    CHECK_FALSE(th.longest_offline(1).never_online());
  }

  SECTION("the legend defines every figure") {
    std::set<std::string> figures;
    for (const auto& d : r.definitions()) {
      CHECK_FALSE(d.zh().empty());
      CHECK_FALSE(d.en().empty());
      figures.insert(d.figure());
    }
    for (const char* f : {"entrapments", "entrapments_per_10k", "response", "arrival", "late",
                          "levels", "rescue", "causes", "hours", "warnings", "fault_outliers",
                          "faults", "units", "operators", "terminals", "period"})
      CHECK(figures.count(f));
  }
}

TEST_CASE("an open incident is judged at the journal's end, never at the reader's clock",
          "[report]") {
  const auto reg = make_registry();
  std::string error;
  const auto p = *report::period_between("2026-11-03", "2026-11-04", error);
  const std::int64_t t0 = china_midnight_ms(2026, 11, 3) + 10 * 3'600'000LL;
  std::vector<v1::Event> events(2);
  events[0].set_incident_id(1);
  events[0].set_at_ms(t0);
  *events[0].mutable_opened()->mutable_elevator() = snapshot_of(1);
  events[1].set_incident_id(0);
  events[1].set_at_ms(t0 + 20 * 60'000);  // the journal ends 20 minutes after the alarm
  events[1].mutable_note()->set_text("last record");
  auto r = report::build_report(reg, p, events);
  CHECK(r.totals().still_open() == 1);
  CHECK(r.arrival().judged() == 0);  // within its target at the journal's end
  CHECK(r.late_size() == 0);
  events[1].set_at_ms(t0 + 31 * 60'000 + 1);
  r = report::build_report(reg, p, events);
  CHECK(r.arrival().judged() == 1);
  REQUIRE(r.late_size() == 1);
  CHECK(r.late(0).minutes_over() == 2);  // one minute and a millisecond, rounded up
  CHECK_FALSE(r.late(0).arrived());
}

TEST_CASE("renderings: Chinese by default, English on request, the same bytes every time",
          "[report]") {
  const auto reg = make_registry();
  const scenario s = make_scenario(7);
  const auto events = events_of(s);
  const auto a = report::build_report(reg, s.period, events);
  const auto b = report::build_report(reg, s.period, events);
  CHECK(google::protobuf::util::MessageDifferencer::Equals(a, b));
  CHECK(report::render_json(a) == report::render_json(b));
  CHECK(report::render_csv(a, report::language::zh) == report::render_csv(b, report::language::zh));

  const auto md = report::render_markdown(a, report::language::zh);
  CHECK(md.rfind("# 电梯应急处置统计报告 2026-11\n", 0) == 0);
  for (const char* heading : {"## 各区县困人", "## 维保单位排名", "## 预警电梯", "## 指标说明",
                              "## 超时事件", "## 故障异常电梯", "## 终端在线"})
    CHECK(md.find(heading) != std::string::npos);
  CHECK(md.find("万台困人率") != std::string::npos);
  const auto en = report::render_markdown(a, report::language::en);
  CHECK(en.find("## Maintenance unit ranking") != std::string::npos);
  CHECK(en.find("nearest rank") != std::string::npos);

  const auto csv = report::render_csv(a, report::language::zh);
  CHECK(csv.rfind("\xEF\xBB\xBF", 0) == 0);
  CHECK(csv.find("\r\n维保单位排名\r\n名次,单位,名称,") != std::string::npos);

  // The JSON is the protobuf mapping of the report: it parses back to the same message.
  v1::Report back;
  REQUIRE(protocol::from_json(report::render_json(a), back).empty());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(a, back));
  CHECK(report::render_json(a).find("\"entrapments_per_10k\"") != std::string::npos);
}

TEST_CASE("a CSV cell that a spreadsheet would run as a formula is quoted and defused",
          "[report]") {
  auto reg = make_registry();
  v1::BuildingOperator op;
  op.set_id("O9");
  op.set_name("=HYPERLINK(\"http://x\")");
  REQUIRE_FALSE(reg.add_building_operator(op));
  std::string error;
  const auto p = *report::parse_period("2026-11", error);
  std::vector<v1::Event> events(1);
  events[0].set_at_ms(china_midnight_ms(2026, 11, 2));
  auto* f = events[0].mutable_fault_recorded();
  f->set_elevator_id("E01");
  f->set_building_operator_id("O9");
  f->set_code(v1::EVENT_POWER_LOSS);
  const auto csv = report::render_csv(report::build_report(reg, p, events), report::language::en);
  CHECK(csv.find(",\"'=HYPERLINK(\"\"http://x\"\")\",") != std::string::npos);
  CHECK(csv.find(",=HYPERLINK") == std::string::npos);
}

TEST_CASE("docs/reports.md carries every definition of the report, word for word", "[report]") {
  std::ifstream in(std::string(RESCUE_TEST_DATA_DIR) + "/../../docs/reports.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& d : report::report_definitions()) {
    INFO(d.figure());
    CHECK(doc.find("| `" + d.figure() + "` | " + d.zh() + " | " + d.en() + " |") !=
          std::string::npos);
  }
}

TEST_CASE("the examples of docs/upload.md are records the schema accepts", "[report]") {
  std::ifstream in(std::string(RESCUE_TEST_DATA_DIR) + "/../../docs/upload.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> examples;
  for (std::size_t at = doc.find("```json\n"); at != std::string::npos;
       at = doc.find("```json\n", at + 1)) {
    const std::size_t start = at + 8;
    examples.push_back(doc.substr(start, doc.find("\n```", start) - start));
  }
  REQUIRE(examples.size() == 2);
  v1::PlatformRecord incident, fault;
  REQUIRE(protocol::from_json(examples[0], incident).empty());
  CHECK(incident.format_version() == 1);
  CHECK(incident.record_id() == "incident-" + incident.incident().incident_id());
  CHECK(incident.incident().outcome() == v1::OUTCOME_RESCUED);
  CHECK(incident.incident().arrival_s() == 848);
  REQUIRE(protocol::from_json(examples[1], fault).empty());
  CHECK(fault.fault().code() == v1::EVENT_OVERSPEED);
  // The examples print every field, as the server does.
  CHECK(protocol::to_json(incident, protocol::json_fields::all) == examples[0]);
  CHECK(protocol::to_json(fault, protocol::json_fields::all) == examples[1]);
}
