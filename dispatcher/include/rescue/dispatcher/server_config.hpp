// rescue-dispatchd's configuration: one TOML file, every key with a default, unknown keys refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rescue/dispatcher/escalation_policy.hpp"
#include "rescue/geo/ranking_config.hpp"

namespace rescue::dispatcher {

struct api_token {
  std::string token;
  std::string name;  // who holds it, for the log and the journal's operator_id
  enum class role { operator_role, auditor } role = role::operator_role;
};

struct server_config {
  // [server]
  std::string listen_address = "127.0.0.1";
  std::uint16_t terminal_port = 9633;  // car terminals, framed protobuf over TCP
  std::uint16_t http_port = 8096;      // console API, crew WebSocket, web assets, metrics
  unsigned threads = 2;                // threads running the io_context
  std::filesystem::path web_root = "web";

  // [storage]
  std::filesystem::path journal_path = "var/journal.db";
  std::filesystem::path signing_key_path = "var/journal-signing.pem";
  std::filesystem::path outbox_path = "var/outbox.db";
  std::filesystem::path registry_db_path = "var/registry.db";  // auditors' copy of the registry
  std::uint64_t checkpoint_every_records = 10'000;
  std::chrono::seconds checkpoint_every{60};

  // [registry]
  std::filesystem::path registry_dir = "tests/data/chongqing-sample";

  // [terminals]
  std::chrono::seconds terminal_ping_interval{30};
  std::chrono::seconds terminal_idle_timeout{180};
  std::chrono::seconds terminal_auth_timeout{10};
  std::uint32_t max_frame_bytes = 16 * 1024;

  // [crews]
  // Crew tokens are HMAC-SHA256(crew_token_secret, crew id), hex; `rescuectl crew-token` prints
  // one.
  std::string crew_token_secret;
  std::chrono::seconds crew_receipt_timeout{20};
  std::string sms_webhook_url;  // empty: no SMS fallback
  std::size_t crew_max_message_bytes = 16 * 1024;

  // [console]
  std::vector<api_token> tokens;

  // [fire]
  std::string fire_webhook_url;  // empty: escalations are logged and kept in the outbox
  std::string fire_inbound_token;
  std::chrono::seconds webhook_retry_initial{2};
  std::chrono::seconds webhook_retry_max{300};

  // [log]
  std::string log_level = "info";

  // [dispatch] and [geo]
  escalation_policy policy;
  geo::ranking_config ranking;
};

// Parses a whole config file. Unknown tables and keys, wrong types and out-of-range values throw
// std::runtime_error naming the file and the key: configuration is read at start-up only.
// Relative paths are resolved against `base_dir`.
server_config parse_server_config(std::string_view toml_text, std::string_view source,
                                  const std::filesystem::path& base_dir);
server_config load_server_config(const std::filesystem::path& path);

}  // namespace rescue::dispatcher
