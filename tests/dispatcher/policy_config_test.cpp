// The [dispatch] table of the server's config: how the shell reads the core's escalation policy.
#include <catch2/catch.hpp>

#include <filesystem>

#include "policy_defaults.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace {

using namespace std::chrono_literals;
using rescue::test::check_documented_policy;

rescue::core::escalation_policy policy_of(std::string_view toml, std::string_view source) {
  return rescue::dispatcher::parse_server_config(toml, source, ".").policy;
}

TEST_CASE("the policy is read from TOML with defaults, and bad keys are refused",
          "[unit][policy]") {
  const auto defaults = policy_of("", "empty.toml");
  CHECK(defaults.offer_timeout == 60s);
  CHECK(defaults.urban_target == 30min);

  const auto p = policy_of(R"(
[dispatch]
offer_timeout_s = 45
level1_window_s = 240
level2_window_s = 360
predictive_escalation = false
fire_on_injured = true
urban_target_min = 25
rural_target_min = 50
merge_window_s = 300
max_candidates = 8
)",
                           "policy.toml");
  CHECK(p.offer_timeout == 45s);
  CHECK(p.level1_window == 240s);
  CHECK(p.level2_window == 360s);
  CHECK_FALSE(p.predictive_escalation);
  CHECK(p.urban_target == 25min);
  CHECK(p.rural_target == 50min);
  CHECK(p.merge_window == 300s);
  CHECK(p.max_candidates == 8);

  CHECK_THROWS_WITH(policy_of("[dispatch]\nofer_timeout_s = 4\n", "p.toml"),
                    Catch::Contains("dispatch.ofer_timeout_s: unknown key"));
  CHECK_THROWS_WITH(policy_of("[dispatch]\noffer_timeout_s = \"60\"\n", "p.toml"),
                    Catch::Contains("must be an integer"));
  CHECK_THROWS_WITH(policy_of("[dispatch]\noffer_timeout_s = 1\n", "p.toml"),
                    Catch::Contains("between 5 and 3600"));
  CHECK_THROWS_WITH(policy_of("[dispatch\n", "p.toml"), Catch::Contains("p.toml:1"));
}

TEST_CASE("the policy read from TOML defaults to the documented values", "[unit][policy]") {
  SECTION("a config without a [dispatch] table") {
    check_documented_policy(policy_of("", "empty.toml"));
  }
  SECTION("an empty [dispatch] table") {
    check_documented_policy(policy_of("[dispatch]\n", "empty.toml"));
  }
  SECTION("the sample configuration, which lists every key with its default") {
    check_documented_policy(
        rescue::dispatcher::load_server_config(std::filesystem::path(RESCUE_TEST_DATA_DIR) /
                                               "../../deploy/rescue-dispatchd.toml")
            .policy);
  }
}

}  // namespace
