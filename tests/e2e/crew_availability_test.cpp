// Crew availability has one source, the incident core: an offered or accepted crew is busy in
// the crews list (what the console map draws) until released, and a shift change from the crew
// channel is journalled, survives a restart and decides who is offered a job.
#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

std::optional<v1::CrewOnMap> crew_in(const v1::CrewList& list, const std::string& id) {
  for (const auto& c : list.crews())
    if (c.id() == id) return c;
  return std::nullopt;
}

// The next CrewStatus the server sends the crew.
std::optional<v1::CrewStatus> wait_status(crew_client& crew) {
  const auto message = crew.wait_for([](const v1::CrewServerMessage& m) { return m.has_status(); });
  if (!message) return std::nullopt;
  return message->status();
}

void shift(crew_client& crew, bool on_duty) {
  v1::CrewClientMessage message;
  message.mutable_shift()->set_on_duty(on_duty);
  crew.send(message);
}

TEST_CASE("an offered and an accepted crew are busy in the crews list until released", "[e2e]") {
  e2e_world world;
  auto near = world.crew_at("c11", city::north(450), city::lon);
  auto other = world.crew_at("c12", city::north(3000), city::lon);
  {
    const auto before = crew_in(world.crews(), "c11");
    REQUIRE(before);
    CHECK(before->on_duty());
    CHECK_FALSE(before->busy());
    CHECK(before->current_incident_id() == 0);
  }
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = near->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();

  const auto offered = crew_in(world.crews(), "c11");
  REQUIRE(offered);
  CHECK(offered->busy());
  CHECK(offered->current_incident_id() == id);
  CHECK_FALSE(crew_in(world.crews(), "c12")->busy());

  near->accept(id);
  REQUIRE(near->wait_notice("ok accept"));
  const auto accepted = crew_in(world.crews(), "c11");
  REQUIRE(accepted);
  CHECK(accepted->busy());
  CHECK(accepted->current_incident_id() == id);

  near->departed(id);
  REQUIRE(near->wait_notice("ok departed"));
  near->arrived(id);
  REQUIRE(near->wait_notice("ok arrived"));
  near->released(id);
  REQUIRE(near->wait_notice("ok released"));
  const auto released = crew_in(world.crews(), "c11");
  REQUIRE(released);
  CHECK_FALSE(released->busy());
  CHECK(released->current_incident_id() == 0);
  CHECK(released->on_duty());
}

TEST_CASE("a crew signs off and on duty from the crew channel, journalled across a restart",
          "[e2e]") {
  e2e_world world;
  {
    auto near = world.crew_at("c11", city::north(450), city::lon);
    // Every connection starts with the crew's standing.
    const auto first = wait_status(*near);
    REQUIRE(first);
    CHECK(first->on_duty());
    CHECK(first->current_incident_id() == 0);

    shift(*near, false);
    REQUIRE(near->wait_notice("ok shift off"));
    const auto off = wait_status(*near);
    REQUIRE(off);
    CHECK_FALSE(off->on_duty());
    const auto listed = crew_in(world.crews(), "c11");
    REQUIRE(listed);
    CHECK_FALSE(listed->on_duty());
    CHECK_FALSE(listed->busy());
  }
  world.server().terminate();
  world.start();
  // The shift change came back from the journal: still off duty, so the nearer crew is passed
  // over for the farther one.
  REQUIRE_FALSE(crew_in(world.crews(), "c11")->on_duty());
  auto near = world.crew_at("c11", city::north(450), city::lon);
  auto far = world.crew_at("c12", city::north(2000), city::lon);
  const auto after_restart = wait_status(*near);
  REQUIRE(after_restart);
  CHECK_FALSE(after_restart->on_duty());

  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = far->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();
  CHECK_FALSE(near->wait_offer(id, quiet_wait));
  const auto view = world.incident(id);
  bool excluded_off_duty = false;
  for (const auto& e : view.timeline())
    if (e.has_candidates_ranked())
      for (const auto& x : e.candidates_ranked().exclusions())
        excluded_off_duty =
            excluded_off_duty || (x.crew_id() == "c11" && x.reason() == v1::EXCLUSION_OFF_DUTY);
  CHECK(excluded_off_duty);

  // The crew holding the offer cannot sign off until it hands the job back.
  shift(*far, false);
  const auto refused = far->wait_notice("crew_unavailable shift off");
  REQUIRE(refused);
  CHECK(refused->find("incident " + std::to_string(id)) != std::string::npos);
  CHECK(crew_in(world.crews(), "c12")->on_duty());

  shift(*near, true);
  REQUIRE(near->wait_notice("ok shift on"));
  const auto on = wait_status(*near);
  REQUIRE(on);
  CHECK(on->on_duty());
  CHECK(crew_in(world.crews(), "c11")->on_duty());
}

TEST_CASE("a shift change applies to the signed-in crew only", "[e2e]") {
  // The message has no crew field; the server applies it to the authenticated crew only.
  e2e_world world;
  auto c11 = world.crew_at("c11", city::north(450), city::lon);
  auto c12 = world.crew_at("c12", city::north(900), city::lon);
  shift(*c11, false);
  REQUIRE(c11->wait_notice("ok shift off"));
  CHECK_FALSE(crew_in(world.crews(), "c11")->on_duty());
  CHECK(crew_in(world.crews(), "c12")->on_duty());
}

}  // namespace
}  // namespace rescue::e2e
