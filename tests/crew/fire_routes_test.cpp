#include <catch2/catch.hpp>

#include <boost/asio/use_future.hpp>

#include "crew_test_support.hpp"
#include "rescue/dispatcher/fire_routes.hpp"

using namespace crew_test;
namespace cmd = rescue::dispatcher::cmd;
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
    fire = std::make_unique<rescue::dispatcher::fire_routes>(io, config, *service, *box);
    fire->add_routes(router);
    rescue::dispatcher::dispatch_channels channels;
    channels.fire = [f = fire.get()](const auto& e, const auto& view) {
      f->on_escalation(e, view);
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
  for (const std::string& part :
       {std::string(R"("kind":"fire_escalation")"),
        "\"incident_id\":" + std::to_string(out.incident),
        std::string(R"("reason":"ESCALATION_INJURED")"), std::string(R"("rescue_code":"10001")"),
        std::string(R"("address":"重庆市渝中区解放碑 1号")"),
        std::string(R"("location":{"lat":29.556000,"lon":106.568000})"),
        std::string(R"("people_trapped":true)"), std::string(R"("injured":true)"),
        std::string(R"("alarm_at_ms":)"), std::string(R"("caller_phone":"13900000001")")})
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
  CHECK(ack.body().find(R"("status":"acknowledged")") != std::string::npos);
  auto again = server.post(base + "/ack");
  CHECK(again.result() == http::status::conflict);
  CHECK(again.body().find(R"("code":"wrong_stage")") != std::string::npos);
  auto arrived = server.post(base + "/arrived");
  CHECK(arrived.result() == http::status::ok);

  // The core recorded both.
  auto done = std::make_shared<std::promise<std::pair<bool, bool>>>();
  auto f = done->get_future();
  server.service->async_read<std::pair<bool, bool>>(
      [id = out.incident](const rescue::dispatcher::core_state& s, const rescue::geo::crew_index&) {
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
  CHECK(bad_body.body().find("unknown field") != std::string::npos);
  auto not_json = server.post("/api/v1/fire/incidents/1/arrived", "fire_unit=x");
  CHECK(not_json.result() == http::status::bad_request);
}

TEST_CASE("an escalation the outbox lost is stored again after a restart, exactly once",
          "[crew][fire][sqlite]") {
  // The escalation is durable in the journal, but no channel stored it: as if the process died
  // between the journal commit and the outbox write.
  service_parts parts;
  rescue::dispatcher::fire_routes fire(parts.io, parts.config, *parts.service, *parts.box);
  io_thread runner(parts.io);
  const auto out = parts.submit(
      cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "13900000001", true, true, "op-1"});
  REQUIRE(out.ok());
  REQUIRE(parts.box->rows().empty());

  fire.reseed_from_service();
  REQUIRE(eventually([&] { return parts.box->rows().size() == 1; }));
  const auto row = parts.box->rows().front();
  CHECK(row.kind == "fire_escalation");
  CHECK(row.body.find("\"incident_id\":" + std::to_string(out.incident) + ",") !=
        std::string::npos);
  CHECK(row.body.find(R"("reason":"ESCALATION_INJURED")") != std::string::npos);

  // A second restart finds it stored and adds nothing.
  fire.reseed_from_service();
  std::this_thread::sleep_for(200ms);
  CHECK(parts.box->rows().size() == 1);
}
