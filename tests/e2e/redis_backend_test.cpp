// The server on the Redis backend ([storage] backend = "redis") against a real redis-server on
// loopback: an incident survives kill -9 of the server, and while Redis is away nothing is
// acknowledged, /healthz says why, and service resumes by itself when Redis returns.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "harness.hpp"
#include "redis_server.hpp"

namespace rescue::e2e {
namespace {

server_options on_redis(const test::redis_server& redis) {
  server_options o;
  o.storage_keys = "backend = \"redis\"\nredis_port = " + std::to_string(redis.port()) +
                   "\nredis_store = \"e2e\"\n";
  return o;
}

// Polls /healthz until its status is `want` (200 or 503); returns the last reply.
http_reply wait_health(e2e_world& world, int want, millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  http_reply r;
  do {
    r = http_call(world.http_port(), method::get, "/healthz", {}, {});
    if (r.status == want) return r;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

TEST_CASE("on the redis backend an incident survives kill -9 of the server and verifies",
          "[e2e][redis]") {
  test::redis_server redis;
  auto options = on_redis(redis);
  options.offer_timeout_s = 30;
  e2e_world world(options);

  auto crew = world.crew_at("c11", city::north(450), city::lon);
  std::uint64_t id = 0;
  {
    auto terminal = world.terminal(city::t1(), 77);
    REQUIRE(terminal->send_event(5, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(5));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();
    world.server().kill_hard();
  }
  // The journal is in Redis, not in a file beside the config.
  CHECK_FALSE(fs::exists(world.dir() / "var" / "journal.db"));
  const auto length = redis.run({"XLEN", "rescue:{e2e}:journal"});
  CHECK(length.integer >= 2);

  world.start();
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c11");

  const auto verify =
      http_call(world.http_port(), method::get, "/api/v1/journal/verify", {}, auditor_token);
  INFO(verify.body);
  CHECK(verify.status == 200);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);

  // The audit tool reads the same store while the server runs.
  const std::string location = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/e2e";
  const std::string rescuectl = std::string(RESCUE_BIN_DIR) + "/rescuectl";
  for (const char* command : {"verify", "replay"}) {
    const std::string line =
        rescuectl + " " + command + " --journal " + location + " > /dev/null 2>&1";
    INFO(line);
    const int status = std::system(line.c_str());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("with redis down nothing is acknowledged and healthz says why until redis returns",
          "[e2e][redis]") {
  test::redis_server redis;
  e2e_world world(on_redis(redis));
  auto first = world.terminal(city::t1(), 1);
  REQUIRE(first->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(first->wait_ack(1));
  const auto first_incident = world.wait_incident_for(city::t1().elevator_id);

  redis.kill(SIGKILL);
  const auto down = wait_health(world, 503, 10s);
  INFO(down.body);
  REQUIRE(down.status == 503);
  CHECK(down.body.find("\"status\":\"not_ready\"") != std::string::npos);
  CHECK(down.body.find("\"reason\":\"") != std::string::npos);

  auto second = world.terminal(city::t2(), 1);
  REQUIRE(second->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK_FALSE(second->wait_ack(1, 3s));  // not durable: no ack

  redis.start();  // same port, same AOF: the first alarm is still there
  CHECK(second->wait_ack(1, 15s));
  const auto up = wait_health(world, 200, 10s);
  INFO(up.body);
  CHECK(up.status == 200);
  const auto second_incident = world.wait_incident_for(city::t2().elevator_id);
  CHECK(second_incident != first_incident);
  CHECK(world.incident(first_incident).id() == first_incident);
}

}  // namespace
}  // namespace rescue::e2e
