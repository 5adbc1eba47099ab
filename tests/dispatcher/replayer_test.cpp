// The replayer: the journal's records folded back into the incident state and the terminal
// frames already decided, as the server rebuilds them at start-up.
#include <catch2/catch.hpp>

#include "core_fixture.hpp"
#include "rescue/core/replayer.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
using rescue::core::replayer;

namespace {

// The journal as stored: seq from 1, each event serialized.
std::vector<std::string> payloads(const world& w) {
  std::vector<std::string> out;
  for (const auto& e : w.journal)
    out.push_back(e.SerializeAsString());
  return out;
}

rescue::core::replayed replay(const world& w) {
  replayer r;
  std::uint64_t seq = 0;
  for (const auto& p : payloads(w))
    REQUIRE_FALSE(r.feed(++seq, p));
  return std::move(r).take();
}

}  // namespace

TEST_CASE("the replayer rebuilds the core's state from the stored records", "[unit][core]") {
  world w;
  const auto first = w.trapped("T1", 1).incident;
  w.advance(30s);
  REQUIRE(w.run(cmd::accept_offer{first, "c11"}).ok());
  const auto second = w.trapped("T2", 1).incident;
  w.advance(2min);
  REQUIRE(w.run(cmd::cancel{second, v1::CANCEL_FALSE_ALARM, "op1", "child"}).ok());
  REQUIRE(w.run(cmd::add_note{first, "two inside", "op1"}).ok());

  const auto rebuilt = replay(w);
  CHECK(rebuilt.state == w.state);
  CHECK(rebuilt.events == w.journal.size());
  CHECK(rebuilt.last_seq == w.journal.size());
  CHECK(rebuilt.state.finished == 1);
}

TEST_CASE("the replayer remembers the terminal frames the journal shows as decided",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1", 7).incident;
  REQUIRE(w.run(cmd::terminal_event{"T1", 8, v1::EVENT_TRAPPED_IN_DOOR_ZONE, {}}).ok());
  const auto rebuilt = replay(w);
  const auto open = [&](std::uint64_t incident) {
    const auto* inc = rebuilt.state.find(incident);
    return inc && !inc->closed_at;
  };
  CHECK(rebuilt.frames.terminals() == 1);
  // The opening alarm and the merged one are resends while their incident is open.
  CHECK(rebuilt.frames.classify("T1", {0, 7, v1::EVENT_TRAPPED_BETWEEN_FLOORS}, open).resend);
  CHECK(rebuilt.frames.classify("T1", {0, 8, v1::EVENT_TRAPPED_IN_DOOR_ZONE}, open).resend);
  // A number never journalled is new.
  CHECK_FALSE(rebuilt.frames.classify("T1", {0, 9, v1::EVENT_TRAPPED_BETWEEN_FLOORS}, open).resend);
  CHECK(rebuilt.state.find(id)->alarm_count == 2);
}

TEST_CASE("a record that does not parse, or does not come after the last, is refused",
          "[unit][core]") {
  world w;
  w.trapped("T1");
  const auto records = payloads(w);
  REQUIRE(records.size() > 2);
  replayer r;
  REQUIRE_FALSE(r.feed(5, records[0]));
  const auto before = r.state();

  const auto repeated = r.feed(5, records[1]);
  REQUIRE(repeated);
  CHECK(*repeated == "journal record 5 comes after record 5");
  const auto back = r.feed(4, records[1]);
  REQUIRE(back);
  CHECK(*back == "journal record 4 comes after record 5");
  const auto garbage = r.feed(6, std::string("\xff\xff\xff\xff", 4));
  REQUIRE(garbage);
  CHECK(*garbage == "journal record 6 does not parse");
  // Nothing of a refused record was folded.
  CHECK(r.state() == before);
  CHECK(r.result().events == 1);
  CHECK(r.result().last_seq == 5);
  // Gaps are allowed: one incident's records skip the others'.
  CHECK_FALSE(r.feed(9, records[1]));
  CHECK(r.result().last_seq == 9);
}

TEST_CASE("an incident's view is replayed from its own events, also once it left memory",
          "[unit][core]") {
  world w;
  const auto open = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{open, "c11"}).ok());

  const auto events_of = [&](std::uint64_t id) {
    std::vector<v1::Event> out;
    for (const auto& e : w.journal)
      if (e.incident_id() == id) out.push_back(e);
    return out;
  };

  SECTION("an open incident: the view the core would give") {
    const auto view = rescue::core::replay_view(open, events_of(open));
    REQUIRE(view);
    CHECK(view->stage() == v1::STAGE_ACCEPTED);
    CHECK(view->assigned_crew_id() == "c11");
    CHECK(rescue::core::make_view(w.incident(open)).SerializeAsString() ==
          view->SerializeAsString());
  }
  SECTION("a cancelled incident: its last view, stage cancelled") {
    const auto cancelled = w.trapped("T2").incident;
    REQUIRE(w.run(cmd::cancel{cancelled, v1::CANCEL_FALSE_ALARM, "op1", "child"}).ok());
    REQUIRE(w.state.find(cancelled) == nullptr);
    const auto view = rescue::core::replay_view(cancelled, events_of(cancelled));
    REQUIRE(view);
    CHECK(view->stage() == v1::STAGE_CANCELLED);
    CHECK(view->id() == cancelled);
  }
  SECTION("a followed-up incident: its last view, stage followed up") {
    const std::vector<rescue::core::command> to_the_end = {
        cmd::crew_departed{open, "c11"}, cmd::crew_arrived{open, "c11"},
        cmd::people_released{open, "c11"}, cmd::close{open, door_cause(), "op1"},
        cmd::record_follow_up{open, v1::FOLLOW_UP_SATISFIED, "thanks", "op1"}};
    for (const auto& c : to_the_end)
      REQUIRE(w.run(c).ok());
    REQUIRE(w.state.find(open) == nullptr);
    const auto view = rescue::core::replay_view(open, events_of(open));
    REQUIRE(view);
    CHECK(view->stage() == v1::STAGE_FOLLOWED_UP);
    CHECK(view->cause().sub_cause() == "door_operator_fault");
    CHECK(view->closed_at_ms() > 0);
  }
  SECTION("an incident the events never opened: no view") {
    CHECK_FALSE(rescue::core::replay_view(99, events_of(open)));
  }
}
