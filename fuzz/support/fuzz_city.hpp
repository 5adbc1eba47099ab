// A tiny city for the harnesses: the units, elevators and terminals of the incident core's tests
// (tests/dispatcher/core_fixture.hpp), with crews at real positions so the real crew index ranks
// them, and the helpers that drive the core the way the dispatch service does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rescue/core/escalation_policy.hpp"
#include "rescue/core/incident_core.hpp"
#include "rescue/core/replayer.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::fuzz {

namespace v1 = rescue::v1;
using core::time_point;

// A refusal here is a broken harness, not a finding: stop at once, loudly.
inline void must(const std::optional<std::string>& refused) {
  if (refused) __builtin_trap();
}

// Units U1 (E1, E3), U2 and station S1 take part in level 2; U3 does not. E2 has no unit.
// Terminals T1 (E1) and T2 (E2). Crews c11, c12, c13 (U1), c21, c22 (U2), s1 (S1), c31 (U3),
// each a little further from the elevators than the one before, reported at `position_at_ms`.
inline storage::registry small_city(std::int64_t position_at_ms) {
  storage::registry reg;
  const auto unit = [&reg](const std::string& id, v1::OrganisationKind kind, bool level2) {
    v1::MaintenanceUnit u;
    u.set_id(id);
    u.set_name("unit " + id);
    u.set_licence("LIC-" + id);
    u.set_contact_phone("023-6000000");
    u.set_kind(kind);
    u.set_level2_participant(level2);
    u.mutable_base()->set_lat(29.55);
    u.mutable_base()->set_lon(106.57);
    must(reg.add_unit(u));
  };
  unit("U1", v1::ORG_MAINTENANCE_UNIT, true);
  unit("U2", v1::ORG_MAINTENANCE_UNIT, true);
  unit("U3", v1::ORG_MAINTENANCE_UNIT, false);
  unit("S1", v1::ORG_RESCUE_STATION, true);

  const auto elevator = [&reg](const std::string& id, const std::string& unit_id,
                               const std::string& rescue, const std::string& registration,
                               v1::AreaKind area) {
    v1::Elevator e;
    e.set_id(id);
    e.set_registration_code(registration);
    e.set_rescue_code(rescue);
    e.set_address("重庆市渝中区解放碑 " + id);
    e.set_district_code("500103");
    e.mutable_location()->set_lat(29.556);
    e.mutable_location()->set_lon(106.568);
    e.set_place_type(v1::PLACE_RESIDENTIAL);
    e.set_maintenance_unit_id(unit_id);
    e.set_area(area);
    must(reg.add_elevator(e));
  };
  elevator("E1", "U1", "10001", "31105001002019000001", v1::AREA_URBAN);
  elevator("E2", "", "10002", "31105001002019000002", v1::AREA_URBAN);
  elevator("E3", "U1", "10003", "31105001002019000003", v1::AREA_RURAL);

  for (const auto& [id, elevator_id] : {std::pair{"T1", "E1"}, std::pair{"T2", "E2"}}) {
    v1::Terminal t;
    t.set_id(id);
    t.set_elevator_id(elevator_id);
    t.set_secret(std::string("secret-") + id);
    must(reg.add_terminal(t));
  }

  int step = 0;
  for (const auto& [id, unit_id] :
       {std::pair{"c11", "U1"}, std::pair{"c12", "U1"}, std::pair{"c13", "U1"},
        std::pair{"c21", "U2"}, std::pair{"c22", "U2"}, std::pair{"s1", "S1"},
        std::pair{"c31", "U3"}}) {
    v1::CrewMember c;
    c.set_id(id);
    c.set_unit_id(unit_id);
    c.set_name(std::string("crew ") + id);
    c.set_certificate(std::string("T-") + id);
    c.set_phone("13800000000");
    c.set_on_duty(true);
    c.mutable_position()->set_lat(29.556 + 0.004 * ++step);
    c.mutable_position()->set_lon(106.568);
    c.set_position_at_ms(position_at_ms);
    must(reg.add_crew(c));
  }
  return reg;
}

// The incident core with everything it consults, and the journal of what it decided: the
// shell's loop in miniature, without sockets or timers.
struct core_driver {
  explicit core_driver(const storage::registry& reg, time_point start)
      : registry(reg), crews(dispatcher::build_crew_index(reg, {})), now(start) {}

  const storage::registry& registry;
  core::escalation_policy policy;
  geo::crew_index crews;
  core::core_state state;
  time_point now;
  std::vector<v1::Event> journal;

  core::outcome run(const core::command& c) {
    const core::environment env{policy, registry, crews};
    auto out = core::decide(state, c, now, env);
    // A refused command must leave no trace; an accepted one is journaled.
    if (!out.ok() && !out.events.empty()) __builtin_trap();
    journal.insert(journal.end(), out.events.begin(), out.events.end());
    return out;
  }

  // Fires every deadline that is due at `now`, as the shell's timers would. Bounded: a deadline
  // that re-arms itself in the past would otherwise loop for ever, and that is worth a crash.
  void fire_due_deadlines() {
    for (int round = 0;; ++round) {
      bool fired = false;
      for (const auto& [id, inc] : std::map(state.incidents)) {
        for (const auto& [kind, at] : inc.deadlines) {
          if (at > now) continue;
          run(core::cmd::deadline_fired{id, kind});
          fired = true;
        }
      }
      if (!fired) return;
      if (round > 1000) __builtin_trap();
    }
  }

  // The core's promise: folding the journal rebuilds exactly the state it holds.
  void check_replay() const {
    core::replayer replay;
    for (const auto& e : journal)
      replay.feed(e);
    if (!(replay.state() == state)) __builtin_trap();
  }
};

// A small deterministic generator: chunk sizes and choices that are not part of the input.
struct split_mix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

}  // namespace rescue::fuzz
