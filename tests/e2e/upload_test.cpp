// Upload to the provincial and national platforms: every ended incident and every fault reaches
// the receiver through the outbox, with its idempotency key, through failures and a kill -9,
// each acknowledged record once; the exported file holds the same records, byte for byte.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "harness.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/report.pb.h"
#include "rescue/upload.pb.h"

namespace rescue::e2e {
namespace {

// Waits until the receiver has acknowledged (answered 2xx) `count` distinct records; returns
// every request it saw.
std::vector<received_request> wait_acknowledged(http_receiver& receiver, std::size_t count,
                                                millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto seen = receiver.requests();
    std::set<std::string> keys;
    // Requests beyond the failing first ones were answered 200.
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (i >= 3) keys.insert(seen[i].idempotency_key);
    if (keys.size() >= count || std::chrono::steady_clock::now() >= deadline) return seen;
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("ended incidents and faults reach the platform once each, through failures and a kill -9",
          "[e2e][upload]") {
  // The receiver refuses the first three calls (500, 503, 500), then takes everything.
  http_receiver platform({500, 503, 500});
  server_options options;
  options.upload_url = "http://127.0.0.1:" + std::to_string(platform.port()) + "/records";
  options.upload_platform = "500000";
  e2e_world world(options);

  // A rescue, closed; a fault; a false alarm, cancelled.
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  const std::uint64_t rescued = offer->incident_id();
  crew->accept(rescued);
  REQUIRE(crew->wait_notice("ok accept"));
  crew->arrived(rescued);
  REQUIRE(crew->wait_notice("ok arrived"));
  crew->released(rescued);
  REQUIRE(crew->wait_notice("ok released"));
  REQUIRE(world
              .post("/api/v1/incidents/" + std::to_string(rescued) + "/close",
                    R"({"cause":{"category":"CAUSE_DOOR_SYSTEM","sub_cause":"door_lock_fault"}})")
              .status == 200);
  REQUIRE(terminal->send_event(2, v1::EVENT_OVERSPEED));
  REQUIRE(terminal->wait_ack(2));
  const auto called = world.post("/api/v1/incidents", R"({"rescue_code":"10002",)"
                                                      R"("caller_phone":"13900000009",)"
                                                      R"("people_trapped":true})");
  INFO(called.body);
  REQUIRE(called.status == 201);
  v1::CommandResult created;
  REQUIRE(protocol::from_json(called.body, created).empty());
  const std::uint64_t false_alarm = created.incident_id();
  REQUIRE(world
              .post("/api/v1/incidents/" + std::to_string(false_alarm) + "/cancel",
                    R"({"reason":"CANCEL_FALSE_ALARM"})")
              .status == 200);

  // Each record's first attempt fails; then a kill -9 and a restart before the retries.
  const auto deadline = std::chrono::steady_clock::now() + short_wait;
  while (platform.requests().size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  REQUIRE(platform.requests().size() >= 3);
  world.server().kill_hard();
  world.start();
  const auto seen = wait_acknowledged(platform, 3, short_wait + 10s);
  INFO(world.server().log_tail());

  // Every record arrived, as JSON, keyed "<platform>:<record_id>"; none was acknowledged twice
  // (a retry after a failure or the restart is the same bytes under the same key).
  std::map<std::string, std::string> body_of;
  std::map<std::string, int> acknowledged;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const auto& r = seen[i];
    CHECK(r.method == "POST");
    CHECK(r.target == "/records");
    CHECK(r.content_type == "application/json");
    v1::PlatformRecord record;
    REQUIRE(protocol::from_json(r.body, record).empty());
    CHECK(record.format_version() == 1);
    CHECK(record.platform() == "500000");
    CHECK(r.idempotency_key == "500000:" + record.record_id());
    if (i >= 3) ++acknowledged[r.idempotency_key];
    // A retry sends the same bytes.
    if (body_of.contains(r.idempotency_key)) CHECK(body_of[r.idempotency_key] == r.body);
    body_of[r.idempotency_key] = r.body;
  }
  const std::string incident_key = "500000:incident-" + std::to_string(rescued);
  const std::string cancelled_key = "500000:incident-" + std::to_string(false_alarm);
  const std::string fault_key = "500000:fault-T1-1-2";
  for (const auto& key : {incident_key, cancelled_key, fault_key}) {
    INFO(key);
    CHECK(acknowledged[key] == 1);
  }
  CHECK(acknowledged.size() == 3);
  v1::PlatformRecord rescue_record;
  REQUIRE(protocol::from_json(body_of[incident_key], rescue_record).empty());
  CHECK(rescue_record.incident().outcome() == v1::OUTCOME_RESCUED);
  CHECK(rescue_record.incident().elevator().registration_code().size() == 20);
  CHECK(rescue_record.incident().elevator().elevator_id() == "E1");
  CHECK(rescue_record.incident().cause().sub_cause() == "door_lock_fault");
  CHECK(rescue_record.incident().rescuer_crew_id() == "c11");
  v1::PlatformRecord cancelled_record;
  REQUIRE(protocol::from_json(body_of[cancelled_key], cancelled_record).empty());
  CHECK(cancelled_record.incident().outcome() == v1::OUTCOME_FALSE_ALARM);
  CHECK(cancelled_record.incident().source() == v1::SOURCE_PHONE);

  // The exported file of the month holds the same records, byte for byte.
  const fs::path out = world.dir() / "records.jsonl";
  const std::string line = std::string(RESCUE_BIN_DIR) + "/rescuectl upload-export --journal " +
                           (world.dir() / "var/journal.db").string() +
                           " --platform 500000 --from 2020-01-01 --to 2100-01-01 --out " +
                           out.string() + " 2>/dev/null";
  REQUIRE(std::system(line.c_str()) == 0);
  std::ifstream in(out);
  std::set<std::string> exported;
  for (std::string text; std::getline(in, text);)
    exported.insert(text);
  CHECK(exported.size() == 3);
  for (const auto& [key, body] : body_of) {
    INFO(key);
    CHECK(exported.contains(body));
  }
}

}  // namespace
}  // namespace rescue::e2e

namespace rescue::e2e {
namespace {

TEST_CASE("GET /api/v1/reports answers the period's report in every format and refuses a bad query",
          "[e2e][upload]") {
  e2e_world world;
  const std::uint64_t id = world.call_injured("10002");  // an entrapment of this month
  REQUIRE(world
              .post("/api/v1/incidents/" + std::to_string(id) + "/cancel",
                    R"({"reason":"CANCEL_FALSE_ALARM"})")
              .status == 200);
  const std::int64_t now = wall_ms() + 8 * 3'600'000;  // this month in UTC+8
  const std::time_t secs = static_cast<std::time_t>(now / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char month[16];
  std::snprintf(month, sizeof month, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);

  const auto json = world.get(std::string("/api/v1/reports?period=") + month);
  INFO(json.body);
  REQUIRE(json.status == 200);
  v1::Report report;
  REQUIRE(protocol::from_json(json.body, report).empty());
  CHECK(report.period().label() == month);
  CHECK(report.totals().incidents() == 1);
  CHECK(report.totals().false_alarms() == 1);
  CHECK(report.totals().entrapments() == 0);
  CHECK(report.totals().elevators() == 4);
  // Fire was called (injured), but a false alarm is no entrapment: no figure counts it.
  CHECK(report.fire_escalations_size() == 0);

  const auto csv =
      world.get(std::string("/api/v1/reports?period=") + month + "&format=csv&lang=en");
  REQUIRE(csv.status == 200);
  CHECK(csv.body.rfind("\xEF\xBB\xBF", 0) == 0);
  CHECK(csv.body.find("\r\nFalse alarms,1\r\n") != std::string::npos);
  const auto xlsx = world.get(std::string("/api/v1/reports?period=") + month + "&format=xlsx");
  REQUIRE(xlsx.status == 200);
  CHECK(xlsx.body.rfind("PK", 0) == 0);

  for (const char* bad : {"", "?period=2026-13", "?period=2026-11&format=pdf",
                          "?period=2026-11&lang=fr", "?from=2026-11-05&to=2026-11-01"}) {
    INFO(bad);
    CHECK(world.get(std::string("/api/v1/reports") + bad).status == 400);
  }
  CHECK(http_call(world.http_port(), method::get, "/api/v1/reports?period=2026-11").status == 401);
}

}  // namespace
}  // namespace rescue::e2e
