// A small HTTP/1.1 client for outgoing webhooks: one JSON POST per connection, one deadline.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace boost::asio::ssl {
class context;
}

namespace rescue::dispatcher {

// "http[s]://host[:port][/path][?query]"; no user info.
struct http_url {
  bool tls = false;  // https
  std::string host;  // an IPv6 literal without its brackets
  std::string port = "80";
  std::string target = "/";
};
std::optional<http_url> parse_http_url(std::string_view url);

struct webhook_result {
  boost::system::error_code ec;  // transport failure: bad URL, resolve, connect, timeout, parse
  unsigned status = 0;           // the HTTP status when a response arrived
  std::string body;              // the response body, cut at 4 KiB

  bool delivered() const { return !ec && status >= 200 && status < 300; }
  // For logs and the outbox's last_error: "HTTP 503: busy" or "connect: Connection refused".
  std::string describe() const;
};

// How webhooks reach their servers: https:// verified against a CA bundle (the system store
// when empty) with the URL's host name or address; plain http:// only to loopback, unless allowed.
struct webhook_tls_options {
  std::filesystem::path ca_path;
  bool allow_plain = false;
};

// Refusals of the client itself, before any byte leaves.
enum class webhook_errc {
  plain_http_refused = 1,  // http:// to an address that is not loopback
};
const boost::system::error_category& webhook_category();
boost::system::error_code make_error_code(webhook_errc e);

class webhook_client {
 public:
  // Throws std::runtime_error when the CA bundle cannot be loaded: start-up only.
  explicit webhook_client(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                          webhook_tls_options tls = {});

  // POSTs `body` with Content-Type application/json. Runs on the calling coroutine's executor;
  // resolve, connect, TLS handshake, write and read together must finish within the timeout.
  // `idempotency_key`, when not empty, is sent as the Idempotency-Key header.
  boost::asio::awaitable<webhook_result> post_json(std::string url, std::string body,
                                                   std::string idempotency_key = {}) const;

 private:
  std::chrono::milliseconds timeout_;
  bool allow_plain_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace rescue::dispatcher
