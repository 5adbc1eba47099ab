#include <catch2/catch.hpp>

#include "crew_test_support.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/webhook_client.hpp"

using namespace crew_test;
using rescue::dispatcher::metrics;
using rescue::dispatcher::outbox;
using rescue::dispatcher::outbox_config;

namespace {

outbox_config fast_config() {
  outbox_config c;
  c.retry_initial = 100ms;
  c.retry_max = 400ms;
  c.request_timeout = 2s;
  return c;
}

// The journal and the outbox in `dir`, as the server opens them.
struct stores {
  std::unique_ptr<rescue::storage::sqlite_journal> journal;
  std::unique_ptr<rescue::storage::sqlite_outbox_store> outbox;

  explicit stores(const temp_dir& dir) {
    rescue::storage::sqlite_journal_config jc;
    jc.path = dir.path / "journal.db";
    std::error_code ec;
    journal = rescue::storage::sqlite_journal::open(jc, ec);
    INFO(ec.message());
    REQUIRE(journal);
    outbox = rescue::storage::sqlite_outbox_store::open({jc.path, dir.path / "outbox.db"}, ec);
    INFO(ec.message());
    REQUIRE(outbox);
  }
};

// Enqueues and waits until the call is durable.
std::error_code enqueue_wait(outbox& box, std::string_view kind, std::uint64_t incident,
                             const std::string& url, std::string_view body) {
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto stored = done->get_future();
  box.enqueue(kind, incident, url, body, [done](std::error_code ec) { done->set_value(ec); });
  REQUIRE(stored.wait_for(5s) == std::future_status::ready);
  return stored.get();
}

}  // namespace

TEST_CASE("an enqueued call is on disk and still pending after the outbox is reopened",
          "[crew][outbox][sqlite]") {
  temp_dir dir;
  metrics m;
  asio::io_context io;
  {
    stores files(dir);
    outbox box(io, *files.outbox, *files.journal, fast_config(), m);
    CHECK_FALSE(enqueue_wait(box, "fire_escalation", 7, "http://127.0.0.1:9/hook", R"({"a":1})"));
    CHECK(box.pending() == 1);
  }  // closed without ever delivering, as after a crash
  metrics fresh;
  stores files(dir);
  outbox box(io, *files.outbox, *files.journal, fast_config(), fresh);
  CHECK(box.pending() == 1);
  CHECK(fresh.outbox_pending == 1);
  const auto rows = box.rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].kind == "fire_escalation");
  CHECK(rows[0].incident_id == 7);
  CHECK(rows[0].url == "http://127.0.0.1:9/hook");
  CHECK(rows[0].body == R"({"a":1})");
  CHECK(rows[0].attempts == 0);
  CHECK_FALSE(rows[0].delivered_ms);
  CHECK(box.rows_about(7).size() == 1);
  CHECK(box.rows_about(8).empty());
}

TEST_CASE("calls left pending by an earlier run are delivered after a restart",
          "[crew][outbox][sqlite]") {
  temp_dir dir;
  metrics m;
  asio::io_context io;
  http_receiver receiver(io);
  {
    stores files(dir);
    outbox first(io, *files.outbox, *files.journal, fast_config(), m);
    CHECK_FALSE(enqueue_wait(first, "crew_sms", 1, receiver.url("/sms"), R"({"n":1})"));
    CHECK_FALSE(enqueue_wait(first, "crew_sms", 2, receiver.url("/sms"), R"({"n":2})"));
  }
  stores files(dir);
  outbox box(io, *files.outbox, *files.journal, fast_config(), m);
  io_thread runner(io);
  box.start();
  REQUIRE(eventually([&] { return box.pending() == 0; }));
  const auto got = receiver.requests();
  REQUIRE(got.size() == 2);
  CHECK(got[0].target == "/sms");
  std::set<std::string> bodies{got[0].body, got[1].body};
  CHECK(bodies == std::set<std::string>{R"({"n":1})", R"({"n":2})"});
  for (const auto& row : box.rows()) {
    CHECK(row.delivered_ms);
    CHECK(row.attempts == 1);
  }
  // The gauge follows each recorded attempt.
  CHECK(eventually([&] { return m.outbox_pending == 0; }));
  box.stop();
}

TEST_CASE("a call stored with its event leaves at once: the journal wakes the loop",
          "[crew][outbox][sqlite]") {
  temp_dir dir;
  metrics m;
  asio::io_context io;
  http_receiver receiver(io);
  stores files(dir);
  outbox box(io, *files.outbox, *files.journal, fast_config(), m);
  io_thread runner(io);
  box.start();
  // Let the loop go to sleep: with nothing due it sleeps 30 s unless woken.
  std::this_thread::sleep_for(200ms);
  rescue::v1::Event e;
  e.set_incident_id(5);
  e.mutable_note()->set_text("escalated");
  const auto started = std::chrono::steady_clock::now();
  files.journal->append({e}, {{"fire_escalation", 5, receiver.url("/119"), R"({"incident_id":5})"}},
                        nullptr);
  REQUIRE(eventually([&] { return receiver.count() == 1; }));
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 2s);
  REQUIRE(eventually([&] { return box.pending() == 0; }));
  box.stop();
}

TEST_CASE("a 500 then a 200 delivers the message once, after a back-off", "[crew][outbox]") {
  temp_dir dir;
  metrics m;
  asio::io_context io;
  http_receiver receiver(io);
  receiver.script({500});
  stores files(dir);
  outbox box(io, *files.outbox, *files.journal, fast_config(), m);
  io_thread runner(io);
  box.start();
  const auto started = std::chrono::steady_clock::now();
  REQUIRE_FALSE(enqueue_wait(box, "fire_escalation", 7, receiver.url(), R"({"incident_id":7})"));
  REQUIRE(eventually([&] { return box.pending() == 0; }));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= 100ms);                // retry_initial
  std::this_thread::sleep_for(500ms);  // nothing further is sent once delivered
  CHECK(receiver.count() == 2);
  const auto rows = box.rows();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempts == 2);
  CHECK(rows[0].delivered_ms);
  CHECK(m.webhook_failures_total == 1);
  box.stop();
}

TEST_CASE("failed deliveries are retried with doubling back-off up to the maximum",
          "[crew][outbox]") {
  temp_dir dir;
  metrics m;
  asio::io_context io;
  stores files(dir);
  outbox box(io, *files.outbox, *files.journal, fast_config(), m);
  CHECK(box.backoff(1) == 100ms);
  CHECK(box.backoff(2) == 200ms);
  CHECK(box.backoff(3) == 400ms);
  CHECK(box.backoff(4) == 400ms);
  CHECK(box.backoff(60) == 400ms);

  // Nothing listens on this port: connection refused, again and again.
  asio::io_context probe;
  tcp::acceptor closed(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = closed.local_endpoint().port();
  closed.close();
  io_thread runner(io);
  box.start();
  REQUIRE_FALSE(enqueue_wait(box, "fire_escalation", 1,
                             "http://127.0.0.1:" + std::to_string(port) + "/", "{}"));
  REQUIRE(eventually([&] { return m.webhook_failures_total >= 3; }));
  const auto rows = box.rows();
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(rows[0].delivered_ms);
  CHECK(rows[0].attempts >= 3);
  CHECK_FALSE(rows[0].last_error.empty());
  CHECK(rows[0].next_attempt_ms > rows[0].created_ms);
  CHECK(box.pending() == 1);
  box.stop();
}

TEST_CASE("webhook URLs: http or https with host, port and path, and nothing else",
          "[crew][unit]") {
  using rescue::dispatcher::parse_http_url;
  const auto u = parse_http_url("http://sms.example.cn:8080/v1/send?x=1");
  REQUIRE(u);
  CHECK(u->host == "sms.example.cn");
  CHECK(u->port == "8080");
  CHECK(u->target == "/v1/send?x=1");
  const auto bare = parse_http_url("http://10.0.0.5");
  REQUIRE(bare);
  CHECK(bare->port == "80");
  CHECK(bare->target == "/");
  CHECK_FALSE(bare->tls);
  const auto secure = parse_http_url("https://sms.example.cn/");
  REQUIRE(secure);
  CHECK(secure->tls);
  CHECK(secure->port == "443");
  CHECK_FALSE(parse_http_url("ftp://sms.example.cn/"));
  CHECK_FALSE(parse_http_url("http://user:pw@host/"));
  CHECK_FALSE(parse_http_url("http://host:99999/"));
  CHECK_FALSE(parse_http_url(""));
}
