#include "rescue/dispatcher/tls.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>

#include "rescue/dispatcher/server_config.hpp"
#include "rescue/dispatcher/webhook_client.hpp"

namespace rescue::dispatcher {

namespace {

// TLS 1.2 suites with forward secrecy and AEAD (Mozilla's "intermediate" list without DHE);
// TLS 1.3 keeps OpenSSL's defaults, which are all of that kind.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Everything OpenSSL queued for this thread, oldest first; the queue is left empty.
std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void fail(std::string_view what, const std::filesystem::path& file) {
  throw std::runtime_error("tls: " + std::string(what) + " " + file.string() + ": " +
                           openssl_errors());
}

void harden(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Idle terminals are most of the connections: OpenSSL's record buffers (about 34 KiB) are
  // given back between reads instead of held for hours.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
    throw std::runtime_error("tls: cipher list refused: " + openssl_errors());
}

// The key file is the one secret here that a wrong chmod gives away: say so at start-up.
void warn_if_exposed(const std::filesystem::path& key) {
  struct stat st {};
  if (::stat(key.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    spdlog::warn("tls: private key {} is readable by group or others (mode {:o}); use 0600",
                 key.string(), st.st_mode & 0777);
}

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const tls_config& config,
                                                      std::string_view edge, bool verify_clients) {
  if (config.cert_path.empty() || config.key_path.empty())
    throw std::runtime_error("tls: " + std::string(edge) +
                             " listener has TLS on but tls.cert_path or tls.key_path is empty");
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  harden(ctx);
  if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_path.c_str()) != 1)
    fail("cannot load certificate chain", config.cert_path);
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key_path.c_str(), SSL_FILETYPE_PEM) != 1)
    fail("cannot load private key", config.key_path);
  if (SSL_CTX_check_private_key(ctx) != 1)
    fail("private key does not match the certificate in", config.cert_path);
  warn_if_exposed(config.key_path);
  if (verify_clients && !config.client_ca_path.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.client_ca_path.c_str(), nullptr) != 1)
      fail("cannot load client CA", config.client_ca_path);
    // Tells clients which CAs are accepted, so a terminal with several certificates picks right.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_path.c_str());
    if (!names) fail("no CA certificate in", config.client_ca_path);
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(
        ctx, SSL_VERIFY_PEER | (config.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        nullptr);
  }
  // Session resumption with client verification needs a context id; it also keeps one
  // listener's sessions from resuming on the other.
  const std::string id = "rescue-" + std::string(edge);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id.data()),
                                 static_cast<unsigned>(std::min<std::size_t>(id.size(), 32)));
  return context;
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::filesystem::path& ca_path) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  harden(ctx);
  if (ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
      throw std::runtime_error("tls: cannot use the system CA store: " + openssl_errors());
  } else if (SSL_CTX_load_verify_locations(ctx, ca_path.c_str(), nullptr) != 1) {
    fail("cannot load webhook CA", ca_path);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return context;
}

boost::system::error_code expect_server_identity(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  const bool literal = !ec;
  if (literal) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1)
      return asio::error::invalid_argument;
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1)
    return asio::error::invalid_argument;
  return {};
}

bool is_loopback_host(std::string_view host) {
  std::string lower(host);
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost" || lower == "localhost.") return true;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(lower, ec);
  return !ec && address.is_loopback();
}

// ---- start-up checks
// ------------------------------------------------------------------------------

std::string check_edge_security(const server_config& c) {
  const tls_config& t = c.tls;
  if ((t.terminal || t.http) && (t.cert_path.empty() || t.key_path.empty()))
    return "tls.cert_path and tls.key_path are required when tls.terminal or tls.http is on";
  if (!t.client_ca_path.empty() && !t.terminal)
    return "tls.client_ca_path is for terminal client certificates: it needs tls.terminal = true";
  if (t.require_client_cert && t.client_ca_path.empty())
    return "tls.require_client_cert needs tls.client_ca_path";

  boost::system::error_code ec;
  const auto address = asio::ip::make_address(c.listen_address, ec);
  if (ec) return "server.listen_address: \"" + c.listen_address + "\" is not an IP address";
  if (!address.is_loopback() && !t.allow_plain_on_public_address && !(t.terminal && t.http)) {
    const std::string plain = !t.terminal && !t.http ? "terminal and http ports"
                              : !t.terminal          ? "terminal port"
                                                     : "http port";
    return "server.listen_address " + c.listen_address + " is not a loopback address but the " +
           plain +
           " would be plain TCP: turn on tls.terminal and tls.http, or set "
           "tls.allow_plain_on_public_address = true";
  }

  const std::pair<const char*, const std::string*> urls[] = {
      {"fire.webhook_url", &c.fire_webhook_url},
      {"crews.sms_webhook_url", &c.sms_webhook_url},
      {"upload.url", &c.upload_url}};
  for (const auto& [key, url] : urls) {
    if (url->empty()) continue;
    const auto parsed = parse_http_url(*url);
    if (!parsed) return std::string(key) + ": \"" + *url + "\" is not an http:// or https:// URL";
    if (!parsed->tls && !t.allow_plain_webhooks && !is_loopback_host(parsed->host))
      return std::string(key) + ": plain http:// to " + parsed->host +
             " is refused; use https://, or set tls.allow_plain_webhooks = true";
  }
  return {};
}

// ---- failures -----------------------------------------------------------------------------------

namespace {

constexpr auto log_window = std::chrono::seconds(10);
constexpr unsigned lines_per_window = 5;

std::atomic<std::uint64_t> failures_total{0};

struct edge_log_state {
  std::chrono::steady_clock::time_point window_start{};
  unsigned logged = 0;
  std::uint64_t suppressed = 0;
};

}  // namespace

std::string describe_peer(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void note_tls_handshake_failure(std::string_view edge, std::string_view remote,
                                const boost::system::error_code& ec) {
  // Our own close (the server stopping) is not the peer's failure.
  if (ec == asio::error::operation_aborted) return;
  failures_total.fetch_add(1, std::memory_order_relaxed);
  static std::mutex mutex;
  static std::map<std::string, edge_log_state, std::less<>> edges;
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t suppressed = 0;
  bool log = false;
  {
    std::lock_guard lock(mutex);
    auto it = edges.find(edge);
    if (it == edges.end()) it = edges.emplace(std::string(edge), edge_log_state{}).first;
    auto& s = it->second;
    if (now - s.window_start >= log_window) {
      suppressed = s.suppressed;
      s = edge_log_state{now, 0, 0};
    }
    log = s.logged < lines_per_window;
    if (log)
      ++s.logged;
    else
      ++s.suppressed;
  }
  if (suppressed > 0)
    spdlog::warn("tls {}: {} more failed handshakes in the last {} s were not logged", edge,
                 suppressed, log_window.count());
  if (log) spdlog::info("tls {} {}: handshake failed: {}", edge, remote, ec.message());
}

std::uint64_t tls_handshake_failures() {
  return failures_total.load(std::memory_order_relaxed);
}

}  // namespace rescue::dispatcher
