#include "rescue/dispatcher/escalation_policy.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>

namespace rescue::dispatcher {
namespace {

[[noreturn]] void fail(std::string_view source, std::string_view key, std::string_view why) {
  throw std::runtime_error(std::string(source) + ": dispatch." + std::string(key) + ": " +
                           std::string(why));
}

std::int64_t read_int(const toml::table& t, std::string_view source, std::string_view key,
                      std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const toml::node* node = t.get(key);
  if (!node) return fallback;
  const auto value = node->value_exact<std::int64_t>();
  if (!value) fail(source, key, "must be an integer");
  if (*value < min || *value > max)
    fail(source, key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return *value;
}

bool read_bool(const toml::table& t, std::string_view source, std::string_view key, bool fallback) {
  const toml::node* node = t.get(key);
  if (!node) return fallback;
  const auto value = node->value_exact<bool>();
  if (!value) fail(source, key, "must be true or false");
  return *value;
}

}  // namespace

escalation_policy parse_escalation_policy(std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source << ":" << e.source().begin.line << ": " << e.description();
    throw std::runtime_error(out.str());
  }
  escalation_policy policy;
  const toml::node* dispatch_node = root.get("dispatch");
  if (!dispatch_node) return policy;
  const toml::table* t = dispatch_node->as_table();
  if (!t) throw std::runtime_error(std::string(source) + ": dispatch: must be a table");

  static const std::set<std::string, std::less<>> known = {
      "offer_timeout_s",       "level1_window_s", "level2_window_s",
      "predictive_escalation", "fire_on_injured", "urban_target_min",
      "rural_target_min",      "merge_window_s",  "max_candidates"};
  for (const auto& [key, value] : *t) {
    if (!known.contains(key.str())) fail(source, key.str(), "unknown key");
  }

  constexpr std::int64_t day_s = 24 * 3600;
  policy.offer_timeout = std::chrono::seconds(
      read_int(*t, source, "offer_timeout_s", policy.offer_timeout.count(), 5, 3600));
  policy.level1_window = std::chrono::seconds(
      read_int(*t, source, "level1_window_s", policy.level1_window.count(), 10, day_s));
  policy.level2_window = std::chrono::seconds(
      read_int(*t, source, "level2_window_s", policy.level2_window.count(), 10, day_s));
  policy.predictive_escalation =
      read_bool(*t, source, "predictive_escalation", policy.predictive_escalation);
  policy.fire_on_injured = read_bool(*t, source, "fire_on_injured", policy.fire_on_injured);
  policy.urban_target = std::chrono::minutes(
      read_int(*t, source, "urban_target_min", policy.urban_target.count(), 1, 24 * 60));
  policy.rural_target = std::chrono::minutes(
      read_int(*t, source, "rural_target_min", policy.rural_target.count(), 1, 24 * 60));
  policy.merge_window = std::chrono::seconds(
      read_int(*t, source, "merge_window_s", policy.merge_window.count(), 0, day_s));
  policy.max_candidates = static_cast<std::size_t>(read_int(
      *t, source, "max_candidates", static_cast<std::int64_t>(policy.max_candidates), 1, 50));
  return policy;
}

escalation_policy load_escalation_policy(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open policy file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_escalation_policy(text.str(), path.string());
}

}  // namespace rescue::dispatcher
