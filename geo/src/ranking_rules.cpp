#include "ranking_rules.hpp"

#include <cmath>

namespace rescue::geo::detail {

namespace v1 = rescue::v1;

query_context::query_context(const crew_table& t, const crew_query& q, const ranking_config& cfg)
    : table(t),
      query(q),
      config(cfg),
      at{q.location.lat(), q.location.lon()},
      cos_at(cos_lat(at)),
      level2(q.level == v1::LEVEL_2_AREA),
      own_unit(q.maintenance_unit_id.empty() ? std::nullopt : t.find_unit(q.maintenance_unit_id)),
      speed_kmh(cfg.eta.speed_kmh(q.district_code, q.now_ms)) {}

namespace {

bool on_duty(const crew_entry& c, const query_context& ctx) {
  if (ctx.query.duty) {
    if (const auto it = ctx.query.duty->find(c.id); it != ctx.query.duty->end()) return it->second;
  }
  return c.on_duty;
}

v1::ExclusionReason momentary_reason(const crew_entry& c, const query_context& ctx) {
  if (!on_duty(c, ctx)) return v1::EXCLUSION_OFF_DUTY;
  if (ctx.query.engaged.contains(c.id)) return v1::EXCLUSION_BUSY;
  if (ctx.query.now_ms - c.position_at_ms > ctx.config.max_position_age.count()) {
    return v1::EXCLUSION_STALE_POSITION;
  }
  return v1::EXCLUSION_UNSPECIFIED;
}

bool right_level(const crew_entry& c, const query_context& ctx) {
  const bool own = ctx.own_unit && c.unit == *ctx.own_unit;
  if (!ctx.level2) return own;
  // Level 2 is everyone else who signed up for area rescue; the own unit has had its turn.
  return !own && ctx.table.unit(c.unit).level2_participant;
}

}  // namespace

v1::ExclusionReason classify(const crew_entry& c, const query_context& ctx) {
  if (!right_level(c, ctx)) return v1::EXCLUSION_WRONG_LEVEL;
  if (!c.licensed) return v1::EXCLUSION_UNLICENSED;
  if (ctx.query.already_tried.contains(c.id)) return v1::EXCLUSION_ALREADY_TRIED;
  return momentary_reason(c, ctx);
}

v1::ExclusionReason classify_for_assess(const crew_entry& c, const query_context& ctx) {
  if (!c.licensed) return v1::EXCLUSION_UNLICENSED;
  return momentary_reason(c, ctx);
}

namespace {

v1::Candidate make_candidate(const crew_entry& c, double distance_m, const query_context& ctx) {
  v1::Candidate out;
  out.set_crew_id(c.id);
  out.set_unit_id(ctx.table.unit(c.unit).id);
  out.set_eta_s(ctx.config.eta.eta_s(distance_m, ctx.speed_kmh));
  out.set_distance_m(static_cast<std::uint32_t>(std::lround(distance_m)));
  out.set_level(ctx.query.level);
  return out;
}

v1::Exclusion make_exclusion(const crew_entry& c, double distance_m, v1::ExclusionReason reason,
                             const query_context& ctx) {
  v1::Exclusion out;
  out.set_crew_id(c.id);
  out.set_unit_id(ctx.table.unit(c.unit).id);
  out.set_distance_m(static_cast<std::uint32_t>(std::lround(distance_m)));
  out.set_reason(reason);
  return out;
}

}  // namespace

ranking_walk::ranking_walk(const query_context& ctx) : ctx_(ctx) {
  if (!ctx.level2) {
    // No unit, or a unit nobody works for: level 1 has nobody to offer, the core moves on.
    unit_crews_left_ = ctx.own_unit ? ctx.table.unit(*ctx.own_unit).crews.size() : 0;
    done_ = unit_crews_left_ == 0;
  }
  done_ = done_ || ctx.query.max_candidates == 0;
}

bool ranking_walk::take(const crew_entry& c, double distance_m, v1::ExclusionReason reason) {
  if (done_) return false;
  if (ctx_.level2 && distance_m > ctx_.config.level2_max_radius_m) past_radius_ = true;
  if (past_radius_) {
    if (reason == v1::EXCLUSION_UNSPECIFIED) {
      result_.exclusions.push_back(make_exclusion(c, distance_m, v1::EXCLUSION_OUT_OF_RANGE, ctx_));
      done_ = true;
    }
    return !done_;
  }
  if (reason == v1::EXCLUSION_UNSPECIFIED) {
    v1::Candidate cand = make_candidate(c, distance_m, ctx_);
    cand.set_rank(static_cast<std::uint32_t>(result_.candidates.size() + 1));
    result_.candidates.push_back(std::move(cand));
    if (result_.candidates.size() >= ctx_.query.max_candidates) done_ = true;
  } else {
    const bool wrong_level = reason == v1::EXCLUSION_WRONG_LEVEL;
    if (result_.exclusions.size() < ctx_.config.max_exclusions &&
        (!wrong_level || wrong_level_ < ctx_.config.max_wrong_level_exclusions)) {
      result_.exclusions.push_back(make_exclusion(c, distance_m, reason, ctx_));
      if (wrong_level) ++wrong_level_;
    }
  }
  if (!ctx_.level2 && ctx_.own_unit && c.unit == *ctx_.own_unit && --unit_crews_left_ == 0) {
    done_ = true;
  }
  return !done_;
}

crew_ranking ranking_walk::finish() && {
  return std::move(result_);
}

crew_assessment assess(const crew_table& table, const std::string& crew_id, const crew_query& query,
                       const ranking_config& config) {
  crew_assessment out;
  const auto slot = table.find(crew_id);
  if (!slot) return out;
  out.known = true;
  const query_context ctx(table, query, config);
  const crew_entry& c = table.crew(*slot);
  out.reason = classify_for_assess(c, ctx);
  if (out.reason == v1::EXCLUSION_UNSPECIFIED) {
    out.candidate = make_candidate(c, ctx.distance_m(c), ctx);
  }
  return out;
}

}  // namespace rescue::geo::detail
