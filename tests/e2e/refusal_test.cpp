// Everyone who is not who they claim, or acts beyond their role, is refused and changes nothing.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::e2e {
namespace {

bool has_goodbye(const std::vector<v1::TerminalFrame>& frames) {
  for (const auto& f : frames)
    if (f.has_goodbye()) return true;
  return false;
}

bool has_ack(const std::vector<v1::TerminalFrame>& frames) {
  for (const auto& f : frames)
    if (f.has_ack()) return true;
  return false;
}

TEST_CASE("a terminal that sends an event before its hello is told goodbye and disconnected",
          "[e2e]") {
  e2e_world world;
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  REQUIRE(terminal.send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  std::vector<v1::TerminalFrame> frames;
  REQUIRE(terminal.wait_closed(short_wait, &frames));
  CHECK(has_goodbye(frames));
  CHECK_FALSE(has_ack(frames));
  CHECK(world.incidents().incidents_size() == 0);
}

TEST_CASE("a terminal that never says hello is dropped after auth_timeout_s", "[e2e]") {
  server_options options;
  options.auth_timeout_s = 1;
  e2e_world world(options);
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(terminal.wait_closed(short_wait));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 900ms);
  CHECK(waited < 3s);
}

TEST_CASE("a terminal with an unknown id is challenged, refused and disconnected", "[e2e]") {
  e2e_world world;
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  // Known ids and unknown ones get the same handshake: it must not tell which ids exist.
  const auto result = terminal.handshake("T-NOT-IN-REGISTRY", city::t1().secret, 1);
  REQUIRE(result);
  CHECK_FALSE(result->ok());
  std::vector<v1::TerminalFrame> frames;
  REQUIRE(terminal.wait_closed(short_wait, &frames));
  CHECK(has_goodbye(frames));
  CHECK_FALSE(has_ack(frames));
}

TEST_CASE("a terminal answering the challenge with the wrong key gets ok=false and is closed",
          "[e2e]") {
  e2e_world world;
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  // T1's id with T2's secret: a cloned or misconfigured box.
  const auto result = terminal.handshake(city::t1().id, city::t2().secret, 1);
  REQUIRE(result);
  CHECK_FALSE(result->ok());
  CHECK_FALSE(result->reason().empty());  // the refusal says why; no Goodbye follows it
  // Whatever it sends next is never acknowledged: the server hangs up.
  terminal.send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS);
  std::vector<v1::TerminalFrame> frames;
  CHECK(terminal.wait_closed(short_wait, &frames));
  CHECK_FALSE(has_ack(frames));
  CHECK(world.incidents().incidents_size() == 0);

  // The right key still works afterwards.
  auto good = world.terminal(city::t1());
  CHECK(good->send_event(1, v1::EVENT_ALARM_BUTTON));
  CHECK(good->wait_ack(1));
}

TEST_CASE("a crew WebSocket with a forged or borrowed token is refused with 401", "[e2e]") {
  e2e_world world;
  // Signed with another secret.
  crew_client forged(world.http_port(), "c11", to_hex(hmac_sha256("not-the-secret", "c11")));
  CHECK(forged.connect() == 401);
  // c12's genuine token presented for c11.
  crew_client borrowed(world.http_port(), "c11", crew_token_for("c12"));
  CHECK(borrowed.connect() == 401);
  // A crew the registry does not know, with a token correctly signed for that name.
  crew_client stranger(world.http_port(), "c99");
  CHECK(stranger.connect() == 401);
  // The uppercase form of the right token is not the token.
  std::string upper = crew_token_for("c11");
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  crew_client shouting(world.http_port(), "c11", upper);
  CHECK(shouting.connect() == 401);
  // The genuine one is let in.
  crew_client genuine(world.http_port(), "c11");
  CHECK(genuine.connect() == 101);
}

TEST_CASE("a crew acting on another crew's job is refused with a reason and nothing changes",
          "[e2e]") {
  e2e_world world;
  auto owner = world.crew_at("c11", city::north(450), city::lon);
  auto intruder = world.crew_at("c12", city::north(2000), city::lon);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = owner->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();

  intruder->accept(id);
  const auto refused_accept = intruder->wait_notice("not_your_job accept");
  REQUIRE(refused_accept);
  CHECK(refused_accept->find(std::to_string(id)) != std::string::npos);
  intruder->arrived(id);
  CHECK(intruder->wait_notice("not_your_job arrived"));
  intruder->decline(id, "not mine anyway");
  CHECK(intruder->wait_notice("not_your_job decline"));

  auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c11");
  CHECK(view.assigned_crew_id().empty());
  CHECK(count_events(view, v1::Event::kOfferAccepted) == 0);
  CHECK(count_events(view, v1::Event::kOfferDeclined) == 0);
  CHECK(count_events(view, v1::Event::kCrewArrived) == 0);
  const int events_before = view.timeline_size();

  // Once the owner has accepted, the intruder still cannot report the rescue.
  owner->accept(id);
  REQUIRE(owner->wait_notice("ok accept"));
  intruder->released(id);
  CHECK(intruder->wait_notice("not_your_job released"));
  view = world.incident(id);
  CHECK(view.stage() == v1::STAGE_ACCEPTED);
  CHECK(view.assigned_crew_id() == "c11");
  CHECK(view.released_at_ms() == 0);
  CHECK(count_events(view, v1::Event::kPeopleReleased) == 0);
  CHECK(view.timeline_size() > events_before);
}

TEST_CASE("console writes need an operator token: auditor gets 403, no or unknown token 401",
          "[e2e]") {
  e2e_world world;
  const std::string call = R"({"rescue_code":"10001","people_trapped":true})";

  const auto auditor = world.post("/api/v1/incidents", call, auditor_token);
  CHECK(auditor.status == 403);
  CHECK(auditor.body.find("\"forbidden\"") != std::string::npos);
  const auto anonymous = world.post("/api/v1/incidents", call, "");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.body.find("\"unauthorized\"") != std::string::npos);
  const auto unknown = world.post("/api/v1/incidents", call, "e2e-operator-token-0002");
  CHECK(unknown.status == 401);
  // The fire centre's token is for its own two endpoints only.
  CHECK(world.post("/api/v1/incidents", call, fire_token).status == 401);
  CHECK(http_call(world.http_port(), method::get, "/api/v1/incidents").status == 401);
  CHECK(world.incidents().incidents_size() == 0);

  // The same call from an operator opens an incident, which the auditor may not close.
  const auto created = world.post("/api/v1/incidents", call, operator_token);
  REQUIRE(created.status == 201);
  const std::string incident = created.location;
  REQUIRE_FALSE(incident.empty());
  v1::CommandResult result;
  REQUIRE(protocol::from_json(created.body, result).empty());
  const int events_before = world.incident(result.incident_id()).timeline_size();
  CHECK(world.post(incident + "/cancel", R"({"reason":"CANCEL_FALSE_ALARM"})", auditor_token)
            .status == 403);
  CHECK(world.post(incident + "/escalate", R"({"detail":"auditor"})", auditor_token).status == 403);
  CHECK(world.post(incident + "/notes", R"({"text":"auditor was here"})", "").status == 401);
  const auto view = world.incident(result.incident_id());
  INFO(describe_timeline(view));
  CHECK(view.timeline_size() == events_before);
  CHECK(view.stage() != v1::STAGE_CANCELLED);
  CHECK(count_events(view, v1::Event::kNote) == 0);
  CHECK(world.incidents().incidents_size() == 1);
}

}  // namespace
}  // namespace rescue::e2e
