// One HTTP/1.1 connection on the console port: reads requests under deadlines and size limits,
// checks bearer tokens, runs routes, serves web assets and hands WebSocket upgrades to routes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "rescue/dispatcher/auth_throttle.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/credentials.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/dispatcher/tls.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;

// Sizes; the deadlines (idle, header, request) are configuration: server_config's [http] keys.
struct http_limits {
  std::uint32_t header_bytes = 8 * 1024;
  // A chunked body's trailer is parsed from the read buffer, which the header limit does not
  // bound: the buffer's own cap does, far below the 64 KiB where Beast's fields would throw.
  std::uint32_t buffer_bytes = 16 * 1024;
  std::uint64_t body_bytes = 64 * 1024;
  std::chrono::seconds write_timeout{30};
};

// What every session of one listener shares. Owned by the listener, kept alive by its sessions.
struct http_shared_state {
  // Without a credential store, one is made from `c`. Throws when tls.http is on and the
  // certificate or key cannot be loaded.
  http_shared_state(const server_config& c, const http_router& r, http_limits l, metrics* m,
                    std::shared_ptr<auth_throttle> t, std::shared_ptr<credential_store> creds = {})
      : config(c),
        router(r),
        limits(l),
        stats(m),
        throttle(std::move(t)),
        credentials(creds ? std::move(creds)
                          : std::make_shared<credential_store>(credentials_from(c))),
        tls(c.tls.http ? make_server_tls_context(c.tls, "http", false) : nullptr) {}

  const server_config& config;
  const http_router& router;
  const http_limits limits;
  metrics* const stats;  // null in tests of the listener alone
  const std::shared_ptr<auth_throttle> throttle;
  const std::shared_ptr<credential_store> credentials;
  const std::shared_ptr<ssl::context> tls;  // null: plain HTTP
  std::atomic<bool> stopping{false};
};

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  // `socket` must already be bound to its own strand: the session runs there. `slot` is the
  // connection's place in the listener's caps.
  http_session(asio::ip::tcp::socket socket, std::shared_ptr<http_shared_state> shared,
               connection_slot slot);
  ~http_session();
  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  void start();
  // Thread-safe. An idle connection closes at once; a request being handled gets its response
  // first and then the connection closes.
  void stop();

 private:
  asio::awaitable<void> run(std::shared_ptr<http_session> self);
  // Returns false when the connection must close after this response.
  asio::awaitable<bool> handle(http_request request);
  template <class Response>
  asio::awaitable<bool> write(Response response);
  asio::awaitable<bool> serve_static(const http_request& request, std::string_view path);
  // Answers a read error the client should hear about (too large, malformed); false otherwise.
  asio::awaitable<void> answer_read_error(boost::beast::error_code ec);
  void close();

  http_stream stream_;  // plain TCP or TLS, per tls.http
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<http_shared_state> shared_;
  connection_slot slot_;
  asio::ip::address remote_address_;
  std::string remote_;
  bool busy_ = false;      // a request is being handled; on the strand
  bool upgraded_ = false;  // the stream went to a WebSocket handler
  bool stopping_ = false;
};

// The console token `token` names, or null; points into `creds`. Compared in constant time.
const api_token* find_api_token(const credentials& creds, std::string_view token);

// Bearer token from the Authorization header, else the `token` query parameter (browsers cannot
// set headers on a WebSocket). Empty when neither is present. The session accepts the query
// form only on GET requests and WebSocket upgrades.
std::string request_token(const http_request& request, std::string_view query_token);

// Whether a browser's Origin may open a WebSocket here: the request's own Host, or one of
// `allowed` (scheme://host[:port], compared without case). No Origin header (not a browser) is
// allowed.
bool websocket_origin_allowed(const http_request& request, const std::vector<std::string>& allowed);

}  // namespace rescue::dispatcher
