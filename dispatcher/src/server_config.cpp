#include "rescue/dispatcher/server_config.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>

namespace rescue::dispatcher {
namespace {

// Reads one table, remembering which keys were asked for so that the rest can be refused.
class table_reader {
 public:
  table_reader(const toml::table* table, std::string source, std::string name)
      : table_(table), source_(std::move(source)), name_(std::move(name)) {}

  [[noreturn]] void fail(std::string_view key, std::string_view why) const {
    throw std::runtime_error(source_ + ": " + name_ + "." + std::string(key) + ": " +
                             std::string(why));
  }

  const toml::node* get(std::string_view key) {
    known_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
  }

  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) {
    const toml::node* node = get(key);
    if (!node) return fallback;
    const auto v = node->value_exact<std::int64_t>();
    if (!v) fail(key, "must be an integer");
    if (*v < min || *v > max)
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return *v;
  }

  double number(std::string_view key, double fallback, double min, double max) {
    const toml::node* node = get(key);
    if (!node) return fallback;
    const auto v = node->value<double>();
    if (!v) fail(key, "must be a number");
    if (*v < min || *v > max)
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return *v;
  }

  std::string string(std::string_view key, std::string fallback) {
    const toml::node* node = get(key);
    if (!node) return fallback;
    const auto v = node->value_exact<std::string>();
    if (!v) fail(key, "must be a string");
    return *v;
  }

  template <class Rep, class Period>
  std::chrono::duration<Rep, Period> duration(std::string_view key,
                                              std::chrono::duration<Rep, Period> fallback,
                                              std::int64_t min, std::int64_t max) {
    return std::chrono::duration<Rep, Period>(integer(key, fallback.count(), min, max));
  }

  // Every key of the table must have been asked for.
  void finish() const {
    if (!table_) return;
    for (const auto& [key, value] : *table_)
      if (!known_.contains(std::string(key.str()))) fail(key.str(), "unknown key");
  }

 private:
  const toml::table* table_;
  std::string source_;
  std::string name_;
  std::set<std::string> known_;
};

const toml::table* subtable(const toml::table& root, std::string_view name,
                            std::string_view source) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  const toml::table* t = node->as_table();
  if (!t)
    throw std::runtime_error(std::string(source) + ": " + std::string(name) + ": must be a table");
  return t;
}

std::filesystem::path resolve(const std::filesystem::path& base, std::filesystem::path p) {
  if (p.empty() || p.is_absolute()) return p;
  return base / p;
}

}  // namespace

server_config parse_server_config(std::string_view toml_text, std::string_view source_view,
                                  const std::filesystem::path& base_dir) {
  const std::string source(source_view);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_view);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source << ":" << e.source().begin.line << ": " << e.description();
    throw std::runtime_error(out.str());
  }
  static const std::set<std::string, std::less<>> tables = {
      "server",  "storage", "registry", "terminals", "crews",
      "console", "fire",    "log",      "dispatch",  "geo"};
  for (const auto& [key, value] : root)
    if (!tables.contains(key.str()))
      throw std::runtime_error(source + ": " + std::string(key.str()) + ": unknown table");

  server_config c;
  {
    table_reader t(subtable(root, "server", source), source, "server");
    c.listen_address = t.string("listen_address", c.listen_address);
    c.terminal_port =
        static_cast<std::uint16_t>(t.integer("terminal_port", c.terminal_port, 0, 65535));
    c.http_port = static_cast<std::uint16_t>(t.integer("http_port", c.http_port, 0, 65535));
    c.threads = static_cast<unsigned>(t.integer("threads", c.threads, 1, 64));
    c.web_root = t.string("web_root", c.web_root.string());
    t.finish();
  }
  {
    table_reader t(subtable(root, "storage", source), source, "storage");
    c.journal_path = t.string("journal_path", c.journal_path.string());
    c.signing_key_path = t.string("signing_key_path", c.signing_key_path.string());
    c.outbox_path = t.string("outbox_path", c.outbox_path.string());
    c.registry_db_path = t.string("registry_db_path", c.registry_db_path.string());
    c.checkpoint_every_records = static_cast<std::uint64_t>(
        t.integer("checkpoint_every_records", static_cast<std::int64_t>(c.checkpoint_every_records),
                  1, 100'000'000));
    c.checkpoint_every = t.duration("checkpoint_every_s", c.checkpoint_every, 1, 86'400);
    t.finish();
  }
  {
    table_reader t(subtable(root, "registry", source), source, "registry");
    c.registry_dir = t.string("dir", c.registry_dir.string());
    t.finish();
  }
  {
    table_reader t(subtable(root, "terminals", source), source, "terminals");
    c.terminal_ping_interval = t.duration("ping_interval_s", c.terminal_ping_interval, 1, 3600);
    c.terminal_idle_timeout = t.duration("idle_timeout_s", c.terminal_idle_timeout, 2, 86'400);
    c.terminal_auth_timeout = t.duration("auth_timeout_s", c.terminal_auth_timeout, 1, 600);
    c.max_frame_bytes =
        static_cast<std::uint32_t>(t.integer("max_frame_bytes", c.max_frame_bytes, 64, 1 << 24));
    t.finish();
    if (c.terminal_idle_timeout <= c.terminal_ping_interval)
      t.fail("idle_timeout_s", "must be longer than ping_interval_s");
  }
  {
    table_reader t(subtable(root, "crews", source), source, "crews");
    c.crew_token_secret = t.string("token_secret", c.crew_token_secret);
    c.crew_receipt_timeout = t.duration("receipt_timeout_s", c.crew_receipt_timeout, 1, 3600);
    c.sms_webhook_url = t.string("sms_webhook_url", c.sms_webhook_url);
    c.crew_max_message_bytes = static_cast<std::size_t>(t.integer(
        "max_message_bytes", static_cast<std::int64_t>(c.crew_max_message_bytes), 256, 1 << 20));
    t.finish();
  }
  {
    const toml::table* console = subtable(root, "console", source);
    table_reader t(console, source, "console");
    if (const toml::node* node = t.get("tokens")) {
      const toml::array* list = node->as_array();
      if (!list) t.fail("tokens", "must be an array of tables");
      std::size_t i = 0;
      for (const toml::node& entry : *list) {
        const toml::table* et = entry.as_table();
        const std::string name = "console.tokens[" + std::to_string(i++) + "]";
        if (!et) throw std::runtime_error(source + ": " + name + ": must be a table");
        table_reader r(et, source, name);
        api_token token;
        token.token = r.string("token", "");
        token.name = r.string("name", "");
        const std::string role = r.string("role", "operator");
        if (token.token.size() < 16) r.fail("token", "must be at least 16 characters");
        if (token.name.empty()) r.fail("name", "is required");
        if (role == "operator")
          token.role = api_token::role::operator_role;
        else if (role == "auditor")
          token.role = api_token::role::auditor;
        else
          r.fail("role", "must be \"operator\" or \"auditor\"");
        r.finish();
        c.tokens.push_back(std::move(token));
      }
    }
    t.finish();
  }
  {
    table_reader t(subtable(root, "fire", source), source, "fire");
    c.fire_webhook_url = t.string("webhook_url", c.fire_webhook_url);
    c.fire_inbound_token = t.string("inbound_token", c.fire_inbound_token);
    c.webhook_retry_initial = t.duration("retry_initial_s", c.webhook_retry_initial, 1, 3600);
    c.webhook_retry_max = t.duration("retry_max_s", c.webhook_retry_max, 1, 86'400);
    t.finish();
  }
  {
    table_reader t(subtable(root, "log", source), source, "log");
    c.log_level = t.string("level", c.log_level);
    static const std::set<std::string, std::less<>> levels = {"trace", "debug", "info",
                                                              "warn",  "error", "critical"};
    if (!levels.contains(c.log_level))
      t.fail("level", "must be one of trace, debug, info, warn, error, critical");
    t.finish();
  }
  {
    table_reader t(subtable(root, "geo", source), source, "geo");
    auto& eta = c.ranking.eta;
    eta.road_factor = t.number("road_factor", eta.road_factor, 1.0, 5.0);
    eta.default_speed_kmh = t.number("default_speed_kmh", eta.default_speed_kmh, 1.0, 200.0);
    eta.peak_speed_factor = t.number("peak_speed_factor", eta.peak_speed_factor, 0.05, 1.0);
    eta.turn_out = t.duration("turn_out_s", eta.turn_out, 0, 3600);
    if (const toml::node* node = t.get("peak_hours")) {
      const toml::array* list = node->as_array();
      if (!list) t.fail("peak_hours", "must be an array of [start, end] hour pairs");
      eta.peak_hours.clear();
      for (const toml::node& entry : *list) {
        const toml::array* pair = entry.as_array();
        if (!pair || pair->size() != 2) t.fail("peak_hours", "each entry must be [start, end]");
        const auto start = (*pair)[0].value_exact<std::int64_t>();
        const auto end = (*pair)[1].value_exact<std::int64_t>();
        if (!start || !end || *start < 0 || *end > 24 || *start >= *end)
          t.fail("peak_hours", "hours must be integers with 0 <= start < end <= 24");
        eta.peak_hours.push_back({static_cast<int>(*start), static_cast<int>(*end)});
      }
    }
    if (const toml::node* node = t.get("district_speed_kmh")) {
      const toml::table* speeds = node->as_table();
      if (!speeds) t.fail("district_speed_kmh", "must be a table of district code = km/h");
      for (const auto& [district, speed] : *speeds) {
        const auto v = speed.value<double>();
        if (!v || *v < 1.0 || *v > 200.0)
          t.fail("district_speed_kmh", "speed for " + std::string(district.str()) +
                                           " must be a number between 1 and 200");
        eta.district_speed_kmh[std::string(district.str())] = *v;
      }
    }
    c.ranking.max_position_age = std::chrono::seconds(t.integer(
        "max_position_age_s",
        std::chrono::duration_cast<std::chrono::seconds>(c.ranking.max_position_age).count(), 10,
        86'400));
    c.ranking.level2_max_radius_m =
        t.number("level2_max_radius_m", c.ranking.level2_max_radius_m, 100.0, 500'000.0);
    t.finish();
  }
  c.policy = parse_escalation_policy(toml_text, source_view);

  c.web_root = resolve(base_dir, c.web_root);
  c.journal_path = resolve(base_dir, c.journal_path);
  c.signing_key_path = resolve(base_dir, c.signing_key_path);
  c.outbox_path = resolve(base_dir, c.outbox_path);
  c.registry_db_path = resolve(base_dir, c.registry_db_path);
  c.registry_dir = resolve(base_dir, c.registry_dir);
  return c;
}

server_config load_server_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_server_config(text.str(), path.string(), path.parent_path());
}

}  // namespace rescue::dispatcher
