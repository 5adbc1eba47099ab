// The edges under attack: hostile HTTP input, connection floods, descriptor exhaustion, log
// injection, guessing, and a stop in the middle of load. Each case uses the real process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "harness.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace rescue::e2e {
namespace {

using steady = std::chrono::steady_clock;

// A plain loopback TCP connection for speaking raw HTTP (or nothing at all).
class raw_client {
 public:
  explicit raw_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool send(std::string_view bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until the server closes or `timeout`; true when it closed. What came is in received().
  bool wait_closed(millis timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<millis>(deadline - steady::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;
      received_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // True when the server has closed this connection (checked without waiting long).
  bool closed_by_server(millis timeout = 50ms) { return wait_closed(timeout); }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  std::string received_;
};

std::size_t count_lines_with(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The value of a Prometheus counter or gauge in GET /metrics.
long metric(e2e_world& world, const std::string& name) {
  const auto reply = http_call(world.http_port(), method::get, "/metrics");
  REQUIRE(reply.status == 200);
  const auto at = reply.body.find("\nrescue_" + name + " ");
  REQUIRE(at != std::string::npos);
  return std::stol(reply.body.substr(at + name.size() + 9));
}

bool healthy(e2e_world& world) {
  return http_call(world.http_port(), method::get, "/healthz", {}, {}, 2s).status == 200;
}

// Healthy again within `limit`: after descriptors run out, the listeners drain what queued up
// while they backed off (up to a second), so the first request after a flood may still be shed.
bool recovers_within(e2e_world& world, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!healthy(world)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

// ---- hostile HTTP input -------------------------------------------------------------------------

TEST_CASE("a chunked request with a trailer over 64 KiB is refused and the server keeps serving",
          "[e2e]") {
  e2e_world world;
  for (const char* request_line :
       {"POST /healthz HTTP/1.1", "GET /healthz HTTP/1.1", "POST /api/v1/incidents HTTP/1.1"}) {
    INFO(request_line);
    raw_client client(world.http_port());
    REQUIRE(client.connected());
    std::string request = std::string(request_line) +
                          "\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                          "Content-Type: application/json\r\n\r\n"
                          "2\r\n{}\r\n0\r\nX-Trailer: " +
                          std::string(70 * 1024, 'a') + "\r\n\r\n";
    client.send(request);  // the server may stop reading half-way; that is its right
    CHECK(client.wait_closed(short_wait));
    CHECK(client.received().find(" 431 ") != std::string::npos);
    REQUIRE(world.server().running());
    CHECK(healthy(world));
  }
  // Many trailer fields, each small, add up the same way.
  raw_client client(world.http_port());
  std::string request =
      "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 2000; ++i)
    request += "X-T" + std::to_string(i) + ": " + std::string(40, 'b') + "\r\n";
  request += "\r\n";
  client.send(request);
  CHECK(client.wait_closed(short_wait));
  REQUIRE(world.server().running());
  CHECK(healthy(world));
}

TEST_CASE("a client sending its header a byte a second is dropped at the header deadline",
          "[e2e]") {
  server_options options;
  options.http_keys = "header_timeout_s = 2\nidle_timeout_s = 30\nrequest_timeout_s = 30\n";
  e2e_world world(options);
  raw_client slow(world.http_port());
  REQUIRE(slow.connected());
  const auto start = steady::now();
  REQUIRE(slow.send("GET /healthz HTTP/1.1\r\n"));
  const std::string rest = "Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  bool closed = false;
  for (const char c : rest) {
    if (slow.wait_closed(1s)) {
      closed = true;
      break;
    }
    if (!slow.send(std::string_view(&c, 1))) {
      closed = true;
      break;
    }
    if (steady::now() - start > 8s) break;
  }
  const auto lasted = steady::now() - start;
  CHECK(closed);
  CHECK(lasted >= 1500ms);
  CHECK(lasted < 4s);
  CHECK(healthy(world));
}

TEST_CASE("a connection that never sends a request is dropped at the idle deadline", "[e2e]") {
  server_options options;
  options.http_keys = "idle_timeout_s = 2\n";
  e2e_world world(options);
  raw_client idle(world.http_port());
  REQUIRE(idle.connected());
  const auto start = steady::now();
  CHECK(idle.wait_closed(short_wait));
  CHECK(steady::now() - start >= 1500ms);
  CHECK(steady::now() - start < 4s);
}

TEST_CASE("a token in the query string is refused on writes with a clear error", "[e2e]") {
  e2e_world world;
  const auto write = http_call(world.http_port(), method::post,
                               std::string("/api/v1/incidents?token=") + operator_token,
                               R"({"rescue_code":"10001","people_trapped":true})");
  CHECK(write.status == 400);
  CHECK(write.body.find("token_in_query") != std::string::npos);
  CHECK(world.incidents().incidents_size() == 0);
  const auto read = http_call(world.http_port(), method::get,
                              std::string("/api/v1/incidents?token=") + auditor_token);
  CHECK(read.status == 200);
}

// ---- connection floods and descriptor exhaustion
// -------------------------------------------------

TEST_CASE("idle HTTP connections up to the cap leave terminals working and healthz answers after",
          "[e2e]") {
  server_options options;
  options.http_keys = "max_connections = 40\nmax_connections_per_address = 40\n";
  e2e_world world(options);
  std::vector<std::unique_ptr<raw_client>> flood;
  for (int i = 0; i < 60; ++i) {
    flood.push_back(std::make_unique<raw_client>(world.http_port()));
    REQUIRE(flood.back()->connected());
  }
  std::this_thread::sleep_for(300ms);
  std::size_t refused = 0;
  for (auto& c : flood)
    if (c->closed_by_server(20ms)) ++refused;
  CHECK(refused >= 20);  // everything beyond the cap is closed at once

  // Terminals have their own listener and caps: the flood does not touch them.
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(1));

  flood.clear();
  CHECK(recovers_within(world, 5s));
  CHECK(metric(world, "http_connections_refused_total") >= 20);
}

TEST_CASE("one address cannot take more than its share of console connections", "[e2e]") {
  server_options options;
  options.http_keys = "max_connections_per_address = 8\n";
  e2e_world world(options);
  std::vector<std::unique_ptr<raw_client>> flood;
  for (int i = 0; i < 12; ++i)
    flood.push_back(std::make_unique<raw_client>(world.http_port()));
  std::this_thread::sleep_for(300ms);
  std::size_t refused = 0;
  for (auto& c : flood)
    if (c->closed_by_server(20ms)) ++refused;
  // At most 8 held at once; a connection of the start-up health check may still hold a place.
  CHECK(flood.size() - refused <= 8);
  CHECK(refused >= 4);
  flood.clear();
  CHECK(recovers_within(world, 5s));
}

TEST_CASE("with a small open-file limit, HTTP cannot take the terminals' descriptors", "[e2e]") {
  server_options options;
  options.nofile_limit = 192;
  options.http_keys = "max_connections_per_address = 10000\n";
  e2e_world world(options);
  std::vector<std::unique_ptr<raw_client>> flood;
  for (int i = 0; i < 250; ++i)
    flood.push_back(std::make_unique<raw_client>(world.http_port()));
  std::this_thread::sleep_for(500ms);
  std::size_t open = 0;
  for (auto& c : flood)
    if (!c->closed_by_server(5ms)) ++open;
  CHECK(open < 192 / 2);

  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(1));
  flood.clear();
  CHECK(recovers_within(world, 5s));
}

TEST_CASE("out of descriptors, the accept loops back off, log a bounded number of lines, recover",
          "[e2e]") {
  server_options options;
  options.nofile_limit = 128;
  options.auth_timeout_s = 30;
  options.http_keys = "max_connections_per_address = 10000\n";
  e2e_world world(options);
  const std::size_t lines_before = count_lines(world.server().log_text());
  // HTTP takes its share, then terminals take the rest and more: accept fails with EMFILE.
  std::vector<std::unique_ptr<raw_client>> flood;
  for (int i = 0; i < 200; ++i)
    flood.push_back(std::make_unique<raw_client>(world.http_port()));
  std::vector<std::unique_ptr<terminal_client>> terminals;
  for (int i = 0; i < 200; ++i) {
    terminals.push_back(std::make_unique<terminal_client>());
    terminals.back()->connect(world.terminal_port());
  }
  std::this_thread::sleep_for(3s);
  REQUIRE(world.server().running());
  const std::string log = world.server().log_text();
  const std::size_t accept_lines = count_lines_with(log, "accept failed");
  INFO("log lines during the flood: " << count_lines(log) - lines_before);
  CHECK(accept_lines >= 1);
  CHECK(accept_lines <= 8);  // at most one a second per listener
  CHECK(count_lines(log) - lines_before < 1500);

  flood.clear();
  terminals.clear();
  const auto cleared = std::chrono::steady_clock::now();
  REQUIRE(recovers_within(world, 10s));
  INFO("healthy again after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - cleared)
                                     .count()
                              << " ms");
  // The terminal listener may still be draining its backlog of closed connections: a terminal
  // retries as a real one would, a bounded number of times.
  std::unique_ptr<terminal_client> terminal;
  for (int attempt = 0; attempt < 20 && !terminal; ++attempt) {
    auto client = std::make_unique<terminal_client>();
    if (client->connect(world.terminal_port())) {
      const auto result = client->handshake(city::t2().id, city::t2().secret, 1);
      if (result && result->ok()) terminal = std::move(client);
    }
    if (!terminal) std::this_thread::sleep_for(250ms);
  }
  REQUIRE(terminal);
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK(terminal->wait_ack(1));
  CHECK(metric(world, "accept_failures_total") > 0);
}

// ---- logs ---------------------------------------------------------------------------------------

void hello_as(e2e_world& world, const std::string& terminal_id) {
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  v1::TerminalFrame hello;
  hello.mutable_hello()->set_terminal_id(terminal_id);
  hello.mutable_hello()->set_boot_id(1);
  REQUIRE(terminal.send_frame(hello));
  const auto challenge = terminal.read_frame();
  REQUIRE(challenge);
  REQUIRE(challenge->has_challenge());
  v1::TerminalFrame answer;
  answer.mutable_auth_answer()->set_hmac(std::string(32, 'x'));
  REQUIRE(terminal.send_frame(answer));
  CHECK(terminal.wait_closed(short_wait));
}

TEST_CASE("a terminal id with CR LF cannot forge a log line, and a long one is cut", "[e2e]") {
  e2e_world world;
  hello_as(world, "a\r\nlevel=critical fake");
  hello_as(world, std::string(3000, 'L') + "\n" + std::string(1000, 'M'));
  std::this_thread::sleep_for(200ms);
  const std::string log = world.server().log_text();
  std::istringstream in(log);
  bool escaped_seen = false;
  for (std::string line; std::getline(in, line);) {
    CHECK(line.rfind("level=critical fake", 0) == std::string::npos);
    if (line.find("fake") != std::string::npos) {
      CHECK(line.find("a\\r\\nlevel=critical fake") != std::string::npos);
      escaped_seen = true;
    }
    CHECK(line.size() < 1024);
    CHECK(line.find('\0') == std::string::npos);
  }
  CHECK(escaped_seen);
  CHECK(log.find(std::string(200, 'L')) == std::string::npos);
}

TEST_CASE("with log.format json every line is one JSON object, untrusted text included", "[e2e]") {
  server_options options;
  options.log_format = "json";
  e2e_world world(options);
  hello_as(world, "a\r\nlevel=critical \"fake\"");
  std::this_thread::sleep_for(200ms);
  const std::string log = world.server().log_text();
  std::istringstream in(log);
  std::size_t lines = 0;
  bool seen = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    INFO(line);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
    CHECK(line.find("\"level\":\"") != std::string::npos);
    CHECK(line.find("\"message\":\"") != std::string::npos);
    if (line.find("fake") != std::string::npos) {
      seen = true;
      // Escaped once for the log, then as JSON.
      CHECK(line.find(R"(a\\r\\nlevel=critical \"fake\")") != std::string::npos);
    }
  }
  CHECK(lines > 3);
  CHECK(seen);
}

// ---- authentication ----------------------------------------------------------------------------

TEST_CASE("an unknown terminal id is challenged and refused exactly like a wrong answer", "[e2e]") {
  e2e_world world;
  auto attempt = [&](const std::string& id) {
    terminal_client terminal;
    REQUIRE(terminal.connect(world.terminal_port()));
    const auto start = steady::now();
    const auto result = terminal.handshake(id, city::t2().secret, 1);
    REQUIRE(result);
    std::vector<v1::TerminalFrame> frames;
    CHECK(terminal.wait_closed(short_wait, &frames));
    return std::make_tuple(*result, frames, steady::now() - start);
  };
  const auto [unknown, unknown_after, unknown_time] = attempt("T-NOT-IN-REGISTRY");
  const auto [wrong, wrong_after, wrong_time] = attempt(city::t1().id);
  CHECK_FALSE(unknown.ok());
  CHECK_FALSE(wrong.ok());
  CHECK(unknown.reason() == wrong.reason());
  REQUIRE(unknown_after.size() == wrong_after.size());
  for (std::size_t i = 0; i < unknown_after.size(); ++i)
    CHECK(unknown_after[i].SerializeAsString() == wrong_after[i].SerializeAsString());
  CHECK(unknown_time < 500ms);
  CHECK(wrong_time < 500ms);
}

TEST_CASE("repeated failed authentication from one address is logged, throttled and counted",
          "[e2e]") {
  server_options options;
  options.server_keys = "auth_max_failures = 3\nauth_failure_window_s = 60\nauth_lockout_s = 60\n";
  e2e_world world(options);
  for (int i = 0; i < 3; ++i)
    CHECK(http_call(world.http_port(), method::get, "/api/v1/incidents", {},
                    "guess-0000000000000" + std::to_string(i))
              .status == 401);
  // Locked out: even the right token is refused for a while, on every channel.
  const auto locked =
      http_call(world.http_port(), method::get, "/api/v1/incidents", {}, auditor_token);
  CHECK(locked.status == 429);
  terminal_client terminal;
  REQUIRE(terminal.connect(world.terminal_port()));
  CHECK_FALSE(terminal.handshake(city::t1().id, city::t1().secret, 1));
  crew_client crew(world.http_port(), "c11");
  CHECK(crew.connect() == 429);
  // Open routes stay open.
  CHECK(healthy(world));
  CHECK(metric(world, "auth_failures_total") >= 3);
  CHECK(metric(world, "auth_throttled_total") >= 2);
  CHECK(count_lines_with(world.server().log_text(), "authentication failed") >= 1);
}

TEST_CASE(
    "a WebSocket from a foreign Origin is refused, one from the same host or with no Origin is not",
    "[e2e]") {
  e2e_world world;
  const std::string upgrade = "GET /ws/crew?crew=c11&token=" + crew_token_for("c11") +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(world.http_port()) +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n";
  {
    raw_client c(world.http_port());
    c.send(upgrade + "Origin: https://evil.example\r\n\r\n");
    c.wait_closed(2s);
    CHECK(c.received().rfind("HTTP/1.1 403", 0) == 0);
  }
  {
    raw_client c(world.http_port());
    c.send(upgrade + "Origin: http://127.0.0.1:" + std::to_string(world.http_port()) + "\r\n\r\n");
    c.wait_closed(500ms);
    CHECK(c.received().rfind("HTTP/1.1 101", 0) == 0);
  }
  crew_client crew(world.http_port(), "c12");  // sends no Origin, like a native app
  CHECK(crew.connect() == 101);
}

// ---- files --------------------------------------------------------------------------------------

TEST_CASE("the files and folders the server creates are private to its user", "[e2e]") {
  e2e_world world;
  auto terminal = world.terminal(city::t1());
  REQUIRE(terminal->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(terminal->wait_ack(1));
  const fs::path var = world.dir() / "var";
  struct stat st {};
  REQUIRE(::stat(var.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(var)) {
    INFO(entry.path());
    REQUIRE(::stat(entry.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 077) == 0);
    ++files;
  }
  CHECK(files >= 4);  // journal (and its WAL), outbox, registry copy, signing key
  for (const char* name : {"journal.db", "outbox.db", "registry.db", "journal-signing.pem"})
    CHECK(fs::exists(var / name));
}

// ---- stopping under load ------------------------------------------------------------------------

TEST_CASE("SIGTERM in the middle of alarms exits 0, flushed, with every acknowledged alarm kept",
          "[e2e]") {
  e2e_world world;
  const city::terminal* terminals[] = {&city::t1(), &city::t2(), &city::t3(), &city::t4()};
  for (int round = 0; round < 6; ++round) {
    INFO("round " << round);
    if (round > 0) world.start();
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::map<std::string, std::set<std::uint64_t>> acked;
    std::vector<std::thread> senders;
    for (const auto* t : terminals) {
      senders.emplace_back([&, t, round] {
        terminal_client client;
        if (!client.connect(world.terminal_port())) return;
        const auto boot = static_cast<std::uint64_t>(1000 + round);
        const auto result = client.handshake(t->id, t->secret, boot);
        if (!result || !result->ok()) return;
        // Up to 8 alarms in flight, 400 at most: bounded in count and, through the reads, time.
        std::uint64_t next = 1, acked_up_to = 0;
        const auto deadline = steady::now() + 5s;
        while (next <= 400 && steady::now() < deadline) {
          while (next <= acked_up_to + 8 && next <= 400 && !stop)
            if (!client.send_event(next++, v1::EVENT_TRAPPED_BETWEEN_FLOORS)) return;
          const auto frame = client.read_frame(500ms);
          if (!frame) {
            if (client.closed()) return;
            continue;
          }
          if (frame->has_ack()) {
            acked_up_to = std::max(acked_up_to, frame->ack().seq());
            std::lock_guard lock(mutex);
            acked[t->id].insert(frame->ack().seq());
          } else if (frame->has_ping()) {
            v1::TerminalFrame pong;
            pong.mutable_pong()->set_nonce(frame->ping().nonce());
            client.send_frame(pong);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 70 * round));
    const int status = world.server().terminate(10s);
    stop = true;
    for (auto& s : senders)
      s.join();
    const std::string log = world.server().log_tail(20000);
    INFO(log);
    REQUIRE(status != -1);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(log.find("journal flushed") != std::string::npos);
    CHECK(log.find("journal append failed") == std::string::npos);

    std::size_t total_acked = 0;
    for (const auto& [id, seqs] : acked)
      total_acked += seqs.size();
    CHECK(total_acked > 0);
    // Every acknowledged alarm is in the journal.
    storage::sqlite_journal_config jc;
    jc.path = world.dir() / "var" / "journal.db";
    jc.read_only = true;
    std::error_code ec;
    auto journal = storage::sqlite_journal::open(jc, ec);
    REQUIRE(journal);
    std::map<std::string, std::set<std::uint64_t>> journaled;
    v1::Event e;
    REQUIRE_FALSE(journal->scan(1, journal->last_seq(), [&](const storage::journal_record& r) {
      if (!r.parse(e)) return true;
      const v1::AlarmInfo* alarm = e.has_opened()   ? &e.opened().alarm()
                                   : e.has_merged() ? &e.merged().alarm()
                                                    : nullptr;
      if (alarm && alarm->terminal_boot_id() == static_cast<std::uint64_t>(1000 + round))
        journaled[alarm->terminal_id()].insert(alarm->terminal_seq());
      return true;
    }));
    for (const auto& [id, seqs] : acked)
      for (const auto seq : seqs) {
        INFO(id << " seq " << seq);
        CHECK(journaled[id].count(seq) == 1);
      }
  }
}

}  // namespace
}  // namespace rescue::e2e
