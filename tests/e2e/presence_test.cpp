// Terminals that go silent are reported offline; silence is never taken for an entrapment.
#include <catch2/catch.hpp>

#include <thread>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

// The terminal's entry in GET /api/v1/terminals, as raw JSON text.
std::string presence_of(e2e_world& world, const std::string& terminal_id) {
  const auto reply =
      http_call(world.http_port(), method::get, "/api/v1/terminals", {}, auditor_token);
  REQUIRE(reply.status == 200);
  const auto at = reply.body.find("\"terminal_id\":\"" + terminal_id + "\"");
  REQUIRE(at != std::string::npos);
  return reply.body.substr(at, reply.body.find('}', at) - at);
}

TEST_CASE("a terminal that stops answering pings is dropped, reported offline, and opens nothing",
          "[e2e]") {
  server_options options;
  options.ping_interval_s = 1;
  options.idle_timeout_s = 2;
  e2e_world world(options);
  CHECK(presence_of(world, city::t2().id).find("\"online\":false") != std::string::npos);

  auto terminal = world.terminal(city::t1());
  CHECK(presence_of(world, city::t1().id).find("\"online\":true") != std::string::npos);

  // Silent from now on: pings go unanswered until the idle timeout ends the link.
  std::vector<v1::TerminalFrame> frames;
  REQUIRE(terminal->wait_closed(short_wait, &frames));
  bool pinged = false, told = false;
  for (const auto& f : frames) {
    pinged = pinged || f.has_ping();
    told = told || (f.has_goodbye() && f.goodbye().reason().find("idle") != std::string::npos);
  }
  CHECK(pinged);
  CHECK(told);
  CHECK(presence_of(world, city::t1().id).find("\"online\":false") != std::string::npos);
  CHECK(world.incidents().incidents_size() == 0);
}

TEST_CASE("the terminal list needs a console token", "[e2e]") {
  e2e_world world;
  CHECK(http_call(world.http_port(), method::get, "/api/v1/terminals").status == 401);
}

}  // namespace
}  // namespace rescue::e2e
