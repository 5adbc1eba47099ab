// The R-tree index must answer exactly as the brute-force scan: same crews, same order, same
// exclusions, on random cities and random queries, before and after random updates.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rescue/geo/crew_index.hpp"
#include "rescue/geo/linear_crew_finder.hpp"

using namespace rescue::geo;
namespace v1 = rescue::v1;

namespace {

constexpr std::int64_t base_ms = 1709200000000;

// Built by append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string name(char prefix, std::uint64_t n) {
  std::string out(1, prefix);
  out += std::to_string(n);
  return out;
}

std::string describe(const crew_ranking& r) {
  std::ostringstream out;
  for (const auto& c : r.candidates) {
    out << "C " << c.rank() << ' ' << c.crew_id() << ' ' << c.unit_id() << ' ' << c.eta_s() << ' '
        << c.distance_m() << ' ' << c.level() << '\n';
  }
  for (const auto& e : r.exclusions) {
    out << "X " << e.crew_id() << ' ' << e.unit_id() << ' ' << e.distance_m() << ' ' << e.reason()
        << '\n';
  }
  return out.str();
}

struct city {
  std::mt19937_64 rng;
  int units;
  double spread_deg;  // how far crews scatter around a district centre
  std::vector<lat_lon> centres{{29.556, 106.568},
                               {29.606, 106.574},
                               {29.523, 106.644},
                               {29.541, 106.457},
                               {29.502, 106.511}};
  // Shift changes the core has journalled, seen by both finders through every query.
  std::map<std::string, bool> duty;

  lat_lon place() {
    std::normal_distribution<double> jitter(0, spread_deg);
    const lat_lon c = centres[rng() % centres.size()];
    // Some crews share a spot exactly, so ties on distance are broken by id.
    if (rng() % 10 == 0) return c;
    return {c.lat + jitter(rng), c.lon + jitter(rng)};
  }

  crew_record random_crew(const std::string& id) {
    crew_record c;
    c.id = id;
    // A few crews name a unit nobody registered.
    c.unit_id = name('u', rng() % (units + 2));
    c.licensed = rng() % 10 != 0;
    c.on_duty = rng() % 4 != 0;
    c.position = place();
    c.position_at_ms = base_ms - static_cast<std::int64_t>(rng() % (8 * 60 * 1000));
    return c;
  }

  crew_query random_query(int crews) {
    crew_query q;
    q.level = rng() % 2 ? v1::LEVEL_1_MAINTENANCE : v1::LEVEL_2_AREA;
    q.maintenance_unit_id = rng() % 20 == 0 ? "" : name('u', rng() % (units + 3));
    q.district_code = rng() % 2 ? "500103" : "500105";
    const lat_lon at = place();
    q.location.set_lat(at.lat);
    q.location.set_lon(at.lon);
    // Positions are up to 8 minutes old at base_ms; the default limit is 5.
    q.now_ms = base_ms + static_cast<std::int64_t>(rng() % (2 * 60 * 1000));
    q.max_candidates = rng() % 8;
    for (int i = 0; i < 5; ++i) {
      q.engaged.insert(name('c', rng() % crews));
      q.already_tried.insert(name('c', rng() % crews));
    }
    q.duty = &duty;
    return q;
  }
};

ranking_config random_config(std::mt19937_64& rng) {
  ranking_config cfg;
  // Small radii leave level 2 short of candidates, so out-of-range reports are exercised too.
  cfg.level2_max_radius_m = rng() % 2 ? 100.0 + static_cast<double>(rng() % 1500)
                                      : 1000.0 + static_cast<double>(rng() % 20000);
  cfg.max_exclusions = 1 + rng() % 40;
  cfg.max_wrong_level_exclusions = rng() % 12;
  cfg.eta.district_speed_kmh["500103"] = 15;
  return cfg;
}

}  // namespace

TEST_CASE("the R-tree ranking equals the brute-force scan on random cities", "[unit][property]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u);
  city town{std::mt19937_64(seed), static_cast<int>(3 + seed * 4), seed % 2 ? 0.01 : 0.05};
  const ranking_config cfg = random_config(town.rng);
  crew_index index(cfg);
  linear_crew_finder linear(cfg);
  for (int u = 0; u < town.units; ++u) {
    const auto kind = u % 5 == 0 ? v1::ORG_RESCUE_STATION : v1::ORG_MAINTENANCE_UNIT;
    const bool participant = town.rng() % 3 != 0;
    index.register_unit(name('u', u), kind, participant);
    linear.register_unit(name('u', u), kind, participant);
  }
  const int crews = 200 + static_cast<int>(seed * 150);
  for (int i = 0; i < crews; ++i) {
    const auto c = town.random_crew(name('c', i));
    REQUIRE(index.upsert(c) == crew_update::applied);
    REQUIRE(linear.upsert(c) == crew_update::applied);
  }

  int non_empty = 0;
  int with_exclusions = 0;
  int out_of_range = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 150; ++i) {
      const crew_query q = town.random_query(crews);
      const auto expected = linear.rank(q);
      const auto got = index.rank(q);
      INFO("seed " << seed << " round " << round << " query " << i << " level " << q.level);
      REQUIRE(describe(got) == describe(expected));
      non_empty += !expected.candidates.empty();
      with_exclusions += !expected.exclusions.empty();
      for (const auto& e : expected.exclusions) {
        out_of_range += e.reason() == v1::EXCLUSION_OUT_OF_RANGE;
      }
    }
    // Churn: pings, duty changes, jobs, removals and re-inserts, applied to both.
    for (int i = 0; i < crews / 2; ++i) {
      const std::string id = name('c', town.rng() % crews);
      switch (town.rng() % 6) {
        case 0:
        case 1: {
          const lat_lon p = town.place();
          CHECK(index.move(id, p, base_ms) == linear.move(id, p, base_ms));
          break;
        }
        case 2:
        case 3:
          // A shift change, as the core journals it: seen by both through the query.
          town.duty[id] = town.rng() % 2 != 0;
          break;
        case 4:
          CHECK(index.remove(id) == linear.remove(id));
          break;
        default: {
          const auto c = town.random_crew(id);
          CHECK(index.upsert(c) == linear.upsert(c));
        }
      }
    }
    REQUIRE(index.size() == linear.size());
  }
  // The data sets must actually exercise the ranking, not only empty answers.
  INFO(out_of_range << " out-of-range reports");
  CHECK(non_empty > 100);
  CHECK(with_exclusions > 100);
}
