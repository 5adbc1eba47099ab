#include "rescue/dispatcher/server_config.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>

#include "rescue/dispatcher/toml_reader.hpp"

#include "rescue/storage/open_storage.hpp"

namespace rescue::dispatcher {
namespace {

std::filesystem::path resolve(const std::filesystem::path& base, std::filesystem::path p) {
  if (p.empty() || p.is_absolute()) return p;
  return base / p;
}

}  // namespace

server_config parse_server_config(std::string_view toml_text, std::string_view source_view,
                                  const std::filesystem::path& base_dir) {
  const std::string source(source_view);
  const toml::table root = parse_toml(toml_text, source_view);
  static const std::set<std::string, std::less<>> tables = {
      "server", "storage",  "registry", "terminals", "crews", "console", "fire",
      "log",    "dispatch", "geo",      "http",      "tls",   "upload"};
  for (const auto& [key, value] : root)
    if (!tables.contains(key.str()))
      throw std::runtime_error(source + ": " + std::string(key.str()) + ": unknown table");

  server_config c;
  {
    toml_table_reader t(subtable(root, "server", source), source, "server");
    c.listen_address = t.string("listen_address", c.listen_address);
    c.terminal_port =
        static_cast<std::uint16_t>(t.integer("terminal_port", c.terminal_port, 0, 65535));
    c.http_port = static_cast<std::uint16_t>(t.integer("http_port", c.http_port, 0, 65535));
    c.threads = static_cast<unsigned>(t.integer("threads", c.threads, 1, 64));
    c.web_root = t.string("web_root", c.web_root.string());
    c.auth_max_failures = static_cast<std::size_t>(t.integer(
        "auth_max_failures", static_cast<std::int64_t>(c.auth_max_failures), 0, 1'000'000));
    c.auth_failure_window = t.duration("auth_failure_window_s", c.auth_failure_window, 1, 86'400);
    c.auth_lockout = t.duration("auth_lockout_s", c.auth_lockout, 1, 86'400);
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "storage", source), source, "storage");
    c.storage_backend = t.string("backend", c.storage_backend);
    if (std::ranges::find(storage::storage_backends(), c.storage_backend) ==
        storage::storage_backends().end()) {
      std::string known;
      for (const auto& name : storage::storage_backends())
        known += (known.empty() ? "\"" : ", \"") + name + "\"";
      t.fail("backend",
             "unknown storage backend \"" + c.storage_backend + "\" (known: " + known + ")");
    }
    c.journal_path = t.string("journal_path", c.journal_path.string());
    c.signing_key_path = t.string("signing_key_path", c.signing_key_path.string());
    c.outbox_path = t.string("outbox_path", c.outbox_path.string());
    c.registry_db_path = t.string("registry_db_path", c.registry_db_path.string());
    c.positions_path = t.string("positions_path", c.positions_path.string());
    c.checkpoint_every_records = static_cast<std::uint64_t>(
        t.integer("checkpoint_every_records", static_cast<std::int64_t>(c.checkpoint_every_records),
                  1, 100'000'000));
    c.checkpoint_every = t.duration("checkpoint_every_s", c.checkpoint_every, 1, 86'400);
    c.redis_host = t.string("redis_host", c.redis_host);
    c.redis_port = static_cast<int>(t.integer("redis_port", c.redis_port, 1, 65'535));
    c.redis_cluster_nodes = t.strings("redis_cluster_nodes", c.redis_cluster_nodes);
    for (const auto& node : c.redis_cluster_nodes) {
      std::string host;
      int port = 0;
      if (!storage::parse_host_port(node, host, port) || host.empty())
        t.fail("redis_cluster_nodes", "\"" + node + "\" is not host:port");
    }
    c.redis_store = t.string("redis_store", c.redis_store);
    c.redis_password = t.string("redis_password", c.redis_password);
    if (!storage::valid_redis_store_name(c.redis_store))
      t.fail("redis_store", "a store name is 1 to 64 letters, digits, '-', '_' or '.'");
    c.redis_wait_replicas =
        static_cast<int>(t.integer("redis_wait_replicas", c.redis_wait_replicas, 0, 16));
    c.redis_wait_timeout = t.duration("redis_wait_timeout_ms", c.redis_wait_timeout, 1, 60'000);
    c.redis_continue_without_replicas =
        t.boolean("redis_continue_without_replicas", c.redis_continue_without_replicas);
    c.redis_lease = t.duration("redis_lease_ms", c.redis_lease, 500, 120'000);
    c.redis_instance = t.string("redis_instance", c.redis_instance);
    if (c.redis_instance.size() > 128)
      t.fail("redis_instance", "an instance name is at most 128 characters");
    c.redis_shard = t.string("redis_shard", c.redis_shard);
    if (const toml::node* shards = t.get("shards")) {
      const toml::array* list = shards->as_array();
      if (!list) t.fail("shards", "an array of tables ([[storage.shards]])");
      for (std::size_t i = 0; i < list->size(); ++i) {
        const toml::table* table = list->get(i)->as_table();
        const std::string name = "storage.shards[" + std::to_string(i) + "]";
        if (!table) t.fail("shards", name + " is not a table");
        toml_table_reader s(table, source, name);
        core::shard_spec spec;
        spec.name = s.string("name", "");
        if (spec.name.empty() || !storage::valid_redis_store_name(c.redis_store + "." + spec.name))
          s.fail("name", "a shard name is letters, digits, '-', '_' or '.'");
        spec.number = static_cast<std::uint32_t>(
            s.integer("number", 0, 1, static_cast<std::int64_t>(core::max_shard_number)));
        spec.districts = s.strings("districts", {});
        if (spec.districts.empty())
          s.fail("districts", "list the shard's 6-digit district codes, or \"*\" for the rest");
        s.finish();
        c.shards.push_back(std::move(spec));
      }
    }
    if (!c.shards.empty()) {
      if (c.storage_backend != "redis")
        t.fail("shards", "shards need backend = \"redis\" (every instance shares the city)");
      const auto own = std::ranges::find(c.shards, c.redis_shard, &core::shard_spec::name);
      if (own == c.shards.end())
        t.fail("redis_shard", "name the shard this instance decides, one of [[storage.shards]]");
    } else if (!c.redis_shard.empty()) {
      t.fail("redis_shard", "there are no [[storage.shards]] to choose from");
    }
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "registry", source), source, "registry");
    c.registry_dir = t.string("dir", c.registry_dir.string());
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "terminals", source), source, "terminals");
    c.terminal_ping_interval = t.duration("ping_interval_s", c.terminal_ping_interval, 1, 3600);
    c.terminal_idle_timeout = t.duration("idle_timeout_s", c.terminal_idle_timeout, 2, 86'400);
    c.terminal_auth_timeout = t.duration("auth_timeout_s", c.terminal_auth_timeout, 1, 600);
    c.max_frame_bytes =
        static_cast<std::uint32_t>(t.integer("max_frame_bytes", c.max_frame_bytes, 64, 1 << 24));
    c.terminal_max_connections = static_cast<std::size_t>(t.integer(
        "max_connections", static_cast<std::int64_t>(c.terminal_max_connections), 1, 10'000'000));
    c.terminal_max_connections_per_address = static_cast<std::size_t>(t.integer(
        "max_connections_per_address",
        static_cast<std::int64_t>(c.terminal_max_connections_per_address), 1, 10'000'000));
    c.terminal_descriptor_share =
        t.number("reserved_descriptor_share", c.terminal_descriptor_share, 0.0, 0.95);
    t.finish();
    if (c.terminal_idle_timeout <= c.terminal_ping_interval)
      t.fail("idle_timeout_s", "must be longer than ping_interval_s");
  }
  {
    toml_table_reader t(subtable(root, "http", source), source, "http");
    c.http_max_connections = static_cast<std::size_t>(t.integer(
        "max_connections", static_cast<std::int64_t>(c.http_max_connections), 1, 10'000'000));
    c.http_max_connections_per_address = static_cast<std::size_t>(
        t.integer("max_connections_per_address",
                  static_cast<std::int64_t>(c.http_max_connections_per_address), 1, 10'000'000));
    c.http_idle_timeout = t.duration("idle_timeout_s", c.http_idle_timeout, 1, 3600);
    c.http_header_timeout = t.duration("header_timeout_s", c.http_header_timeout, 1, 600);
    c.http_request_timeout = t.duration("request_timeout_s", c.http_request_timeout, 1, 3600);
    c.allowed_origins = t.strings("allowed_origins", c.allowed_origins);
    for (const auto& origin : c.allowed_origins)
      if (!(origin.starts_with("http://") || origin.starts_with("https://")) ||
          origin.find('/', origin.find("//") + 2) != std::string::npos)
        t.fail("allowed_origins",
               "each entry must be scheme://host[:port], e.g. "
               "\"https://console.example.cn\", without a path");
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "crews", source), source, "crews");
    c.crew_token_secret = t.string("token_secret", c.crew_token_secret);
    c.crew_receipt_timeout = t.duration("receipt_timeout_s", c.crew_receipt_timeout, 1, 3600);
    c.sms_webhook_url = t.string("sms_webhook_url", c.sms_webhook_url);
    c.crew_max_message_bytes = static_cast<std::size_t>(t.integer(
        "max_message_bytes", static_cast<std::int64_t>(c.crew_max_message_bytes), 256, 1 << 20));
    t.finish();
  }
  {
    const toml::table* console = subtable(root, "console", source);
    toml_table_reader t(console, source, "console");
    if (const toml::node* node = t.get("tokens")) {
      const toml::array* list = node->as_array();
      if (!list) t.fail("tokens", "must be an array of tables");
      std::size_t i = 0;
      for (const toml::node& entry : *list) {
        const toml::table* et = entry.as_table();
        const std::string name = "console.tokens[" + std::to_string(i++) + "]";
        if (!et) throw std::runtime_error(source + ": " + name + ": must be a table");
        toml_table_reader r(et, source, name);
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
    toml_table_reader t(subtable(root, "fire", source), source, "fire");
    c.fire_webhook_url = t.string("webhook_url", c.fire_webhook_url);
    c.fire_inbound_token = t.string("inbound_token", c.fire_inbound_token);
    c.webhook_retry_initial = t.duration("retry_initial_s", c.webhook_retry_initial, 1, 3600);
    c.webhook_retry_max = t.duration("retry_max_s", c.webhook_retry_max, 1, 86'400);
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "upload", source), source, "upload");
    c.upload_url = t.string("url", c.upload_url);
    c.upload_platform = t.string("platform", c.upload_platform);
    if (!c.upload_url.empty() && c.upload_platform.empty())
      t.fail("platform", "is required when upload.url is set (the name every record carries)");
    if (c.upload_platform.size() > 64) t.fail("platform", "is longer than 64 characters");
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "log", source), source, "log");
    c.log_level = t.string("level", c.log_level);
    static const std::set<std::string, std::less<>> levels = {"trace", "debug", "info",
                                                              "warn",  "error", "critical"};
    if (!levels.contains(c.log_level))
      t.fail("level", "must be one of trace, debug, info, warn, error, critical");
    c.log_format = t.string("format", c.log_format);
    if (c.log_format != "text" && c.log_format != "json")
      t.fail("format", "must be \"text\" or \"json\"");
    t.finish();
  }
  {
    toml_table_reader t(subtable(root, "geo", source), source, "geo");
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
  {
    toml_table_reader t(subtable(root, "tls", source), source, "tls");
    auto& tls = c.tls;
    tls.cert_path = t.string("cert_path", tls.cert_path.string());
    tls.key_path = t.string("key_path", tls.key_path.string());
    tls.terminal = t.boolean("terminal", tls.terminal);
    tls.http = t.boolean("http", tls.http);
    tls.client_ca_path = t.string("client_ca_path", tls.client_ca_path.string());
    tls.require_client_cert = t.boolean("require_client_cert", tls.require_client_cert);
    tls.handshake_timeout = t.duration("handshake_timeout_s", tls.handshake_timeout, 1, 120);
    tls.allow_plain_on_public_address =
        t.boolean("allow_plain_on_public_address", tls.allow_plain_on_public_address);
    tls.webhook_ca_path = t.string("webhook_ca_path", tls.webhook_ca_path.string());
    tls.allow_plain_webhooks = t.boolean("allow_plain_webhooks", tls.allow_plain_webhooks);
    t.finish();
    tls.cert_path = resolve(base_dir, tls.cert_path);
    tls.key_path = resolve(base_dir, tls.key_path);
    tls.client_ca_path = resolve(base_dir, tls.client_ca_path);
    tls.webhook_ca_path = resolve(base_dir, tls.webhook_ca_path);
  }
  {
    toml_table_reader t(subtable(root, "dispatch", source), source, "dispatch");
    auto& p = c.policy;
    constexpr std::int64_t day_s = 24 * 3600;
    p.offer_timeout = t.duration("offer_timeout_s", p.offer_timeout, 5, 3600);
    p.level1_window = t.duration("level1_window_s", p.level1_window, 10, day_s);
    p.level2_window = t.duration("level2_window_s", p.level2_window, 10, day_s);
    p.predictive_escalation = t.boolean("predictive_escalation", p.predictive_escalation);
    p.fire_on_injured = t.boolean("fire_on_injured", p.fire_on_injured);
    p.urban_target = t.duration("urban_target_min", p.urban_target, 1, 24 * 60);
    p.rural_target = t.duration("rural_target_min", p.rural_target, 1, 24 * 60);
    p.merge_window = t.duration("merge_window_s", p.merge_window, 0, day_s);
    p.max_candidates = static_cast<std::size_t>(
        t.integer("max_candidates", static_cast<std::int64_t>(p.max_candidates), 1, 50));
    t.finish();
  }

  c.web_root = resolve(base_dir, c.web_root);
  c.journal_path = resolve(base_dir, c.journal_path);
  c.signing_key_path = resolve(base_dir, c.signing_key_path);
  c.outbox_path = resolve(base_dir, c.outbox_path);
  c.registry_db_path = resolve(base_dir, c.registry_db_path);
  c.positions_path = resolve(base_dir, c.positions_path);
  c.registry_dir = resolve(base_dir, c.registry_dir);
  if (const std::string why = check_edge_security(c); !why.empty())
    throw std::runtime_error(source + ": " + why);
  return c;
}

server_config load_server_config(const std::filesystem::path& path) {
  auto config =
      parse_server_config(read_config_file(path, "config file"), path.string(), path.parent_path());
  config.source_path = path;
  return config;
}

}  // namespace rescue::dispatcher
