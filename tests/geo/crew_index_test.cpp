// Behaviour of the crew ranking, checked on the R-tree index and the linear reference alike.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rescue/geo/crew_index.hpp"
#include "rescue/geo/linear_crew_finder.hpp"

using namespace rescue::geo;
namespace v1 = rescue::v1;

namespace {

constexpr std::int64_t now_ms = 1709233200000;  // 2024-02-29 03:00 local: no rush hour
constexpr lat_lon elevator{29.556, 106.568};    // Yuzhong

// About `metres` north of the elevator.
lat_lon north(double metres) {
  return {elevator.lat + metres / 111195.0, elevator.lon};
}

crew_record crew(std::string id, std::string unit, lat_lon at) {
  crew_record c;
  c.id = std::move(id);
  c.unit_id = std::move(unit);
  c.licensed = true;
  c.on_duty = true;
  c.position = at;
  c.position_at_ms = now_ms - 1000;
  return c;
}

crew_query query(v1::RescueLevel level, std::string unit = "u1") {
  crew_query q;
  q.level = level;
  q.elevator_id = "e1";
  q.maintenance_unit_id = std::move(unit);
  q.district_code = "500103";
  q.location.set_lat(elevator.lat);
  q.location.set_lon(elevator.lon);
  q.now_ms = now_ms;
  return q;
}

std::vector<std::string> ids(const crew_ranking& r) {
  std::vector<std::string> out;
  for (const auto& c : r.candidates)
    out.push_back(c.crew_id());
  return out;
}

template <class F>
void add_units(F& f) {
  f.register_unit("u1", v1::ORG_MAINTENANCE_UNIT, false);
  f.register_unit("u2", v1::ORG_MAINTENANCE_UNIT, true);
  f.register_unit("s1", v1::ORG_RESCUE_STATION, true);
  f.register_unit("u3", v1::ORG_MAINTENANCE_UNIT, false);
}

}  // namespace

TEMPLATE_TEST_CASE("an empty index ranks nobody at either level", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  CHECK(f.rank(query(v1::LEVEL_1_MAINTENANCE)).candidates.empty());
  CHECK(f.rank(query(v1::LEVEL_2_AREA)).candidates.empty());
  CHECK(f.rank(query(v1::LEVEL_2_AREA)).exclusions.empty());
  CHECK_FALSE(f.assess("nobody", query(v1::LEVEL_1_MAINTENANCE)).known);
}

TEMPLATE_TEST_CASE("level 1 ranks the unit's own crews by ETA, nearest first", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("far", "u1", north(3000)));
  f.upsert(crew("near", "u1", north(500)));
  f.upsert(crew("mid", "u1", north(1200)));
  f.upsert(crew("other", "u2", north(100)));
  const auto r = f.rank(query(v1::LEVEL_1_MAINTENANCE));
  CHECK(ids(r) == std::vector<std::string>{"near", "mid", "far"});
  REQUIRE(r.candidates.size() == 3);
  CHECK(r.candidates[0].rank() == 1);
  CHECK(r.candidates[2].rank() == 3);
  CHECK(r.candidates[0].distance_m() == Approx(500).margin(1));
  CHECK(r.candidates[0].unit_id() == "u1");
  CHECK(r.candidates[0].level() == v1::LEVEL_1_MAINTENANCE);
  CHECK(r.candidates[0].eta_s() < r.candidates[1].eta_s());
  // The other unit's crew was nearer: the audit trail says why it was not asked.
  REQUIRE(r.exclusions.size() == 1);
  CHECK(r.exclusions[0].crew_id() == "other");
  CHECK(r.exclusions[0].reason() == v1::EXCLUSION_WRONG_LEVEL);
}

TEMPLATE_TEST_CASE("a crew standing exactly at the elevator is ranked at distance 0", "[unit]",
                   crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("here", "u1", elevator));
  f.upsert(crew("there", "u1", north(10)));
  const auto r = f.rank(query(v1::LEVEL_1_MAINTENANCE));
  REQUIRE(r.candidates.size() == 2);
  CHECK(r.candidates[0].crew_id() == "here");
  CHECK(r.candidates[0].distance_m() == 0);
  CHECK(r.candidates[0].eta_s() == 120);  // turn-out only
}

TEMPLATE_TEST_CASE("crews at the same spot are ranked by crew id", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("b", "u1", north(300)));
  f.upsert(crew("a", "u1", north(300)));
  f.upsert(crew("c", "u1", north(300)));
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"a", "b", "c"});
}

TEMPLATE_TEST_CASE("max_candidates caps the list and the exclusions stop at the last one", "[unit]",
                   crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("c1", "u1", north(100)));
  f.upsert(crew("c2", "u1", north(200)));
  auto off = crew("off_far", "u1", north(900));
  off.on_duty = false;
  f.upsert(off);
  f.upsert(crew("c3", "u1", north(300)));
  auto q = query(v1::LEVEL_1_MAINTENANCE);
  q.max_candidates = 2;
  const auto r = f.rank(q);
  CHECK(ids(r) == std::vector<std::string>{"c1", "c2"});
  CHECK(r.exclusions.empty());  // the off-duty crew is farther than the last candidate
}

TEMPLATE_TEST_CASE("every exclusion reason is reported for nearer crews passed over", "[unit]",
                   crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("shift_off", "u1", north(100)));  // on duty in the registry, signed off since
  f.upsert(crew("engaged", "u1", north(150)));
  auto off = crew("off", "u1", north(200));
  off.on_duty = false;
  f.upsert(off);
  auto stale = crew("stale", "u1", north(300));
  stale.position_at_ms = now_ms - std::chrono::milliseconds(std::chrono::minutes(6)).count();
  f.upsert(stale);
  auto unlicensed = crew("unlicensed", "u1", north(400));
  unlicensed.licensed = false;
  f.upsert(unlicensed);
  f.upsert(crew("tried", "u1", north(500)));
  f.upsert(crew("wrong", "u3", north(600)));
  f.upsert(crew("chosen", "u1", north(700)));

  auto q = query(v1::LEVEL_1_MAINTENANCE);
  q.engaged.insert("engaged");
  q.already_tried.insert("tried");
  const std::map<std::string, bool> duty{{"shift_off", false}};
  q.duty = &duty;
  const auto r = f.rank(q);
  CHECK(ids(r) == std::vector<std::string>{"chosen"});
  std::vector<std::pair<std::string, v1::ExclusionReason>> got;
  for (const auto& e : r.exclusions)
    got.emplace_back(e.crew_id(), e.reason());
  CHECK(got == std::vector<std::pair<std::string, v1::ExclusionReason>>{
                   {"shift_off", v1::EXCLUSION_OFF_DUTY},
                   {"engaged", v1::EXCLUSION_BUSY},
                   {"off", v1::EXCLUSION_OFF_DUTY},
                   {"stale", v1::EXCLUSION_STALE_POSITION},
                   {"unlicensed", v1::EXCLUSION_UNLICENSED},
                   {"tried", v1::EXCLUSION_ALREADY_TRIED},
                   {"wrong", v1::EXCLUSION_WRONG_LEVEL},
               });
  CHECK(r.exclusions[0].distance_m() == Approx(100).margin(1));
  CHECK(r.exclusions[0].unit_id() == "u1");
}

TEMPLATE_TEST_CASE("level 2 takes other participating units and stations, not the own unit",
                   "[unit]", crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("own", "u1", north(50)));
  f.upsert(crew("non_participant", "u3", north(100)));
  f.upsert(crew("unregistered_unit", "u9", north(150)));
  f.upsert(crew("station", "s1", north(400)));
  f.upsert(crew("other_unit", "u2", north(300)));
  const auto r = f.rank(query(v1::LEVEL_2_AREA));
  CHECK(ids(r) == std::vector<std::string>{"other_unit", "station"});
  CHECK(r.candidates[0].level() == v1::LEVEL_2_AREA);
  REQUIRE(r.exclusions.size() == 3);
  for (const auto& e : r.exclusions)
    CHECK(e.reason() == v1::EXCLUSION_WRONG_LEVEL);
}

TEMPLATE_TEST_CASE("level 2 stops at the radius and names the nearest crew beyond it", "[unit]",
                   crew_index, linear_crew_finder) {
  ranking_config cfg;
  cfg.level2_max_radius_m = 5000;
  TestType f(cfg);
  add_units(f);
  f.upsert(crew("inside", "u2", north(4000)));
  f.upsert(crew("beyond", "s1", north(6000)));
  f.upsert(crew("farther", "s1", north(9000)));
  const auto r = f.rank(query(v1::LEVEL_2_AREA));
  CHECK(ids(r) == std::vector<std::string>{"inside"});
  REQUIRE(r.exclusions.size() == 1);
  CHECK(r.exclusions[0].crew_id() == "beyond");
  CHECK(r.exclusions[0].reason() == v1::EXCLUSION_OUT_OF_RANGE);
}

TEMPLATE_TEST_CASE("a unit with nobody on duty ranks nobody at level 1, and level 2 finds others",
                   "[unit]", crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  for (int i = 0; i < 3; ++i) {
    auto c = crew(std::string("own").append(std::to_string(i)), "u1", north(100.0 * (i + 1)));
    c.on_duty = false;
    f.upsert(c);
  }
  f.upsert(crew("helper", "u2", north(2000)));
  f.upsert(crew("station", "s1", north(2500)));
  const auto l1 = f.rank(query(v1::LEVEL_1_MAINTENANCE));
  CHECK(l1.candidates.empty());
  REQUIRE(l1.exclusions.size() == 3);
  for (const auto& e : l1.exclusions)
    CHECK(e.reason() == v1::EXCLUSION_OFF_DUTY);
  const auto l2 = f.rank(query(v1::LEVEL_2_AREA));
  CHECK(ids(l2) == std::vector<std::string>{"helper", "station"});
}

TEMPLATE_TEST_CASE("an elevator without a maintenance unit has no level 1", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("a", "u2", north(100)));
  CHECK(f.rank(query(v1::LEVEL_1_MAINTENANCE, "")).candidates.empty());
  CHECK(ids(f.rank(query(v1::LEVEL_2_AREA, ""))) == std::vector<std::string>{"a"});
}

TEMPLATE_TEST_CASE("a GPS ping reorders the ranking", "[unit]", crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("a", "u1", north(100)));
  f.upsert(crew("b", "u1", north(1000)));
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"a", "b"});
  CHECK(f.move("b", north(50), now_ms) == crew_update::applied);
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"b", "a"});
  CHECK(f.move("a", north(10), now_ms) == crew_update::applied);
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"a", "b"});
  CHECK(f.move("ghost", north(10), now_ms) == crew_update::unknown_crew);
  CHECK(f.move("a", {91, 0}, now_ms) == crew_update::invalid_position);
}

TEMPLATE_TEST_CASE("a ping refreshes a stale position", "[unit]", crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  auto c = crew("a", "u1", north(100));
  c.position_at_ms = 0;
  f.upsert(c);
  CHECK(f.rank(query(v1::LEVEL_1_MAINTENANCE)).exclusions.at(0).reason() ==
        v1::EXCLUSION_STALE_POSITION);
  f.move("a", north(100), now_ms);
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"a"});
}

TEMPLATE_TEST_CASE("removed crews disappear, and the core's jobs and shift changes apply", "[unit]",
                   crew_index, linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("a", "u1", north(100)));
  f.upsert(crew("b", "u1", north(200)));
  f.upsert(crew("c", "u1", north(300)));
  CHECK(f.remove("a") == crew_update::applied);
  CHECK(f.remove("a") == crew_update::unknown_crew);
  CHECK(f.size() == 2);
  CHECK(ids(f.rank(query(v1::LEVEL_1_MAINTENANCE))) == std::vector<std::string>{"b", "c"});
  // Jobs and shift changes are the core's, passed in the query.
  auto q = query(v1::LEVEL_1_MAINTENANCE);
  q.engaged.insert("b");
  CHECK(ids(f.rank(q)) == std::vector<std::string>{"c"});
  q.engaged.clear();
  std::map<std::string, bool> duty{{"c", false}};
  q.duty = &duty;
  CHECK(ids(f.rank(q)) == std::vector<std::string>{"b"});
  // Re-inserting reuses the freed slot and the crew is ranked again.
  f.upsert(crew("a", "u1", north(100)));
  duty["c"] = true;
  CHECK(ids(f.rank(q)) == std::vector<std::string>{"a", "b", "c"});
  // A shift change also puts on duty a crew the registry has off.
  auto off = crew("d", "u1", north(400));
  off.on_duty = false;
  f.upsert(off);
  CHECK(ids(f.rank(q)) == std::vector<std::string>{"a", "b", "c"});
  duty["d"] = true;
  CHECK(ids(f.rank(q)) == std::vector<std::string>{"a", "b", "c", "d"});
}

TEMPLATE_TEST_CASE("an upsert can move a crew to another unit", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("a", "u1", north(100)));
  f.upsert(crew("a", "u2", north(150)));
  CHECK(f.size() == 1);
  CHECK(f.rank(query(v1::LEVEL_1_MAINTENANCE)).candidates.empty());
  const auto r = f.rank(query(v1::LEVEL_2_AREA));
  REQUIRE(r.candidates.size() == 1);
  CHECK(r.candidates[0].unit_id() == "u2");
  CHECK(r.candidates[0].distance_m() == Approx(150).margin(1));
}

TEMPLATE_TEST_CASE("registry records load directly", "[unit]", crew_index, linear_crew_finder) {
  TestType f;
  v1::MaintenanceUnit unit;
  unit.set_id("s7");
  unit.set_kind(v1::ORG_RESCUE_STATION);
  unit.set_level2_participant(true);
  f.register_unit(unit);
  v1::CrewMember m;
  m.set_id("m1");
  m.set_unit_id("s7");
  m.set_certificate("T-123");
  m.set_on_duty(true);
  m.mutable_position()->set_lat(north(800).lat);
  m.mutable_position()->set_lon(north(800).lon);
  m.set_position_at_ms(now_ms);
  CHECK(f.upsert(m) == crew_update::applied);
  CHECK(ids(f.rank(query(v1::LEVEL_2_AREA))) == std::vector<std::string>{"m1"});
  m.clear_certificate();
  f.upsert(m);
  CHECK(f.rank(query(v1::LEVEL_2_AREA)).exclusions.at(0).reason() == v1::EXCLUSION_UNLICENSED);
}

TEMPLATE_TEST_CASE("assess reports each outcome for a hand-picked crew", "[unit]", crew_index,
                   linear_crew_finder) {
  TestType f;
  add_units(f);
  f.upsert(crew("ok", "u3", north(1000)));  // wrong level for both levels: ignored by assess
  f.upsert(crew("shift_off", "u1", north(100)));
  f.upsert(crew("engaged", "u1", north(100)));
  auto off = crew("off", "u1", north(100));
  off.on_duty = false;
  f.upsert(off);
  auto stale = crew("stale", "u1", north(100));
  stale.position_at_ms = 0;
  f.upsert(stale);
  auto unlicensed = crew("unlicensed", "u1", north(100));
  unlicensed.licensed = false;
  f.upsert(unlicensed);

  auto q = query(v1::LEVEL_1_MAINTENANCE);
  q.engaged.insert("engaged");
  q.already_tried.insert("ok");  // the operator may ask again
  const std::map<std::string, bool> duty{{"shift_off", false}};
  q.duty = &duty;

  CHECK_FALSE(f.assess("ghost", q).known);
  const auto ok = f.assess("ok", q);
  CHECK(ok.known);
  CHECK(ok.reason == v1::EXCLUSION_UNSPECIFIED);
  REQUIRE(ok.candidate);
  CHECK(ok.candidate->crew_id() == "ok");
  CHECK(ok.candidate->unit_id() == "u3");
  CHECK(ok.candidate->distance_m() == Approx(1000).margin(1));
  CHECK(ok.candidate->eta_s() ==
        Approx(ranking_config{}.eta.eta_s(1000, "500103", now_ms)).margin(1));
  const auto check = [&](const char* id, v1::ExclusionReason reason) {
    const auto a = f.assess(id, q);
    CHECK(a.known);
    CHECK(a.reason == reason);
    CHECK_FALSE(a.candidate);
  };
  check("shift_off", v1::EXCLUSION_OFF_DUTY);
  check("engaged", v1::EXCLUSION_BUSY);
  check("off", v1::EXCLUSION_OFF_DUTY);
  check("stale", v1::EXCLUSION_STALE_POSITION);
  check("unlicensed", v1::EXCLUSION_UNLICENSED);
}

TEMPLATE_TEST_CASE("the ETA of a candidate follows district and hour", "[unit]", crew_index,
                   linear_crew_finder) {
  ranking_config cfg;
  cfg.eta.district_speed_kmh["500103"] = 12.5;
  TestType f(cfg);
  add_units(f);
  f.upsert(crew("a", "u1", north(5000)));
  auto q = query(v1::LEVEL_1_MAINTENANCE);
  const auto slow = f.rank(q).candidates.at(0).eta_s();
  q.district_code = "500112";
  const auto normal = f.rank(q).candidates.at(0).eta_s();
  // Half the speed: twice the driving time, same turn-out.
  CHECK(slow - 120 == Approx(2.0 * (normal - 120)).margin(2));
  CHECK(normal == Approx(120 + 5000 * 1.4 / (25 / 3.6)).margin(2));
}

TEMPLATE_TEST_CASE("exclusions are capped, wrong-level ones more tightly", "[unit]", crew_index,
                   linear_crew_finder) {
  ranking_config cfg;
  cfg.max_exclusions = 5;
  cfg.max_wrong_level_exclusions = 2;
  TestType f(cfg);
  add_units(f);
  for (int i = 0; i < 10; ++i) {
    f.upsert(crew(std::string("w").append(std::to_string(i)), "u3", north(10.0 + i)));
  }
  for (int i = 0; i < 10; ++i) {
    auto c = crew(std::string("o").append(std::to_string(i)), "u1", north(100.0 + i));
    c.on_duty = false;
    f.upsert(c);
  }
  f.upsert(crew("chosen", "u1", north(500)));
  const auto r = f.rank(query(v1::LEVEL_1_MAINTENANCE));
  CHECK(ids(r) == std::vector<std::string>{"chosen"});
  std::vector<std::string> got;
  for (const auto& e : r.exclusions)
    got.push_back(e.crew_id());
  CHECK(got == std::vector<std::string>{"w0", "w1", "o0", "o1", "o2"});
}
