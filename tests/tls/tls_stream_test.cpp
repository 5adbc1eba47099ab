// Server contexts, the server handshake under its deadline, and the webhook client over HTTPS,
// against an in-process server on loopback.
#include <stdlib.h>

#include <future>
#include <thread>

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "rescue/dispatcher/tls.hpp"
#include "rescue/dispatcher/webhook_client.hpp"
#include "test_certs.hpp"

namespace d = rescue::dispatcher;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct pki_dir {
  pki_dir() {
    std::string pattern = (fs::temp_directory_path() / "rescue-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    pki = rescue::testing::make_test_pki(dir);
  }
  ~pki_dir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  rescue::testing::test_pki pki;
};

d::tls_config server_tls(const rescue::testing::test_pki& p) {
  d::tls_config t;
  t.cert_path = p.server_cert;
  t.key_path = p.server_key;
  t.terminal = t.http = true;
  t.handshake_timeout = 1s;
  return t;
}

// A loopback HTTPS server on its own thread: answers 200 to every POST, records the handshake
// outcome of every connection.
class https_server {
 public:
  explicit https_server(d::tls_config config)
      : context_(d::make_server_tls_context(config, "test", true)),
        timeout_(config.handshake_timeout) {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::address_v4::loopback(), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(this), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~https_server() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  // The next connection's handshake result.
  boost::system::error_code next_handshake() {
    REQUIRE(taken_ < std::size(results_));
    auto f = results_[taken_++].get_future();
    REQUIRE(f.wait_for(5s) == std::future_status::ready);
    return f.get();
  }

 private:
  static asio::awaitable<void> accept_loop(https_server* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(
          asio::make_strand(self->io_), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(socket.get_executor(), serve(self, std::move(socket)), asio::detached);
    }
  }
  static asio::awaitable<void> serve(https_server* self, tcp::socket socket) {
    d::http_stream stream(beast::tcp_stream(std::move(socket)), *self->context_);
    const auto ec = co_await stream.server_handshake(self->timeout_);
    if (self->served_ < std::size(self->results_)) self->results_[self->served_++].set_value(ec);
    if (ec) co_return;
    stream.expires_after(5s);
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    auto [rec, n] =
        co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return;
    http::response<http::string_body> response{http::status::ok, 11};
    response.body() = "{}";
    response.keep_alive(false);
    response.prepare_payload();
    co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
  }

  std::shared_ptr<ssl::context> context_;
  std::chrono::seconds timeout_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::uint16_t port_ = 0;
  std::thread thread_;
  // Enough for any one test: connections fill them in order (the server thread), the test
  // takes them in order.
  std::promise<boost::system::error_code> results_[8];
  std::size_t served_ = 0;
  std::size_t taken_ = 0;
};

d::webhook_result post(const d::webhook_client& client, const std::string& url) {
  asio::io_context io;
  d::webhook_result result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await client.post_json(url, "{}"); },
      asio::detached);
  io.run();
  return result;
}

}  // namespace

TEST_CASE("a webhook over https reaches a server the configured CA signed", "[tls]") {
  pki_dir certs;
  https_server server(server_tls(certs.pki));
  const d::webhook_client client(5s, {certs.pki.ca_cert, false});
  const auto result = post(client, "https://127.0.0.1:" + std::to_string(server.port()) + "/119");
  INFO(result.describe());
  CHECK(result.delivered());
  CHECK_FALSE(server.next_handshake());
}

TEST_CASE("a webhook refuses a server certificate from another CA, or for another name", "[tls]") {
  pki_dir certs;
  https_server server(server_tls(certs.pki));
  const std::string path = ":" + std::to_string(server.port()) + "/119";
  {
    const d::webhook_client client(5s, {certs.pki.other_ca_cert, false});
    const auto result = post(client, "https://127.0.0.1" + path);
    CHECK_FALSE(result.delivered());
    CHECK_THAT(result.describe(), Catch::Contains("certificate verify failed"));
    CHECK(server.next_handshake());
  }
  {
    // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (also loopback on Linux).
    const d::webhook_client client(5s, {certs.pki.ca_cert, false});
    const auto result = post(client, "https://127.0.0.2" + path);
    CHECK_FALSE(result.delivered());
    if (result.ec != asio::error::connection_refused)  // some systems route only 127.0.0.1
      CHECK_THAT(result.describe(), Catch::Contains("certificate verify failed"));
  }
}

TEST_CASE("plain http webhooks leave only for loopback unless allowed", "[tls]") {
  const d::webhook_client strict(1s, {});
  const auto refused = post(strict, "http://192.0.2.10/sms");
  CHECK(refused.ec == d::make_error_code(d::webhook_errc::plain_http_refused));
  CHECK_THAT(refused.describe(), Catch::Contains("allow_plain_webhooks"));
  // Refused before a packet leaves: the address is a literal, nothing is resolved or connected.
}

TEST_CASE("the server refuses TLS 1.1, plain bytes and a client that never says hello", "[tls]") {
  pki_dir certs;
  https_server server(server_tls(certs.pki));
  asio::io_context io;
  {
    ssl::context old(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(old.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_security_level(old.native_handle(), 0);
    beast::ssl_stream<tcp::socket> client(io, old);
    client.next_layer().connect({asio::ip::address_v4::loopback(), server.port()});
    boost::system::error_code ec;
    client.handshake(ssl::stream_base::client, ec);
    CHECK(ec);
    CHECK(server.next_handshake());
  }
  {
    tcp::socket plain(io);
    plain.connect({asio::ip::address_v4::loopback(), server.port()});
    asio::write(plain, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    CHECK(server.next_handshake());
  }
  {
    tcp::socket silent(io);
    silent.connect({asio::ip::address_v4::loopback(), server.port()});
    const auto start = std::chrono::steady_clock::now();
    CHECK(server.next_handshake() == asio::error::timed_out);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
  }
}

TEST_CASE("a server context refuses a key that does not match its certificate", "[tls]") {
  pki_dir certs;
  auto config = server_tls(certs.pki);
  config.key_path = certs.pki.other_server_key;
  CHECK_THROWS_WITH(d::make_server_tls_context(config, "http", false), Catch::Contains("mismatch"));
  config.key_path = certs.dir / "missing.pem";
  CHECK_THROWS_WITH(d::make_server_tls_context(config, "http", false),
                    Catch::Contains("cannot load private key"));
}
