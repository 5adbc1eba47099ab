#include <catch2/catch.hpp>

#include <random>

#include "core_fixture.hpp"

using namespace rescue::test;
namespace cmd = rescue::dispatcher::cmd;
using rescue::dispatcher::command;
using rescue::dispatcher::refusal;

namespace {

// Runs a command that must be refused and checks it changed nothing and emitted nothing.
void expect_refused(world& w, const command& c, refusal expected) {
  const auto before = w.state;
  const auto out = w.run(c);
  CHECK(out.refused == expected);
  CHECK_FALSE(out.reason.empty());
  CHECK(out.events.empty());
  CHECK(out.effects.empty());
  CHECK(w.state == before);
}

v1::Cause door_cause() {
  v1::Cause cause;
  cause.set_category(v1::CAUSE_DOOR_SYSTEM);
  cause.set_sub_cause("door_operator_fault");
  return cause;
}

}  // namespace

TEST_CASE("commands that do not fit the state are refused and change nothing", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;

  SECTION("arrived before accepted") {
    expect_refused(w, cmd::crew_arrived{id, "c11"}, refusal::wrong_stage);
    expect_refused(w, cmd::crew_departed{id, "c11"}, refusal::wrong_stage);
    expect_refused(w, cmd::people_released{id, "c11"}, refusal::wrong_stage);
  }
  SECTION("a crew acting on someone else's job") {
    expect_refused(w, cmd::accept_offer{id, "c12"}, refusal::not_your_job);
    expect_refused(w, cmd::decline_offer{id, "c21", ""}, refusal::not_your_job);
    REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
    expect_refused(w, cmd::crew_arrived{id, "c12"}, refusal::not_your_job);
    expect_refused(w, cmd::people_released{id, "c13"}, refusal::not_your_job);
  }
  SECTION("accepting twice, departing twice, arriving twice, releasing before arrival") {
    REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
    expect_refused(w, cmd::accept_offer{id, "c11"}, refusal::wrong_stage);
    expect_refused(w, cmd::people_released{id, "c11"}, refusal::wrong_stage);
    REQUIRE(w.run(cmd::crew_departed{id, "c11"}).ok());
    expect_refused(w, cmd::crew_departed{id, "c11"}, refusal::wrong_stage);
    REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
    expect_refused(w, cmd::crew_arrived{id, "c11"}, refusal::wrong_stage);
    REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
    expect_refused(w, cmd::people_released{id, "c11"}, refusal::wrong_stage);
    expect_refused(w, cmd::cancel{id, v1::CANCEL_FALSE_ALARM, "op1", ""}, refusal::wrong_stage);
    expect_refused(w, cmd::escalate{id, "op1", ""}, refusal::wrong_stage);
    expect_refused(w, cmd::assign_crew{id, "c12", "op1"}, refusal::wrong_stage);
  }
  SECTION("unknown incident") {
    expect_refused(w, cmd::accept_offer{id + 100, "c11"}, refusal::unknown_incident);
    expect_refused(w, cmd::add_note{id + 100, "x", "op1"}, refusal::unknown_incident);
    expect_refused(w, cmd::deadline_fired{id + 100, v1::DEADLINE_OFFER}, refusal::unknown_incident);
  }
  SECTION("unknown elevator or terminal") {
    expect_refused(w, cmd::call_alarm{"99999", ""}, refusal::unknown_elevator);
    expect_refused(w, cmd::call_alarm{"", "00000000000000000000"}, refusal::unknown_elevator);
    expect_refused(w, cmd::call_alarm{}, refusal::invalid_request);
    expect_refused(w, cmd::terminal_event{"T404", 1, v1::EVENT_ALARM_BUTTON, {}},
                   refusal::unknown_terminal);
    cmd::call_alarm as_terminal{"10001", ""};
    as_terminal.source = v1::SOURCE_TERMINAL;
    expect_refused(w, as_terminal, refusal::invalid_request);
  }
  SECTION("close before release, without a cause, follow-up before close") {
    expect_refused(w, cmd::close{id, door_cause(), "op1"}, refusal::wrong_stage);
    expect_refused(w, cmd::record_follow_up{id, v1::FOLLOW_UP_SATISFIED, "", "op1"},
                   refusal::wrong_stage);
    REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
    REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
    REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
    expect_refused(w, cmd::close{id, v1::Cause{}, "op1"}, refusal::invalid_request);
    REQUIRE(w.run(cmd::close{id, door_cause(), "op1"}).ok());
    expect_refused(w, cmd::close{id, door_cause(), "op1"}, refusal::wrong_stage);
    expect_refused(w, cmd::record_follow_up{id, v1::FOLLOW_UP_UNSPECIFIED, "", "op1"},
                   refusal::invalid_request);
    expect_refused(w, cmd::confirm_trapped{id, false, "op1"}, refusal::wrong_stage);
  }
  SECTION("fire messages when fire was never called") {
    expect_refused(w, cmd::fire_acknowledged{id, "119"}, refusal::wrong_stage);
    expect_refused(w, cmd::fire_arrived{id, "119"}, refusal::wrong_stage);
  }
  SECTION("deadlines that are not due or not armed") {
    expect_refused(w, cmd::deadline_fired{id, v1::DEADLINE_OFFER}, refusal::deadline_not_armed);
    REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
    w.advance(1h);
    expect_refused(w, cmd::deadline_fired{id, v1::DEADLINE_OFFER}, refusal::deadline_not_armed);
    expect_refused(w, cmd::deadline_fired{id, v1::DEADLINE_LEVEL_WINDOW},
                   refusal::deadline_not_armed);
  }
  SECTION("notes must have text") {
    expect_refused(w, cmd::add_note{id, "", "op1"}, refusal::invalid_request);
    expect_refused(w, cmd::add_note{id, std::string(5000, 'x'), "op1"}, refusal::invalid_request);
    REQUIRE(w.run(cmd::add_note{id, "caller says two people inside", "op1"}).ok());
    CHECK(w.incident(id).notes.at(0).text == "caller says two people inside");
  }
  SECTION("cancel needs a reason") {
    expect_refused(w, cmd::cancel{id, v1::CANCEL_UNSPECIFIED, "op1", ""}, refusal::invalid_request);
  }
}

TEST_CASE("the policy is read from TOML with defaults, and bad keys are refused",
          "[unit][policy]") {
  using rescue::dispatcher::parse_escalation_policy;
  const auto defaults = parse_escalation_policy("", "empty.toml");
  CHECK(defaults.offer_timeout == 60s);
  CHECK(defaults.urban_target == 30min);

  const auto p = parse_escalation_policy(R"(
[dispatch]
offer_timeout_s = 45
level1_window_s = 240
level2_window_s = 360
predictive_escalation = false
fire_on_injured = true
urban_target_min = 25
rural_target_min = 50
merge_window_s = 300
max_candidates = 8
)",
                                         "policy.toml");
  CHECK(p.offer_timeout == 45s);
  CHECK(p.level1_window == 240s);
  CHECK(p.level2_window == 360s);
  CHECK_FALSE(p.predictive_escalation);
  CHECK(p.urban_target == 25min);
  CHECK(p.rural_target == 50min);
  CHECK(p.merge_window == 300s);
  CHECK(p.max_candidates == 8);

  CHECK_THROWS_WITH(parse_escalation_policy("[dispatch]\nofer_timeout_s = 4\n", "p.toml"),
                    Catch::Contains("dispatch.ofer_timeout_s: unknown key"));
  CHECK_THROWS_WITH(parse_escalation_policy("[dispatch]\noffer_timeout_s = \"60\"\n", "p.toml"),
                    Catch::Contains("must be an integer"));
  CHECK_THROWS_WITH(parse_escalation_policy("[dispatch]\noffer_timeout_s = 1\n", "p.toml"),
                    Catch::Contains("between 5 and 3600"));
  CHECK_THROWS_WITH(parse_escalation_policy("[dispatch\n", "p.toml"), Catch::Contains("p.toml:1"));
}

// Random command sequences: whatever the core accepts or refuses, folding the events it emitted
// from an empty state rebuilds exactly the state it holds, and its invariants hold throughout.
TEST_CASE("folding the emitted events rebuilds the core's state", "[unit][core][property]") {
  const std::vector<std::string> crews = {"c11", "c12", "c13", "c21", "c22", "s1", "c31", "zz"};
  const std::vector<std::string> terminals = {"T1", "T2"};
  std::set<int> seen_events;
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    world w;
    std::mt19937 rng(seed);
    auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
    auto any_incident = [&]() -> std::uint64_t {
      if (w.state.incidents.empty() || rng() % 10 == 0) return 1 + rng() % 6;
      auto it = w.state.incidents.begin();
      std::advance(it, rng() % w.state.incidents.size());
      return it->first;
    };
    std::uint64_t seq = 0;
    for (int i = 0; i < 150; ++i) {
      w.advance(std::chrono::seconds(rng() % 120));
      const auto id = any_incident();
      command c;
      switch (rng() % 19) {
        case 0:
        case 1:
          c = cmd::terminal_event{
              pick(terminals), ++seq, static_cast<v1::TerminalEventCode>(1 + rng() % 19), {}};
          break;
        case 2:
          c = cmd::call_alarm{pick(std::vector<std::string>{"10001", "10002", "10003"}),
                              "",
                              v1::SOURCE_PHONE,
                              "caller",
                              "139",
                              true,
                              rng() % 5 == 0};
          break;
        case 3:
          c = cmd::confirm_trapped{id, rng() % 3 == 0, "op"};
          break;
        case 4:
        case 5:
          c = cmd::accept_offer{id, pick(crews)};
          break;
        case 6:
          c = cmd::decline_offer{id, pick(crews), "busy"};
          break;
        case 7:
          c = cmd::crew_departed{id, pick(crews)};
          break;
        case 8:
          c = cmd::crew_arrived{id, pick(crews)};
          break;
        case 9:
          c = cmd::people_released{id, pick(crews)};
          break;
        case 10: {
          // Fire whichever deadline is armed, at its time.
          auto it = w.state.incidents.find(id);
          if (it != w.state.incidents.end() && !it->second.deadlines.empty()) {
            const auto d = it->second.deadlines.begin();
            w.now = std::max(w.now, d->second);
            c = cmd::deadline_fired{id, d->first};
          } else {
            c = cmd::deadline_fired{id, v1::DEADLINE_OFFER};
          }
          break;
        }
        case 11:
          c = cmd::assign_crew{id, pick(crews), "op"};
          break;
        case 12:
          c = cmd::escalate{id, "op", "why"};
          break;
        case 13:
          c = cmd::cancel{id, v1::CANCEL_FALSE_ALARM, "op", ""};
          break;
        case 14:
          c = cmd::close{id, door_cause(), "op"};
          break;
        case 15:
          c = cmd::record_follow_up{id, v1::FOLLOW_UP_SATISFIED, "", "op"};
          break;
        case 16:
          c = cmd::add_note{id, "note", "op"};
          break;
        case 17:
          c = cmd::fire_acknowledged{id, "119"};
          break;
        default:
          c = cmd::fire_arrived{id, "119"};
          break;
      }
      const auto before = w.state;
      const auto out = w.run(c);
      if (!out.ok()) REQUIRE(w.state == before);
      for (const auto& e : out.events)
        seen_events.insert(e.body_case());
      // Invariants: a crew holds at most one job; an incident is offered or assigned, not both.
      std::map<std::string, int> holders;
      for (const auto& [iid, inc] : w.state.incidents) {
        REQUIRE_FALSE((inc.offer && inc.assigned));
        if (inc.released_at || inc.closed_at) continue;
        if (inc.offer) ++holders[inc.offer->crew_id];
        if (inc.assigned) ++holders[inc.assigned->crew_id];
        REQUIRE((inc.level == v1::LEVEL_1_MAINTENANCE || inc.level == v1::LEVEL_2_AREA));
      }
      for (const auto& [crew, n] : holders)
        REQUIRE(n == 1);
    }
    INFO("seed " << seed);
    REQUIRE(w.replayed() == w.state);
  }
  // The sequences reach every kind of event, so the fold is checked for all of them.
  for (int field = v1::Event::kOpened; field <= v1::Event::kDeadlineCleared; ++field) {
    INFO("event field " << field);
    CHECK(seen_events.contains(field));
  }
}
