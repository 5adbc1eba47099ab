#include <catch2/catch.hpp>

#include <limits>

#include "rescue/dispatcher/crew_session.hpp"
#include "rescue/dispatcher/terminal_session.hpp"
#include "rescue/protocol/json.hpp"

namespace v1 = rescue::v1;
namespace dispatcher = rescue::dispatcher;
namespace core = rescue::core;

namespace {

v1::CrewClientMessage parsed(const char* json) {
  v1::CrewClientMessage m;
  REQUIRE(rescue::protocol::from_json(json, m).empty());
  return m;
}

}  // namespace

TEST_CASE("a crew's job messages become core commands for the authenticated crew only",
          "[crew][unit]") {
  const auto accept = dispatcher::crew_command(parsed(R"({"accept":{"incident_id":"17"}})"), "c1");
  REQUIRE(accept);
  CHECK(accept->name == "accept");
  CHECK(accept->incident == 17);
  const auto& c = std::get<core::cmd::accept_offer>(accept->c);
  CHECK(c.incident == 17);
  CHECK(c.crew_id == "c1");

  const auto decline = dispatcher::crew_command(
      parsed(R"({"decline":{"incident_id":"3","reason":"stuck in traffic"}})"), "c2");
  REQUIRE(decline);
  CHECK(std::get<core::cmd::decline_offer>(decline->c).reason == "stuck in traffic");
  CHECK(std::get<core::cmd::decline_offer>(decline->c).crew_id == "c2");

  for (const char* kind : {"departed", "arrived", "released"}) {
    const auto json = std::string(R"({")") + kind + R"(":{"incident_id":"5"}})";
    const auto a = dispatcher::crew_command(parsed(json.c_str()), "c1");
    REQUIRE(a);
    CHECK(a->name == kind);
    CHECK(a->incident == 5);
  }

  // Receipts, locations and empty messages are not commands.
  CHECK_FALSE(dispatcher::crew_command(parsed(R"({"receipt":{"seq":"1"}})"), "c1"));
  CHECK_FALSE(dispatcher::crew_command(parsed(R"({"location":{"at_ms":"1"}})"), "c1"));
  CHECK_FALSE(dispatcher::crew_command(parsed("{}"), "c1"));
}

TEST_CASE("a GPS fix outside WGS-84 ranges or without a position is refused", "[crew][unit]") {
  constexpr std::int64_t now = 1'700'000'000'000;
  const auto usable = [&](const v1::Location& l) {
    return dispatcher::location_fix(l, now).refused.empty();
  };
  v1::Location l;
  CHECK_FALSE(usable(l));
  l.mutable_position()->set_lat(29.56);
  l.mutable_position()->set_lon(106.57);
  CHECK(usable(l));
  CHECK(dispatcher::location_fix(l, now).at_ms == now);
  l.mutable_position()->set_lat(90);
  l.mutable_position()->set_lon(-180);
  CHECK(usable(l));
  for (const double bad : {90.0001, -91.0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()}) {
    l.mutable_position()->set_lat(bad);
    CHECK_FALSE(usable(l));
  }
  l.mutable_position()->set_lat(29.56);
  l.mutable_position()->set_lon(180.5);
  CHECK_FALSE(usable(l));
  // A stamp an hour ahead of the server's clock is refused too.
  l.mutable_position()->set_lon(106.57);
  l.set_at_ms(now + 3'600'000);
  CHECK_FALSE(usable(l));
}

TEST_CASE("a terminal's event frame becomes a command carrying its session's id and boot",
          "[crew][unit]") {
  v1::TerminalEvent e;
  e.set_seq(42);
  e.set_code(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
  e.mutable_status()->set_floor(7);
  const auto c = dispatcher::terminal_command(e, "T1", 99);
  CHECK(c.terminal_id == "T1");
  CHECK(c.seq == 42);
  CHECK(c.code == v1::EVENT_TRAPPED_BETWEEN_FLOORS);
  CHECK(c.status.floor() == 7);
  CHECK(c.boot_id == 99);
}
