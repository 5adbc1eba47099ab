#include "rescue/dispatcher/webhook_client.hpp"

#include "rescue/dispatcher/tls.hpp"

#include <cctype>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>

namespace rescue::dispatcher {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t max_response_body = 64 * 1024;
constexpr std::size_t kept_response_body = 4 * 1024;

class webhook_category_impl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "webhook"; }
  std::string message(int e) const override {
    switch (static_cast<webhook_errc>(e)) {
      case webhook_errc::plain_http_refused:
        return "plain http:// to a non-loopback address refused (use https://, or set "
               "tls.allow_plain_webhooks)";
    }
    return "webhook error " + std::to_string(e);
  }
};

bool has_scheme(std::string_view url, std::string_view scheme) {
  if (url.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
  return true;
}

}  // namespace

const boost::system::error_category& webhook_category() {
  static const webhook_category_impl category;
  return category;
}

boost::system::error_code make_error_code(webhook_errc e) {
  return {static_cast<int>(e), webhook_category()};
}

std::optional<http_url> parse_http_url(std::string_view url) {
  http_url out;
  if (has_scheme(url, "https://")) {
    out.tls = true;
    out.port = "443";
    url.remove_prefix(8);
  } else if (has_scheme(url, "http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(url.substr(slash));
    if (out.target.front() == '?') out.target.insert(0, "/");
  }
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials
  if (!authority.empty() && authority.front() == '[') {                    // [v6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return std::nullopt;
      out.port = std::string(authority.substr(1));
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty() || out.port.size() > 5) return std::nullopt;
  for (const char c : out.port)
    if (c < '0' || c > '9') return std::nullopt;
  if (std::stoul(out.port) == 0 || std::stoul(out.port) > 65535) return std::nullopt;
  return out;
}

std::string webhook_result::describe() const {
  if (ec) return ec.message();
  std::string text = "HTTP " + std::to_string(status);
  if (!body.empty()) text += ": " + body.substr(0, 200);
  return text;
}

webhook_client::webhook_client(std::chrono::milliseconds timeout, webhook_tls_options tls)
    : timeout_(timeout),
      allow_plain_(tls.allow_plain),
      tls_(make_client_tls_context(tls.ca_path)) {}

asio::awaitable<webhook_result> webhook_client::post_json(std::string url, std::string body,
                                                          std::string idempotency_key) const {
  webhook_result result;
  const auto target = parse_http_url(url);
  if (!target) {
    result.ec = asio::error::invalid_argument;
    co_return result;
  }
  // Held for the whole call, whatever happens to the client meanwhile.
  const std::shared_ptr<ssl::context> tls = tls_;
  const auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;

  // The resolver has no deadline of its own: a timer cancels it.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer resolve_timer(ex, deadline);
  resolve_timer.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](auto ec) {
    if (ec) return;
    if (auto r = weak.lock()) r->cancel();
  });
  auto [resolve_ec, endpoints] = co_await resolver->async_resolve(
      target->host, target->port, asio::as_tuple(asio::use_awaitable));
  resolve_timer.cancel();
  if (resolve_ec) {
    result.ec = resolve_ec == asio::error::operation_aborted ? beast::error::timeout : resolve_ec;
    co_return result;
  }

  // The check is on the resolved addresses: a name can point anywhere.
  if (!target->tls && !allow_plain_) {
    for (const auto& entry : endpoints) {
      if (!entry.endpoint().address().is_loopback()) {
        result.ec = make_error_code(webhook_errc::plain_http_refused);
        co_return result;
      }
    }
  }

  http_stream stream = http_stream::make(beast::tcp_stream(ex), target->tls ? tls.get() : nullptr);
  stream.expires_at(deadline);
  auto [connect_ec, endpoint] =
      co_await stream.next_layer().async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (connect_ec) {
    result.ec = connect_ec;
    co_return result;
  }
  if (stream.is_tls()) {
    if (const auto ec = expect_server_identity(stream.tls().native_handle(), target->host)) {
      result.ec = ec;
      co_return result;
    }
    auto [handshake_ec] = co_await stream.tls().async_handshake(
        ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) {
      result.ec = handshake_ec;
      co_return result;
    }
  }

  http::request<http::string_body> request{http::verb::post, target->target, 11};
  const bool default_port = target->port == (target->tls ? "443" : "80");
  const std::string host =
      target->host.find(':') != std::string::npos ? "[" + target->host + "]" : target->host;
  request.set(http::field::host, default_port ? host : host + ":" + target->port);
  request.set(http::field::user_agent, "rescue-dispatchd");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::connection, "close");
  if (!idempotency_key.empty()) request.set("Idempotency-Key", idempotency_key);
  request.body() = std::move(body);
  request.prepare_payload();
  auto [write_ec, written] =
      co_await http::async_write(stream, request, asio::as_tuple(asio::use_awaitable));
  if (write_ec) {
    result.ec = write_ec;
    co_return result;
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_body);
  auto [read_ec, read] =
      co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (read_ec) {
    result.ec = read_ec;
    co_return result;
  }
  result.status = parser.get().result_int();
  result.body = parser.get().body().substr(0, kept_response_body);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace rescue::dispatcher
