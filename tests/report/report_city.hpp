// A seeded month whose answers are known: a small registry, a plan for every incident, fault
// and terminal link, and the journal events the plan produces. The report tests compute the
// expected figures from the plan itself, never through the report code.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rescue/journal.pb.h"
#include "rescue/report/period.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::test_report {

namespace v1 = rescue::v1;

constexpr int elevator_count = 40;
constexpr int terminal_count = 10;
inline const char* const districts[] = {"500103", "500105", "500108"};

inline std::string elevator_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "E%02d", i);
  return buf;
}
inline std::string terminal_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "T%02d", i);
  return buf;
}
inline std::string district_of(int i) {
  return districts[i % 3];
}
inline std::string unit_of(int i) {
  return i % 2 ? "U1" : "U2";
}
inline std::string operator_of(int i) {
  return "O" + std::to_string(i % 3 + 1);
}
inline std::string brand_of(int i) {
  return i < 30 ? "BrandA" : "BrandB";
}
inline std::uint32_t year_of(int i) {
  return i < 30 ? 2012 : 2018;
}
inline std::uint32_t target_of(int i) {
  return i == 5 ? 60 : 30;
}  // E05 is rural

inline storage::registry make_registry() {
  storage::registry reg;
  const auto unit = [&](const char* id, const char* name, v1::OrganisationKind kind) {
    v1::MaintenanceUnit u;
    u.set_id(id);
    u.set_name(name);
    u.set_licence(std::string("TS-") + id);
    u.set_kind(kind);
    u.set_level2_participant(true);
    u.mutable_base()->set_lat(29.55);
    u.mutable_base()->set_lon(106.57);
    (void)reg.add_unit(u);
  };
  unit("U1", "渝中电梯维保", v1::ORG_MAINTENANCE_UNIT);
  unit("U2", "江北电梯维保", v1::ORG_MAINTENANCE_UNIT);
  unit("S1", "南岸救援站", v1::ORG_RESCUE_STATION);
  for (int o = 1; o <= 3; ++o) {
    v1::BuildingOperator op;
    op.set_id("O" + std::to_string(o));
    op.set_name("物业" + std::to_string(o));
    (void)reg.add_building_operator(op);
  }
  for (int i = 1; i <= elevator_count; ++i) {
    v1::Elevator e;
    e.set_id(elevator_id(i));
    char code[24];
    std::snprintf(code, sizeof code, "311050010020190%05d", i);
    e.set_registration_code(code);
    e.set_rescue_code(std::to_string(20000 + i));
    e.set_address("重庆市 " + district_of(i) + " 路 " + std::to_string(i) + "号");
    e.set_district_code(district_of(i));
    e.mutable_location()->set_lat(29.5 + 0.001 * i);
    e.mutable_location()->set_lon(106.5 + 0.001 * i);
    e.set_place_type(v1::PLACE_RESIDENTIAL);
    e.set_brand(brand_of(i));
    e.set_install_year(year_of(i));
    e.set_maintenance_unit_id(unit_of(i));
    e.set_building_operator_id(operator_of(i));
    e.set_area(target_of(i) == 60 ? v1::AREA_RURAL : v1::AREA_URBAN);
    (void)reg.add_elevator(e);
  }
  const auto crew = [&](const char* id, const char* unit_id) {
    v1::CrewMember c;
    c.set_id(id);
    c.set_unit_id(unit_id);
    c.set_name(std::string("crew ") + id);
    c.set_certificate(std::string("T-") + id);
    c.set_phone("13800000000");
    c.set_on_duty(true);
    c.mutable_position()->set_lat(29.55);
    c.mutable_position()->set_lon(106.57);
    (void)reg.add_crew(c);
  };
  crew("C1", "U1");
  crew("C2", "U2");
  crew("C3", "S1");
  for (int i = 1; i <= terminal_count; ++i) {
    v1::Terminal t;
    t.set_id(terminal_id(i));
    t.set_elevator_id(elevator_id(i));
    t.set_secret("0123456789abcdef");
    (void)reg.add_terminal(t);
  }
  return reg;
}

enum class outcome { rescued, self_recovered, false_alarm, duplicate, open };

// One incident as planned: times are offsets in milliseconds from the alarm.
struct plan {
  std::uint64_t id = 0;
  std::int64_t alarm_ms = 0;
  int elevator = 1;
  v1::SourceChannel source = v1::SOURCE_TERMINAL;
  outcome kind = outcome::rescued;
  // Offers in order: crew and how each ended (declined, expired, accepted).
  struct offer {
    std::string crew, unit;
    std::int64_t at = 0;
    enum { declined, expired, accepted, pending } end = accepted;
    std::int64_t end_at = 0;
  };
  std::vector<offer> offers;
  bool level2 = false;  // escalated to level 2 (window expired) before the offers
  bool fire = false;    // escalated to fire (injured) at +30 s
  std::int64_t fire_ack = 0, fire_arrive = 0;                   // offsets, 0: none
  std::int64_t arrive = 0, release = 0, close = 0, cancel = 0;  // offsets, 0: none
  v1::CauseCategory category = v1::CAUSE_UNSPECIFIED;
  std::string sub_cause;
};

struct fault_plan {
  std::int64_t at_ms = 0;
  int elevator = 1;
  v1::TerminalEventCode code = v1::EVENT_OVERSPEED;
};

struct link_plan {
  std::int64_t at_ms = 0;
  int terminal = 1;
  bool online = true;
};

struct scenario {
  report::period period;
  std::vector<plan> incidents;
  std::vector<fault_plan> faults;
  std::vector<link_plan> links;
  std::int64_t journal_end_ms = 0;
};

inline std::int64_t nov_ms(int day, int hour, int minute = 0) {
  return report::china_midnight_ms(2026, 11, day) + (hour * 60 + minute) * 60'000LL;
}

// The seeded month. Draws come from the raw mt19937 stream (its output is fixed by the
// standard), never through a distribution, so every platform plans the same month.
inline scenario make_scenario(std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto draw = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  scenario s;
  std::string error;
  s.period = *report::parse_period("2026-11", error);
  std::uint64_t next_id = 1;
  const auto add = [&](plan p) {
    p.id = next_id++;
    s.incidents.push_back(std::move(p));
  };
  static const v1::SourceChannel sources[] = {v1::SOURCE_TERMINAL, v1::SOURCE_PHONE,
                                              v1::SOURCE_PROPERTY, v1::SOURCE_APP};
  static const std::pair<v1::CauseCategory, const char*> causes[] = {
      {v1::CAUSE_EXTERNAL, "power_cut"},
      {v1::CAUSE_HUMAN, "misuse"},
      {v1::CAUSE_DOOR_SYSTEM, "door_operator_fault"},
      {v1::CAUSE_DOOR_SYSTEM, "door_lock_fault"},
      {v1::CAUSE_OTHER, "controller_fault"}};

  // 60 random incidents across the month (E07 and E08 are left to the warnings below).
  for (int k = 0; k < 60; ++k) {
    plan p;
    p.alarm_ms = nov_ms(1 + static_cast<int>(draw(28)), static_cast<int>(draw(24)),
                        static_cast<int>(draw(60)));
    do
      p.elevator = 1 + static_cast<int>(draw(elevator_count));
    while (p.elevator == 7 || p.elevator == 8);
    p.source = sources[draw(4)];
    const auto roll = draw(20);
    p.kind = roll < 2   ? outcome::false_alarm
             : roll < 3 ? outcome::duplicate
             : roll < 6 ? outcome::self_recovered
             : roll < 7 ? outcome::open
                        : outcome::rescued;
    const std::string unit = unit_of(p.elevator);
    const std::string crew = unit == "U1" ? "C1" : "C2";
    switch (p.kind) {
      case outcome::false_alarm:
      case outcome::duplicate:
        p.cancel = 60'000 + draw(240) * 1000;
        break;
      case outcome::self_recovered:
        p.offers.push_back({crew, unit, 20'000, plan::offer::pending, 0});
        p.cancel = 90'000 + draw(120) * 1000;
        break;
      case outcome::open:
        p.offers.push_back({crew, unit, 15'000, plan::offer::expired, 135'000});
        p.offers.push_back({"C3", "S1", 140'000, plan::offer::pending, 0});
        p.level2 = true;
        break;
      case outcome::rescued: {
        std::int64_t t = 5'000 + draw(90) * 1000;
        if (draw(4) == 0) {  // the bound unit's crew declines; the station's crew takes it
          p.offers.push_back({crew, unit, t, plan::offer::declined, t + 10'000 + draw(30) * 1000});
          t = p.offers.back().end_at + 2'000;
          p.level2 = true;
          p.offers.push_back({"C3", "S1", t, plan::offer::accepted, t + 5'000 + draw(200) * 1000});
        } else {
          p.offers.push_back({crew, unit, t, plan::offer::accepted, t + 5'000 + draw(200) * 1000});
        }
        p.fire = draw(10) == 0;
        if (p.fire) p.fire_ack = 30'000 + 20'000 + draw(60) * 1000;
        p.arrive = 4 * 60'000 + draw(50) * 60'000 + draw(60) * 1000;
        p.release = p.arrive + 2 * 60'000 + draw(20) * 60'000;
        p.close = p.release + 5 * 60'000;
        const auto& c = causes[draw(5)];
        p.category = c.first;
        p.sub_cause = c.second;
        break;
      }
    }
    add(std::move(p));
  }
  // E07: three entrapments in November (the month rule). E08: two in October and two in
  // November (the year rule, not the month rule). Both rescued within 20 minutes.
  const auto quick = [&](int elevator, std::int64_t at) {
    plan p;
    p.alarm_ms = at;
    p.elevator = elevator;
    p.source = v1::SOURCE_PHONE;
    p.offers.push_back({unit_of(elevator) == "U1" ? "C1" : "C2", unit_of(elevator), 30'000,
                        plan::offer::accepted, 50'000});
    p.arrive = 20 * 60'000;
    p.release = 25 * 60'000;
    p.close = 30 * 60'000;
    p.category = v1::CAUSE_OTHER;
    p.sub_cause = "controller_fault";
    add(std::move(p));
  };
  quick(8, report::china_midnight_ms(2026, 10, 5) + 10 * 3'600'000LL);
  quick(8, report::china_midnight_ms(2026, 10, 20) + 11 * 3'600'000LL);
  quick(7, nov_ms(3, 8, 15));
  quick(7, nov_ms(12, 18, 40));
  quick(7, nov_ms(25, 9, 5));
  quick(8, nov_ms(6, 19, 30));
  quick(8, nov_ms(21, 8, 45));
  // After the period: not in the report.
  quick(9, report::china_midnight_ms(2026, 12, 2) + 9 * 3'600'000LL);

  // Faults: E12 fails far more than its peers; twenty others once or twice.
  for (int k = 0; k < 15; ++k)
    s.faults.push_back({nov_ms(1 + k, 3, 0), 12, v1::EVENT_DOOR_FAILS_TO_CLOSE});
  for (int k = 0; k < 20; ++k) {
    const int el = 14 + k;
    const int n = 1 + static_cast<int>(draw(2));
    for (int j = 0; j < n; ++j)
      s.faults.push_back({nov_ms(1 + static_cast<int>(draw(28)), static_cast<int>(draw(24))), el,
                          j == 0 ? v1::EVENT_POWER_LOSS : v1::EVENT_OVERSPEED});
  }
  s.faults.push_back({report::china_midnight_ms(2026, 10, 30), 13, v1::EVENT_OVERSPEED});  // before

  // Terminal links: every terminal connects in October; T02 drops on 16 November for good; T03
  // never connects; T04 reconnects its link twice (a repeated "online" changes nothing).
  for (int t = 1; t <= terminal_count; ++t)
    if (t != 3) s.links.push_back({report::china_midnight_ms(2026, 10, 20), t, true});
  s.links.push_back({nov_ms(16, 0), 2, false});
  s.links.push_back({nov_ms(10, 0), 4, true});
  s.journal_end_ms = report::china_midnight_ms(2026, 12, 5);
  return s;
}

inline v1::ElevatorSnapshot snapshot_of(int i) {
  v1::ElevatorSnapshot e;
  e.set_elevator_id(elevator_id(i));
  e.set_district_code(district_of(i));
  e.set_maintenance_unit_id(unit_of(i));
  e.set_building_operator_id(operator_of(i));
  e.set_target_minutes(target_of(i));
  e.mutable_location()->set_lat(29.5 + 0.001 * i);
  e.mutable_location()->set_lon(106.5 + 0.001 * i);
  return e;
}

// The journal events of the plan, in time order (ties keep plan order).
inline std::vector<v1::Event> events_of(const scenario& s) {
  std::vector<v1::Event> out;
  const auto ev = [&](std::uint64_t id, std::int64_t at) -> v1::Event& {
    out.emplace_back();
    out.back().set_incident_id(id);
    out.back().set_at_ms(at);
    return out.back();
  };
  for (const auto& p : s.incidents) {
    const auto t0 = p.alarm_ms;
    auto& o = ev(p.id, t0);
    *o.mutable_opened()->mutable_elevator() = snapshot_of(p.elevator);
    o.mutable_opened()->mutable_alarm()->set_source(p.source);
    o.mutable_opened()->set_start_level(v1::LEVEL_1_MAINTENANCE);
    if (p.level2) {
      auto& x = ev(p.id, t0 + (p.offers.size() > 1 ? p.offers[1].at - 1 : 130'000));
      x.mutable_level_escalated()->set_from(v1::LEVEL_1_MAINTENANCE);
      x.mutable_level_escalated()->set_to(v1::LEVEL_2_AREA);
      x.mutable_level_escalated()->set_reason(v1::ESCALATION_WINDOW_EXPIRED);
    }
    if (p.fire) {
      auto& x = ev(p.id, t0 + 30'000);
      x.mutable_level_escalated()->set_from(v1::LEVEL_1_MAINTENANCE);
      x.mutable_level_escalated()->set_to(v1::LEVEL_3_FIRE);
      x.mutable_level_escalated()->set_reason(v1::ESCALATION_INJURED);
      ev(p.id, t0 + p.fire_ack).mutable_fire_acknowledged()->set_fire_unit("119-yuzhong");
    }
    for (const auto& of : p.offers) {
      auto& m = ev(p.id, t0 + of.at);
      m.mutable_offer_made()->set_crew_id(of.crew);
      m.mutable_offer_made()->set_unit_id(of.unit);
      m.mutable_offer_made()->set_level(of.unit == "S1" ? v1::LEVEL_2_AREA
                                                        : v1::LEVEL_1_MAINTENANCE);
      switch (of.end) {
        case plan::offer::declined:
          ev(p.id, t0 + of.end_at).mutable_offer_declined()->set_crew_id(of.crew);
          break;
        case plan::offer::expired:
          ev(p.id, t0 + of.end_at).mutable_offer_expired()->set_crew_id(of.crew);
          break;
        case plan::offer::accepted:
          ev(p.id, t0 + of.end_at).mutable_offer_accepted()->set_crew_id(of.crew);
          break;
        case plan::offer::pending:
          break;
      }
    }
    const std::string crew = p.offers.empty() ? std::string() : p.offers.back().crew;
    if (p.arrive) ev(p.id, t0 + p.arrive).mutable_crew_arrived()->set_crew_id(crew);
    if (p.release) ev(p.id, t0 + p.release).mutable_people_released()->set_crew_id(crew);
    if (p.close) {
      auto& c = ev(p.id, t0 + p.close);
      c.mutable_closed()->mutable_cause()->set_category(p.category);
      c.mutable_closed()->mutable_cause()->set_sub_cause(p.sub_cause);
      c.mutable_closed()->set_operator_id("op-1");
    }
    if (p.cancel) {
      auto& c = ev(p.id, t0 + p.cancel);
      c.mutable_cancelled()->set_reason(p.kind == outcome::false_alarm ? v1::CANCEL_FALSE_ALARM
                                        : p.kind == outcome::duplicate ? v1::CANCEL_DUPLICATE
                                                                       : v1::CANCEL_SELF_RECOVERED);
    }
  }
  for (const auto& f : s.faults) {
    auto& e = ev(0, f.at_ms);
    auto* x = e.mutable_fault_recorded();
    x->set_terminal_id(f.elevator <= terminal_count ? terminal_id(f.elevator) : "");
    x->set_code(f.code);
    x->set_elevator_id(elevator_id(f.elevator));
    x->set_maintenance_unit_id(unit_of(f.elevator));
    x->set_building_operator_id(operator_of(f.elevator));
    x->set_brand(brand_of(f.elevator));
    x->set_install_year(year_of(f.elevator));
    x->set_district_code(district_of(f.elevator));
  }
  for (const auto& l : s.links) {
    auto& e = ev(0, l.at_ms);
    e.mutable_terminal_link()->set_terminal_id(terminal_id(l.terminal));
    e.mutable_terminal_link()->set_elevator_id(elevator_id(l.terminal));
    e.mutable_terminal_link()->set_online(l.online);
  }
  auto& last = ev(0, s.journal_end_ms);
  last.mutable_crew_duty_changed()->set_crew_id("C1");
  last.mutable_crew_duty_changed()->set_on_duty(true);
  std::stable_sort(out.begin(), out.end(),
                   [](const v1::Event& a, const v1::Event& b) { return a.at_ms() < b.at_ms(); });
  return out;
}

}  // namespace rescue::test_report
