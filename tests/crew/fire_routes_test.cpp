#include <catch2/catch.hpp>

#include <boost/asio/use_future.hpp>

#include "crew_test_support.hpp"
#include "layout1_files.hpp"
#include "rescue/dispatcher/fire_routes.hpp"
#include "rescue/protocol/json.hpp"

using namespace crew_test;
namespace cmd = rescue::core::cmd;
using rescue::dispatcher::http_request;
using rescue::dispatcher::http_response;

namespace {

struct fire_server : service_parts {
  std::unique_ptr<http_receiver> fire_centre;
  std::unique_ptr<rescue::dispatcher::fire_routes> fire;
  rescue::dispatcher::http_router router;
  std::unique_ptr<io_thread> runner;

  fire_server() {
    fire_centre = std::make_unique<http_receiver>(io);
    config.fire_webhook_url = fire_centre->url("/119/escalations");
    fire = std::make_unique<rescue::dispatcher::fire_routes>(config, *service, *box);
    fire->add_routes(router);
    rescue::dispatcher::dispatch_channels channels;
    channels.fire = [f = fire.get()](const auto& e, const auto& view) {
      f->on_escalation(e, view);
    };
    channels.fire_message = [f = fire.get()](const auto& e, const auto& view) {
      return f->escalation_message(e, view);
    };
    service->set_channels(std::move(channels));
    box->start();
    runner = std::make_unique<io_thread>(io);
  }
  ~fire_server() { runner.reset(); }

  // Calls the route as the HTTP session would once the fire centre's token was checked.
  http_response post(const std::string& path, std::string body = {}) {
    http_request request{http::verb::post, path, 11};
    request.body() = std::move(body);
    const auto match = router.find(http::verb::post, path);
    REQUIRE(match.handler);
    CHECK(match.required == rescue::dispatcher::access::fire_centre);
    rescue::dispatcher::request_context ctx{request, path, match.path_params, {}, nullptr};
    auto result = asio::co_spawn(io, (*match.handler)(std::move(ctx)), asio::use_future);
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    return result.get();
  }
};

}  // namespace

TEST_CASE("an injured-person alarm reaches the fire centre's webhook through the outbox",
          "[crew][fire][sqlite]") {
  fire_server server;
  const auto out = server.submit(
      cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "13900000001", true, true, "op-1"});
  REQUIRE(out.ok());
  REQUIRE(eventually([&] { return server.fire_centre->count() == 1; }));
  const auto got = server.fire_centre->requests().front();
  CHECK(got.target == "/119/escalations");
  INFO(got.body);
  v1::FireEscalation sent;
  REQUIRE(rescue::protocol::from_json(got.body, sent).empty());
  CHECK(sent.kind() == "fire_escalation");
  CHECK(sent.incident_id() == out.incident);
  CHECK(sent.reason() == v1::ESCALATION_INJURED);
  CHECK(sent.elevator().rescue_code() == "10001");
  CHECK(sent.elevator().address() == "重庆市渝中区解放碑 1号");
  CHECK(sent.elevator().location().lat() == Approx(29.556));
  CHECK(sent.elevator().location().lon() == Approx(106.568));
  CHECK(sent.people_trapped());
  CHECK(sent.injured());
  CHECK(sent.alarm_at_ms() > 0);
  CHECK(sent.caller_phone() == "13900000001");
  // The fire centre does not share the schema: every field is there, defaults included, and
  // 64-bit integers are strings.
  for (const std::string& part :
       {"\"incident_id\":\"" + std::to_string(out.incident) + "\"",
        std::string(R"("reason":"ESCALATION_INJURED")"), std::string(R"("assigned_crew_id":"")"),
        std::string(R"("alarm_at_ms":")")})
    CHECK(got.body.find(part) != std::string::npos);
  REQUIRE(eventually([&] { return server.box->pending() == 0; }));
  const auto rows = server.box->rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].kind == "fire_escalation");
}

TEST_CASE("the fire centre acknowledges and reports arrival over the inbound routes",
          "[crew][fire][sqlite]") {
  fire_server server;
  const auto out = server.submit(
      cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "13900000001", true, true, "op-1"});
  REQUIRE(out.ok());
  const std::string base = "/api/v1/fire/incidents/" + std::to_string(out.incident);

  auto ack = server.post(base + "/ack", R"({"fire_unit":"渝中消防救援站"})");
  CHECK(ack.result() == http::status::ok);
  v1::FireReportResult acked;
  REQUIRE(rescue::protocol::from_json(ack.body(), acked).empty());
  CHECK(acked.status() == "acknowledged");
  CHECK(acked.incident_id() == out.incident);
  auto again = server.post(base + "/ack");
  CHECK(again.result() == http::status::conflict);
  CHECK(again.body().find(R"("code":"wrong_stage")") != std::string::npos);
  auto arrived = server.post(base + "/arrived");
  CHECK(arrived.result() == http::status::ok);

  // The core recorded both.
  auto done = std::make_shared<std::promise<std::pair<bool, bool>>>();
  auto f = done->get_future();
  server.service->async_read<std::pair<bool, bool>>(
      [id = out.incident](const rescue::core::core_state& s, const rescue::geo::crew_index&) {
        const auto* inc = s.find(id);
        return std::pair{inc && inc->fire_acknowledged, inc && inc->fire_arrived_at.has_value()};
      },
      [done](std::pair<bool, bool> r) { done->set_value(r); });
  CHECK(f.get() == std::pair{true, true});
}

TEST_CASE("fire routes answer bad requests with a JSON code and message", "[crew][fire][sqlite]") {
  fire_server server;
  auto unknown = server.post("/api/v1/fire/incidents/999/ack");
  CHECK(unknown.result() == http::status::not_found);
  CHECK(unknown.body().find(R"("code":"unknown_incident")") != std::string::npos);
  CHECK(unknown.body().find(R"("message":)") != std::string::npos);
  auto bad_id = server.post("/api/v1/fire/incidents/abc/ack");
  CHECK(bad_id.result() == http::status::bad_request);
  auto bad_body = server.post("/api/v1/fire/incidents/1/arrived", R"({"unit":"x"})");
  CHECK(bad_body.result() == http::status::bad_request);
  CHECK(bad_body.body().find("not a FireReport") != std::string::npos);
  CHECK(bad_body.body().find("unit") != std::string::npos);
  auto long_unit = server.post("/api/v1/fire/incidents/1/arrived",
                               R"({"fire_unit":")" + std::string(129, 'x') + R"("})");
  CHECK(long_unit.result() == http::status::bad_request);
  auto not_json = server.post("/api/v1/fire/incidents/1/arrived", "fire_unit=x");
  CHECK(not_json.result() == http::status::bad_request);
}

TEST_CASE("an escalation's fire call is in the outbox as soon as the escalation is durable",
          "[crew][fire][sqlite]") {
  const auto files = std::make_shared<temp_dir>();
  std::uint64_t incident = 0;
  {
    // The outbox never runs: what is stored is what the journal's commit stored.
    service_parts parts(files);
    rescue::dispatcher::fire_routes fire(parts.config, *parts.service, *parts.box);
    rescue::dispatcher::dispatch_channels channels;
    channels.fire_message = [&fire](const auto& e, const auto& view) {
      return fire.escalation_message(e, view);
    };
    parts.service->set_channels(std::move(channels));
    io_thread runner(parts.io);
    const auto out = parts.submit(
        cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "13900000001", true, true, "op-1"});
    REQUIRE(out.ok());
    incident = out.incident;
    // Read the moment the outcome arrives: no wait, no second write.
    const auto rows = parts.box->rows();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].kind == "fire_escalation");
    CHECK(rows[0].incident_id == incident);
    CHECK(rows[0].body.find(R"("reason":"ESCALATION_INJURED")") != std::string::npos);
    CHECK_FALSE(rows[0].delivered_ms);
  }
  // A restart on the same file finds the row; a journal of this layout needs no repair.
  service_parts parts(files);
  REQUIRE(parts.box->rows_about(incident).size() == 1);
  CHECK(parts.journal->upgrade().from_version == 0);
}

TEST_CASE(
    "after upgrading an old journal, a fire call its outbox lost is stored once, also for "
    "a cancelled incident",
    "[crew][fire][sqlite]") {
  // The earlier version's crash: escalation durable, then the process died before its separate
  // outbox file got the row, and the incident was cancelled before the next start. A run
  // without a fire channel leaves such a journal; turned back into layout 1, it is that
  // version's file.
  const auto files = std::make_shared<temp_dir>();
  std::uint64_t cancelled = 0;
  std::uint64_t answered = 0;
  {
    service_parts parts(files);
    io_thread runner(parts.io);
    const auto out = parts.submit(
        cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "13900000001", true, true, "op-1"});
    REQUIRE(out.ok());
    cancelled = out.incident;
    REQUIRE(parts.submit(cmd::cancel{cancelled, v1::CANCEL_SELF_RECOVERED, "op-1"}).ok());
    // A second escalation (the same elevator, trapped again) the fire centre acknowledged: it
    // needs no call.
    const auto other = parts.submit(
        cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "王", "13900000002", true, true, "op-1"});
    INFO(other.reason);
    REQUIRE(other.ok());
    REQUIRE(other.incident != cancelled);
    answered = other.incident;
    REQUIRE(parts.submit(cmd::fire_acknowledged{answered, "渝中消防"}).ok());
    REQUIRE(parts.box->rows().empty());
  }
  rescue::test::downgrade_to_layout1(files->path / "journal.db");
  std::filesystem::remove(files->path / "outbox.db");
  // The old outbox file holds an SMS of another incident, delivered long ago.
  rescue::test::layout1_outbox_row sms;
  sms.kind = "crew_sms";
  sms.url = "http://127.0.0.1:9/sms";
  sms.body = R"({"kind":"crew_offer_unreceipted","crew_id":"c1","incident_id":424242,"seq":1})";
  sms.attempts = 1;
  sms.delivered_ms = 1'700'000'000'500;
  rescue::test::write_layout1_outbox(files->path / "outbox.db", {sms});

  auto restart = [&files] {
    service_parts parts(files);
    rescue::dispatcher::fire_routes fire(parts.config, *parts.service, *parts.box);
    const bool upgraded = parts.journal->upgrade().from_version == 1;
    const std::size_t stored = upgraded ? fire.store_calls_missing_after_upgrade() : 0;
    return std::tuple{upgraded, stored, parts.box->rows()};
  };
  const auto [upgraded, stored, rows] = restart();
  CHECK(upgraded);
  CHECK(stored == 1);
  REQUIRE(rows.size() == 2);
  // The old row moved in with its incident read from the body, delivery state kept.
  CHECK(rows[0].kind == "crew_sms");
  CHECK(rows[0].incident_id == 424242);
  CHECK(rows[0].delivered_ms == 1'700'000'000'500);
  // The lost call, rebuilt from the incident as it was escalated.
  CHECK(rows[1].kind == "fire_escalation");
  CHECK(rows[1].incident_id == cancelled);
  v1::FireEscalation call;
  REQUIRE(rescue::protocol::from_json(rows[1].body, call).empty());
  CHECK(call.incident_id() == cancelled);
  CHECK(call.reason() == v1::ESCALATION_INJURED);
  CHECK_FALSE(rows[1].delivered_ms);

  // The next start is not an upgrade: nothing is looked for, nothing added.
  const auto [upgraded_again, stored_again, rows_again] = restart();
  CHECK_FALSE(upgraded_again);
  CHECK(stored_again == 0);
  CHECK(rows_again.size() == 2);
}
