// Crew positions across a restart: a crew that stood by an elevator before the server stopped
// is offered that elevator's alarm by the restarted server before its phone reports again,
// instead of the ladder running out to fire rescue for want of a fresh position.
#include <sys/wait.h>

#include <thread>

#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

// The value of a Prometheus counter in GET /metrics; -1 when it is missing.
long metric(e2e_world& world, const std::string& name) {
  const auto reply = world.get("/metrics", {});
  REQUIRE(reply.status == 200);
  const std::string needle = "\nrescue_" + name + " ";
  const auto at = reply.body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stol(reply.body.substr(at + needle.size()));
}

// Polls the counter until it reaches `at_least` or the timeout passes; returns the last value.
long wait_metric(e2e_world& world, const std::string& name, long at_least, millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  long value = metric(world, name);
  while (value < at_least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    value = metric(world, name);
  }
  return value;
}

// What the restarted server knows of `crew_id` before the phone says anything.
std::optional<v1::CrewOnMap> crew_on_map(e2e_world& world, const std::string& crew_id) {
  const v1::CrewList list = world.crews();
  for (const auto& c : list.crews())
    if (c.id() == crew_id) return c;
  return std::nullopt;
}

// The restarted server: the crew's phone reconnects but reports no position, a terminal at E1
// raises an alarm, and the offer must go to c11, which stood 450 m from it before the restart.
void alarm_goes_to_the_crew_that_stood_nearby(e2e_world& world, std::int64_t pinged_at) {
  const auto known = crew_on_map(world, "c11");
  REQUIRE(known);
  REQUIRE(known->has_position());
  CHECK(known->position().lat() == Approx(city::north(450)).epsilon(1e-12));
  CHECK(known->position().lon() == Approx(city::lon).epsilon(1e-12));
  CHECK(known->position_at_ms() >= pinged_at - 1000);
  CHECK(world.server().log_text().find("crew positions: restored 1 of 1 stored") !=
        std::string::npos);

  crew_client crew(world.http_port(), "c11");
  REQUIRE(crew.connect() == 101);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = crew.wait_offer();
  REQUIRE(offer);
  CHECK(offer->level() == v1::LEVEL_1_MAINTENANCE);
  const auto view = world.incident(offer->incident_id());
  INFO(describe_timeline(view));
  CHECK(view.offered_crew_id() == "c11");
  CHECK(view.level() == v1::LEVEL_1_MAINTENANCE);
  CHECK_FALSE(view.fire_notified());
  CHECK(count_events(view, v1::Event::kLevelEscalated) == 0);
}

}  // namespace

TEST_CASE(
    "after a graceful restart the crew that stood by an elevator is offered its alarm "
    "without pinging again",
    "[e2e][positions]") {
  e2e_world world;
  const std::int64_t pinged_at = wall_ms();
  {
    auto crew = world.crew_at("c11", city::north(450), city::lon);
    // Stopped within the flush interval of the ping: the shutdown itself stores it.
    const int status = world.server().terminate(short_wait);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  world.start();
  alarm_goes_to_the_crew_that_stood_nearby(world, pinged_at);
}

TEST_CASE("after kill -9 a crew position that was flushed is restored and offered the alarm",
          "[e2e][positions]") {
  e2e_world world;
  const std::int64_t pinged_at = wall_ms();
  {
    auto crew = world.crew_at("c11", city::north(450), city::lon);
    // The write-behind stores about once a second; the counter says when it has.
    REQUIRE(wait_metric(world, "crew_positions_flushed_total", 1, short_wait) >= 1);
    world.server().kill_hard();
  }
  world.start();
  alarm_goes_to_the_crew_that_stood_nearby(world, pinged_at);
}

TEST_CASE("without a stored position a restarted server has no crew near the elevator",
          "[e2e][positions]") {
  // The control case of the two above: the same city and alarm, the crew's position never
  // stored (it never pinged), and level 1 has nobody to offer.
  e2e_world world;
  REQUIRE(world.server().terminate(short_wait) != -1);
  world.start();
  // Once per start (the log is appended to): nothing stored either time.
  const std::string log = world.server().log_text();
  const std::string line = "crew positions: restored 0 of 0 stored";
  std::size_t starts = 0;
  for (auto at = log.find(line); at != std::string::npos; at = log.find(line, at + 1))
    ++starts;
  CHECK(starts == 2);
  const auto known = crew_on_map(world, "c11");
  REQUIRE(known);
  CHECK_FALSE(known->has_position());
  crew_client crew(world.http_port(), "c11");
  REQUIRE(crew.connect() == 101);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  CHECK_FALSE(crew.wait_offer(0, quiet_wait));
}

}  // namespace rescue::e2e
