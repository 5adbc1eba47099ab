// The `[tls]` table: certificates of the two listeners, client certificates of terminals, trust
// for outgoing webhooks, and the two explicit opt-outs from TLS.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace rescue::dispatcher {

struct tls_config {
  // The server's certificate chain (PEM, leaf first) and its private key (PEM), used by every
  // listener that has TLS on.
  std::filesystem::path cert_path;
  std::filesystem::path key_path;
  bool terminal = false;  // TLS on the terminal port
  bool http = false;      // TLS on the console port (API, live feed, crew WebSocket, assets)
  // CA bundle that signs the terminals' client certificates. Set: a terminal that presents a
  // certificate must present a valid one; with require_client_cert, every terminal must.
  std::filesystem::path client_ca_path;
  bool require_client_cert = false;
  // From accept to a finished TLS handshake; a peer that takes longer is dropped.
  std::chrono::seconds handshake_timeout{10};
  // A plain listener on a non-loopback address is refused at start-up unless this is set.
  bool allow_plain_on_public_address = false;

  // Outgoing webhooks: https:// is verified against this CA bundle, or the system store when
  // empty. http:// is allowed only to loopback unless allow_plain_webhooks is set.
  std::filesystem::path webhook_ca_path;
  bool allow_plain_webhooks = false;
};

struct server_config;

// Why `config` must not start as it is (TLS on without a certificate, a plain listener on a
// public address, plain http:// to a webhook that is not on this host), or "" when it may.
std::string check_edge_security(const server_config& config);

}  // namespace rescue::dispatcher
