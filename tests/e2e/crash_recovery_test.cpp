// kill -9 in the middle of an incident: the restarted server on the same files resumes it with
// the deadlines it had, re-offers the pending job, and recognises the terminal's resend.
#include <sys/wait.h>

#include <thread>

#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

TEST_CASE("after kill -9 and restart the pending offer is resent and expires at its original time",
          "[e2e]") {
  server_options options;
  options.offer_timeout_s = 8;  // room for the restart inside the offer's lifetime
  options.level1_window_s = 30;
  e2e_world world(options);
  constexpr std::uint64_t boot = 4242;
  constexpr std::uint64_t seq = 7;

  std::int64_t expires_at = 0;
  std::int64_t offered_at = 0;
  std::uint64_t id = 0;
  {
    auto crew = world.crew_at("c11", city::north(450), city::lon);
    auto terminal = world.terminal(city::t1(), boot);
    REQUIRE(terminal->send_event(seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(seq));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();
    expires_at = offer->expires_at_ms();
    offered_at = offer->offered_at_ms();

    world.server().kill_hard();
    CHECK(terminal->wait_closed(short_wait));
  }
  REQUIRE(expires_at - wall_ms() > 4000);  // the offer is still pending across the restart

  world.start();
  auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c11");
  bool listed = false;
  const auto list = world.incidents();
  for (const auto& open : list.incidents())
    listed = listed || open.id() == id;
  CHECK(listed);

  // The crew's phone reconnects and gets the same job, with the same deadline.
  crew_client crew(world.http_port(), "c11");
  REQUIRE(crew.connect() == 101);
  crew.send_location(city::north(450), city::lon);
  const auto again = crew.wait_offer(id);
  REQUIRE(again);
  CHECK(again->expires_at_ms() == expires_at);
  CHECK(again->offered_at_ms() == offered_at);

  // The terminal never trusted its ack: it resends the same frame after reconnecting.
  auto terminal = world.terminal(city::t1(), boot);
  REQUIRE(terminal->send_event(seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(seq));

  // The deadline armed before the crash fires at its original time, not 8 s after restart.
  const auto gone = crew.wait_withdrawn(id, millis(expires_at - wall_ms()) + 3s);
  const std::int64_t gone_at = wall_ms();
  REQUIRE(gone);
  CHECK(gone->reason() == "offer expired");
  CHECK(gone_at >= expires_at - 50);
  CHECK(gone_at <= expires_at + 1500);

  view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 0);
  REQUIRE(view.alarms_size() == 1);
  const auto* expired = first_event(view, v1::Event::kOfferExpired);
  REQUIRE(expired);
  CHECK(expired->offer_expired().crew_id() == "c11");
  CHECK(expired->at_ms() >= expires_at);
  CHECK(expired->at_ms() <= expires_at + 1500);

  // The chain survived the crash: every record verifies.
  const auto verify =
      http_call(world.http_port(), method::get, "/api/v1/journal/verify", {}, auditor_token);
  INFO(verify.body);
  CHECK(verify.status == 200);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);
}

TEST_CASE("an offer deadline that passed while the server was down fires at once on restart",
          "[e2e]") {
  http_receiver fire_centre;
  server_options options;
  options.offer_timeout_s = 5;
  options.level1_window_s = 60;
  options.level2_window_s = 60;
  options.fire_webhook_url = "http://127.0.0.1:" + std::to_string(fire_centre.port()) + "/119";
  e2e_world world(options);
  std::int64_t expires_at = 0;
  std::uint64_t id = 0;
  {
    auto crew = world.crew_at("c11", city::north(450), city::lon);
    auto terminal = world.terminal(city::t1());
    REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(1));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();
    expires_at = offer->expires_at_ms();
    world.server().kill_hard();
  }
  // Down for longer than the offer had left.
  std::this_thread::sleep_for(millis(expires_at - wall_ms()) + 300ms);
  const std::int64_t restarted_at = wall_ms();
  world.start();

  const v1::Event* expired = nullptr;
  v1::IncidentView view;
  const auto deadline = std::chrono::steady_clock::now() + short_wait;
  while (!expired && std::chrono::steady_clock::now() < deadline) {
    view = world.incident(id);
    expired = first_event(view, v1::Event::kOfferExpired);
    if (!expired) std::this_thread::sleep_for(50ms);
  }
  INFO(describe_timeline(view));
  REQUIRE(expired);
  CHECK(expired->at_ms() >= restarted_at);
  CHECK(expired->at_ms() <= restarted_at + 3000);
  // Nobody else has reported a position to the new process: the ladder runs out and the fire
  // centre is called by the restarted server.
  const auto call = fire_centre.wait_request(short_wait);
  REQUIRE(call);
  CHECK(call->body.find("\"incident_id\":" + std::to_string(id)) != std::string::npos);
  CHECK(call->body.find("ESCALATION_NO_CANDIDATES") != std::string::npos);
}

TEST_CASE("SIGTERM stops the server with status 0 and keeps every acknowledged alarm", "[e2e]") {
  e2e_world world;
  std::uint64_t id = 0;
  {
    auto crew = world.crew_at("c11", city::north(450), city::lon);
    auto terminal = world.terminal(city::t1(), 5);
    REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(1));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();

    const int status = world.server().terminate(short_wait);
    REQUIRE(status != -1);  // it exited by itself, without SIGKILL
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // Open connections were closed by the server on its way out.
    CHECK(terminal->wait_closed(short_wait));
  }
  world.start();
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  const auto verify =
      http_call(world.http_port(), method::get, "/api/v1/journal/verify", {}, auditor_token);
  INFO(verify.body);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);
}

}  // namespace
}  // namespace rescue::e2e
