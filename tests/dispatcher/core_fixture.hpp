// A small world for the incident core's tests: an in-memory registry, a fake crew finder with
// fixed ETAs, a policy and a fake clock.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "rescue/core/incident_core.hpp"
#include "rescue/core/replayer.hpp"

namespace rescue::test {

namespace v1 = rescue::v1;
using namespace std::chrono_literals;
using core::time_point;

// Ranks crews by a fixed ETA per crew: the geo rules in miniature, with no geometry, so that
// the core's ladder can be tested on its own.
class fake_crew_finder final : public geo::crew_finder {
 public:
  struct crew {
    std::string unit_id;
    bool level2 = false;  // the crew's unit takes part in area rescue
    std::uint32_t eta_s = 0;
    bool on_duty = true;
  };

  void add(const std::string& id, crew c) { crews_[id] = c; }
  void set_eta(const std::string& id, std::uint32_t eta_s) { crews_.at(id).eta_s = eta_s; }
  void set_on_duty(const std::string& id, bool on) { crews_.at(id).on_duty = on; }
  mutable std::vector<geo::crew_query> queries;

  // As the real finders: the core's shift changes over the crew's own duty.
  static bool on_duty(const std::string& id, const crew& c, const geo::crew_query& q) {
    if (q.duty)
      if (const auto it = q.duty->find(id); it != q.duty->end()) return it->second;
    return c.on_duty;
  }

  geo::crew_ranking rank(const geo::crew_query& q) const override {
    queries.push_back(q);
    std::vector<std::pair<std::uint32_t, std::string>> order;
    for (const auto& [id, c] : crews_)
      order.emplace_back(c.eta_s, id);
    std::sort(order.begin(), order.end());
    geo::crew_ranking out;
    for (const auto& [eta, id] : order) {
      const crew& c = crews_.at(id);
      const bool right_level = q.level == v1::LEVEL_1_MAINTENANCE
                                   ? c.unit_id == q.maintenance_unit_id
                                   : c.unit_id != q.maintenance_unit_id && c.level2;
      v1::ExclusionReason reason = v1::EXCLUSION_UNSPECIFIED;
      if (!right_level)
        reason = v1::EXCLUSION_WRONG_LEVEL;
      else if (!on_duty(id, c, q))
        reason = v1::EXCLUSION_OFF_DUTY;
      else if (q.engaged.contains(id))
        reason = v1::EXCLUSION_BUSY;
      else if (q.already_tried.contains(id))
        reason = v1::EXCLUSION_ALREADY_TRIED;
      if (reason != v1::EXCLUSION_UNSPECIFIED) {
        if (right_level) {
          auto* x = &out.exclusions.emplace_back();
          x->set_crew_id(id);
          x->set_unit_id(c.unit_id);
          x->set_reason(reason);
        }
        continue;
      }
      if (out.candidates.size() == q.max_candidates) break;
      auto& cand = out.candidates.emplace_back();
      cand.set_crew_id(id);
      cand.set_unit_id(c.unit_id);
      cand.set_rank(static_cast<std::uint32_t>(out.candidates.size()));
      cand.set_eta_s(eta);
      cand.set_distance_m(eta * 5);
      cand.set_level(q.level);
    }
    return out;
  }

  geo::crew_assessment assess(const std::string& crew_id, const geo::crew_query& q) const override {
    geo::crew_assessment a;
    const auto it = crews_.find(crew_id);
    if (it == crews_.end()) return a;
    a.known = true;
    if (!on_duty(crew_id, it->second, q)) {
      a.reason = v1::EXCLUSION_OFF_DUTY;
    } else if (q.engaged.contains(crew_id)) {
      a.reason = v1::EXCLUSION_BUSY;
    } else {
      v1::Candidate c;
      c.set_crew_id(crew_id);
      c.set_unit_id(it->second.unit_id);
      c.set_rank(0);
      c.set_eta_s(it->second.eta_s);
      c.set_distance_m(it->second.eta_s * 5);
      c.set_level(q.level);
      a.candidate = c;
    }
    return a;
  }

 private:
  std::map<std::string, crew> crews_;
};

// Units U1 (E1, E3), U2 and station S1 take part in level 2; U3 does not. E2 has no unit.
// Crew ETAs: c11 300 s, c12 600 s, c13 900 s (U1); c21 700 s, c22 1000 s (U2); s1 800 s;
// c31 100 s (U3, not level 2).
struct world {
  storage::registry registry;
  fake_crew_finder crews;
  core::escalation_policy policy;
  core::core_state state;
  time_point now = core::from_ms(1'700'000'000'000);
  std::vector<v1::Event> journal;     // every event any accepted command emitted, in order
  std::vector<core::effect> effects;  // and every effect, in order
  // A shard's world: its incident ids, and what the other shards' journals say of crews.
  core::incident_id first_incident_id = 1;
  const core::crews_elsewhere* elsewhere = nullptr;

  world() {
    add_unit("U1", v1::ORG_MAINTENANCE_UNIT, true);
    add_unit("U2", v1::ORG_MAINTENANCE_UNIT, true);
    add_unit("U3", v1::ORG_MAINTENANCE_UNIT, false);
    add_unit("S1", v1::ORG_RESCUE_STATION, true);
    add_elevator("E1", "U1", "10001", "31105001002019000001", v1::AREA_URBAN);
    add_elevator("E2", "", "10002", "31105001002019000002", v1::AREA_URBAN);
    add_elevator("E3", "U1", "10003", "31105001002019000003", v1::AREA_RURAL);
    add_terminal("T1", "E1");
    add_terminal("T2", "E2");
    add_crew("c11", {"U1", true, 300});
    add_crew("c12", {"U1", true, 600});
    add_crew("c13", {"U1", true, 900});
    add_crew("c21", {"U2", true, 700});
    add_crew("c22", {"U2", true, 1000});
    add_crew("s1", {"S1", true, 800});
    add_crew("c31", {"U3", false, 100});
  }

  // In the registry (on duty, licensed) and in the finder.
  void add_crew(const std::string& id, fake_crew_finder::crew c) {
    v1::CrewMember m;
    m.set_id(id);
    m.set_unit_id(c.unit_id);
    m.set_name("crew " + id);
    m.set_certificate("CERT-" + id);
    m.set_phone("13800000000");
    m.set_on_duty(c.on_duty);
    REQUIRE_FALSE(registry.add_crew(m));
    crews.add(id, c);
  }

  void add_unit(const std::string& id, v1::OrganisationKind kind, bool level2) {
    v1::MaintenanceUnit u;
    u.set_id(id);
    u.set_name("unit " + id);
    u.set_licence("LIC-" + id);
    u.set_contact_phone("023-6000000");
    u.set_kind(kind);
    u.set_level2_participant(level2);
    u.mutable_base()->set_lat(29.55);
    u.mutable_base()->set_lon(106.57);
    REQUIRE_FALSE(registry.add_unit(u));
  }

  void add_elevator(const std::string& id, const std::string& unit, const std::string& rescue,
                    const std::string& reg, v1::AreaKind area,
                    const std::string& district = "500103") {
    v1::Elevator e;
    e.set_id(id);
    e.set_registration_code(reg);
    e.set_rescue_code(rescue);
    e.set_address("重庆市渝中区解放碑 " + id);
    e.set_district_code(district);
    e.mutable_location()->set_lat(29.556);
    e.mutable_location()->set_lon(106.568);
    e.set_place_type(v1::PLACE_RESIDENTIAL);
    e.set_maintenance_unit_id(unit);
    e.set_area(area);
    REQUIRE_FALSE(registry.add_elevator(e));
  }

  void add_terminal(const std::string& id, const std::string& elevator) {
    v1::Terminal t;
    t.set_id(id);
    t.set_elevator_id(elevator);
    t.set_secret("secret-" + id);
    REQUIRE_FALSE(registry.add_terminal(t));
  }

  core::outcome run(const core::command& c) {
    const core::environment env{policy, registry, crews, first_incident_id, elsewhere};
    auto out = core::decide(state, c, now, env);
    journal.insert(journal.end(), out.events.begin(), out.events.end());
    effects.insert(effects.end(), out.effects.begin(), out.effects.end());
    return out;
  }

  void advance(std::chrono::milliseconds d) { now += d; }

  // Advances the clock to the deadline of `kind` and fires it.
  core::outcome fire_deadline(core::incident_id id, v1::DeadlineKind kind) {
    const auto& inc = state.incidents.at(id);
    now = std::max(now, inc.deadlines.at(kind));
    return run(core::cmd::deadline_fired{id, kind});
  }

  core::outcome trapped(const std::string& terminal, std::uint64_t seq = 1) {
    return run(core::cmd::terminal_event{terminal, seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}});
  }

  const core::incident& incident(core::incident_id id) const { return state.incidents.at(id); }

  // The state the journal rebuilds, through the replayer the server recovers with.
  core::core_state replayed() const {
    core::replayer replay;
    for (const auto& e : journal)
      replay.feed(e);
    return std::move(replay).take().state;
  }
};

// A two-level cause for closing an incident.
inline v1::Cause door_cause() {
  v1::Cause cause;
  cause.set_category(v1::CAUSE_DOOR_SYSTEM);
  cause.set_sub_cause("door_operator_fault");
  return cause;
}

template <class T>
std::vector<T> effects_of(const core::outcome& out) {
  std::vector<T> found;
  for (const auto& e : out.effects)
    if (const auto* p = std::get_if<T>(&e)) found.push_back(*p);
  return found;
}

inline std::vector<v1::Event::BodyCase> kinds_of(const core::outcome& out) {
  std::vector<v1::Event::BodyCase> kinds;
  for (const auto& e : out.events)
    kinds.push_back(e.body_case());
  return kinds;
}

inline bool has_event(const core::outcome& out, v1::Event::BodyCase kind) {
  const auto kinds = kinds_of(out);
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

}  // namespace rescue::test
