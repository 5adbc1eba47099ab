// Predictive escalation decided in the middle of an incident: the time left is the arrival
// target counted from the alarm, not the whole target again, and only an ETA strictly greater
// than it escalates.
#include <catch2/catch.hpp>

#include "core_fixture.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
namespace fx = rescue::core::fx;

namespace {

std::vector<v1::LevelEscalated> escalations_in(const rescue::core::outcome& out) {
  std::vector<v1::LevelEscalated> found;
  for (const auto& e : out.events)
    if (e.has_level_escalated()) found.push_back(e.level_escalated());
  return found;
}

// The fixture's crews, except that the next level-1 candidate after c11 is c12 with `eta_s`
// (c13 is far behind it).
world with_second_crew_eta(std::uint32_t eta_s) {
  world w;
  w.crews.set_eta("c12", eta_s);
  w.crews.set_eta("c13", 3 * 3600);
  return w;
}

}  // namespace

TEST_CASE("after a decline, an ETA equal to the time left since the alarm stays at level 1",
          "[unit][core][policy]") {
  // Alarm at t0 (target t0 + 30 min); c11 declines at t0 + 100 s: 1700 s are left.
  auto w = with_second_crew_eta(1700);
  const auto id = w.trapped("T1").incident;
  w.advance(100s);
  const auto out = w.run(cmd::decline_offer{id, "c11", "van broke down"});
  REQUIRE(out.ok());
  CHECK(escalations_in(out).empty());
  CHECK(w.incident(id).level == v1::LEVEL_1_MAINTENANCE);
  REQUIRE(w.incident(id).offer);
  CHECK(w.incident(id).offer->crew_id == "c12");
}

TEST_CASE("after a decline, an ETA one second over the time left since the alarm escalates",
          "[unit][core][policy]") {
  auto w = with_second_crew_eta(1701);
  const auto id = w.trapped("T1").incident;
  w.advance(100s);
  const auto out = w.run(cmd::decline_offer{id, "c11", "van broke down"});
  REQUIRE(out.ok());
  const auto escalated = escalations_in(out);
  REQUIRE(escalated.size() == 1);
  CHECK(escalated[0].from() == v1::LEVEL_1_MAINTENANCE);
  CHECK(escalated[0].to() == v1::LEVEL_2_AREA);
  CHECK(escalated[0].reason() == v1::ESCALATION_PREDICTED_LATE);
  CHECK(escalated[0].detail() == "best ETA 1701 s, 1700 s left to the target");
  CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
  CHECK(w.incident(id).offer->crew_id == "c21");
  // Level 2 gets its own window from now, not from the alarm.
  CHECK(w.incident(id).deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == w.now + w.policy.level2_window);
}

TEST_CASE("after an offer expiry, the time left is counted from the alarm, on both sides of equal",
          "[unit][core][policy]") {
  // c11's offer expires at t0 + 60 s: 1740 s are left.
  SECTION("ETA equal to the time left: the next level-1 crew is offered") {
    auto w = with_second_crew_eta(1740);
    const auto id = w.trapped("T1").incident;
    const auto out = w.fire_deadline(id, v1::DEADLINE_OFFER);
    REQUIRE(out.ok());
    REQUIRE(w.now == w.incident(id).alarm_at + 60s);
    CHECK(escalations_in(out).empty());
    CHECK(w.incident(id).level == v1::LEVEL_1_MAINTENANCE);
    CHECK(w.incident(id).offer->crew_id == "c12");
  }
  SECTION("ETA one second over: level 2") {
    auto w = with_second_crew_eta(1741);
    const auto id = w.trapped("T1").incident;
    const auto out = w.fire_deadline(id, v1::DEADLINE_OFFER);
    REQUIRE(out.ok());
    const auto escalated = escalations_in(out);
    REQUIRE(escalated.size() == 1);
    CHECK(escalated[0].reason() == v1::ESCALATION_PREDICTED_LATE);
    CHECK(escalated[0].detail() == "best ETA 1741 s, 1740 s left to the target");
    CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
    CHECK(w.incident(id).offer->crew_id == "c21");
  }
  SECTION("ETA one second under: level 1") {
    auto w = with_second_crew_eta(1739);
    const auto id = w.trapped("T1").incident;
    const auto out = w.fire_deadline(id, v1::DEADLINE_OFFER);
    REQUIRE(out.ok());
    CHECK(escalations_in(out).empty());
    CHECK(w.incident(id).offer->crew_id == "c12");
  }
}

TEST_CASE("a fraction of a second past a whole second left rounds the time left down",
          "[unit][core][policy]") {
  // 1699.6 s left: an ETA of 1699 s makes it, 1700 s does not.
  SECTION("1699 s: level 1") {
    auto w = with_second_crew_eta(1699);
    const auto id = w.trapped("T1").incident;
    w.advance(100s + 400ms);
    REQUIRE(w.run(cmd::decline_offer{id, "c11", ""}).ok());
    CHECK(w.incident(id).level == v1::LEVEL_1_MAINTENANCE);
    CHECK(w.incident(id).offer->crew_id == "c12");
  }
  SECTION("1700 s: level 2") {
    auto w = with_second_crew_eta(1700);
    const auto id = w.trapped("T1").incident;
    w.advance(100s + 400ms);
    const auto out = w.run(cmd::decline_offer{id, "c11", ""});
    REQUIRE(out.ok());
    REQUIRE(escalations_in(out).size() == 1);
    CHECK(escalations_in(out)[0].reason() == v1::ESCALATION_PREDICTED_LATE);
    CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
  }
}

TEST_CASE("a target passed by a fraction of a second is late even for an ETA of 0 s",
          "[unit][core][policy]") {
  // An offer and a level-1 window longer than the target keep c11's offer open past it.
  auto w = with_second_crew_eta(600);
  w.policy.offer_timeout = std::chrono::hours(1);
  w.policy.level1_window = std::chrono::hours(1);
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.incident(id).offer->crew_id == "c11");
  // By the time c11 declines, c12 stands at the elevator.
  w.crews.set_eta("c12", 0);
  w.advance(30min + 400ms);
  const auto out = w.run(cmd::decline_offer{id, "c11", ""});
  REQUIRE(out.ok());
  const auto escalated = escalations_in(out);
  // Level 1's crew at the door is late already; so is every level-2 crew, so fire is called.
  REQUIRE(escalated.size() == 2);
  CHECK(escalated[0].to() == v1::LEVEL_2_AREA);
  CHECK(escalated[0].reason() == v1::ESCALATION_PREDICTED_LATE);
  CHECK(escalated[0].detail() == "best ETA 0 s, 0 s left to the target");
  CHECK(escalated[1].to() == v1::LEVEL_3_FIRE);
  CHECK(w.incident(id).fire_notified);
}

TEST_CASE("at level 2 after the level-1 window, fire is called only for an ETA over the time left",
          "[unit][core][policy]") {
  // The level-1 window closes at t0 + 180 s: 1620 s are left when level 2 ranks its crews.
  auto run = [](std::uint32_t c21_eta) {
    world w;
    w.crews.set_eta("c21", c21_eta);
    w.crews.set_eta("c22", 3 * 3600);
    w.crews.set_eta("s1", 3 * 3600);
    const auto id = w.trapped("T1").incident;
    const auto out = w.fire_deadline(id, v1::DEADLINE_LEVEL_WINDOW);
    REQUIRE(out.ok());
    REQUIRE(w.now == w.incident(id).alarm_at + 180s);
    CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
    // Whatever fire does, the best area crew is offered the job.
    REQUIRE(w.incident(id).offer);
    CHECK(w.incident(id).offer->crew_id == "c21");
    return std::pair{w.incident(id).fire_notified, effects_of<fx::notify_fire>(out)};
  };
  SECTION("equal: no fire") {
    const auto [fire, notified] = run(1620);
    CHECK_FALSE(fire);
    CHECK(notified.empty());
  }
  SECTION("one second over: fire, predicted late") {
    const auto [fire, notified] = run(1621);
    CHECK(fire);
    REQUIRE(notified.size() == 1);
    CHECK(notified[0].reason == v1::ESCALATION_PREDICTED_LATE);
  }
}
