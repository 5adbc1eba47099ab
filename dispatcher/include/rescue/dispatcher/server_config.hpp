// rescue-dispatchd's configuration: one TOML file, every key with a default, unknown keys refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rescue/core/escalation_policy.hpp"
#include "rescue/core/shard_map.hpp"
#include "rescue/dispatcher/tls_config.hpp"
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
  // Failed authentications (any channel) from one address within the window before that
  // address is refused for the lockout; 0 never throttles.
  std::size_t auth_max_failures = 10;
  std::chrono::seconds auth_failure_window{60};
  std::chrono::seconds auth_lockout{60};

  // [storage]
  std::string storage_backend = "sqlite";  // one of storage::storage_backends()
  std::filesystem::path journal_path = "var/journal.db";
  std::filesystem::path signing_key_path = "var/journal-signing.pem";
  // sqlite: how each outbox delivery stands (the calls themselves are in the journal file).
  std::filesystem::path outbox_path = "var/outbox.db";
  std::filesystem::path registry_db_path = "var/registry.db";  // auditors' copy of the registry
  // sqlite: each crew's last GPS position, restored at start-up; empty keeps none.
  std::filesystem::path positions_path = "var/positions.db";
  // How often the position writer stores what came in (not a key of the file: about once a
  // second is what "the last position" means to dispatch).
  std::chrono::milliseconds positions_flush_every{1000};
  std::uint64_t checkpoint_every_records = 10'000;
  std::chrono::seconds checkpoint_every{60};
  // redis: the server, the store (whose keys hold journal, outbox and positions), and how many
  // replicas must confirm an append (WAIT) before it counts as durable.
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  // Non-empty: a Redis Cluster reached through these seeds ("host:port"); redis_host and
  // redis_port are then unused.
  std::vector<std::string> redis_cluster_nodes;
  std::string redis_store = "city";
  std::string redis_password;  // AUTH on every connection; empty: none
  int redis_wait_replicas = 0;
  std::chrono::milliseconds redis_wait_timeout{1000};
  // A master with fewer replicas than that at all: go on, durable on what is left, and say so in
  // /healthz (true); or acknowledge nothing until enough replicas are back (false).
  bool redis_continue_without_replicas = true;
  // The store's lease (redis_lease_config): one instance writes a store at a time; another
  // started on it stands by, opening no port, until the lease lapses or is given back.
  std::chrono::milliseconds redis_lease{5000};
  std::string redis_instance;  // this instance's name in the lease; empty: "host:pid"
  // A sharded city ([[storage.shards]], Redis only): the districts of each shard, and the shard
  // this instance decides (its store is "<redis_store>.<redis_shard>"). Empty: one store.
  std::vector<core::shard_spec> shards;
  std::string redis_shard;

  // [registry]
  std::filesystem::path registry_dir = "tests/data/chongqing-sample";

  // [terminals]
  std::chrono::seconds terminal_ping_interval{30};
  std::chrono::seconds terminal_idle_timeout{180};
  std::chrono::seconds terminal_auth_timeout{10};
  std::uint32_t max_frame_bytes = 16 * 1024;
  std::size_t terminal_max_connections = 100'000;
  // Terminals behind a carrier's NAT share an address: this is generous on purpose.
  std::size_t terminal_max_connections_per_address = 1024;
  // Share of the open-file limit the console port can never take: the terminals' reserve.
  double terminal_descriptor_share = 0.5;

  // [http]
  std::size_t http_max_connections = 10'000;  // crews' WebSockets included
  std::size_t http_max_connections_per_address = 256;
  std::chrono::seconds http_idle_timeout{30};     // waiting for a request's first byte
  std::chrono::seconds http_header_timeout{10};   // from the first byte to the end of the header
  std::chrono::seconds http_request_timeout{30};  // then for the body
  // Origins (scheme://host[:port]) a browser may open the WebSockets from besides the server's
  // own (the request's Host); requests without Origin (not browsers) are not checked.
  std::vector<std::string> allowed_origins;

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

  // [upload]: records for the provincial and national platforms (docs/upload.md)
  std::string upload_url;       // empty: no records are stored or sent
  std::string upload_platform;  // this platform's name in every record; required with a url

  // [log]
  std::string log_level = "info";
  std::string log_format = "text";  // "text" or "json"

  // [tls]
  tls_config tls;
  // The file this was read from (load_server_config), re-read on SIGHUP for credentials.
  std::filesystem::path source_path;

  // [dispatch] and [geo]
  core::escalation_policy policy;
  geo::ranking_config ranking;
};

// Parses a whole config file. Unknown tables and keys, wrong types, out-of-range values and
// unsafe edges (check_edge_security) throw std::runtime_error naming the file and the key:
// configuration is read at start-up, and again on SIGHUP for credentials only.
// Relative paths are resolved against `base_dir`.
server_config parse_server_config(std::string_view toml_text, std::string_view source,
                                  const std::filesystem::path& base_dir);
server_config load_server_config(const std::filesystem::path& path);

}  // namespace rescue::dispatcher
