// Two rescue-dispatchd instances on one Redis store: the owner holds the store's lease, the
// other stands by with its ports closed. When the owner is killed the standby takes over within
// a lease, replays the journal and finishes the incident, its deadline firing at its original
// time; an owner frozen past its lease wakes up fenced off and stops without acknowledging.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <thread>

#include "harness.hpp"
#include "redis_server.hpp"

namespace rescue::e2e {
namespace {

constexpr int lease_ms = 1500;

server_options instance(const test::redis_server& redis, bool standby) {
  server_options o;
  o.storage_keys = "backend = \"redis\"\nredis_port = " + std::to_string(redis.port()) +
                   "\nredis_store = \"failover\"\nredis_lease_ms = " + std::to_string(lease_ms) +
                   "\n";
  o.wait_healthy = !standby;
  return o;
}

bool answers_http(std::uint16_t port) {
  return http_call(port, method::get, "/healthz", {}, {}, 500ms).status != 0;
}

TEST_CASE(
    "kill -9 of the owning instance: the standby takes the store over, finishes the incident "
    "and fires its deadline at the original time",
    "[e2e][redis]") {
  test::redis_server redis;
  auto owner_options = instance(redis, false);
  owner_options.offer_timeout_s = 10;
  owner_options.level1_window_s = 60;
  owner_options.level2_window_s = 60;
  auto standby_options = instance(redis, true);
  standby_options.offer_timeout_s = 10;
  standby_options.level1_window_s = 60;
  standby_options.level2_window_s = 60;
  e2e_world owner(owner_options);
  e2e_world standby(standby_options);
  REQUIRE(log_says(standby.server(), "standing by: store failover is held by", 10s));
  CHECK_FALSE(answers_http(standby.http_port()));

  std::uint64_t id = 0;
  std::int64_t offered_at = 0, expires_at = 0;
  {
    auto crew = owner.crew_at("c11", city::north(450), city::lon);
    auto terminal = owner.terminal(city::t1(), 3);
    REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(1));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();
    offered_at = offer->offered_at_ms();
    expires_at = offer->expires_at_ms();
    owner.server().kill_hard();
  }
  const auto killed = std::chrono::steady_clock::now();
  standby.wait_healthy(15s);
  const auto took_over = std::chrono::steady_clock::now() - killed;
  INFO("takeover after " << std::chrono::duration_cast<millis>(took_over).count() << " ms");
  // At most one lease for the dead owner's to lapse, plus start-up and replay.
  CHECK(took_over < millis(lease_ms) + 6s);
  CHECK(standby.server().log_text().find("holding the lease of store failover") !=
        std::string::npos);
  // It had followed the journal while standing by: the takeover folded only the tail.
  CHECK(standby.server().log_text().find("already folded while standing by") != std::string::npos);

  // The incident is there, and the crew's phone, reconnecting to the survivor, gets the same
  // job with the same deadline.
  auto view = standby.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  crew_client c11(standby.http_port(), "c11");
  REQUIRE(c11.connect() == 101);
  c11.send_location(city::north(450), city::lon);
  const auto again = c11.wait_offer(id);
  REQUIRE(again);
  CHECK(again->offered_at_ms() == offered_at);
  CHECK(again->expires_at_ms() == expires_at);
  // The terminal never saw its ack go stale: its resend to the survivor is acknowledged as the
  // same alarm.
  {
    auto terminal = standby.terminal(city::t1(), 3);
    REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    CHECK(terminal->wait_ack(1));
  }
  auto c12 = standby.crew_at("c12", city::north(900), city::lon);

  // c11 lets the offer run out: withdrawn at the time the dead owner set, not a window later.
  const auto gone = c11.wait_withdrawn(id, millis(expires_at - wall_ms()) + 4s);
  const std::int64_t gone_at = wall_ms();
  REQUIRE(gone);
  CHECK(gone->reason() == "offer expired");
  CHECK(gone_at >= expires_at - 50);
  CHECK(gone_at <= expires_at + 1500);

  // The next crew gets it from the survivor and the rescue is finished there.
  const auto next = c12->wait_offer(id);
  REQUIRE(next);
  c12->accept(id);
  REQUIRE(c12->wait_notice("ok accept"));
  c12->departed(id);
  REQUIRE(c12->wait_notice("ok departed"));
  c12->arrived(id);
  REQUIRE(c12->wait_notice("ok arrived"));
  c12->released(id);
  REQUIRE(c12->wait_notice("ok released"));

  view = standby.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_RELEASED);
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kMerged) == 0);
  const auto* expired = first_event(view, v1::Event::kOfferExpired);
  REQUIRE(expired);
  CHECK(expired->offer_expired().crew_id() == "c11");
  CHECK(expired->at_ms() >= expires_at);
  CHECK(expired->at_ms() <= expires_at + 1500);
  const auto verify = standby.get("/api/v1/journal/verify");
  INFO(verify.body);
  CHECK(verify.status == 200);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);
}

TEST_CASE(
    "an owner frozen past its lease wakes up fenced off: it acknowledges nothing more and "
    "stops, the new owner goes on",
    "[e2e][redis]") {
  test::redis_server redis;
  e2e_world owner(instance(redis, false));
  e2e_world standby(instance(redis, true));
  REQUIRE(log_says(standby.server(), "standing by", 10s));

  auto early = owner.terminal(city::t1(), 1);
  REQUIRE(early->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(early->wait_ack(1));
  const auto first = owner.wait_incident_for(city::t1().elevator_id);

  // The owner freezes (a stalled VM, a debugger); a terminal on it sends meanwhile.
  auto frozen = owner.terminal(city::t2(), 1);
  owner.server().send_signal(SIGSTOP);
  REQUIRE(owner.server().wait_stopped(5s));
  REQUIRE(frozen->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  standby.wait_healthy(15s);
  // The new owner has the first incident; an alarm through it is acknowledged.
  CHECK(standby.incident(first).id() == first);
  auto third = standby.terminal(city::t3(), 1);
  REQUIRE(third->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(third->wait_ack(1));

  // The old owner wakes: the frame it read while frozen is never acknowledged, and it stops.
  owner.server().send_signal(SIGCONT);
  const auto status = owner.server().wait_exit(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 75);
  CHECK(owner.server().log_text().find("taken over") != std::string::npos);
  CHECK_FALSE(frozen->wait_ack(1, quiet_wait));

  // Nothing of the old owner's reached the journal after the takeover: E2 has no incident
  // until its terminal resends to the new owner.
  const auto board = standby.incidents();
  for (const auto& inc : board.incidents())
    CHECK(inc.elevator().elevator_id() != city::t2().elevator_id);
  auto resent = standby.terminal(city::t2(), 1);
  REQUIRE(resent->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(resent->wait_ack(1));
  CHECK(standby.wait_incident_for(city::t2().elevator_id) != 0);
  const auto verify = standby.get("/api/v1/journal/verify");
  INFO(verify.body);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);
}

}  // namespace
}  // namespace rescue::e2e
