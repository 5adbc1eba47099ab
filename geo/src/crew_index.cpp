#include "rescue/geo/crew_index.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>

#include "ranking_rules.hpp"

namespace rescue::geo {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
namespace v1 = rescue::v1;

namespace {

// Points on the unit sphere: chord length is a monotone function of great-circle distance, so a
// plain Cartesian R-tree yields crews in great-circle order without projection error.
using point3 = bg::model::point<double, 3, bg::cs::cartesian>;
using tree_value = std::pair<point3, std::uint32_t>;
using rtree = bgi::rtree<tree_value, bgi::quadratic<16>>;

point3 to_unit_sphere(lat_lon p) {
  const double lat = p.lat * degree_rad;
  const double lon = p.lon * degree_rad;
  const double c = std::cos(lat);
  return point3(c * std::cos(lon), c * std::sin(lon), std::sin(lat));
}

double chord(const point3& a, const point3& b) {
  const double dx = a.get<0>() - b.get<0>();
  const double dy = a.get<1>() - b.get<1>();
  const double dz = a.get<2>() - b.get<2>();
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

double chord_to_m(double c) {
  return 2 * earth_radius_m * std::asin(std::min(1.0, c * 0.5));
}

// Chord and haversine agree to well under a micrometre at city scale; a millimetre of slack
// keeps the release rule below safe from rounding on either side.
constexpr double release_slack_m = 1e-3;

}  // namespace

struct crew_index::tree {
  rtree index;
};

namespace {

// Crews in exact (haversine distance, id) order, pulled lazily from the R-tree: a crew is released
// only when the R-tree's next chord proves that nobody unseen can be nearer.
class nearest_stream {
 public:
  struct item {
    double distance_m;
    std::uint32_t slot;
  };

  nearest_stream(const rtree& tree, const crew_table& table, const detail::query_context& ctx)
      : table_(table),
        ctx_(ctx),
        origin_(to_unit_sphere(ctx.at)),
        it_(tree.qbegin(bgi::nearest(origin_, static_cast<unsigned>(tree.size())))),
        end_(tree.qend()),
        pending_(later{&table}) {}

  std::optional<item> next() {
    for (;;) {
      const bool exhausted = it_ == end_;
      const double bound = exhausted ? std::numeric_limits<double>::infinity()
                                     : chord_to_m(chord(origin_, it_->first)) - release_slack_m;
      if (!pending_.empty() && (exhausted || pending_.top().distance_m < bound)) {
        item out = pending_.top();
        pending_.pop();
        return out;
      }
      if (exhausted) return std::nullopt;
      const std::uint32_t slot = it_->second;
      pending_.push({ctx_.distance_m(table_.crew(slot)), slot});
      ++it_;
    }
  }

 private:
  struct later {
    const crew_table* table;
    bool operator()(const item& a, const item& b) const {
      return detail::nearer(b.distance_m, table->crew(b.slot).id, a.distance_m,
                            table->crew(a.slot).id);
    }
  };

  const crew_table& table_;
  const detail::query_context& ctx_;
  point3 origin_;
  rtree::const_query_iterator it_;
  rtree::const_query_iterator end_;
  std::priority_queue<item, std::vector<item>, later> pending_;
};

}  // namespace

crew_index::crew_index(ranking_config config)
    : config_(std::move(config)), tree_(std::make_unique<tree>()) {}
crew_index::~crew_index() = default;
crew_index::crew_index(crew_index&&) noexcept = default;
crew_index& crew_index::operator=(crew_index&&) noexcept = default;

void crew_index::placed(std::uint32_t slot, std::optional<lat_lon> from,
                        std::optional<lat_lon> to) {
  if (from) tree_->index.remove(tree_value(to_unit_sphere(*from), slot));
  if (to) tree_->index.insert(tree_value(to_unit_sphere(*to), slot));
}

crew_ranking crew_index::rank(const crew_query& query) const {
  const detail::query_context ctx(table_, query, config_);
  detail::ranking_walk walk(ctx);
  if (walk.done() || table_.size() == 0) return std::move(walk).finish();

  if (ctx.level2) {
    nearest_stream stream(tree_->index, table_, ctx);
    while (auto next = stream.next()) {
      const crew_entry& c = table_.crew(next->slot);
      if (!walk.take(c, next->distance_m, detail::classify(c, ctx))) break;
    }
    return std::move(walk).finish();
  }

  // Level 1: the unit's own crews are few, so they are ranked directly. The R-tree is asked only
  // for the nearer crews of other units that the audit trail mentions as "wrong level".
  struct entry {
    double distance_m;
    const crew_entry* crew;
    v1::ExclusionReason reason;
  };
  const auto by_distance = [](const entry& a, const entry& b) {
    return detail::nearer(a.distance_m, a.crew->id, b.distance_m, b.crew->id);
  };
  std::vector<entry> own;
  for (std::uint32_t slot : table_.unit(*ctx.own_unit).crews) {
    const crew_entry& c = table_.crew(slot);
    own.push_back({ctx.distance_m(c), &c, detail::classify(c, ctx)});
  }
  std::sort(own.begin(), own.end(), by_distance);
  // The walk ends at the max_candidates-th qualified crew, or else at the unit's farthest crew.
  const entry* horizon = &own.back();
  std::size_t qualified = 0;
  for (const entry& e : own) {
    if (e.reason == v1::EXCLUSION_UNSPECIFIED && ++qualified == query.max_candidates) {
      horizon = &e;
      break;
    }
  }
  std::vector<entry> others;
  const std::size_t wanted = std::min(config_.max_wrong_level_exclusions, config_.max_exclusions);
  if (wanted > 0) {
    nearest_stream stream(tree_->index, table_, ctx);
    while (others.size() < wanted) {
      const auto next = stream.next();
      if (!next) break;
      const crew_entry& c = table_.crew(next->slot);
      if (!detail::nearer(next->distance_m, c.id, horizon->distance_m, horizon->crew->id)) break;
      if (c.unit != *ctx.own_unit) {
        others.push_back({next->distance_m, &c, v1::EXCLUSION_WRONG_LEVEL});
      }
    }
  }
  std::vector<entry> merged;
  merged.reserve(own.size() + others.size());
  std::merge(own.begin(), own.end(), others.begin(), others.end(), std::back_inserter(merged),
             by_distance);
  for (const entry& e : merged) {
    if (!walk.take(*e.crew, e.distance_m, e.reason)) break;
  }
  return std::move(walk).finish();
}

crew_assessment crew_index::assess(const std::string& crew_id, const crew_query& query) const {
  return detail::assess(table_, crew_id, query, config_);
}

}  // namespace rescue::geo
