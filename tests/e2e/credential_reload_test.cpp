// Console and fire-centre tokens rotate on SIGHUP without a restart; a bad file changes nothing.
#include <signal.h>

#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

constexpr const char* rotated_token = "e2e-rotated-operator-token-0002";
constexpr const char* rotated_fire_token = "e2e-rotated-fire-token-0002";

// Polls until `target` answers `status` with `token`, or the deadline passes.
bool answers(e2e_world& world, const std::string& token, int status) {
  const auto deadline = std::chrono::steady_clock::now() + short_wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (world.get("/api/v1/incidents", token).status == status) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

TEST_CASE("SIGHUP swaps the console tokens: the old one stops working, the new one works",
          "[e2e][reload]") {
  e2e_world world;
  REQUIRE(world.get("/api/v1/incidents", operator_token).status == 200);
  // No such incident: the answer after the token check is 404, before it 401.
  const std::string fire_ack = "/api/v1/fire/incidents/999999/ack";
  REQUIRE(world.post(fire_ack, "{}", fire_token).status != 401);

  server_options rotated;
  rotated.console_operator_token = rotated_token;
  rotated.fire_inbound_token = rotated_fire_token;
  world.rewrite_config(rotated);
  world.server().send_signal(SIGHUP);

  CHECK(answers(world, operator_token, 401));
  CHECK(answers(world, rotated_token, 200));
  // Writes need the operator role, and the new token carries it.
  const auto call = world.post("/api/v1/incidents",
                               R"({"rescue_code":"10001","caller_phone":"13900000001",)"
                               R"("people_trapped":true})",
                               rotated_token);
  CHECK(call.status == 201);
  CHECK(world.post("/api/v1/incidents", "{}", operator_token).status == 401);
  CHECK(world.get("/api/v1/incidents", auditor_token).status == 200);
  CHECK(world.post(fire_ack, "{}", fire_token).status == 401);
  CHECK(world.post(fire_ack, "{}", rotated_fire_token).status != 401);
  CHECK(world.server().log_tail().find("2 console token(s)") != std::string::npos);

  SECTION("a config that does not parse on reload keeps the tokens in force") {
    {
      std::ofstream out(world.dir() / "rescue-dispatchd.toml", std::ios::trunc);
      out << "[console]\ntokens = [ { token = \"short\", name = \"x\" } ]\n";
    }
    world.server().send_signal(SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + short_wait;
    while (world.server().log_tail().find("config not reloaded") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    CHECK(world.server().log_tail().find("config not reloaded") != std::string::npos);
    CHECK(world.get("/api/v1/incidents", rotated_token).status == 200);
    CHECK(world.get("/api/v1/incidents", operator_token).status == 401);
    CHECK(world.server().running());
  }
}

}  // namespace rescue::e2e
