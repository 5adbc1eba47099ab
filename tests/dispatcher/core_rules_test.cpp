#include <catch2/catch.hpp>

#include <random>

#include "core_fixture.hpp"
#include "policy_defaults.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
using rescue::core::command;
using rescue::core::refusal;

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

// The documented defaults (dispatcher/core/README.md, deploy/rescue-dispatchd.toml) as literals,
// so a changed default fails here instead of moving the policy object and every test with it.
// The same values read from TOML: tests/dispatcher/policy_config_test.cpp.
TEST_CASE("the policy defaults are the documented ones: 60 s offers, 180 s and 300 s windows",
          "[unit][policy]") {
  SECTION("a default-constructed policy") {
    check_documented_policy(rescue::core::escalation_policy{});
  }
  SECTION("the core under the defaults: offer at +60 s, level 2 at +180 s, fire at +480 s") {
    world w;
    const auto t0 = w.now;
    const auto id = w.trapped("T1").incident;
    CHECK(w.incident(id).deadlines.at(v1::DEADLINE_OFFER) == t0 + std::chrono::seconds(60));
    CHECK(w.incident(id).deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == t0 + std::chrono::seconds(180));
    CHECK(w.incident(id).target_at == t0 + std::chrono::minutes(30));
    REQUIRE(w.fire_deadline(id, v1::DEADLINE_LEVEL_WINDOW).ok());
    CHECK(w.now == t0 + std::chrono::seconds(180));
    CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
    CHECK(w.incident(id).deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == t0 + std::chrono::seconds(480));
  }
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
      switch (rng() % 22) {
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
        case 18:
          c = cmd::fire_arrived{id, "119"};
          break;
        case 19:
          c = cmd::terminal_link{pick(terminals), rng() % 2 == 0, "dropped"};
          break;
        case 20:
          c = cmd::terminal_links_lost{"server restarted"};
          break;
        default: {
          const std::string crew = pick(crews);
          c = cmd::set_duty{crew, rng() % 2 == 0, crew};
          break;
        }
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
  for (int field = v1::Event::kOpened; field <= v1::Event::kTerminalLink; ++field) {
    INFO("event field " << field);
    CHECK(seen_events.contains(field));
  }
}
