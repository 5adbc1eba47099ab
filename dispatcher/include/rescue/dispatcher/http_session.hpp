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

#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;

struct http_limits {
  std::uint32_t header_bytes = 8 * 1024;
  std::uint64_t body_bytes = 64 * 1024;
  // One deadline covers waiting for a request on a kept-alive connection and reading all of it,
  // so a slow or silent client holds a connection for at most this long.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
};

// What every session of one listener shares. Owned by the listener, kept alive by its sessions.
struct http_shared_state {
  http_shared_state(const server_config& c, const http_router& r, http_limits l)
      : config(c), router(r), limits(l) {}

  const server_config& config;
  const http_router& router;
  const http_limits limits;
  std::atomic<bool> stopping{false};
};

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  // `socket` must already be bound to its own strand: the session runs there.
  http_session(asio::ip::tcp::socket socket, std::shared_ptr<http_shared_state> shared);
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
  void close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<http_shared_state> shared_;
  std::string remote_;
  bool busy_ = false;      // a request is being handled; on the strand
  bool upgraded_ = false;  // the stream went to a WebSocket handler
  bool stopping_ = false;
};

// The console token `token` names, or null. Compared in constant time.
const api_token* find_api_token(const server_config& config, std::string_view token);

// Bearer token from the Authorization header, else the `token` query parameter (browsers cannot
// set headers on a WebSocket). Empty when neither is present.
std::string request_token(const http_request& request, std::string_view query_token);

}  // namespace rescue::dispatcher
