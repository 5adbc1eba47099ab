// A small HTTP/1.1 client for outgoing webhooks: one JSON POST per connection, one deadline.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace rescue::dispatcher {

// "http://host[:port][/path][?query]". Only plain http: TLS is left to a local relay (see
// docs/crew-channel.md), so https URLs do not parse.
struct http_url {
  std::string host;
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

class webhook_client {
 public:
  explicit webhook_client(std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : timeout_(timeout) {}

  // POSTs `body` with Content-Type application/json. Runs on the calling coroutine's executor;
  // resolve, connect, write and read together must finish within the timeout.
  boost::asio::awaitable<webhook_result> post_json(std::string url, std::string body) const;

 private:
  std::chrono::milliseconds timeout_;
};

// `s` as a JSON string literal, quotes included; for hand-built webhook payloads.
std::string json_quote(std::string_view s);

}  // namespace rescue::dispatcher
