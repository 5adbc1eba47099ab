// TLS on the terminal and console ports and on the fire webhook, with certificates the test makes.
#include <sqlite3.h>
#include <stdlib.h>

#include <thread>

#include <catch2/catch.hpp>

#include "harness.hpp"
#include "test_certs.hpp"

namespace rescue::e2e {
namespace {

// The test's own CA and certificates, removed with the test.
struct pki_dir {
  pki_dir() {
    std::string pattern = (fs::temp_directory_path() / "rescue-e2e-pki-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    pki = testing::make_test_pki(dir);
  }
  ~pki_dir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  testing::test_pki pki;
};

server_options tls_options(const testing::test_pki& pki) {
  server_options o;
  o.tls_cert = pki.server_cert;
  o.tls_key = pki.server_key;
  o.tls_terminal = true;
  o.tls_http = true;
  o.tls_ca = pki.ca_cert;
  return o;
}

}  // namespace

TEST_CASE("over TLS a terminal gets its ack, a crew its offer on wss, and the console answers",
          "[e2e][tls]") {
  pki_dir certs;
  e2e_world world(tls_options(certs.pki));
  auto crew = world.crew_at("c11", city::north(300), city::lon);

  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_IN_DOOR_ZONE));
  REQUIRE(terminal->wait_ack(1));

  const auto offer = crew->wait_offer();
  REQUIRE(offer);
  const auto view = world.incident(offer->incident_id());
  CHECK(view.elevator().elevator_id() == city::t1().elevator_id);
  crew->accept(offer->incident_id());
  CHECK(crew->wait_notice("ok accept"));
}

TEST_CASE("plain TCP on the TLS ports is refused and the server carries on", "[e2e][tls]") {
  pki_dir certs;
  e2e_world world(tls_options(certs.pki));

  terminal_client plain;
  REQUIRE(plain.connect(world.terminal_port()));
  CHECK_FALSE(plain.handshake(city::t1().id, city::t1().secret, 1));
  CHECK(plain.wait_closed(short_wait));

  const auto plain_http = http_call(world.http_port(), method::get, "/healthz", {}, {}, 2s);
  CHECK(plain_http.status == 0);

  // A client that does not trust the server's CA is not served either.
  client_tls wrong_trust{certs.pki.other_ca_cert, {}, {}};
  terminal_client doubting;
  CHECK_FALSE(doubting.connect_tls(world.terminal_port(), wrong_trust));

  // Everyone else is served as before.
  auto terminal = world.terminal(city::t2());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(1));
  const auto metrics = world.get("/metrics", {});
  REQUIRE(metrics.status == 200);
  const std::string name = "\nrescue_tls_handshake_failures_total ";
  const auto at = metrics.body.find(name);
  REQUIRE(at != std::string::npos);
  // The plain terminal, the plain console call and the doubting client.
  CHECK(std::stoi(metrics.body.substr(at + name.size())) >= 3);
  CHECK(world.server().running());
}

TEST_CASE("with client certificates required, only terminals with one from the terminal CA get in",
          "[e2e][tls]") {
  pki_dir certs;
  auto options = tls_options(certs.pki);
  options.tls_client_ca = certs.pki.ca_cert;
  options.require_client_cert = true;
  options.terminal_cert = certs.pki.client_cert;
  options.terminal_key = certs.pki.client_key;
  e2e_world world(options);

  auto good = world.terminal(city::t1());
  REQUIRE(good->send_event(1, v1::EVENT_ALARM_BUTTON));
  CHECK(good->wait_ack(1));

  // With TLS 1.3 the client's handshake completes before the server has checked its
  // certificate; the refusal shows on the first exchange.
  auto refused = [&](const client_tls& tls) {
    terminal_client t;
    if (!t.connect_tls(world.terminal_port(), tls)) return true;
    const auto result = t.handshake(city::t2().id, city::t2().secret, 1);
    return !result;
  };
  CHECK(refused(
      client_tls{certs.pki.ca_cert, certs.pki.other_client_cert, certs.pki.other_client_key}));
  CHECK(refused(client_tls{certs.pki.ca_cert, {}, {}}));
  CHECK(world.server().running());
}

TEST_CASE("the fire webhook goes over HTTPS to a centre whose certificate the configured CA signed",
          "[e2e][tls]") {
  pki_dir certs;
  http_receiver fire_centre({}, certs.pki.server_cert, certs.pki.server_key);
  server_options options;
  options.fire_webhook_url = "https://127.0.0.1:" + std::to_string(fire_centre.port()) + "/119";
  options.webhook_ca = certs.pki.ca_cert;
  e2e_world world(options);

  const std::uint64_t id = world.call_injured("10003");
  const auto request = fire_centre.wait_request(short_wait);
  REQUIRE(request);
  CHECK(request->target == "/119");
  CHECK(request->body.find(std::to_string(id)) != std::string::npos);
}

TEST_CASE(
    "a fire centre with a certificate from another CA gets nothing, and the call stays queued",
    "[e2e][tls]") {
  pki_dir certs;
  http_receiver impostor({}, certs.pki.other_server_cert, certs.pki.other_server_key);
  server_options options;
  options.fire_webhook_url = "https://127.0.0.1:" + std::to_string(impostor.port()) + "/119";
  options.webhook_ca = certs.pki.ca_cert;
  e2e_world world(options);

  world.call_injured("10003");
  // Retries start at 1 s and back off to 2 s: three attempts fit in the wait.
  CHECK_FALSE(impostor.wait_request(3500ms));
  REQUIRE(world.server().terminate() != -1);  // exited by itself, outbox closed

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((world.dir() / "var/outbox.db").c_str(), &db, SQLITE_OPEN_READONLY,
                          nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  // The only call (the escalation) and how its delivery stands.
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT attempts, delivered_ms IS NULL, last_error FROM deliveries",
                             -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const auto attempts = sqlite3_column_int64(s, 0);
  const bool pending = sqlite3_column_int(s, 1) != 0;
  const std::string error = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
  sqlite3_finalize(s);
  sqlite3_close(db);
  INFO("last_error: " << error);
  CHECK(attempts >= 2);
  CHECK(pending);
  CHECK(error.find("certificate verify failed") != std::string::npos);
  CHECK(impostor.requests().empty());
}

}  // namespace rescue::e2e
