// The ladder over real sockets and real time: level 1 staying silent until its window closes,
// and a predicted late arrival reaching the fire centre's webhook and its acknowledgement.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::e2e {
namespace {

TEST_CASE("when level 1 stays silent until its window closes, a crew of another unit is offered",
          "[e2e]") {
  server_options options;
  options.offer_timeout_s = 6;
  options.level1_window_s = 10;
  options.level2_window_s = 30;
  e2e_world world(options);
  auto silent1 = world.crew_at("c11", city::north(450), city::lon);
  auto silent2 = world.crew_at("c12", city::north(2000), city::lon);
  auto area = world.crew_at("c21", city::north(1000), city::lon);
  auto terminal = world.terminal(city::t1());

  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto first = silent1->wait_offer();
  REQUIRE(first);
  const std::uint64_t id = first->incident_id();
  const std::int64_t alarm_at = first->alarm_at_ms();
  // The level-2 crew is nearer than the second crew of the unit, but level 1 has its window.
  CHECK_FALSE(area->wait_offer(id, quiet_wait));

  // Receipted, never answered: the offer expires and goes to the unit's next crew.
  const auto expired = silent1->wait_withdrawn(id, 9s);
  REQUIRE(expired);
  CHECK(expired->reason() == "offer expired");
  const auto second = silent2->wait_offer(id);
  REQUIRE(second);
  CHECK(second->level() == v1::LEVEL_1_MAINTENANCE);

  // The unit's window closes while the second offer is still open.
  const auto escalated = area->wait_offer(id, 9s);
  REQUIRE(escalated);
  CHECK(escalated->level() == v1::LEVEL_2_AREA);
  CHECK(escalated->offered_at_ms() - alarm_at >= 10'000);
  CHECK(escalated->offered_at_ms() - alarm_at < 12'500);
  const auto taken_back = silent2->wait_withdrawn(id);
  REQUIRE(taken_back);

  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.level() == v1::LEVEL_2_AREA);
  CHECK(view.offered_crew_id() == "c21");
  CHECK_FALSE(view.fire_notified());
  CHECK(count_events(view, v1::Event::kOfferExpired) == 1);
  const auto* step = first_event(view, v1::Event::kLevelEscalated);
  REQUIRE(step);
  CHECK(step->level_escalated().from() == v1::LEVEL_1_MAINTENANCE);
  CHECK(step->level_escalated().to() == v1::LEVEL_2_AREA);
  CHECK(step->level_escalated().reason() == v1::ESCALATION_WINDOW_EXPIRED);
}

TEST_CASE("a predicted late arrival calls the fire centre's webhook, which acknowledges it",
          "[e2e]") {
  http_receiver fire_centre;
  server_options options;
  options.fire_webhook_url =
      "http://127.0.0.1:" + std::to_string(fire_centre.port()) + "/119/escalations";
  e2e_world world(options);
  // E4's own unit has its only crew about 111 km away; the nearest area crew is 14 km away,
  // inside the level-2 radius, but 14 km of Chongqing roads take longer than 30 minutes.
  auto own = world.crew_at("cf1", city::north(111'000), city::lon);
  auto area = world.crew_at("c21", city::north(14'000), city::lon);
  auto terminal = world.terminal(city::t4());

  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));

  // The best area crew still goes: it knows the machine.
  const auto offer = area->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();
  CHECK(offer->level() == v1::LEVEL_2_AREA);
  CHECK(offer->eta_s() > 30 * 60);
  CHECK_FALSE(own->wait_offer(id, 100ms));

  const auto call = fire_centre.wait_request(short_wait);
  REQUIRE(call);
  INFO("webhook body: " << call->body);
  CHECK(call->method == "POST");
  CHECK(call->target == "/119/escalations");
  CHECK(call->content_type.find("application/json") != std::string::npos);
  v1::FireEscalation body;
  REQUIRE(protocol::from_json(call->body, body).empty());
  CHECK(body.incident_id() == id);
  CHECK(body.kind() == "fire_escalation");
  CHECK(body.reason() == v1::ESCALATION_PREDICTED_LATE);
  CHECK(body.elevator().rescue_code() == "10004");
  const std::string ack_path = body.ack_path();
  CHECK(ack_path == "/api/v1/fire/incidents/" + std::to_string(id) + "/ack");

  auto view = world.incident(id);
  CHECK(view.fire_notified());
  CHECK_FALSE(view.fire_acknowledged());

  // Only the fire centre's token opens the inbound endpoint.
  CHECK(world.post(ack_path, "{}", operator_token).status == 401);
  CHECK(world.post(ack_path, "{}", "").status == 401);
  CHECK_FALSE(world.incident(id).fire_acknowledged());

  const auto ack =
      world.post(ack_path, R"({"fire_unit":"渝中区消防救援支队解放碑站"})", fire_token);
  INFO(ack.body);
  REQUIRE(ack.status == 200);
  view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.fire_notified());
  CHECK(view.fire_acknowledged());
  // The view reports the highest level used; the crew that goes is level 2 (its offer above).
  CHECK(view.level() == v1::LEVEL_3_FIRE);
  CHECK(view.offered_crew_id() == "c21");
  std::vector<v1::EscalationReason> reasons;
  std::vector<v1::RescueLevel> targets;
  for (const auto& e : view.timeline()) {
    if (!e.has_level_escalated()) continue;
    reasons.push_back(e.level_escalated().reason());
    targets.push_back(e.level_escalated().to());
  }
  CHECK(targets == std::vector<v1::RescueLevel>{v1::LEVEL_2_AREA, v1::LEVEL_3_FIRE});
  CHECK(reasons == std::vector<v1::EscalationReason>{v1::ESCALATION_PREDICTED_LATE,
                                                     v1::ESCALATION_PREDICTED_LATE});
  const auto* acknowledged = first_event(view, v1::Event::kFireAcknowledged);
  REQUIRE(acknowledged);
  CHECK(acknowledged->fire_acknowledged().fire_unit() == "渝中区消防救援支队解放碑站");

  // A second acknowledgement changes nothing; arrival is reported on its own path.
  CHECK(world.post(ack_path, "{}", fire_token).status == 409);
  const auto arrived = world.post(body.arrived_path(), R"({"fire_unit":"解放碑站"})", fire_token);
  CHECK(arrived.status == 200);
  CHECK(world.incident(id).arrived_at_ms() > 0);
  // Exactly one escalation was delivered.
  CHECK(fire_centre.requests().size() == 1);
}

TEST_CASE("an injured caller calls fire rescue at once, and a refused webhook is retried",
          "[e2e]") {
  // The fire centre's gateway is briefly unavailable: two refusals, then it takes the call.
  http_receiver fire_centre({503, 500});
  server_options options;
  options.fire_webhook_url = "http://127.0.0.1:" + std::to_string(fire_centre.port()) + "/119";
  e2e_world world(options);
  auto crew = world.crew_at("c11", city::north(450), city::lon);

  const auto call =
      world.post("/api/v1/incidents", R"({"rescue_code":"10003","caller_phone":"13900000003",)"
                                      R"("people_trapped":true,"injured":true})");
  INFO(call.body);
  REQUIRE(call.status == 201);
  v1::CommandResult result;
  REQUIRE(protocol::from_json(call.body, result).empty());
  const std::uint64_t id = result.incident_id();
  // Fire comes on top of the crews, not instead of them.
  const auto offer = crew->wait_offer(id);
  REQUIRE(offer);
  CHECK(offer->injured());

  std::vector<received_request> calls;
  for (int i = 0; i < 3; ++i) {
    const auto request = fire_centre.wait_request(short_wait);
    REQUIRE(request);
    calls.push_back(*request);
  }
  for (const auto& c : calls) {
    CHECK(c.body == calls.front().body);
    CHECK(c.body.find("ESCALATION_INJURED") != std::string::npos);
  }
  // Delivered on the third attempt: nothing more is sent.
  CHECK_FALSE(fire_centre.wait_request(1500ms));
  const auto view = world.incident(id);
  CHECK(view.fire_notified());
  CHECK(view.injured());
}

}  // namespace
}  // namespace rescue::e2e
