#include "rescue/dispatcher/webhook_client.hpp"

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

}  // namespace

std::optional<http_url> parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return std::nullopt;
  url.remove_prefix(scheme.size());
  http_url out;
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

asio::awaitable<webhook_result> webhook_client::post_json(std::string url, std::string body) const {
  webhook_result result;
  const auto target = parse_http_url(url);
  if (!target) {
    result.ec = asio::error::invalid_argument;
    co_return result;
  }
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

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  auto [connect_ec, endpoint] =
      co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (connect_ec) {
    result.ec = connect_ec;
    co_return result;
  }

  http::request<http::string_body> request{http::verb::post, target->target, 11};
  request.set(http::field::host,
              target->port == "80" ? target->host : target->host + ":" + target->port);
  request.set(http::field::user_agent, "rescue-dispatchd");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::connection, "close");
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

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char digits[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(digits[c >> 4]);
          out.push_back(digits[c & 0x0f]);
        } else {
          out.push_back(ch);  // UTF-8 passes through unchanged
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace rescue::dispatcher
