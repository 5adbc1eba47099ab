// TLS on every edge: OpenSSL contexts built from `[tls]`, a stream that is plain TCP or TLS at
// run time (so one session type serves both), and the server handshake under a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "rescue/dispatcher/tls_config.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

// ---- contexts -----------------------------------------------------------------------------------

// A server context for one listener: TLS 1.2 or later, forward-secret AEAD ciphers only, the
// certificate chain and key of `config`. With `verify_clients`, client certificates are checked
// against client_ca_path (required when require_client_cert). `edge` names the listener in
// errors and separates session caches. Throws std::runtime_error naming the file and the reason.
std::shared_ptr<ssl::context> make_server_tls_context(const tls_config& config,
                                                      std::string_view edge, bool verify_clients);

// A client context for outgoing webhooks: the same protocol floor and ciphers, the server
// certificate verified against `ca_path`, or the system store when empty. Throws like above.
std::shared_ptr<ssl::context> make_client_tls_context(const std::filesystem::path& ca_path);

// Sets SNI (names only: RFC 6066 forbids IP literals) and the name or address the server
// certificate must carry. Must run before the client handshake.
boost::system::error_code expect_server_identity(SSL* ssl, const std::string& host);

// "localhost" or a loopback address literal (127.0.0.0/8, ::1).
bool is_loopback_host(std::string_view host);

// ---- plain or TLS stream ------------------------------------------------------------------------

inline asio::ip::tcp::socket& raw_socket(asio::ip::tcp::socket& s) {
  return s;
}
inline asio::ip::tcp::socket& raw_socket(boost::beast::tcp_stream& s) {
  return s.socket();
}

// Plain `NextLayer` or TLS over it, chosen when the connection is accepted. It models Asio's
// AsyncStream, so Beast's HTTP and WebSocket algorithms run on it unchanged, and get_lowest_layer
// reaches the TCP stream in both cases. With a beast::tcp_stream underneath it also forwards the
// deadline calls, so code written for a tcp_stream keeps compiling.
template <class NextLayer>
class flex_stream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;
  using tls_stream_type = boost::beast::ssl_stream<NextLayer>;

  // Plain. Implicit, so a NextLayer converts wherever a flex_stream is expected.
  flex_stream(NextLayer next) : s_(std::in_place_index<0>, std::move(next)) {}
  // TLS with `context`, which must outlive the stream.
  flex_stream(NextLayer next, ssl::context& context)
      : s_(std::in_place_index<1>, std::move(next), context) {}
  // TLS when `context` is set, plain otherwise.
  static flex_stream make(NextLayer next, ssl::context* context) {
    return context ? flex_stream(std::move(next), *context) : flex_stream(std::move(next));
  }

  bool is_tls() const { return s_.index() == 1; }
  tls_stream_type& tls() { return std::get<1>(s_); }

  executor_type get_executor() { return next_layer().get_executor(); }
  NextLayer& next_layer() { return is_tls() ? std::get<1>(s_).next_layer() : std::get<0>(s_); }
  const NextLayer& next_layer() const {
    return is_tls() ? std::get<1>(s_).next_layer() : std::get<0>(s_);
  }
  asio::ip::tcp::socket& socket() { return raw_socket(next_layer()); }

  template <class Duration>
  void expires_after(Duration d) requires std::is_same_v<NextLayer, boost::beast::tcp_stream> {
    next_layer().expires_after(d);
  }
  template <class TimePoint>
  void expires_at(TimePoint t) requires std::is_same_v<NextLayer, boost::beast::tcp_stream> {
    next_layer().expires_at(t);
  }
  void expires_never() requires std::is_same_v<NextLayer, boost::beast::tcp_stream> {
    next_layer().expires_never();
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (is_tls())
            std::get<1>(s_).async_read_some(b, std::move(handler));
          else
            std::get<0>(s_).async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (is_tls())
            std::get<1>(s_).async_write_some(b, std::move(handler));
          else
            std::get<0>(s_).async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    return is_tls() ? std::get<1>(s_).write_some(buffers, ec)
                    : std::get<0>(s_).write_some(buffers, ec);
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    return is_tls() ? std::get<1>(s_).read_some(buffers, ec)
                    : std::get<0>(s_).read_some(buffers, ec);
  }

  // The server side of the TLS handshake, done when `timeout` passes first (timed_out); at once
  // and successful on a plain stream. Runs on the calling coroutine's executor, which must be
  // the stream's strand.
  asio::awaitable<boost::system::error_code> server_handshake(
      std::chrono::steady_clock::duration timeout) {
    if (!is_tls()) co_return boost::system::error_code{};
    struct flags {
      bool done = false;
      bool expired = false;
    };
    auto state = std::make_shared<flags>();
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    // The handler touches the stream only while the handshake is pending, so the stream is alive.
    timer.async_wait([this, state](const boost::system::error_code& ec) {
      if (ec || state->done) return;
      state->expired = true;
      boost::system::error_code ignored;
      socket().close(ignored);
    });
    const auto [ec] = co_await std::get<1>(s_).async_handshake(ssl::stream_base::server,
                                                               asio::as_tuple(asio::use_awaitable));
    state->done = true;
    timer.cancel();
    if (state->expired) co_return asio::error::timed_out;
    co_return ec;
  }

 private:
  std::variant<NextLayer, tls_stream_type> s_;
};

// The console port's stream (HTTP, and the WebSockets it upgrades to) and the terminal port's,
// which stays a bare socket: 20 000 idle terminals do not need Beast's per-stream timers.
using http_stream = flex_stream<boost::beast::tcp_stream>;
using terminal_stream = flex_stream<asio::ip::tcp::socket>;

// WebSocket closing handshake hooks, found by argument-dependent lookup.
template <class NextLayer>
void teardown(boost::beast::role_type role, flex_stream<NextLayer>& stream,
              boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  if (stream.is_tls())
    teardown(role, stream.tls(), ec);
  else
    teardown(role, stream.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(boost::beast::role_type role, flex_stream<NextLayer>& stream,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  if (stream.is_tls())
    async_teardown(role, stream.tls(), std::forward<TeardownHandler>(handler));
  else
    async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

// ---- failures -----------------------------------------------------------------------------------

// "address:port" of the peer, or "?" when the socket has none (closed, reset).
std::string describe_peer(const asio::ip::tcp::socket& socket);

// Logs a failed server handshake on `edge` ("terminal", "http") from `remote`: a few lines per
// edge every ten seconds, then a count of what was not logged, so a scanner cannot flood the log.
void note_tls_handshake_failure(std::string_view edge, std::string_view remote,
                                const boost::system::error_code& ec);
// Failed server handshakes since start, for /metrics.
std::uint64_t tls_handshake_failures();

}  // namespace rescue::dispatcher
