// The crew position contract, for every backend: one position per crew, the newest stamp wins
// whatever order saves arrive in, and what was saved is there after reopening.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "backends.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::open_positions;

namespace {

crew_position at(std::string crew, double lat, double lon, std::int64_t at_ms) {
  return {std::move(crew), lat, lon, at_ms};
}

// Everything stored, by crew: the store promises one row per crew, so a second row fails.
std::map<std::string, crew_position> stored(crew_position_store& s) {
  std::vector<crew_position> rows;
  REQUIRE_FALSE(s.load_all(rows));
  std::map<std::string, crew_position> by_crew;
  for (auto& r : rows) {
    INFO("crew " << r.crew_id);
    REQUIRE(by_crew.emplace(r.crew_id, r).second);
  }
  return by_crew;
}

constexpr std::int64_t t0 = 1'700'000'000'000;

}  // namespace

TEMPLATE_TEST_CASE("a new position store holds nothing", "[conformance][positions]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto s = open_positions(backend);
  CHECK(stored(*s).empty());
  // An empty batch is a no-op, not an error.
  CHECK_FALSE(s->save({}));
  CHECK(stored(*s).empty());
}

TEMPLATE_TEST_CASE("a crew's stored position is its newest one whatever order saves come in",
                   "[conformance][positions]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto s = open_positions(backend);
  REQUIRE_FALSE(s->save({at("c1", 29.5, 106.5, t0 + 2000), at("c2", 29.6, 106.6, t0)}));
  // An older fix for c1 (a flush overtaken by a later one) and a newer one for c2.
  REQUIRE_FALSE(s->save({at("c1", 10.0, 10.0, t0 + 1000), at("c2", 29.7, 106.7, t0 + 5000)}));
  auto rows = stored(*s);
  REQUIRE(rows.size() == 2);
  CHECK(rows["c1"].lat == 29.5);
  CHECK(rows["c1"].lon == 106.5);
  CHECK(rows["c1"].at_ms == t0 + 2000);
  CHECK(rows["c2"].lat == 29.7);
  CHECK(rows["c2"].lon == 106.7);
  CHECK(rows["c2"].at_ms == t0 + 5000);

  // The same stamp again changes nothing: the first one stored stands.
  REQUIRE_FALSE(s->save({at("c1", 11.0, 11.0, t0 + 2000)}));
  CHECK(stored(*s)["c1"].lat == 29.5);

  // Within one batch, the newest for a crew wins, whichever comes first.
  REQUIRE_FALSE(s->save({at("c3", 1.0, 1.0, t0 + 9000), at("c3", 2.0, 2.0, t0 + 8000),
                         at("c4", 3.0, 3.0, t0 + 100), at("c4", 4.0, 4.0, t0 + 200)}));
  rows = stored(*s);
  REQUIRE(rows.size() == 4);
  CHECK(rows["c3"].lat == 1.0);
  CHECK(rows["c3"].at_ms == t0 + 9000);
  CHECK(rows["c4"].lat == 4.0);
  CHECK(rows["c4"].at_ms == t0 + 200);
}

TEMPLATE_TEST_CASE("stored crew positions are there after reopening the store",
                   "[conformance][positions]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  {
    auto s = open_positions(backend);
    REQUIRE_FALSE(s->save({at("c1", 29.556789012345, 106.568123456789, t0 + 1),
                           at("c2", -33.8688, 151.2093, t0 + 2)}));
  }
  {
    auto s = open_positions(backend);
    auto rows = stored(*s);
    REQUIRE(rows.size() == 2);
    // Coordinates come back exactly: a restored crew ranks where it stood.
    CHECK(rows["c1"].lat == 29.556789012345);
    CHECK(rows["c1"].lon == 106.568123456789);
    CHECK(rows["c1"].at_ms == t0 + 1);
    CHECK(rows["c2"].lat == -33.8688);
    CHECK(rows["c2"].lon == 151.2093);
    // Newest-wins holds across a reopen too.
    REQUIRE_FALSE(s->save({at("c1", 0.5, 0.5, t0), at("c2", 1.5, 1.5, t0 + 3)}));
  }
  auto s = open_positions(backend);
  auto rows = stored(*s);
  CHECK(rows["c1"].at_ms == t0 + 1);
  CHECK(rows["c1"].lat == 29.556789012345);
  CHECK(rows["c2"].at_ms == t0 + 3);
  CHECK(rows["c2"].lat == 1.5);
}

TEMPLATE_TEST_CASE("a city's crews are stored one row each and updated in place",
                   "[conformance][positions]", RESCUE_STORAGE_BACKENDS) {
  constexpr int crews = 20'000;
  TestType backend;
  auto s = open_positions(backend);
  std::vector<crew_position> batch;
  for (int i = 0; i < crews; ++i)
    batch.push_back(at("crew-" + std::to_string(i), 29.0 + i * 1e-5, 106.0, t0 + i));
  REQUIRE_FALSE(s->save(batch));
  // A second flush moves every other crew; the rest send an older fix, which must not stick.
  batch.clear();
  for (int i = 0; i < crews; ++i)
    batch.push_back(
        at("crew-" + std::to_string(i), 30.0, 107.0, i % 2 == 0 ? t0 + crews + i : t0 - 1));
  REQUIRE_FALSE(s->save(batch));
  s.reset();

  auto reopened = open_positions(backend);
  const auto rows = stored(*reopened);
  REQUIRE(rows.size() == static_cast<std::size_t>(crews));
  int moved = 0;
  int kept = 0;
  for (int i = 0; i < crews; ++i) {
    const auto& r = rows.at("crew-" + std::to_string(i));
    if (i % 2 == 0)
      moved += r.lat == 30.0 && r.lon == 107.0 && r.at_ms == t0 + crews + i;
    else
      kept += r.lat == 29.0 + i * 1e-5 && r.lon == 106.0 && r.at_ms == t0 + i;
  }
  CHECK(moved == crews / 2);
  CHECK(kept == crews / 2);
}
