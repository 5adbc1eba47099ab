// Rules a broken terminal or phone must not bend, through the real server: a terminal's
// numbering never makes an acknowledged alarm open nothing, repeats stay bounded, the car's own
// recovery does not overrule people, and a phone's clock does not keep it fresh.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::e2e {
namespace {

std::size_t incidents_for(e2e_world& world, const std::string& elevator_id) {
  std::size_t n = 0;
  const auto list = world.incidents();
  for (const auto& view : list.incidents())
    if (view.elevator().elevator_id() == elevator_id) ++n;
  return n;
}

// The position time the server keeps for a crew, from GET /api/v1/crews; 0 when it has none.
std::int64_t crew_position_at_ms(e2e_world& world, const std::string& crew_id) {
  const v1::CrewList list = world.crews();
  for (const auto& c : list.crews())
    if (c.id() == crew_id) return c.position_at_ms();
  return 0;
}

void send_location(crew_client& crew, double lat, double lon, std::int64_t at_ms) {
  v1::CrewClientMessage m;
  m.mutable_location()->mutable_position()->set_lat(lat);
  m.mutable_location()->mutable_position()->set_lon(lon);
  m.mutable_location()->set_at_ms(at_ms);
  crew.send(m);
}

TEST_CASE("an alarm after a frame numbered out of order is acknowledged and opens an incident",
          "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto terminal = world.terminal(city::t1());
  // A fault far ahead of the terminal's numbering (a counter bug), then an entrapment numbered
  // as the terminal's counter really stands.
  REQUIRE(terminal->send_event(1000, v1::EVENT_OVERSPEED));
  REQUIRE(terminal->wait_ack(1000));
  REQUIRE(terminal->send_event(5, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(5));
  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  CHECK(offer->elevator_id() == "E1");
  CHECK(incidents_for(world, "E1") == 1);
}

TEST_CASE("a terminal that reboots without a new boot id still raises its alarms", "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  {
    auto terminal = world.terminal(city::t1(), 7);
    REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(1));
  }
  const auto first = crew->wait_offer();
  REQUIRE(first);
  const std::uint64_t id = first->incident_id();
  REQUIRE(world
              .post("/api/v1/incidents/" + std::to_string(id) + "/cancel",
                    R"({"reason":"CANCEL_FALSE_ALARM","detail":"test"})")
              .status == 200);
  REQUIRE(crew->wait_withdrawn(id));

  // Same boot id, numbering from 1 again: the same frame identity as the first alarm, whose
  // incident is over. It is a new entrapment, not a resend.
  auto terminal = world.terminal(city::t1(), 7);
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto second = crew->wait_offer();
  REQUIRE(second);
  CHECK(second->incident_id() != id);
}

TEST_CASE("a resent alarm is acknowledged again and opens nothing new", "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(3, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(3));
  REQUIRE(terminal->send_event(3, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(3));
  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  const auto view = world.incident(offer->incident_id());
  INFO(describe_timeline(view));
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 0);
  CHECK(view.alarm_count() == 1);
}

TEST_CASE("a terminal repeating its alarm is counted on one entry, not listed again", "[e2e]") {
  e2e_world world;
  auto terminal = world.terminal(city::t1());
  constexpr std::uint64_t repeats = 200;
  for (std::uint64_t seq = 1; seq <= repeats; ++seq)
    REQUIRE(terminal->send_event(seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(repeats));
  const auto id = world.wait_incident_for("E1");
  const auto view = world.incident(id);
  CHECK(view.alarm_count() == repeats);
  REQUIRE(view.alarms_size() == 1);
  CHECK(view.alarms(0).repeats() == repeats - 1);
  CHECK(view.alarms(0).last_repeat_at_ms() >= view.alarm_at_ms());
  // The board lists the same bounded view.
  const auto board = world.incidents();
  for (const auto& v : board.incidents())
    if (v.id() == id) CHECK(v.alarms_size() == 1);
  // The journal keeps every alarm for the auditor.
  CHECK(count_events(view, v1::Event::kMerged) == repeats - 1);
}

TEST_CASE("a terminal's recovery does not cancel an incident an operator confirmed as trapped",
          "[e2e]") {
  e2e_world world;
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_ALARM_BUTTON));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();
  REQUIRE(world
              .post("/api/v1/incidents/" + std::to_string(id) + "/confirm-trapped",
                    R"({"injured":true})")
              .status == 200);

  REQUIRE(terminal->send_event(2, v1::EVENT_TRAPPED_CLEARED));
  REQUIRE(terminal->wait_ack(2));
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() != v1::STAGE_CANCELLED);
  CHECK(view.cleared_by_terminal());
  CHECK(view.confirmed_by_person());
  CHECK(view.fire_notified());
  CHECK(count_events(view, v1::Event::kCancelled) == 0);
  const auto* cleared = first_event(view, v1::Event::kTrappedCleared);
  REQUIRE(cleared);
  CHECK_FALSE(cleared->trapped_cleared().kept_open_because().empty());
  CHECK_FALSE(crew->wait_withdrawn(id, quiet_wait));
}

TEST_CASE("a crew position stamped in the future is refused, and a slightly early one ages",
          "[e2e]") {
  server_options options;
  options.max_position_age_s = 10;  // the smallest the config allows
  e2e_world world(options);
  crew_client crew(world.http_port(), "c11");
  REQUIRE(crew.connect() == 101);

  // An hour ahead: refused, with the reason.
  send_location(crew, city::north(450), city::lon, wall_ms() + 3'600'000);
  const auto refused = crew.wait_notice("invalid_request location");
  REQUIRE(refused);
  CHECK(refused->find("ahead of the server's clock") != std::string::npos);
  CHECK(crew_position_at_ms(world, "c11") == 0);

  // Impossible coordinates: refused too.
  send_location(crew, 123.0, city::lon, wall_ms());
  const auto impossible = crew.wait_notice("invalid_request location");
  REQUIRE(impossible);
  CHECK(impossible->find("impossible coordinates") != std::string::npos);

  // 20 s ahead is within the clock allowance, but the server keeps its own receive time.
  const auto sent_at = wall_ms();
  send_location(crew, city::north(450), city::lon, sent_at + 20'000);
  std::int64_t kept = 0;
  for (int i = 0; i < 100 && kept == 0; ++i) {
    kept = crew_position_at_ms(world, "c11");
    if (kept == 0) std::this_thread::sleep_for(20ms);
  }
  REQUIRE(kept > 0);
  CHECK(kept <= wall_ms());
  CHECK(kept >= sent_at);

  // The phone falls silent: past the age limit it is no longer offered jobs.
  std::this_thread::sleep_for(std::chrono::milliseconds(10'500));
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto id = world.wait_incident_for("E1");
  CHECK_FALSE(crew.wait_offer(id, quiet_wait));
  const auto view = world.incident(id);
  // Level 1, the crew's own unit, passed it over for its position's age.
  const auto* level1 = first_event(view, v1::Event::kCandidatesRanked);
  REQUIRE(level1);
  bool stale = false;
  for (const auto& x : level1->candidates_ranked().exclusions())
    if (x.crew_id() == "c11") stale = x.reason() == v1::EXCLUSION_STALE_POSITION;
  INFO(describe_timeline(view));
  CHECK(stale);
}

}  // namespace
}  // namespace rescue::e2e

namespace rescue::e2e {
namespace {

std::string fault_counter(e2e_world& world, const char* code) {
  const auto reply = world.get("/metrics", {});
  const std::string key = std::string("rescue_terminal_faults_total{code=\"") + code + "\"} ";
  const auto at = reply.body.find(key);
  if (at == std::string::npos) return "missing";
  return reply.body.substr(at + key.size(), reply.body.find('\n', at) - at - key.size());
}

TEST_CASE("a terminal fault is journalled with its snapshot, counted once, and opens nothing",
          "[e2e][faults]") {
  e2e_world world;
  auto terminal = world.terminal(city::t1(), 2);
  CHECK(fault_counter(world, "EVENT_DOOR_OPEN_WHILE_RUNNING") == "0");
  REQUIRE(terminal->send_event(3, v1::EVENT_DOOR_OPEN_WHILE_RUNNING));
  REQUIRE(terminal->wait_ack(3));
  // The resend of an acknowledged fault is recognised: acknowledged again, not counted twice.
  REQUIRE(terminal->send_event(3, v1::EVENT_DOOR_OPEN_WHILE_RUNNING));
  REQUIRE(terminal->wait_ack(3));
  CHECK(fault_counter(world, "EVENT_DOOR_OPEN_WHILE_RUNNING") == "1");
  CHECK(world.incidents().incidents().empty());

  // In the journal, for the fault database: the audit tool's export shows the record.
  const fs::path out = world.dir() / "export.jsonl";
  const std::string line = std::string(RESCUE_BIN_DIR) + "/rescuectl export --journal " +
                           (world.dir() / "var/journal.db").string() + " > " + out.string();
  REQUIRE(std::system(line.c_str()) == 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(text.find("\"event_type\":\"fault_recorded\"") != std::string::npos);
  CHECK(text.find("EVENT_DOOR_OPEN_WHILE_RUNNING") != std::string::npos);
  CHECK(text.find("\"elevator_id\":\"E1\"") != std::string::npos);
  CHECK(text.find("\"maintenance_unit_id\":\"U1\"") != std::string::npos);
}

}  // namespace
}  // namespace rescue::e2e
