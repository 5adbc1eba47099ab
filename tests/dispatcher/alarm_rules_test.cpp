// The core's rules for alarms that repeat and for the car's own recovery.
#include <catch2/catch.hpp>

#include "core_fixture.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
namespace fx = rescue::core::fx;
using E = v1::Event;

namespace {

rescue::core::outcome cleared(world& w, std::uint64_t seq) {
  return w.run(cmd::terminal_event{"T1", seq, v1::EVENT_TRAPPED_CLEARED, {}});
}

std::string kept_open_because(const rescue::core::outcome& out) {
  for (const auto& e : out.events)
    if (e.has_trapped_cleared()) return e.trapped_cleared().kept_open_because();
  return "(no trapped_cleared event)";
}

}  // namespace

TEST_CASE("the terminal's recovery keeps open an incident an operator confirmed", "[unit][core]") {
  world w;
  const auto id = w.run(cmd::terminal_event{"T1", 1, v1::EVENT_ALARM_BUTTON, {}}).incident;
  REQUIRE(w.run(cmd::confirm_trapped{id, false, "op1"}).ok());
  const auto out = cleared(w, 2);
  REQUIRE(out.ok());
  CHECK(kinds_of(out) == std::vector{E::kTrappedCleared});
  CHECK(kept_open_because(out) == "a person confirmed people trapped");
  CHECK(effects_of<fx::ack_terminal>(out).at(0).seq == 2);
  CHECK(effects_of<fx::withdraw_job>(out).empty());
  REQUIRE(w.state.incidents.contains(id));
  CHECK(w.incident(id).cleared_by_terminal);
  CHECK(w.incident(id).offer);
}

TEST_CASE("the terminal's recovery keeps open an incident a caller reported", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  // The caller's word joins the terminal's alarm.
  REQUIRE(w.run(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "王", "13800000000"}).incident ==
          id);
  const auto out = cleared(w, 2);
  CHECK(kept_open_because(out) == "a person confirmed people trapped");
  CHECK_FALSE(has_event(out, E::kCancelled));
}

TEST_CASE("the terminal's recovery never cancels an incident with injured people", "[unit][core]") {
  world w;
  w.policy.fire_on_injured = false;  // injured alone, without fire, keeps it open
  const auto id = w.trapped("T1").incident;
  cmd::call_alarm call{"10001", "", v1::SOURCE_PHONE, "", "", false, true};
  REQUIRE(w.run(call).incident == id);
  REQUIRE(w.incident(id).injured);
  REQUIRE_FALSE(w.incident(id).fire_notified);
  const auto out = cleared(w, 2);
  CHECK(kept_open_because(out) == "injured or unwell people reported");
  CHECK(w.state.incidents.contains(id));
}

TEST_CASE("the terminal's recovery never cancels an incident fire rescue is coming to",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::escalate{id, "op1", "unit not answering"}).ok());
  REQUIRE(w.run(cmd::escalate{id, "op1", "nobody close"}).ok());
  REQUIRE(w.incident(id).fire_notified);
  REQUIRE_FALSE(w.incident(id).confirmed_by_person);
  const auto out = cleared(w, 2);
  CHECK(kept_open_because(out) == "fire rescue has been called");
  CHECK(w.state.incidents.contains(id));
}

TEST_CASE("the terminal's recovery of an alarm nobody vouched for cancels it", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto out = cleared(w, 2);
  CHECK(kept_open_because(out).empty());
  CHECK(has_event(out, E::kCancelled));
  CHECK_FALSE(w.state.incidents.contains(id));
}

TEST_CASE("repeats from one terminal are counted on its entry, and the fold agrees",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1", 1).incident;
  for (std::uint64_t seq = 2; seq <= 1000; ++seq) {
    w.advance(10ms);
    REQUIRE(w.trapped("T1", seq).incident == id);
  }
  // Another code from the same terminal is another source.
  REQUIRE(w.run(cmd::terminal_event{"T1", 1001, v1::EVENT_ALARM_BUTTON, {}}).incident == id);
  const auto& inc = w.incident(id);
  CHECK(inc.alarm_count == 1001);
  REQUIRE(inc.alarms.size() == 2);
  CHECK(inc.alarms[0].terminal_seq() == 1);
  CHECK(inc.alarms[0].repeats() == 999);
  CHECK(inc.alarms[0].last_repeat_at_ms() == rescue::core::to_ms(inc.alarm_at) + 9990);
  CHECK(inc.alarms[1].terminal_event() == v1::EVENT_ALARM_BUTTON);
  const auto view = rescue::core::make_view(inc);
  CHECK(view.alarms_size() == 2);
  CHECK(view.alarm_count() == 1001);
  CHECK(view.ByteSizeLong() < 4096);
  CHECK(w.replayed() == w.state);
}

TEST_CASE("an incident lists at most 32 alarm sources and counts the rest", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  for (int caller = 0; caller < 100; ++caller) {
    cmd::call_alarm call{"10001", "", v1::SOURCE_PHONE, "caller",
                         "1390000" + std::to_string(1000 + caller)};
    REQUIRE(w.run(call).incident == id);
  }
  // A caller ringing again is a repeat of their entry.
  REQUIRE(w.run(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "caller", "13900001000"}).ok());
  const auto& inc = w.incident(id);
  CHECK(inc.alarm_count == 102);
  CHECK(inc.alarms.size() == rescue::core::max_listed_alarms);
  CHECK(inc.alarms[1].caller_phone() == "13900001000");
  CHECK(inc.alarms[1].repeats() == 1);
  CHECK(w.replayed() == w.state);
}

TEST_CASE("free text over its limit is refused and changes nothing", "[unit][core]") {
  world w;
  const auto before = w.state;
  cmd::call_alarm call{"10001", "", v1::SOURCE_PHONE, std::string(129, 'n'), "13800000000"};
  auto out = w.run(call);
  CHECK(out.refused == rescue::core::refusal::invalid_request);
  CHECK(out.reason == "caller_name is longer than 128 bytes");
  call.caller_name = std::string(128, 'n');
  call.caller_phone = "138\r\n00000000";
  out = w.run(call);
  CHECK(out.refused == rescue::core::refusal::invalid_request);
  CHECK(out.reason.find("caller_phone") != std::string::npos);
  CHECK(w.state == before);
  call.caller_phone = "+86 (023) 6000-0000";
  const auto id = w.run(call).incident;
  REQUIRE(id != 0);
  out = w.run(cmd::cancel{id, v1::CANCEL_FALSE_ALARM, "op1", std::string(1001, 'd')});
  CHECK(out.reason == "detail is longer than 1000 bytes");
  out = w.run(cmd::decline_offer{id, "c11", std::string(501, 'r')});
  CHECK(out.reason == "reason is longer than 500 bytes");
  out = w.run(cmd::assign_crew{id, std::string(65, 'c'), "op1"});
  CHECK(out.reason == "crew_id is longer than 64 bytes");
  CHECK(w.state.incidents.contains(id));
}
