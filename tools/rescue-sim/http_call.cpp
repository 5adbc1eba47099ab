#include "http_call.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace rescue::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<http_result> http_call(asio::any_io_executor ex, std::string host,
                                       std::uint16_t port, http::verb verb, std::string target,
                                       std::string bearer, std::string body,
                                       std::chrono::seconds deadline) {
  constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
  http_result result;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    result.error = "bad address " + host;
    co_return result;
  }
  beast::tcp_stream stream(ex);
  // The stream's timer covers connect, write and read together: one deadline per exchange.
  stream.expires_after(deadline);
  if (auto [c_ec] = co_await stream.async_connect(asio::ip::tcp::endpoint(address, port), tuple);
      c_ec) {
    result.error = "connect: " + c_ec.message();
    co_return result;
  }
  http::request<http::string_body> request(verb, target, 11);
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::user_agent, "rescue-sim");
  if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.keep_alive(false);
  request.prepare_payload();
  if (auto [w_ec, n] = co_await http::async_write(stream, request, tuple); w_ec) {
    result.error = "write: " + w_ec.message();
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (auto [r_ec, n] = co_await http::async_read(stream, buffer, response, tuple); r_ec) {
    result.error = "read: " + r_ec.message();
    co_return result;
  }
  result.status = static_cast<int>(response.result_int());
  result.body = std::move(response.body());
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return result;
}

}  // namespace rescue::sim
