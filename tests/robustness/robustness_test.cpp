// Hostile and broken clients on every port of a real rescue-dispatchd: malformed and oversized
// input, slow clients, connection floods. After each attack the server still answers, a
// terminal alarm is still acknowledged and opens an incident, memory stays bounded, and the
// journal verifies. Every loop is bounded in count and time; traffic stays on loopback.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

using steady = std::chrono::steady_clock;

// A raw loopback TCP connection whose every operation is bounded by a deadline.
class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (r == 0) {
      connected_ = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd_, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      connected_ = ::poll(&p, 1, 2000) == 1 &&
                   ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  ~raw_connection() { close(); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends what the server takes within `timeout`; false when it closed or stopped reading.
  bool send(std::string_view bytes, millis timeout = 2s) {
    const auto deadline = steady::now() + timeout;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      const auto left = std::chrono::duration_cast<millis>(deadline - steady::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left));
    }
    return true;
  }

  // Reads until the server closes or `timeout`; returns what arrived. `closed` tells which.
  std::string read_until_closed(millis timeout, bool* closed = nullptr) {
    const auto deadline = steady::now() + timeout;
    std::string got;
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        got.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        if (closed) *closed = true;
        return got;
      }
      const auto left = std::chrono::duration_cast<millis>(deadline - steady::now()).count();
      if (left <= 0) {
        if (closed) *closed = false;
        return got;
      }
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string be32(std::uint32_t n) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(n >> 24);
  s[1] = static_cast<char>(n >> 16);
  s[2] = static_cast<char>(n >> 8);
  s[3] = static_cast<char>(n);
  return s;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

// Resident memory of the server process, from /proc.
std::size_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

// What every attack must leave intact.
class survival {
 public:
  explicit survival(e2e_world& world) : world_(world) {
    REQUIRE(world_.server().running());
    baseline_kib_ = rss_kib(world_.server().pid());
    REQUIRE(baseline_kib_ > 0);
  }

  void check(const char* after) {
    INFO("after " << after << "; server log:\n" << world_.server().log_tail());
    REQUIRE(world_.server().running());
    const auto health = http_call(world_.http_port(), method::get, "/healthz");
    CHECK(health.status == 200);
    // An alarm is still acknowledged and acted on.
    auto terminal = world_.terminal(city::t3());
    ++seq_;
    REQUIRE(terminal->send_event(seq_, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    CHECK(terminal->wait_ack(seq_));
    CHECK(world_.wait_incident_for("E3") > 0);
    const auto verify =
        http_call(world_.http_port(), method::get, "/api/v1/journal/verify", {}, auditor_token);
    CHECK(verify.status == 200);
    CHECK(verify.body.find("\"ok\":true") != std::string::npos);
    // Bounded: the attacks below send tens of megabytes; none of it may stay.
    const std::size_t now_kib = rss_kib(world_.server().pid());
    INFO("RSS " << baseline_kib_ << " KiB before, " << now_kib << " KiB after");
    CHECK(now_kib < baseline_kib_ + 64 * 1024);
  }

 private:
  e2e_world& world_;
  std::size_t baseline_kib_ = 0;
  std::uint64_t seq_ = 0;
};

TEST_CASE("garbage, oversized and malformed frames on the terminal port leave the server serving",
          "[robustness]") {
  e2e_world world;
  survival alive(world);
  std::mt19937_64 rng(96333);

  for (int i = 0; i < 100; ++i) {
    raw_connection c(world.terminal_port());
    REQUIRE(c.connected());
    c.send(random_bytes(rng, 1 + rng() % 3000), 500ms);
  }
  alive.check("random bytes");

  const std::vector<std::string> hostile = {
      be32(0xFFFFFFFFu),                                     // a 4 GiB frame announced
      be32(0),                                               // an empty frame
      be32(1 << 20) + std::string(70000, 'x'),               // far over max_frame_bytes
      be32(3) + "\xff\xff\xff",                              // not protobuf
      be32(6) + std::string("\x0a\x04\x08\x01\x10\x02", 6),  // a nested message where a string is
      std::string(1, '\0'),                                  // half a length prefix, then silence
  };
  for (const auto& bytes : hostile) {
    raw_connection c(world.terminal_port());
    REQUIRE(c.connected());
    c.send(bytes, 500ms);
    c.read_until_closed(300ms);
  }
  alive.check("hostile frames");

  // An authenticated terminal sending nonsense after the handshake loses only its own session.
  for (int i = 0; i < 20; ++i) {
    auto t = world.terminal(city::t1());
    t->send_raw(be32(200) + random_bytes(rng, 200));
    t->wait_closed(1s);
  }
  alive.check("garbage after authentication");
}

TEST_CASE("malformed, oversized and hostile HTTP requests leave the server serving",
          "[robustness]") {
  using namespace std::string_literals;
  e2e_world world;
  survival alive(world);
  std::mt19937_64 rng(110119);

  for (int i = 0; i < 100; ++i) {
    raw_connection c(world.http_port());
    REQUIRE(c.connected());
    c.send(random_bytes(rng, 1 + rng() % 3000), 500ms);
    c.read_until_closed(100ms);
  }
  alive.check("random bytes");

  const std::string big(100 * 1024, 'a');
  const std::vector<std::string> hostile = {
      // A chunked request with a trailer over 64 KiB.
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n1\r\na\r\n0\r\nX-T: " +
          big + "\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + big +
          "\r\n\r\n",
      // A header over any limit, a field name over 64 KiB, a target over 64 KiB.
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + ": v\r\n\r\n",
      "GET /" + big + " HTTP/1.1\r\nHost: x\r\n\r\n",
      // A body announced far beyond the limit, and a chunk size that overflows.
      "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\nabc",
      "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "FFFFFFFFFFFFFFFFFF\r\n",
      // Control characters, NUL and traversal in the target; a bogus method.
      "GET /%00/../../etc/passwd\0\r\n HTTP/1.1\r\nHost: x\r\n\r\n"s,
      "GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
      "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
      // A WebSocket upgrade with a broken key, and one with no token.
      "GET /ws/crew HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: !!\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      // Malformed JSON with a valid operator token.
      "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
          std::string(operator_token) +
          "\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":[[[[",
  };
  for (const auto& request : hostile) {
    raw_connection c(world.http_port());
    REQUIRE(c.connected());
    c.send(request, 1s);
    c.read_until_closed(500ms);
  }
  alive.check("hostile requests");

  // Deeply nested and oversized JSON bodies through the real parser.
  const std::string nested = std::string(5000, '[') + std::string(5000, ']');
  world.post("/api/v1/incidents", nested);
  world.post("/api/v1/incidents", "{\"rescue_code\":\"" + std::string(60000, '9') + "\"}");
  world.post("/api/v1/incidents/1/notes", "{\"text\":\"" + std::string(60000, 'n') + "\"}");
  alive.check("hostile JSON bodies");
}

TEST_CASE("slow clients and connection floods are cut off while terminals keep getting in",
          "[robustness]") {
  server_options options;
  options.auth_timeout_s = 2;
  e2e_world world(options);
  survival alive(world);

  // Connections that say nothing, on both ports.
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<raw_connection>(world.http_port()));
    idle.push_back(std::make_unique<raw_connection>(world.terminal_port()));
  }
  // Terminals still authenticate and are acknowledged while the flood holds its sockets.
  alive.check("an idle flood");

  // A slow client dribbling a request header byte by byte, bounded to a few seconds.
  raw_connection slow(world.http_port());
  REQUIRE(slow.connected());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto until = steady::now() + 3s;
  for (std::size_t i = 0; steady::now() < until; ++i) {
    if (!slow.send(std::string(1, request[i % request.size()]), 200ms)) break;
    std::this_thread::sleep_for(100ms);
  }
  // Unauthenticated terminal sockets of the flood are dropped at the auth deadline.
  bool closed = false;
  idle[1]->read_until_closed(4s, &closed);
  CHECK(closed);
  idle.clear();
  alive.check("a slow client");
}

}  // namespace
}  // namespace rescue::e2e
