// The console port over real sockets: HTTP listener, sessions, console API, live feed and
// operations routes in front of a real dispatch service on a SQLite journal.
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <catch2/catch.hpp>

#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_listener.hpp"
#include "rescue/dispatcher/live_feed.hpp"
#include "rescue/dispatcher/ops_routes.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
namespace v1 = rescue::v1;
namespace d = rescue::dispatcher;
using tcp = asio::ip::tcp;

constexpr const char* operator_token = "op-token-0123456789";
constexpr const char* auditor_token = "audit-token-0123456789";

std::int64_t now_ms() {
  return rescue::core::to_ms(d::dispatch_service::now());
}

fs::path fresh_dir() {
  std::random_device rd;
  const fs::path dir =
      fs::temp_directory_path() /
      ("rescue-http-test-" + std::to_string(rd()) + "-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Elevator E1 (rescue code 10001) in Yuzhong, bound to unit U1; E2 (10002) has no unit.
// Crew c11 is 500 m from E1, c12 about 5 km away; both belong to U1.
void fill_registry(rescue::storage::registry& registry) {
  v1::MaintenanceUnit u;
  u.set_id("U1");
  u.set_name("Yuzhong Lift Service");
  u.set_licence("TS3150001-2025");
  u.set_contact_name("Wang");
  u.set_contact_phone("023-63000001");
  u.set_level2_participant(true);
  u.set_kind(v1::ORG_MAINTENANCE_UNIT);
  u.mutable_base()->set_lat(29.55);
  u.mutable_base()->set_lon(106.57);
  REQUIRE_FALSE(registry.add_unit(u));

  v1::BuildingOperator op;
  op.set_id("B1");
  op.set_name("Jiefangbei Property");
  op.set_contact_name("Li");
  op.set_contact_phone("023-63000002");
  REQUIRE_FALSE(registry.add_building_operator(op));

  auto elevator = [&](const std::string& id, const std::string& rescue, const std::string& reg,
                      const std::string& unit) {
    v1::Elevator e;
    e.set_id(id);
    e.set_registration_code(reg);
    e.set_rescue_code(rescue);
    e.set_address("重庆市渝中区解放碑 " + id);
    e.set_district_code("500103");
    e.mutable_location()->set_lat(29.556);
    e.mutable_location()->set_lon(106.568);
    e.set_place_type(v1::PLACE_RESIDENTIAL);
    e.set_maintenance_unit_id(unit);
    e.set_building_operator_id("B1");
    e.set_area(v1::AREA_URBAN);
    REQUIRE_FALSE(registry.add_elevator(e));
  };
  elevator("E1", "10001", "31105001002019000001", "U1");
  elevator("E2", "10002", "31105001002019000002", "");

  for (const auto& [id, lat] : {std::pair{"c11", 29.560}, std::pair{"c12", 29.600}}) {
    v1::CrewMember c;
    c.set_id(id);
    c.set_unit_id("U1");
    c.set_name(std::string("crew ") + id);
    c.set_certificate(std::string("T-") + id);
    c.set_phone("13800000000");
    c.set_on_duty(true);
    c.mutable_position()->set_lat(lat);
    c.mutable_position()->set_lon(106.568);
    c.set_position_at_ms(now_ms());
    REQUIRE_FALSE(registry.add_crew(c));
  }
}

// A whole console port on an io_context thread.
struct server {
  fs::path dir = fresh_dir();
  d::server_config config;
  rescue::storage::registry registry;
  d::metrics stats;
  std::unique_ptr<rescue::storage::sqlite_journal> journal;
  d::http_router router;
  asio::io_context io;
  std::unique_ptr<d::dispatch_service> service;
  std::unique_ptr<d::console_api> api;
  std::unique_ptr<d::ops_routes> ops;
  std::shared_ptr<d::live_feed> feed;
  std::shared_ptr<d::http_listener> listener;
  std::thread thread;
  std::uint16_t port = 0;

  server() {
    config.listen_address = "127.0.0.1";
    config.http_port = 0;
    config.web_root = dir / "web";
    config.tokens.push_back({operator_token, "alice", d::api_token::role::operator_role});
    config.tokens.push_back({auditor_token, "bob", d::api_token::role::auditor});
    write_file(dir / "web" / "index.html", "<!doctype html><h1>96333 console</h1>");
    write_file(dir / "web" / "js" / "app.js", "console.log('board');");
    write_file(dir / "web" / "style.css", "h1{color:red}");
    write_file(dir / "secret.txt", "TOP-SECRET");

    fill_registry(registry);
    rescue::geo::crew_index crews(config.ranking);
    for (const auto& unit : registry.units())
      crews.register_unit(unit);
    for (const auto& crew : registry.crews())
      crews.upsert(crew);

    rescue::storage::sqlite_journal_config jc;
    jc.path = dir / "journal.db";
    std::error_code ec;
    journal = rescue::storage::sqlite_journal::open(jc, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(journal);

    service = std::make_unique<d::dispatch_service>(io, config.policy, registry, std::move(crews),
                                                    *journal, stats);
    service->recover();
    api = std::make_unique<d::console_api>(*service);
    ops = std::make_unique<d::ops_routes>(*service, stats);
    feed = std::make_shared<d::live_feed>(*service, stats);
    api->register_routes(router);
    ops->register_routes(router);
    feed->register_routes(router);
    d::dispatch_channels channels;
    channels.incident_changed = [f = feed](const v1::IncidentView& view, bool removed) {
      f->publish(view, removed);
    };
    service->set_channels(std::move(channels));

    listener = std::make_shared<d::http_listener>(io, config, router);
    port = listener->start();
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }

  ~server() {
    listener->stop();
    feed->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    io.stop();
    thread.join();
    api.reset();
    journal->close();
    listener.reset();
    feed.reset();
    service.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void set_receive_timeout(tcp::socket& socket) {
  timeval tv{5, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

struct client {
  asio::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;

  explicit client(std::uint16_t port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_receive_timeout(socket);
  }

  http::response<http::string_body> call(http::verb method, const std::string& target,
                                         const std::string& token = {},
                                         const std::string& body = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  }
};

http::response<http::string_body> call(const server& s, http::verb method,
                                       const std::string& target, const std::string& token = {},
                                       const std::string& body = {}) {
  client c(s.port);
  return c.call(method, target, token, body);
}

// The body as the schema's message `T`: every response is one.
template <class T>
T body_as(const http::response<http::string_body>& res) {
  T message;
  INFO(res.body());
  REQUIRE(rescue::protocol::from_json(res.body(), message).empty());
  return message;
}

v1::ApiError error_of(const http::response<http::string_body>& res) {
  return body_as<v1::ApiError>(res);
}

std::uint64_t create_incident(const server& s, const std::string& rescue_code) {
  const auto res =
      call(s, http::verb::post, "/api/v1/incidents", operator_token,
           R"({"rescue_code":")" + rescue_code +
               R"(","people_trapped":true,"caller_name":"Zhang","caller_phone":"13900000000"})");
  INFO(res.body());
  REQUIRE(res.result() == http::status::created);
  v1::CommandResult result;
  REQUIRE(rescue::protocol::from_json(res.body(), result).empty());
  REQUIRE(result.ok());
  return result.incident_id();
}

v1::IncidentView get_incident(const server& s, std::uint64_t id, const std::string& token) {
  const auto res = call(s, http::verb::get, "/api/v1/incidents/" + std::to_string(id), token);
  INFO(res.body());
  REQUIRE(res.result() == http::status::ok);
  v1::IncidentView view;
  REQUIRE(rescue::protocol::from_json(res.body(), view).empty());
  return view;
}

}  // namespace

TEST_CASE("a call by rescue code opens an incident offered to the nearest crew", "[http]") {
  server s;
  const std::uint64_t id = create_incident(s, "10001");
  CHECK(id > 0);

  const v1::IncidentView view = get_incident(s, id, auditor_token);
  CHECK(view.id() == id);
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c11");
  REQUIRE(view.last_ranking().candidates_size() >= 1);
  CHECK(view.last_ranking().candidates(0).crew_id() == "c11");
  REQUIRE(view.alarms_size() == 1);
  CHECK(view.alarms(0).operator_id() == "alice");
  CHECK(view.alarms(0).source() == v1::SOURCE_PHONE);
  REQUIRE(view.timeline_size() >= 2);
  CHECK(view.timeline(0).has_opened());

  const auto list = call(s, http::verb::get, "/api/v1/incidents", operator_token);
  REQUIRE(list.result() == http::status::ok);
  v1::IncidentList incidents;
  REQUIRE(rescue::protocol::from_json(list.body(), incidents).empty());
  REQUIRE(incidents.incidents_size() == 1);
  CHECK(incidents.incidents(0).id() == id);
  CHECK(incidents.incidents(0).timeline_size() == 0);
}

TEST_CASE("a call by registration code is accepted and a second call for it merges", "[http]") {
  server s;
  const auto first = call(s, http::verb::post, "/api/v1/incidents", operator_token,
                          R"({"registration_code":"31105001002019000001","people_trapped":true})");
  REQUIRE(first.result() == http::status::created);
  CHECK(first[http::field::location].starts_with("/api/v1/incidents/"));
  const auto again = call(s, http::verb::post, "/api/v1/incidents", operator_token,
                          R"({"rescue_code":"10001","source":"SOURCE_PROPERTY"})");
  INFO(again.body());
  CHECK(again.result() == http::status::ok);
}

TEST_CASE("an unknown rescue code is 404 unknown_elevator", "[http]") {
  server s;
  const auto res = call(s, http::verb::post, "/api/v1/incidents", operator_token,
                        R"({"rescue_code":"99999","people_trapped":true})");
  CHECK(res.result() == http::status::not_found);
  const auto error = error_of(res);
  CHECK(error.code() == "unknown_elevator");
  CHECK_FALSE(error.message().empty());
}

TEST_CASE("tokens: none is 401, an auditor writing is 403, the query form is accepted", "[http]") {
  server s;
  const auto missing = call(s, http::verb::get, "/api/v1/incidents");
  CHECK(missing.result() == http::status::unauthorized);
  CHECK(error_of(missing).code() == "unauthorized");

  const auto wrong = call(s, http::verb::get, "/api/v1/incidents", "not-a-token");
  CHECK(wrong.result() == http::status::unauthorized);

  const auto auditor = call(s, http::verb::post, "/api/v1/incidents", auditor_token,
                            R"({"rescue_code":"10001","people_trapped":true})");
  CHECK(auditor.result() == http::status::forbidden);
  CHECK(error_of(auditor).code() == "forbidden");

  const auto query =
      call(s, http::verb::get, std::string("/api/v1/incidents?token=") + auditor_token);
  CHECK(query.result() == http::status::ok);
  CHECK(query.body() == R"({"incidents":[]})");
}

TEST_CASE("bad requests: malformed JSON 400, unknown route 404, wrong method 405", "[http]") {
  server s;
  const auto malformed =
      call(s, http::verb::post, "/api/v1/incidents", operator_token, R"({"rescue_code": )");
  CHECK(malformed.result() == http::status::bad_request);
  CHECK(error_of(malformed).code() == "malformed_json");

  const auto unknown_field =
      call(s, http::verb::post, "/api/v1/incidents", operator_token, R"({"rescue_cod":"10001"})");
  CHECK(unknown_field.result() == http::status::bad_request);

  const auto no_code = call(s, http::verb::post, "/api/v1/incidents", operator_token, "{}");
  CHECK(no_code.result() == http::status::bad_request);
  CHECK(error_of(no_code).code() == "invalid_request");

  const auto route = call(s, http::verb::get, "/api/v1/nothing-here", operator_token);
  CHECK(route.result() == http::status::not_found);
  CHECK(error_of(route).code() == "not_found");

  const auto method = call(s, http::verb::delete_, "/api/v1/incidents", operator_token);
  CHECK(method.result() == http::status::method_not_allowed);
  CHECK(error_of(method).code() == "method_not_allowed");

  const auto incident = call(s, http::verb::get, "/api/v1/incidents/424242", auditor_token);
  CHECK(incident.result() == http::status::not_found);
  CHECK(error_of(incident).code() == "unknown_incident");

  const auto not_a_number = call(s, http::verb::get, "/api/v1/incidents/abc", auditor_token);
  CHECK(not_a_number.result() == http::status::not_found);
}

TEST_CASE("an error quoting bytes that are not UTF-8 is still valid JSON", "[http]") {
  server s;
  const auto res = call(s, http::verb::get, "/api/v1/elevators/%FF1%C3", auditor_token);
  CHECK(res.result() == http::status::not_found);
  const auto error = error_of(res);
  CHECK(error.code() == "unknown_elevator");
  CHECK(error.message().find("\xef\xbf\xbd"
                             "1"
                             "\xef\xbf\xbd") != std::string::npos);
}

TEST_CASE("a body over the limit is refused with 413", "[http]") {
  server s;
  const std::string big(70 * 1024, 'x');
  const auto res = call(s, http::verb::post, "/api/v1/incidents", operator_token, big);
  CHECK(res.result() == http::status::payload_too_large);
}

TEST_CASE("commands follow the core: refusals map to 409, success to CommandResult", "[http]") {
  server s;
  const std::uint64_t id = create_incident(s, "10001");
  const std::string base = "/api/v1/incidents/" + std::to_string(id);

  const auto note = call(s, http::verb::post, base + "/notes", operator_token,
                         R"({"text":"caller says two people inside"})");
  INFO(note.body());
  CHECK(note.result() == http::status::ok);

  const auto close = call(s, http::verb::post, base + "/close", operator_token,
                          R"({"cause":{"category":"CAUSE_DOOR_SYSTEM","sub_cause":"lock"}})");
  CHECK(close.result() == http::status::conflict);
  CHECK(error_of(close).code() == "wrong_stage");

  const auto assign =
      call(s, http::verb::post, base + "/assign", operator_token, R"({"crew_id":"nobody"})");
  CHECK(assign.result() == http::status::not_found);
  CHECK(error_of(assign).code() == "unknown_crew");

  const auto cancel = call(s, http::verb::post, base + "/cancel", operator_token,
                           R"({"reason":"CANCEL_FALSE_ALARM","detail":"caller got out"})");
  INFO(cancel.body());
  CHECK(cancel.result() == http::status::ok);

  // Gone from memory, still in the journal.
  const v1::IncidentView view = get_incident(s, id, auditor_token);
  CHECK(view.stage() == v1::STAGE_CANCELLED);
  CHECK(view.timeline(view.timeline_size() - 1).has_cancelled());
  bool noted = false;
  for (const auto& e : view.timeline())
    noted = noted || (e.has_note() && e.note().operator_id() == "alice");
  CHECK(noted);

  const auto list = call(s, http::verb::get, "/api/v1/incidents", auditor_token);
  CHECK(list.body() == R"({"incidents":[]})");
}

TEST_CASE("elevator lookup by rescue code, registration code or id", "[http]") {
  server s;
  for (const std::string code : {"10001", "31105001002019000001", "E1"}) {
    const auto res = call(s, http::verb::get, "/api/v1/elevators/" + code, auditor_token);
    INFO(code << ": " << res.body());
    REQUIRE(res.result() == http::status::ok);
    const auto lookup = body_as<v1::ElevatorLookup>(res);
    CHECK(lookup.elevator().id() == "E1");
    CHECK(lookup.maintenance_unit().name() == "Yuzhong Lift Service");
    CHECK(lookup.building_operator().name() == "Jiefangbei Property");
  }
  const auto no_unit = call(s, http::verb::get, "/api/v1/elevators/10002", auditor_token);
  REQUIRE(no_unit.result() == http::status::ok);
  // The JSON mapping leaves a message that is not there out: no "maintenance_unit" at all.
  CHECK(no_unit.body().find("maintenance_unit") == std::string::npos);
  CHECK_FALSE(body_as<v1::ElevatorLookup>(no_unit).has_maintenance_unit());
  CHECK(body_as<v1::ElevatorLookup>(no_unit).has_building_operator());
  const auto unknown = call(s, http::verb::get, "/api/v1/elevators/77777", auditor_token);
  CHECK(unknown.result() == http::status::not_found);
  CHECK(error_of(unknown).code() == "unknown_elevator");
}

TEST_CASE("districts for the map carry their elevator count and outline", "[http]") {
  server s;
  const auto res = call(s, http::verb::get, "/api/v1/districts", auditor_token);
  REQUIRE(res.result() == http::status::ok);
  const auto list = body_as<v1::DistrictList>(res);
  REQUIRE(list.districts_size() == 1);
  const auto& yuzhong = list.districts(0);
  CHECK(yuzhong.code() == "500103");
  CHECK(yuzhong.elevators() == 2);
  // Both elevators stand at one point of Yuzhong: the hull is that point.
  REQUIRE(yuzhong.outline_size() >= 1);
  CHECK(yuzhong.outline(0).lat() == Approx(29.556));
  CHECK(yuzhong.outline(0).lon() == Approx(106.568));
  // A 32-bit count is a JSON number, not a string.
  CHECK(res.body().find(R"("elevators":2,)") != std::string::npos);
  CHECK(call(s, http::verb::get, "/api/v1/districts").result() == http::status::unauthorized);
}

TEST_CASE("crews for the map carry unit, duty, busy and position age", "[http]") {
  server s;
  create_incident(s, "10001");
  const auto res = call(s, http::verb::get, "/api/v1/crews", auditor_token);
  REQUIRE(res.result() == http::status::ok);
  INFO(res.body());
  const auto list = body_as<v1::CrewList>(res);
  CHECK(list.at_ms() >= now_ms() - 60'000);
  // 64-bit integers are JSON strings, as in every other response.
  CHECK(res.body().find(R"("at_ms":")") != std::string::npos);
  const v1::CrewOnMap* c11 = nullptr;
  for (const auto& crew : list.crews())
    if (crew.id() == "c11") c11 = &crew;
  REQUIRE(c11);
  CHECK(c11->unit_id() == "U1");
  CHECK(c11->on_duty());
  REQUIRE(c11->has_position());
  CHECK(c11->position().lat() == Approx(29.560));
  CHECK(c11->position_at_ms() > 0);
  CHECK(c11->position_age_s() < 60);
}

TEST_CASE("journal verification reports a clean journal", "[http]") {
  server s;
  create_incident(s, "10001");
  const auto res = call(s, http::verb::get, "/api/v1/journal/verify", auditor_token);
  INFO(res.body());
  REQUIRE(res.result() == http::status::ok);
  const auto result = body_as<v1::JournalVerification>(res);
  CHECK(result.ok());
  CHECK(result.first_bad_seq() == 0);
  CHECK(result.failure() == "intact");
  CHECK(result.records_checked() == result.last_seq());
  CHECK(result.last_seq() > 0);
  CHECK(res.body().find(R"("ok":true)") != std::string::npos);
}

TEST_CASE("the session route names the token's holder and role", "[http]") {
  server s;
  const auto op = call(s, http::verb::get, "/api/v1/session", operator_token);
  REQUIRE(op.result() == http::status::ok);
  CHECK(op.body() == R"({"name":"alice","role":"operator"})");
  const auto audit = call(s, http::verb::get, "/api/v1/session", auditor_token);
  REQUIRE(audit.result() == http::status::ok);
  CHECK(audit.body() == R"({"name":"bob","role":"auditor"})");
  CHECK(call(s, http::verb::get, "/api/v1/session").result() == http::status::unauthorized);
}

TEST_CASE("static assets are served from web_root and nothing outside it", "[http]") {
  server s;
  const auto index = call(s, http::verb::get, "/");
  REQUIRE(index.result() == http::status::ok);
  CHECK(index[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(index.body().find("96333 console") != std::string::npos);

  const auto js = call(s, http::verb::get, "/js/app.js");
  CHECK(js.result() == http::status::ok);
  CHECK(js[http::field::content_type].starts_with("text/javascript"));
  const auto css = call(s, http::verb::get, "/style.css?v=3");
  CHECK(css.result() == http::status::ok);
  CHECK(css[http::field::content_type].starts_with("text/css"));

  for (const std::string target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/js/..%2f..%2fsecret.txt", "/js/../../secret.txt",
        "/missing.html"}) {
    const auto res = call(s, http::verb::get, target);
    INFO(target);
    CHECK(res.result() == http::status::not_found);
    CHECK(res.body().find("TOP-SECRET") == std::string::npos);
  }
}

TEST_CASE("healthz and metrics are open and name what they report", "[http]") {
  server s;
  create_incident(s, "10001");
  const auto health = call(s, http::verb::get, "/healthz");
  REQUIRE(health.result() == http::status::ok);
  const auto report = body_as<v1::Health>(health);
  CHECK(report.status() == "ok");
  CHECK(report.open_incidents() == 1);
  CHECK(report.journal_last_seq() > 0);
  CHECK(health.body().find(R"("open_incidents":1)") != std::string::npos);
  CHECK(health.body().find(R"("journal_last_seq":")") != std::string::npos);

  const auto metrics = call(s, http::verb::get, "/metrics");
  REQUIRE(metrics.result() == http::status::ok);
  CHECK(metrics[http::field::content_type].starts_with("text/plain; version=0.0.4"));
  CHECK(metrics.body().find("rescue_alarms_total 1") != std::string::npos);
  CHECK(metrics.body().find("rescue_open_incidents") != std::string::npos);
  CHECK(metrics.body().find("rescue_alarm_to_offer_seconds_bucket") != std::string::npos);
}

TEST_CASE("a kept-alive connection serves several requests", "[http]") {
  server s;
  client c(s.port);
  for (int i = 0; i < 3; ++i) {
    const auto res = c.call(http::verb::get, "/healthz");
    CHECK(res.result() == http::status::ok);
    CHECK(res.keep_alive());
  }
}

TEST_CASE("the live feed sends a snapshot, then every change", "[http]") {
  server s;
  const std::uint64_t id = create_incident(s, "10001");

  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port));
  set_receive_timeout(ws.next_layer());
  ws.handshake("127.0.0.1", std::string("/api/v1/live?token=") + auditor_token);

  auto next = [&ws] {
    beast::flat_buffer buffer;
    ws.read(buffer);
    v1::LiveUpdate update;
    const std::string text = beast::buffers_to_string(buffer.data());
    INFO(text);
    REQUIRE(rescue::protocol::from_json(text, update).empty());
    return update;
  };

  const v1::LiveUpdate snapshot = next();
  CHECK(snapshot.incident().id() == id);
  CHECK(snapshot.incident().stage() == v1::STAGE_OFFERED);
  CHECK_FALSE(snapshot.removed());

  const auto res = call(s, http::verb::post, "/api/v1/incidents/" + std::to_string(id) + "/cancel",
                        operator_token, R"({"reason":"CANCEL_SELF_RECOVERED"})");
  REQUIRE(res.result() == http::status::ok);
  const v1::LiveUpdate update = next();
  CHECK(update.incident().id() == id);
  CHECK(update.removed());

  const std::uint64_t second = create_incident(s, "10002");
  const v1::LiveUpdate opened = next();
  CHECK(opened.incident().id() == second);
  CHECK_FALSE(opened.removed());

  ws.close(websocket::close_code::normal);
}

TEST_CASE("the live feed refuses a connection without a token", "[http]") {
  server s;
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port));
  set_receive_timeout(ws.next_layer());
  websocket::response_type response;
  beast::error_code ec;
  ws.handshake(response, "127.0.0.1", "/api/v1/live", ec);
  CHECK(ec);
  CHECK(response.result() == http::status::unauthorized);
}

TEST_CASE("a token in the query string is refused on writes and accepted on reads", "[http]") {
  server s;
  const auto write =
      call(s, http::verb::post, std::string("/api/v1/incidents?token=") + operator_token, {},
           R"({"rescue_code":"10001","people_trapped":true})");
  CHECK(write.result() == http::status::bad_request);
  const auto error = error_of(write);
  CHECK(error.code() == "token_in_query");
  CHECK(error.message().find("Authorization") != std::string::npos);
  const auto list = call(s, http::verb::get, "/api/v1/incidents", auditor_token);
  REQUIRE(list.result() == http::status::ok);
  v1::IncidentList incidents;
  REQUIRE(rescue::protocol::from_json(list.body(), incidents).empty());
  CHECK(incidents.incidents_size() == 0);
}

TEST_CASE("the live feed refuses a page from a foreign Origin and accepts its own", "[http]") {
  server s;
  auto open = [&](const std::string& origin) {
    asio::io_context io;
    websocket::stream<tcp::socket> ws(io);
    ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port));
    set_receive_timeout(ws.next_layer());
    ws.set_option(websocket::stream_base::decorator(
        [origin](websocket::request_type& req) { req.set(http::field::origin, origin); }));
    websocket::response_type response;
    beast::error_code ec;
    ws.handshake(response, "127.0.0.1:" + std::to_string(s.port),
                 std::string("/api/v1/live?token=") + auditor_token, ec);
    return response.result();
  };
  CHECK(open("https://evil.example") == http::status::forbidden);
  CHECK(open("http://127.0.0.1:" + std::to_string(s.port)) == http::status::switching_protocols);
}

TEST_CASE("a chunked trailer larger than the read buffer is 431 and the server goes on", "[http]") {
  server s;
  {
    client c(s.port);
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\nX-Big: " +
        std::string(70 * 1024, 'z') + "\r\n\r\n";
    beast::error_code ec;
    asio::write(c.socket, asio::buffer(request), ec);
    http::response<http::string_body> res;
    http::read(c.socket, c.buffer, res, ec);
    CHECK(res.result() == http::status::request_header_fields_too_large);
  }
  CHECK(call(s, http::verb::get, "/healthz").result() == http::status::ok);
}

TEST_CASE("stopping the listener closes idle connections and refuses new ones", "[http]") {
  server s;
  client idle(s.port);
  CHECK(idle.call(http::verb::get, "/healthz").result() == http::status::ok);
  s.listener->stop();
  // The idle keep-alive connection is closed by the server: the next read sees end of stream.
  beast::error_code ec;
  char byte = 0;
  idle.socket.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  asio::io_context io;
  tcp::socket fresh(io);
  fresh.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port), ec);
  CHECK(ec == asio::error::connection_refused);
}
