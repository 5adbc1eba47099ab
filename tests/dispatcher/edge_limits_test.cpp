// The edge's limits as plain logic: connection caps per listener and address, the WebSocket
// Origin rule, and the configuration keys that set them.
#include <string>

#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>

#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/http_session.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace {

namespace d = rescue::dispatcher;
using boost::asio::ip::make_address;

TEST_CASE("a connection limiter caps the listener and each address, and frees on release",
          "[unit]") {
  std::atomic<std::int64_t> gauge{0};
  auto limiter = std::make_shared<d::connection_limiter>(4, 2, &gauge);
  d::connection_limiter::verdict why{};
  auto a1 = limiter->try_admit(make_address("10.0.0.1"), why);
  auto a2 = limiter->try_admit(make_address("10.0.0.1"), why);
  REQUIRE(a1);
  REQUIRE(a2);
  auto a3 = limiter->try_admit(make_address("10.0.0.1"), why);
  CHECK_FALSE(a3);
  CHECK(why == d::connection_limiter::verdict::address_full);
  // The mapped form of the same IPv4 address shares its count.
  CHECK_FALSE(limiter->try_admit(make_address("::ffff:10.0.0.1"), why));

  auto b1 = limiter->try_admit(make_address("10.0.0.2"), why);
  auto b2 = limiter->try_admit(make_address("10.0.0.2"), why);
  REQUIRE(b1);
  REQUIRE(b2);
  CHECK(limiter->open() == 4);
  CHECK(gauge == 4);
  CHECK_FALSE(limiter->try_admit(make_address("10.0.0.3"), why));
  CHECK(why == d::connection_limiter::verdict::listener_full);

  a1 = {};  // released
  CHECK(limiter->open() == 3);
  CHECK(gauge == 3);
  auto again = limiter->try_admit(make_address("10.0.0.1"), why);
  CHECK(again);
  // A slot moved elsewhere (an upgraded WebSocket) still counts once.
  d::connection_slot moved = std::move(again);
  CHECK(limiter->open() == 4);
}

TEST_CASE("the console port never gets the terminals' share of the descriptors", "[unit]") {
  const auto plan = d::plan_descriptors(1'000'000, 1'000'000, 0.5);
  REQUIRE(plan.limit > 0);
  CHECK(plan.http_max <= plan.available / 2 + 1);
  CHECK(plan.terminal_max <= plan.available);
  CHECK(plan.http_max >= 1);
  const auto small = d::plan_descriptors(10, 20, 0.5);
  CHECK(small.http_max <= 10);
  CHECK(small.terminal_max <= 20);
}

d::http_request upgrade_from(const std::string& origin, const std::string& host) {
  d::http_request r{d::http::verb::get, "/ws/crew", 11};
  if (!host.empty()) r.set(d::http::field::host, host);
  if (!origin.empty()) r.set(d::http::field::origin, origin);
  return r;
}

TEST_CASE("WebSockets accept their own origin, listed ones, and clients without an Origin",
          "[unit]") {
  const std::vector<std::string> none;
  CHECK(d::websocket_origin_allowed(upgrade_from("", "127.0.0.1:8096"), none));
  CHECK(d::websocket_origin_allowed(upgrade_from("http://127.0.0.1:8096", "127.0.0.1:8096"), none));
  CHECK(d::websocket_origin_allowed(upgrade_from("https://Console.Example", "console.example"),
                                    none));
  CHECK_FALSE(
      d::websocket_origin_allowed(upgrade_from("https://evil.example", "127.0.0.1:8096"), none));
  CHECK_FALSE(
      d::websocket_origin_allowed(upgrade_from("http://127.0.0.1:9999", "127.0.0.1:8096"), none));
  CHECK_FALSE(d::websocket_origin_allowed(upgrade_from("null", "127.0.0.1:8096"), none));
  const std::vector<std::string> listed = {"https://console.cq96333.cn"};
  CHECK(d::websocket_origin_allowed(upgrade_from("https://console.cq96333.cn", "10.1.1.1:8096"),
                                    listed));
}

TEST_CASE("the edge's configuration keys are read, checked, and have sane defaults", "[unit]") {
  const auto defaults = d::parse_server_config("", "test.toml", ".");
  CHECK(defaults.http_max_connections > 0);
  CHECK(defaults.http_max_connections_per_address > 0);
  CHECK(defaults.terminal_max_connections_per_address > 0);
  CHECK(defaults.http_header_timeout < defaults.http_idle_timeout);
  CHECK(defaults.log_format == "text");
  CHECK(defaults.auth_max_failures > 0);

  const auto c = d::parse_server_config(R"(
[server]
auth_max_failures = 3
auth_failure_window_s = 30
auth_lockout_s = 120
[terminals]
max_connections = 5000
max_connections_per_address = 50
reserved_descriptor_share = 0.6
[http]
max_connections = 300
max_connections_per_address = 20
idle_timeout_s = 15
header_timeout_s = 5
request_timeout_s = 20
allowed_origins = ["https://console.cq96333.cn"]
[log]
format = "json"
)",
                                        "test.toml", ".");
  CHECK(c.auth_max_failures == 3);
  CHECK(c.auth_failure_window == std::chrono::seconds(30));
  CHECK(c.auth_lockout == std::chrono::seconds(120));
  CHECK(c.terminal_max_connections == 5000);
  CHECK(c.terminal_max_connections_per_address == 50);
  CHECK(c.terminal_descriptor_share == Approx(0.6));
  CHECK(c.http_max_connections == 300);
  CHECK(c.http_max_connections_per_address == 20);
  CHECK(c.http_idle_timeout == std::chrono::seconds(15));
  CHECK(c.http_header_timeout == std::chrono::seconds(5));
  CHECK(c.http_request_timeout == std::chrono::seconds(20));
  REQUIRE(c.allowed_origins.size() == 1);
  CHECK(c.log_format == "json");

  CHECK_THROWS_WITH(d::parse_server_config("[http]\nmax_conections = 3\n", "t.toml", "."),
                    Catch::Contains("http.max_conections: unknown key"));
  CHECK_THROWS_WITH(d::parse_server_config("[log]\nformat = \"xml\"\n", "t.toml", "."),
                    Catch::Contains("log.format"));
  CHECK_THROWS_WITH(
      d::parse_server_config("[http]\nallowed_origins = [\"console.example\"]\n", "t.toml", "."),
      Catch::Contains("http.allowed_origins"));
  CHECK_THROWS_WITH(d::parse_server_config("[http]\nmax_connections = 0\n", "t.toml", "."),
                    Catch::Contains("http.max_connections"));
}

TEST_CASE(
    "the storage backend is sqlite by default, redis on request, and an unknown one stops start-up",
    "[unit]") {
  CHECK(d::parse_server_config("", "t.toml", ".").storage_backend == "sqlite");
  CHECK(
      d::parse_server_config("[storage]\nbackend = \"sqlite\"\n", "t.toml", ".").storage_backend ==
      "sqlite");
  CHECK(d::parse_server_config("[storage]\nbackend = \"redis\"\n", "t.toml", ".").storage_backend ==
        "redis");
  CHECK_THROWS_WITH(
      d::parse_server_config("[storage]\nbackend = \"cassandra\"\n", "t.toml", "."),
      Catch::Contains(
          "storage.backend: unknown storage backend \"cassandra\" (known: \"sqlite\", \"redis\")"));
}

}  // namespace
