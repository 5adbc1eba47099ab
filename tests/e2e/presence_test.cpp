// Terminals that go silent are reported offline; silence is never taken for an entrapment.
#include <catch2/catch.hpp>

#include <thread>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

// The terminal's entry in GET /api/v1/terminals.
v1::TerminalPresence presence_of(e2e_world& world, const std::string& terminal_id) {
  const v1::TerminalList list = world.terminals();
  for (const auto& t : list.terminals())
    if (t.terminal_id() == terminal_id) return t;
  FAIL("terminal " << terminal_id << " is not in the list");
  return {};
}

// Whether the terminal's entry shows it online (or offline) within the timeout: the server
// records a dropped link after it closes the socket, so the client can see the close first.
bool presence_shows(e2e_world& world, const std::string& terminal_id, bool online,
                    millis timeout = short_wait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (presence_of(world, terminal_id).online() == online) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("a terminal that stops answering pings is dropped, reported offline, and opens nothing",
          "[e2e]") {
  server_options options;
  options.ping_interval_s = 1;
  options.idle_timeout_s = 2;
  e2e_world world(options);
  CHECK_FALSE(presence_of(world, city::t2().id).online());

  auto terminal = world.terminal(city::t1());
  // The server records the link just after its handshake answer, which the client can see first.
  CHECK(presence_shows(world, city::t1().id, true));

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
  CHECK(presence_shows(world, city::t1().id, false));
  CHECK(world.incidents().incidents_size() == 0);
}

TEST_CASE("the terminal list needs a console token", "[e2e]") {
  e2e_world world;
  CHECK(http_call(world.http_port(), method::get, "/api/v1/terminals").status == 401);
}

}  // namespace
}  // namespace rescue::e2e
