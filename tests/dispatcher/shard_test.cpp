#include <catch2/catch.hpp>

#include "core_fixture.hpp"
#include "rescue/core/command_codec.hpp"
#include "rescue/core/shard_map.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
using rescue::core::shard_map;
using rescue::core::shard_spec;

namespace {

// The fixture's city with two more elevators of U2 in Jiangbei (500105) and one of U1 in
// Nan'an (500108): U1's home is Yuzhong (two elevators there), U2's Jiangbei.
world two_district_world() {
  world w;
  w.add_elevator("E4", "U2", "10004", "31105001002019000004", v1::AREA_URBAN, "500105");
  w.add_elevator("E5", "U2", "10005", "31105001002019000005", v1::AREA_URBAN, "500105");
  w.add_elevator("E6", "U1", "10006", "31105001002019000006", v1::AREA_URBAN, "500108");
  w.add_terminal("T4", "E4");
  return w;
}

std::vector<shard_spec> north_and_south() {
  return {{"south", 2, {"500105", "500108"}}, {"north", 1, {"500103"}}};
}

}  // namespace

TEST_CASE("a sharded city routes each command to the shard of its district, crew or incident",
          "[unit][core][shard]") {
  const world w = two_district_world();
  const shard_map map(north_and_south(), w.registry);
  REQUIRE(map.sharded());
  REQUIRE(map.shards().front().name == "north");  // ordered by number

  const auto name_of = [&](const rescue::core::command& c) {
    const auto* s = map.route(c);
    return s ? s->name : std::string("(none)");
  };
  CHECK(name_of(cmd::terminal_event{"T1", 1, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}}) == "north");
  CHECK(name_of(cmd::terminal_event{"T4", 1, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}}) == "south");
  CHECK(name_of(cmd::call_alarm{"10006"}) == "south");
  CHECK(name_of(cmd::call_alarm{"", "31105001002019000001"}) == "north");
  // Unknown names have no shard: the deciding core refuses them with its reason.
  CHECK(name_of(cmd::terminal_event{"T9", 1, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}}) == "(none)");
  CHECK(name_of(cmd::call_alarm{"99999"}) == "(none)");
  // A terminal's link goes where its alarms go; a restart's lost links stay with each owner.
  CHECK(name_of(cmd::terminal_link{"T4", true, ""}) == "south");
  CHECK(name_of(cmd::terminal_link{"T1", false, "closed"}) == "north");
  CHECK(name_of(cmd::terminal_links_lost{"restart"}) == "(none)");
  // Shift changes go to the home of the crew's unit: where most of its elevators are.
  CHECK(name_of(cmd::set_duty{"c11", false, "c11"}) == "north");
  CHECK(name_of(cmd::set_duty{"c21", false, "c21"}) == "south");
  // A unit with no elevators (the rescue station) has the lowest-numbered shard as its home.
  CHECK(name_of(cmd::set_duty{"s1", false, "s1"}) == "north");
  // Incidents by the number in their id.
  const auto south_id = shard_map::first_incident_id(*map.by_name("south"));
  CHECK(south_id == 2'000'000'000'001ULL);
  CHECK(name_of(cmd::accept_offer{south_id + 41, "c21"}) == "south");
  CHECK(name_of(cmd::add_note{1'000'000'000'007ULL, "x", "op"}) == "north");
  CHECK(name_of(cmd::add_note{7, "x", "op"}) == "(none)");

  // Unsharded: no routes at all.
  CHECK(shard_map().route(cmd::call_alarm{"10001"}) == nullptr);
}

TEST_CASE("a shard map that would leave a district without an owner or give it two is refused",
          "[unit][core][shard]") {
  const world w = two_district_world();
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(shard_map({{"north", 1, {"500103"}}}, w.registry),
                    Contains("no shard takes the elevators of district(s) 500105, 500108"));
  CHECK_THROWS_WITH(
      shard_map({{"north", 1, {"500103", "500105"}}, {"south", 2, {"500105", "*"}}}, w.registry),
      Contains("district 500105 is in shards \"north\" and \"south\""));
  CHECK_THROWS_WITH(shard_map({{"a", 1, {"*"}}, {"b", 2, {"*"}}}, w.registry),
                    Contains("both take the other districts"));
  CHECK_THROWS_WITH(shard_map({{"a", 1, {"*"}}, {"b", 1, {"500103"}}}, w.registry),
                    Contains("the same number 1"));
  CHECK_THROWS_WITH(shard_map({{"a", 0, {"*"}}}, w.registry), Contains("is not 1 to 999"));
  CHECK_THROWS_WITH(shard_map({{"a", 1000, {"*"}}}, w.registry), Contains("is not 1 to 999"));
  CHECK_THROWS_WITH(shard_map({{"a", 1, {"Yuzhong"}}, {"b", 2, {"*"}}}, w.registry),
                    Contains("\"Yuzhong\" is not a 6-digit district code"));
  CHECK_THROWS_WITH(shard_map({{"a", 1, {"*"}}, {"a", 2, {"500103"}}}, w.registry),
                    Contains("listed twice"));
  // "*" takes what no other shard lists.
  const shard_map map({{"rest", 2, {"*"}}, {"north", 1, {"500103"}}}, w.registry);
  CHECK(map.of_district("500108")->name == "rest");
  CHECK(map.of_district("500103")->name == "north");
}

TEST_CASE("a shard numbers its incidents from its own base, and the fold keeps counting from there",
          "[unit][core][shard]") {
  world w;
  w.first_incident_id = shard_map::first_incident_id(shard_spec{"south", 2, {"*"}});
  const auto first = w.trapped("T1").incident;
  CHECK(first == 2'000'000'000'001ULL);
  const auto second = w.trapped("T2").incident;
  CHECK(second == first + 1);
  CHECK(w.replayed().next_id == second + 1);
  CHECK(w.replayed() == w.state);
}

TEST_CASE("crews engaged or off duty on another shard are not offered, and cannot accept here",
          "[unit][core][shard]") {
  world w;
  rescue::core::crews_elsewhere other;
  other.engaged["c11"] = 2'000'000'000'005ULL;  // on a job of the other shard
  other.duty["c12"] = false;                    // signed off there (its home shard)
  w.elsewhere = &other;

  const auto out = w.trapped("T1");
  REQUIRE(out.ok());
  const auto offers = effects_of<rescue::core::fx::offer_job>(out);
  REQUIRE(offers.size() == 1);
  CHECK(offers.front().crew_id == "c13");  // c11 busy, c12 off duty: the next of U1
  const auto& ranked = w.incident(out.incident).last_ranking;
  std::map<std::string, v1::ExclusionReason> why;
  for (const auto& x : ranked.exclusions())
    why[x.crew_id()] = x.reason();
  CHECK(why["c11"] == v1::EXCLUSION_BUSY);
  CHECK(why["c12"] == v1::EXCLUSION_OFF_DUTY);

  // The same crew offered on two shards at once: once it holds a job there, it cannot accept
  // here, and nothing changes.
  other.engaged["c13"] = 2'000'000'000'006ULL;
  const auto before = w.state;
  const auto accepted = w.run(cmd::accept_offer{out.incident, "c13"});
  CHECK(accepted.refused == rescue::core::refusal::crew_unavailable);
  CHECK_THAT(accepted.reason, Catch::Matchers::Contains("2000000000006"));
  CHECK(w.state == before);

  // A crew holding a job on another shard cannot sign off here either.
  const auto off = w.run(cmd::set_duty{"c11", false, "c11"});
  CHECK(off.refused == rescue::core::refusal::crew_unavailable);
}

TEST_CASE("every command but a deadline travels through the inbox unchanged",
          "[unit][core][shard]") {
  v1::CarStatus status;
  status.set_floor(7);
  status.set_in_door_zone(true);
  v1::Cause cause = door_cause();
  const std::vector<rescue::core::command> commands = {
      cmd::terminal_event{"T1", 42, v1::EVENT_TRAPPED_BETWEEN_FLOORS, status, 9},
      cmd::call_alarm{"10001", "3110", v1::SOURCE_PROPERTY, "张三", "139", false, true, "op1"},
      cmd::confirm_trapped{5, true, "op2"},
      cmd::accept_offer{6, "c11"},
      cmd::decline_offer{7, "c12", "too far"},
      cmd::crew_departed{8, "c13"},
      cmd::crew_arrived{9, "c21"},
      cmd::people_released{10, "c22"},
      cmd::assign_crew{11, "s1", "op3"},
      cmd::escalate{12, "op4", "no answer"},
      cmd::cancel{13, v1::CANCEL_DUPLICATE, "op5", "same car"},
      cmd::close{14, cause, "op6"},
      cmd::record_follow_up{15, v1::FOLLOW_UP_SATISFIED, "thanks", "op7"},
      cmd::add_note{16, "called the property", "op8"},
      cmd::fire_acknowledged{17, "119-YZ"},
      cmd::fire_arrived{18, "119-JB"},
      cmd::set_duty{"c31", false, "op9"},
      cmd::terminal_link{"T1", false, "idle for 180 s"},
  };
  for (const auto& c : commands) {
    const auto message = rescue::core::to_inbox(c);
    v1::InboxCommand wire;
    REQUIRE(wire.ParseFromString(message.SerializeAsString()));
    const auto back = rescue::core::from_inbox(wire);
    REQUIRE(back);
    REQUIRE(back->index() == c.index());
    // Equal field for field: compared through a second encoding.
    CHECK(rescue::core::to_inbox(*back).SerializeAsString() == message.SerializeAsString());
  }
  CHECK(rescue::core::to_inbox(cmd::deadline_fired{1, v1::DEADLINE_OFFER}).command_case() ==
        v1::InboxCommand::COMMAND_NOT_SET);
  CHECK(rescue::core::to_inbox(cmd::terminal_links_lost{"restart"}).command_case() ==
        v1::InboxCommand::COMMAND_NOT_SET);
  CHECK_FALSE(rescue::core::from_inbox(v1::InboxCommand{}));
  v1::InboxCommand unknown_kind;
  unknown_kind.mutable_incident()->set_incident_id(3);
  CHECK_FALSE(rescue::core::from_inbox(unknown_kind));
}

TEST_CASE("the inbox entry a command came in is folded into the state with its events",
          "[unit][core][shard]") {
  world w;
  auto out = w.trapped("T1");
  REQUIRE(out.ok());
  CHECK(w.state.last_inbox_entry.empty());
  // The shell tags the first event of an inbox command before appending it.
  v1::Event tagged = out.events.front();
  tagged.set_inbox_entry("1700000000000-3");
  rescue::core::replayer replay;
  replay.feed(tagged);
  CHECK(std::move(replay).take().state.last_inbox_entry == "1700000000000-3");
}

TEST_CASE("an instance that follows a shard's journal tells crews what the owner's effects did",
          "[unit][core][shard]") {
  world w;
  const auto id = w.trapped("T1").incident;                         // offer to c11
  REQUIRE(w.run(cmd::decline_offer{id, "c11", "flat tyre"}).ok());  // offer to c12
  REQUIRE(w.fire_deadline(id, v1::DEADLINE_OFFER).ok());            // c12 expires: c13
  REQUIRE(w.run(cmd::assign_crew{id, "c21", "op1"}).ok());          // c13 withdrawn
  REQUIRE(w.run(cmd::accept_offer{id, "c21"}).ok());
  REQUIRE(w.run(cmd::cancel{id, v1::CANCEL_FALSE_ALARM, "op1", ""}).ok());  // c21 withdrawn

  const auto describe = [](const rescue::core::effect& e) -> std::string {
    if (const auto* o = std::get_if<rescue::core::fx::offer_job>(&e))
      return "offer " + o->crew_id + " " + o->job.SerializeAsString();
    if (const auto* x = std::get_if<rescue::core::fx::withdraw_job>(&e))
      return "withdraw " + x->crew_id + " " + std::to_string(x->incident) + " " + x->reason;
    return {};
  };
  std::vector<std::string> decided;
  for (const auto& e : w.effects)
    if (auto d = describe(e); !d.empty()) decided.push_back(d);
  std::vector<std::string> followed;
  rescue::core::core_state state;
  for (const auto& e : w.journal) {
    rescue::core::apply(state, e);
    if (auto fx = rescue::core::crew_effect_of(state, e)) followed.push_back(describe(*fx));
  }
  // Offers to c11, c12, c13 and c21; c12's expiry; c13 and c21 withdrawn.
  CHECK(decided.size() == 7);
  CHECK(followed == decided);
}
