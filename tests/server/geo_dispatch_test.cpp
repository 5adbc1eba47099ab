// The incident core with the real crew index on the sample city: real candidates, real ETAs.
#include <catch2/catch.hpp>

#include <random>

#include "rescue/core/incident_core.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/geo/linear_crew_finder.hpp"
#include "rescue/storage/registry_csv.hpp"

namespace v1 = rescue::v1;
namespace cmd = rescue::core::cmd;
namespace fx = rescue::core::fx;
using namespace std::chrono_literals;

namespace {

const rescue::storage::registry& sample_city() {
  static const auto imported = rescue::storage::import_registry_csv(
      std::filesystem::path(RESCUE_TEST_DATA_DIR) / "chongqing-sample");
  REQUIRE(imported.ok());
  return imported.registry;
}

// Both finders over the sample city, every crew reporting its position at `now`.
struct finders {
  rescue::geo::crew_index index;
  rescue::geo::linear_crew_finder linear;
  explicit finders(rescue::core::time_point now)
      : index(rescue::dispatcher::build_crew_index(sample_city(), {})) {
    for (const auto& unit : sample_city().units())
      linear.register_unit(unit);
    for (const auto& crew : sample_city().crews()) {
      linear.upsert(crew);
      const rescue::geo::lat_lon at{crew.position().lat(), crew.position().lon()};
      index.move(crew.id(), at, rescue::core::to_ms(now));
      linear.move(crew.id(), at, rescue::core::to_ms(now));
    }
  }
};

}  // namespace

TEST_CASE("alarms in the sample city offer the best-ranked crew of the elevator's own unit",
          "[unit][geo][core]") {
  const auto now = rescue::core::from_ms(1'764'000'000'000);  // 2025-11-24, 23:00 UTC+8
  finders f(now);
  rescue::core::escalation_policy policy;
  policy.predictive_escalation = false;
  const rescue::core::environment env{policy, sample_city(), f.index};
  std::mt19937 rng(96333);
  int level1 = 0;
  for (int i = 0; i < 60; ++i) {
    const auto& e = sample_city().elevators()[rng() % sample_city().elevators().size()];
    rescue::core::core_state state;
    const auto out = rescue::core::decide(
        state, cmd::call_alarm{e.rescue_code(), "", v1::SOURCE_PHONE}, now, env);
    REQUIRE(out.ok());
    const auto& inc = state.incidents.at(out.incident);
    // The core kept exactly what the reference scan ranks for the level it dispatched at.
    rescue::geo::crew_query q;
    q.level = inc.last_ranking.level();
    q.elevator_id = e.id();
    q.maintenance_unit_id = e.maintenance_unit_id();
    q.district_code = e.district_code();
    q.location = e.location();
    q.now_ms = rescue::core::to_ms(now);
    q.max_candidates = policy.max_candidates;
    const auto expected = f.linear.rank(q);
    REQUIRE(inc.last_ranking.candidates_size() == static_cast<int>(expected.candidates.size()));
    for (std::size_t k = 0; k < expected.candidates.size(); ++k) {
      CHECK(inc.last_ranking.candidates(static_cast<int>(k)).crew_id() ==
            expected.candidates[k].crew_id());
      CHECK(inc.last_ranking.candidates(static_cast<int>(k)).eta_s() ==
            expected.candidates[k].eta_s());
    }
    if (!expected.candidates.empty()) {
      REQUIRE(inc.offer);
      CHECK(inc.offer->crew_id == expected.candidates.front().crew_id());
      CHECK(inc.offer->eta_s == expected.candidates.front().eta_s());
    }
    if (inc.level == v1::LEVEL_1_MAINTENANCE) {
      ++level1;
      CHECK(inc.offer->unit_id == e.maintenance_unit_id());
    }
  }
  CHECK(level1 > 30);
}

TEST_CASE("predictive escalation uses the real ETA of the unit's best crew", "[unit][geo][core]") {
  const auto now = rescue::core::from_ms(1'764'000'000'000);
  finders f(now);
  // Pick an elevator with a unit, and move that unit's crews 60 km away (still fresh positions).
  const v1::Elevator* elevator = nullptr;
  for (const auto& e : sample_city().elevators())
    if (!e.maintenance_unit_id().empty() && e.area() == v1::AREA_URBAN) {
      elevator = &e;
      break;
    }
  REQUIRE(elevator);
  for (const auto& crew : sample_city().crews())
    if (crew.unit_id() == elevator->maintenance_unit_id())
      f.index.move(crew.id(), {crew.position().lat() + 0.55, crew.position().lon()},
                   rescue::core::to_ms(now));
  rescue::core::escalation_policy policy;
  const rescue::core::environment env{policy, sample_city(), f.index};
  rescue::core::core_state state;
  const auto out = rescue::core::decide(
      state, cmd::call_alarm{elevator->rescue_code(), "", v1::SOURCE_PHONE}, now, env);
  REQUIRE(out.ok());
  const auto& inc = state.incidents.at(out.incident);
  CHECK(inc.level == v1::LEVEL_2_AREA);
  bool predicted = false;
  for (const auto& e : out.events)
    if (e.has_level_escalated())
      predicted = predicted || e.level_escalated().reason() == v1::ESCALATION_PREDICTED_LATE;
  CHECK(predicted);
  REQUIRE(inc.offer);
  CHECK(inc.offer->unit_id != elevator->maintenance_unit_id());
  CHECK(std::chrono::seconds(inc.offer->eta_s) < 30min);
}
