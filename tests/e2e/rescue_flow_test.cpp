// The ordinary rescue over real sockets: terminal alarm, nearest crew, the crew's progress, the
// operator's close; and a declined offer moving on to the next crew.
#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

TEST_CASE("a terminal alarm is offered to the nearest crew, rescued, closed, with ordered times",
          "[e2e]") {
  e2e_world world;
  auto near = world.crew_at("c11", city::north(450), city::lon);
  auto far = world.crew_at("c12", city::north(2000), city::lon);
  auto terminal = world.terminal(city::t1());

  const std::int64_t before = wall_ms();
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));

  const auto offer = near->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();
  // A resend of the same frame (the terminal missed the ack) is acknowledged again, not re-raised.
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(1));
  CHECK(offer->elevator_id() == "E1");
  CHECK(offer->rescue_code() == "10001");
  CHECK(offer->level() == v1::LEVEL_1_MAINTENANCE);
  CHECK(offer->people_trapped());
  CHECK(offer->target_minutes() == 30);
  CHECK(offer->distance_m() > 400);
  CHECK(offer->distance_m() < 500);
  CHECK(offer->expires_at_ms() - offer->offered_at_ms() == 6000);
  CHECK_FALSE(far->wait_offer(id, quiet_wait));

  near->accept(id);
  REQUIRE(near->wait_notice("ok accept"));
  near->departed(id);
  REQUIRE(near->wait_notice("ok departed"));
  near->arrived(id);
  REQUIRE(near->wait_notice("ok arrived"));
  near->released(id);
  REQUIRE(near->wait_notice("ok released"));

  const auto closed = world.post("/api/v1/incidents/" + std::to_string(id) + "/close",
                                 R"({"cause":{"category":"CAUSE_DOOR_SYSTEM",)"
                                 R"("sub_cause":"door_lock_fault"}})");
  INFO(closed.body);
  REQUIRE(closed.status == 200);
  const std::int64_t after = wall_ms();

  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_CLOSED);
  CHECK(view.assigned_crew_id() == "c11");
  CHECK(view.level() == v1::LEVEL_1_MAINTENANCE);
  CHECK(view.cause().category() == v1::CAUSE_DOOR_SYSTEM);
  CHECK(view.cause().sub_cause() == "door_lock_fault");
  CHECK_FALSE(view.late());
  CHECK(view.minutes_over_target() == 0);
  CHECK_FALSE(view.fire_notified());

  // Derived times: each stage no earlier than the one before, all inside the test's window.
  CHECK(view.alarm_at_ms() >= before);
  CHECK(view.offered_at_ms() >= view.alarm_at_ms());
  CHECK(view.accepted_at_ms() >= view.offered_at_ms());
  CHECK(view.accepted_at_ms() >= view.alarm_at_ms());
  CHECK(view.departed_at_ms() >= view.accepted_at_ms());
  CHECK(view.arrived_at_ms() >= view.departed_at_ms());
  CHECK(view.released_at_ms() >= view.arrived_at_ms());
  CHECK(view.closed_at_ms() >= view.released_at_ms());
  CHECK(view.closed_at_ms() <= after);
  CHECK(view.target_at_ms() == view.alarm_at_ms() + 30 * 60 * 1000);
  CHECK(offer->alarm_at_ms() == view.alarm_at_ms());

  // The alarm is the terminal's, and the timeline tells the story in order.
  REQUIRE(view.alarms_size() == 1);
  CHECK(view.alarms(0).source() == v1::SOURCE_TERMINAL);
  CHECK(view.alarms(0).terminal_id() == "T1");
  CHECK(view.alarms(0).terminal_seq() == 1);
  const std::vector<v1::Event::BodyCase> story = {
      v1::Event::kOpened,       v1::Event::kOfferMade,   v1::Event::kOfferAccepted,
      v1::Event::kCrewDeparted, v1::Event::kCrewArrived, v1::Event::kPeopleReleased,
      v1::Event::kClosed};
  std::size_t next = 0;
  std::int64_t last_at = 0;
  for (const auto& e : view.timeline()) {
    CHECK(e.at_ms() >= last_at);
    last_at = e.at_ms();
    if (next < story.size() && e.body_case() == story[next]) ++next;
  }
  CHECK(next == story.size());
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 0);
  const auto* made = first_event(view, v1::Event::kOfferMade);
  REQUIRE(made);
  CHECK(made->offer_made().crew_id() == "c11");
  CHECK(made->offer_made().rank() == 1);

  // The live KPIs: one response and one arrival, both within the first bucket (a minute).
  const auto metrics = world.get("/metrics", {});
  REQUIRE(metrics.status == 200);
  for (const char* line :
       {"rescue_response_seconds_count 1\n", "rescue_response_seconds_bucket{le=\"60\"} 1\n",
        "rescue_arrival_seconds_count 1\n", "rescue_arrival_seconds_bucket{le=\"1800\"} 1\n",
        "# TYPE rescue_arrival_seconds histogram\n"}) {
    INFO(line);
    CHECK(metrics.body.find(line) != std::string::npos);
  }
}

TEST_CASE("a declined offer goes to the next crew of the same unit, not to level 2", "[e2e]") {
  e2e_world world;
  auto first = world.crew_at("c11", city::north(450), city::lon);
  auto second = world.crew_at("c12", city::north(2000), city::lon);
  auto other_unit = world.crew_at("c21", city::north(1000), city::lon);
  auto terminal = world.terminal(city::t1());

  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_IN_DOOR_ZONE));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = first->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();

  first->decline(id, "van broke down");
  REQUIRE(first->wait_notice("ok decline"));
  const auto next = second->wait_offer(id);
  REQUIRE(next);
  CHECK(next->level() == v1::LEVEL_1_MAINTENANCE);
  CHECK(next->distance_m() > 1900);
  CHECK_FALSE(other_unit->wait_offer(id, quiet_wait));

  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c12");
  CHECK(view.level() == v1::LEVEL_1_MAINTENANCE);
  const auto* declined = first_event(view, v1::Event::kOfferDeclined);
  REQUIRE(declined);
  CHECK(declined->offer_declined().crew_id() == "c11");
  CHECK(declined->offer_declined().reason() == "van broke down");
  CHECK(count_events(view, v1::Event::kOfferMade) == 2);
  bool c11_excluded_as_tried = false;
  for (const auto& x : view.last_ranking().exclusions())
    if (x.crew_id() == "c11" && x.reason() == v1::EXCLUSION_ALREADY_TRIED)
      c11_excluded_as_tried = true;
  CHECK(c11_excluded_as_tried);

  // The second crew takes it; the incident moves on.
  second->accept(id);
  REQUIRE(second->wait_notice("ok accept"));
  CHECK(world.incident(id).assigned_crew_id() == "c12");
}

}  // namespace
}  // namespace rescue::e2e
