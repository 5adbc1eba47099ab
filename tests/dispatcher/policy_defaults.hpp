// The policy defaults documented in dispatcher/core/README.md and deploy/rescue-dispatchd.toml,
// as literals: checked on the plain value (core test) and as read from TOML (shell test).
#pragma once

#include <catch2/catch.hpp>

#include <chrono>

#include "rescue/core/escalation_policy.hpp"

namespace rescue::test {

inline void check_documented_policy(const core::escalation_policy& p) {
  CHECK(p.offer_timeout == std::chrono::seconds(60));
  CHECK(p.level1_window == std::chrono::seconds(180));
  CHECK(p.level2_window == std::chrono::seconds(300));
  CHECK(p.predictive_escalation);
  CHECK(p.fire_on_injured);
  CHECK(p.urban_target == std::chrono::minutes(30));
  CHECK(p.rural_target == std::chrono::minutes(60));
  CHECK(p.merge_window == std::chrono::seconds(600));
  CHECK(p.max_candidates == 5);
}

}  // namespace rescue::test
