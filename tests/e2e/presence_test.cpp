// Terminals that go silent are reported offline; silence is never taken for an entrapment.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"

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

// The terminal link changes of `terminal_id` in the journal, in order: "up", or "down: reason".
std::vector<std::string> journalled_links(e2e_world& world, const std::string& terminal_id) {
  const fs::path out = world.dir() / "links.jsonl";
  const std::string line = std::string(RESCUE_BIN_DIR) + "/rescuectl export --journal " +
                           (world.dir() / "var/journal.db").string() + " > " + out.string();
  REQUIRE(std::system(line.c_str()) == 0);
  std::ifstream in(out);
  std::vector<std::string> links;
  for (std::string text; std::getline(in, text);) {
    v1::JournalRecordLine record;
    REQUIRE(protocol::from_json(text, record).empty());
    if (!record.event().has_terminal_link()) continue;
    const auto& l = record.event().terminal_link();
    if (l.terminal_id() != terminal_id) continue;
    CHECK(record.incident_id() == 0);
    CHECK(l.elevator_id() == "E1");
    links.push_back(l.online() ? "up" : "down: " + l.reason());
  }
  return links;
}

std::vector<std::string> wait_links(e2e_world& world, const std::string& terminal_id,
                                    std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + short_wait;
  for (;;) {
    auto links = journalled_links(world, terminal_id);
    if (links.size() >= count || std::chrono::steady_clock::now() >= deadline) return links;
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("a terminal's link is journalled up and down, and a restart records it lost",
          "[e2e][faults]") {
  e2e_world world;
  {
    auto terminal = world.terminal(city::t1());
    REQUIRE(presence_shows(world, city::t1().id, true));
  }  // the client closes its socket
  REQUIRE(presence_shows(world, city::t1().id, false));
  auto again = world.terminal(city::t1());
  REQUIRE(presence_shows(world, city::t1().id, true));
  auto links = wait_links(world, city::t1().id, 3);
  REQUIRE(links.size() == 3);
  CHECK(links[0] == "up");
  CHECK(links[1].rfind("down: ", 0) == 0);
  CHECK(links[2] == "up");

  // Killed while the link is up: the next start records it lost before the port opens.
  world.server().kill_hard();
  again.reset();
  world.start();
  links = wait_links(world, city::t1().id, 4);
  REQUIRE(links.size() == 4);
  CHECK(links[3] == "down: server restarted");
  CHECK_FALSE(presence_of(world, city::t1().id).online());
}

TEST_CASE("the terminal list needs a console token", "[e2e]") {
  e2e_world world;
  CHECK(http_call(world.http_port(), method::get, "/api/v1/terminals").status == 401);
}

}  // namespace
}  // namespace rescue::e2e
