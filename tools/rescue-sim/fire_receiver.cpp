#include "fire_receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "http_call.hpp"
#include "rescue/console.pb.h"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/webhooks.pb.h"

namespace rescue::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);

std::string received_json() {
  rescue::v1::WebhookReceipt receipt;
  receipt.set_received(true);
  return rescue::protocol::to_json(receipt);
}

std::string not_an_escalation_json() {
  rescue::v1::ApiError error;
  error.set_code("not_fire_escalation");
  error.set_message("not a fire escalation");
  return rescue::protocol::to_json(error);
}

}  // namespace

fire_receiver::fire_receiver(asio::io_context& io, const fire_settings& settings, stats& st)
    : io_(io), settings_(settings), stats_(st), acceptor_(io) {}

void fire_receiver::start() {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), settings_.listen_port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  asio::co_spawn(io_, accept_loop(),
                 rescue::dispatcher::log_if_thrown("fire receiver accept loop"));
}

void fire_receiver::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> fire_receiver::accept_loop() {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(tuple);
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. out of descriptors for a moment: keep serving
    }
    asio::co_spawn(io_, serve(std::move(socket)),
                   rescue::dispatcher::log_if_thrown("fire receiver serve"));
  }
}

std::uint64_t fire_receiver::incident_of(const std::string& body, std::int64_t& alarm_at_ms) {
  rescue::v1::FireEscalation escalation;
  if (!rescue::protocol::from_json(body, escalation).empty() ||
      escalation.kind() != "fire_escalation")
    return 0;
  alarm_at_ms = escalation.alarm_at_ms();
  return escalation.incident_id();
}

asio::awaitable<void> fire_receiver::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(settings_.read_timeout);
    http::request<http::string_body> request;
    auto [ec, n] = co_await http::async_read(stream, buffer, request, tuple);
    if (ec) co_return;
    std::int64_t alarm_at_ms = 0;
    const std::uint64_t id =
        request.method() == http::verb::post ? incident_of(request.body(), alarm_at_ms) : 0;
    http::response<http::string_body> response(
        id != 0 ? http::status::ok : http::status::bad_request, request.version());
    response.set(http::field::content_type, "application/json");
    response.body() = id != 0 ? received_json() : not_an_escalation_json();
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    if (id != 0 && seen_.insert(id).second) {
      stats_.fire_escalated(id);
      asio::co_spawn(io_, respond_to(id, alarm_at_ms),
                     rescue::dispatcher::log_if_thrown("fire receiver respond to"));
    }
    auto [w_ec, w_n] = co_await http::async_write(stream, response, tuple);
    if (w_ec || !response.keep_alive()) co_return;
  }
}

asio::awaitable<void> fire_receiver::respond_to(std::uint64_t incident_id,
                                                std::int64_t alarm_at_ms) {
  const auto ex = io_.get_executor();
  const std::string base = "/api/v1/fire/incidents/" + std::to_string(incident_id);
  rescue::v1::FireReport report;
  report.set_fire_unit("rescue-sim 119");
  const std::string body = rescue::protocol::to_json(report);
  asio::steady_timer wait(io_);
  wait.expires_after(settings_.ack_delay);
  co_await wait.async_wait(tuple);
  auto ack =
      co_await http_call(ex, settings_.server_host, settings_.server_http_port, http::verb::post,
                         base + "/ack", settings_.inbound_token, body, std::chrono::seconds(10));
  if (ack.status == 200) {
    ++stats_.fire_acks_ok;
  } else {
    ++stats_.fire_calls_failed;
    std::fprintf(stderr, "fire centre: ack of incident %llu: %d %s%s\n",
                 static_cast<unsigned long long>(incident_id), ack.status, ack.body.c_str(),
                 ack.error.c_str());
  }
  const std::int64_t escalated_ms = wall_ms();
  wait.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(settings_.arrival_after_s / settings_.time_scale)));
  co_await wait.async_wait(tuple);
  if (stopped_) co_return;
  auto arrived = co_await http_call(ex, settings_.server_host, settings_.server_http_port,
                                    http::verb::post, base + "/arrived", settings_.inbound_token,
                                    body, std::chrono::seconds(10));
  if (arrived.status == 200) {
    ++stats_.fire_arrivals_ok;
    if (alarm_at_ms > 0)
      stats_.fire_arrived(incident_id, static_cast<double>(escalated_ms - alarm_at_ms) / 1000.0 +
                                           settings_.arrival_after_s);
  } else {
    // 409 is expected when a crew got there first and released the people.
    ++stats_.fire_calls_failed;
    std::fprintf(stderr, "fire centre: arrival at incident %llu: %d %s%s\n",
                 static_cast<unsigned long long>(incident_id), arrived.status, arrived.body.c_str(),
                 arrived.error.c_str());
  }
}

}  // namespace rescue::sim
