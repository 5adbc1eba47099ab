// Two channels, one entrapment: a terminal alarm and a phone call for the same elevator become
// one incident, whichever arrives first.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::e2e {
namespace {

std::size_t open_incidents_for(e2e_world& world, const std::string& elevator_id) {
  std::size_t n = 0;
  const auto list = world.incidents();
  for (const auto& view : list.incidents())
    if (view.elevator().elevator_id() == elevator_id) ++n;
  return n;
}

TEST_CASE("a phone call for an elevator whose terminal raised the alarm joins that incident",
          "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();

  const auto call =
      world.post("/api/v1/incidents", R"({"rescue_code":"10001","source":"SOURCE_PHONE",)"
                                      R"("caller_name":"张三","caller_phone":"13900000001",)"
                                      R"("people_trapped":true})");
  INFO(call.body);
  CHECK(call.status == 200);  // merged, not created
  v1::CommandResult result;
  REQUIRE(protocol::from_json(call.body, result).empty());
  CHECK(result.ok());
  CHECK(result.incident_id() == id);

  CHECK(open_incidents_for(world, "E1") == 1);
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  REQUIRE(view.alarms_size() == 2);
  CHECK(view.alarms(0).source() == v1::SOURCE_TERMINAL);
  CHECK(view.alarms(1).source() == v1::SOURCE_PHONE);
  CHECK(view.alarms(1).caller_phone() == "13900000001");
  CHECK(view.alarms(1).operator_id() == "op-e2e");
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 1);
  // The crew already on it is not offered the job a second time.
  CHECK(count_events(view, v1::Event::kOfferMade) == 1);
  CHECK(view.offered_crew_id() == "c11");
  CHECK_FALSE(crew->wait_offer(id, quiet_wait));
}

TEST_CASE("a terminal alarm for an elevator already reported by phone joins that incident",
          "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);

  const auto call =
      world.post("/api/v1/incidents", R"({"rescue_code":"10002","caller_name":"李四",)"
                                      R"("caller_phone":"13900000002","people_trapped":true})");
  INFO(call.body);
  REQUIRE(call.status == 201);
  v1::CommandResult result;
  REQUIRE(protocol::from_json(call.body, result).empty());
  const std::uint64_t id = result.incident_id();
  CHECK(call.location == "/api/v1/incidents/" + std::to_string(id));
  const auto offer = crew->wait_offer(id);
  REQUIRE(offer);
  CHECK(offer->caller_phone() == "13900000002");

  auto terminal = world.terminal(city::t2());
  REQUIRE(terminal->send_event(1, v1::EVENT_ALARM_BUTTON));
  REQUIRE(terminal->wait_ack(1));

  CHECK(open_incidents_for(world, "E2") == 1);
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  REQUIRE(view.alarms_size() == 2);
  CHECK(view.alarms(0).source() == v1::SOURCE_PHONE);
  CHECK(view.alarms(1).source() == v1::SOURCE_TERMINAL);
  CHECK(view.alarms(1).terminal_id() == "T2");
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 1);
  CHECK(view.offered_crew_id() == "c11");
}

}  // namespace
}  // namespace rescue::e2e
