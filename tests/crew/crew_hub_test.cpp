#include <catch2/catch.hpp>

#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "crew_test_support.hpp"
#include "rescue/dispatcher/crew_hub.hpp"
#include "rescue/dispatcher/crew_token.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/webhooks.pb.h"

using namespace crew_test;
namespace cmd = rescue::core::cmd;
namespace websocket = beast::websocket;
using rescue::dispatcher::crew_token;

namespace {

// The crew hub behind a minimal WebSocket accept loop of the test's own (not the server's HTTP
// listener): every connection on its own strand, the upgrade request read, then handed over.
struct crew_server : service_parts {
  std::unique_ptr<http_receiver> sms;
  std::unique_ptr<rescue::dispatcher::crew_hub> hub;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::unique_ptr<io_thread> runner;

  explicit crew_server(std::chrono::seconds receipt_timeout = 20s,
                       std::shared_ptr<temp_dir> files = std::make_shared<temp_dir>())
      : service_parts(std::move(files)) {
    config.crew_token_secret = "test-secret";
    config.crew_receipt_timeout = receipt_timeout;
    config.crew_max_message_bytes = 1024;
    sms = std::make_unique<http_receiver>(io);
    config.sms_webhook_url = sms->url("/sms");
    hub = std::make_unique<rescue::dispatcher::crew_hub>(io, config, *service, *box, stats);
    rescue::dispatcher::dispatch_channels channels;
    channels.offer = [h = hub.get()](const auto& o) { h->on_offer(o); };
    channels.withdraw = [h = hub.get()](const auto& w) { h->on_withdraw(w); };
    service->set_channels(std::move(channels));
    asio::co_spawn(io, accept_loop(this), asio::detached);
    box->start();
    runner = std::make_unique<io_thread>(io);
  }
  ~crew_server() { runner.reset(); }  // stop the io thread before anything it touches goes

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  std::string token(const std::string& crew) const {
    return crew_token(config.crew_token_secret, crew);
  }
  std::uint64_t call_alarm() {
    const auto out = submit(
        cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "张", "13900000000", true, false, "op-1"});
    REQUIRE(out.ok());
    return out.incident;
  }

  static asio::awaitable<void> accept_loop(crew_server* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor.async_accept(asio::make_strand(self->io),
                                                               asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      beast::tcp_stream stream(std::move(socket));
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      stream.expires_after(5s);
      auto [read_ec, n] =
          co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
      if (read_ec || !websocket::is_upgrade(request)) continue;
      stream.expires_never();
      beast::error_code ep_ec;
      const auto remote = stream.socket().remote_endpoint(ep_ec).address();
      // No listener here: no connection slot and no throttle.
      self->hub->accept(rescue::dispatcher::websocket_upgrade{
          std::move(stream), std::move(request), {}, remote, nullptr});
    }
  }
};

// A phone: blocking calls on its own io_context, every read bounded by a timeout.
class crew_client {
 public:
  // The HTTP status of the answer to the upgrade request: 101 when connected.
  unsigned connect(std::uint16_t port, const std::string& crew, const std::string& token) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    websocket::response_type response;
    beast::error_code ec;
    ws_.handshake(response, "127.0.0.1", "/ws/crew?crew=" + crew + "&token=" + token, ec);
    body_ = response.body();
    return response.result_int();
  }
  const std::string& response_body() const { return body_; }

  // The next message other than a CrewStatus (the server sends one on every connect and after a
  // shift change); statuses are kept in status().
  std::optional<v1::CrewServerMessage> read(std::chrono::milliseconds timeout = 5s) {
    for (;;) {
      auto m = read_any(timeout);
      if (!m || !m->has_status()) return m;
      status_ = m->status();
    }
  }
  std::optional<v1::CrewServerMessage> read_any(std::chrono::milliseconds timeout = 5s) {
    beast::flat_buffer buffer;
    beast::get_lowest_layer(ws_).expires_after(timeout);
    ws_.async_read(buffer, [this](beast::error_code ec, std::size_t) { error_ = ec; });
    io_.restart();
    io_.run();
    if (error_) return std::nullopt;
    v1::CrewServerMessage message;
    const auto parse_error =
        rescue::protocol::from_json(beast::buffers_to_string(buffer.data()), message);
    REQUIRE(parse_error.empty());
    return message;
  }
  // The next message, which must be a notice; its text.
  std::string read_notice() {
    const auto m = read();
    REQUIRE(m);
    REQUIRE(m->has_notice());
    return m->notice().text();
  }
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }
  void send(const v1::CrewClientMessage& m) { send(rescue::protocol::to_json(m)); }
  void receipt(std::uint64_t seq) {
    v1::CrewClientMessage m;
    m.mutable_receipt()->set_seq(seq);
    send(m);
  }
  void accept(std::uint64_t incident) {
    v1::CrewClientMessage m;
    m.mutable_accept()->set_incident_id(incident);
    send(m);
  }
  // Vanishes without a close frame, like a phone losing its signal.
  void drop() { beast::get_lowest_layer(ws_).close(); }

  const std::optional<v1::CrewStatus>& status() const { return status_; }
  beast::error_code error() const { return error_; }
  std::uint16_t close_code() const { return ws_.reason().code; }
  std::string close_reason() const { return std::string(ws_.reason().reason.c_str()); }

 private:
  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_{io_};
  beast::error_code error_;
  std::string body_;
  std::optional<v1::CrewStatus> status_;
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("an alarm's offer reaches the connected crew, which receipts and accepts it",
          "[crew][sqlite]") {
  crew_server server;
  crew_client c1;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  REQUIRE(eventually([&] { return server.stats.crew_connections == 1; }));

  const auto incident = server.call_alarm();
  const auto offer = c1.read();
  REQUIRE(offer);
  REQUIRE(offer->has_offer());
  CHECK(offer->seq() > 0);
  CHECK(offer->offer().incident_id() == incident);
  CHECK(offer->offer().rescue_code() == "10001");
  CHECK(offer->offer().caller_phone() == "13900000000");
  c1.receipt(offer->seq());

  c1.accept(incident);
  const auto answer = c1.read();
  REQUIRE(answer);
  REQUIRE(answer->has_notice());
  CHECK(answer->notice().text() == "ok accept " + std::to_string(incident));
  CHECK(answer->seq() == offer->seq() + 1);  // per-crew sequence, one step per message
  c1.receipt(answer->seq());

  // Departed goes through as the same crew.
  v1::CrewClientMessage departed;
  departed.mutable_departed()->set_incident_id(incident);
  c1.send(departed);
  CHECK(c1.read_notice() == "ok departed " + std::to_string(incident));
}

TEST_CASE("a crew cannot act on another crew's job: the refusal comes back as a notice",
          "[crew][sqlite]") {
  crew_server server;
  crew_client c1, c2;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  REQUIRE(c2.connect(server.port(), "c2", server.token("c2")) == 101);
  const auto incident = server.call_alarm();
  const auto offer = c1.read();
  REQUIRE(offer);
  REQUIRE(offer->has_offer());  // c1 is nearest

  c2.accept(incident);
  const std::string refused = c2.read_notice();
  CHECK(starts_with(refused, "not_your_job accept " + std::to_string(incident) + ": "));

  // The offer is still c1's.
  c1.accept(incident);
  CHECK(c1.read_notice() == "ok accept " + std::to_string(incident));
  // And c2 cannot report c1's progress either.
  v1::CrewClientMessage arrived;
  arrived.mutable_arrived()->set_incident_id(incident);
  c2.send(arrived);
  CHECK(starts_with(c2.read_notice(), "not_your_job arrived"));
}

TEST_CASE("a crew hears its standing on connect and after a shift change, never resent stale",
          "[crew][sqlite]") {
  crew_server server;
  {
    crew_client c1;
    REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
    const auto first = c1.read_any();
    REQUIRE(first);
    REQUIRE(first->has_status());
    CHECK(first->seq() > 0);
    CHECK(first->status().on_duty());
    CHECK(first->status().current_incident_id() == 0);

    v1::CrewClientMessage off;
    off.mutable_shift()->set_on_duty(false);
    c1.send(off);
    CHECK(c1.read_notice() == "ok shift off");
    const auto changed = c1.read_any();
    REQUIRE(changed);
    REQUIRE(changed->has_status());
    CHECK_FALSE(changed->status().on_duty());
    // Not receipted, and still not resent: the next connection gets a fresh one instead.
  }
  crew_client again;
  REQUIRE(again.connect(server.port(), "c1", server.token("c1")) == 101);
  // The unreceipted notice comes again; of the statuses, only the fresh one.
  std::vector<v1::CrewStatus> statuses;
  std::vector<std::string> notices;
  while (const auto m = again.read_any(500ms)) {
    if (m->has_status()) statuses.push_back(m->status());
    if (m->has_notice()) notices.push_back(m->notice().text());
  }
  REQUIRE(statuses.size() == 1);
  CHECK_FALSE(statuses[0].on_duty());
  CHECK(notices == std::vector<std::string>{"ok shift off"});
}

TEST_CASE("an offer not receipted before a disconnect is sent again, same seq, on reconnect",
          "[crew][sqlite]") {
  crew_server server;
  std::uint64_t seq = 0;
  std::uint64_t incident = 0;
  {
    crew_client phone;
    REQUIRE(phone.connect(server.port(), "c1", server.token("c1")) == 101);
    incident = server.call_alarm();
    const auto offer = phone.read();
    REQUIRE(offer);
    REQUIRE(offer->has_offer());
    seq = offer->seq();
    phone.drop();  // no receipt
  }
  {
    crew_client phone;
    REQUIRE(phone.connect(server.port(), "c1", server.token("c1")) == 101);
    const auto again = phone.read();
    REQUIRE(again);
    REQUIRE(again->has_offer());
    CHECK(again->seq() == seq);
    CHECK(again->offer().incident_id() == incident);
    phone.receipt(seq);
    // Something after the receipt, so the receipt is known to have been handled.
    phone.accept(incident);
    CHECK(phone.read_notice() == "ok accept " + std::to_string(incident));
  }
  {
    // Receipted: the offer does not come again; only the unreceipted notice does.
    crew_client phone;
    REQUIRE(phone.connect(server.port(), "c1", server.token("c1")) == 101);
    const auto next = phone.read();
    REQUIRE(next);
    REQUIRE(next->has_notice());
    CHECK(next->notice().text() == "ok accept " + std::to_string(incident));
    // After the offer; the connection's status took a seq in between, and is never resent.
    CHECK(next->seq() > seq);
  }
}

TEST_CASE("a newer connection of the same crew replaces the open one", "[crew][sqlite]") {
  crew_server server;
  crew_client first, second;
  REQUIRE(first.connect(server.port(), "c1", server.token("c1")) == 101);
  REQUIRE(second.connect(server.port(), "c1", server.token("c1")) == 101);
  CHECK_FALSE(first.read());
  CHECK(first.error() == websocket::error::closed);
  CHECK(first.close_code() == websocket::close_code::normal);
  CHECK(first.close_reason() == "replaced by a newer connection");
  server.call_alarm();
  const auto offer = second.read();
  REQUIRE(offer);
  CHECK(offer->has_offer());
}

TEST_CASE("an offer not receipted within the timeout calls the SMS webhook once",
          "[crew][sqlite]") {
  crew_server server(1s);
  crew_client c1;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  const auto incident = server.call_alarm();
  const auto offer = c1.read();
  REQUIRE(offer);
  REQUIRE(eventually([&] { return server.sms->count() == 1; }, 5s));
  std::this_thread::sleep_for(1500ms);  // still once: the timer is not re-armed
  const auto got = server.sms->requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].target == "/sms");
  const std::string& body = got[0].body;
  INFO(body);
  rescue::v1::CrewSms sms;
  REQUIRE(rescue::protocol::from_json(body, sms).empty());
  CHECK(sms.kind() == "crew_offer_unreceipted");
  CHECK(sms.crew_id() == "c1");
  CHECK(sms.phone() == "13800000001");
  CHECK(sms.incident_id() == incident);
  CHECK(sms.seq() == offer->seq());
  CHECK(sms.text().find("Open the crew app") != std::string::npos);
  // 64-bit integers are JSON strings; a webhook prints every field.
  CHECK(body.find("\"incident_id\":\"" + std::to_string(incident) + "\"") != std::string::npos);
  REQUIRE(eventually([&] { return server.box->pending() == 0; }));
}

TEST_CASE("a receipted offer sends no SMS", "[crew][sqlite]") {
  crew_server server(1s);
  crew_client c1;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  server.call_alarm();
  const auto offer = c1.read();
  REQUIRE(offer);
  c1.receipt(offer->seq());
  std::this_thread::sleep_for(1500ms);
  CHECK(server.sms->count() == 0);
  CHECK(server.box->rows().empty());
}

TEST_CASE("forged tokens and unknown crews get HTTP 401 before the upgrade", "[crew][sqlite]") {
  crew_server server;
  {
    crew_client phone;
    std::string forged = server.token("c1");
    forged[0] = forged[0] == 'a' ? 'b' : 'a';
    CHECK(phone.connect(server.port(), "c1", forged) == 401);
    CHECK(phone.response_body().find("unauthorized") != std::string::npos);
  }
  {
    crew_client phone;  // c2's own token does not open c1's channel
    CHECK(phone.connect(server.port(), "c1", server.token("c2")) == 401);
  }
  {
    crew_client phone;  // a well-formed token for a crew the registry does not know
    CHECK(phone.connect(server.port(), "c9", server.token("c9")) == 401);
  }
  {
    crew_client phone;
    CHECK(phone.connect(server.port(), "", "") == 401);
  }
  CHECK(server.stats.crew_connections == 0);
}

TEST_CASE("malformed, unknown-field and oversized messages close only that connection",
          "[crew][sqlite]") {
  crew_server server;
  crew_client bystander;
  REQUIRE(bystander.connect(server.port(), "c2", server.token("c2")) == 101);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{not json", "malformed message"},
      {R"({"receipt":{"seq":"1"},"bogus":1})", "malformed message"},
      {"{}", "message has no body"},
      {R"({"location":{"position":{"lat":29.5,"lon":106.5}},"pad":")" + std::string(2000, 'x') +
           "\"}",
       "message larger than 1024 bytes"},
  };
  for (const auto& [text, reason] : bad) {
    crew_client phone;
    REQUIRE(phone.connect(server.port(), "c1", server.token("c1")) == 101);
    phone.send(text);
    CHECK_FALSE(phone.read());
    CHECK(phone.error() == websocket::error::closed);
    CHECK(phone.close_code() == websocket::close_code::policy_error);
    CHECK(starts_with(phone.close_reason(), reason));
  }

  // The other crew's connection is untouched.
  bystander.accept(999);
  CHECK(starts_with(bystander.read_notice(), "unknown_incident accept 999"));
}

TEST_CASE("a location message moves the crew in the dispatch service's index", "[crew][sqlite]") {
  crew_server server;
  crew_client c1;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  v1::CrewClientMessage m;
  m.mutable_location()->mutable_position()->set_lat(29.6);
  m.mutable_location()->mutable_position()->set_lon(106.6);
  m.mutable_location()->set_at_ms(now_ms());
  c1.send(m);
  // Read back through the service: the index has c1 at the new position.
  REQUIRE(eventually([&] {
    auto done = std::make_shared<std::promise<bool>>();
    auto f = done->get_future();
    server.service->async_read<bool>(
        [](const rescue::core::core_state&, const rescue::geo::crew_index& index) {
          const auto slot = index.table().find("c1");
          return slot && std::abs(index.table().crew(*slot).position.lat - 29.6) < 1e-9;
        },
        [done](bool b) { done->set_value(b); });
    return f.get();
  }));
}

TEST_CASE("re-seeding a running hub queues the pending offer again with the next seq",
          "[crew][sqlite]") {
  crew_server server;
  const auto incident = server.call_alarm();
  server.hub->reseed_from_service();
  crew_client c1;
  REQUIRE(c1.connect(server.port(), "c1", server.token("c1")) == 101);
  // The live offer and the re-seeded copy: both for the same incident, in seq order.
  const auto first = c1.read();
  const auto second = c1.read();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->offer().incident_id() == incident);
  CHECK(second->offer().incident_id() == incident);
  CHECK(second->seq() == first->seq() + 1);
  CHECK(second->offer().expires_at_ms() == first->offer().expires_at_ms());
  CHECK(second->offer().address() == first->offer().address());
}

TEST_CASE("an offer pending in the journal is pushed again by a restarted hub, with a newer seq",
          "[crew][sqlite]") {
  auto server = std::make_unique<crew_server>();
  const auto incident = server->call_alarm();
  v1::CrewServerMessage before;
  {
    crew_client c1;
    REQUIRE(c1.connect(server->port(), "c1", server->token("c1")) == 101);
    const auto offer = c1.read();
    REQUIRE(offer);
    REQUIRE(offer->has_offer());
    REQUIRE(offer->offer().incident_id() == incident);
    before = *offer;
  }  // never receipted: the phone loses its signal

  // Everything stops and is built again on the same journal and outbox, as main() does: the
  // new dispatch service recovers from the journal, then the new hub re-seeds from the core.
  const auto files = server->dir;
  server.reset();
  server = std::make_unique<crew_server>(20s, files);
  server->hub->reseed_from_service();

  crew_client c1;
  REQUIRE(c1.connect(server->port(), "c1", server->token("c1")) == 101);
  const auto after = c1.read();
  REQUIRE(after);
  REQUIRE(after->has_offer());
  CHECK(after->offer().incident_id() == incident);
  CHECK(after->offer().expires_at_ms() == before.offer().expires_at_ms());
  CHECK(after->offer().address() == before.offer().address());
  // Sequence numbers keep increasing across the restart, so the phone never takes the resent
  // offer for one it already saw.
  CHECK(after->seq() > before.seq());
  // One copy: the new hub knows the offer only from the journal.
  CHECK_FALSE(c1.read(500ms));
}
