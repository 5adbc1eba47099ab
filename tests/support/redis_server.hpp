// A real redis-server for a test: started on a free loopback port in its own folder with the
// production durability settings (AOF, fsync on every write), stopped with the fixture. Can be
// killed and restarted on the same port and data, the way a crash and recovery go.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "journal_test_util.hpp"
#include "rescue/storage/redis_connection.hpp"

namespace rescue::test {

// A port nothing listens on right now (the kernel's choice of an ephemeral one).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// True when nothing listens on loopback `port` right now.
inline bool loopback_port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return free;
}

// A port for a cluster node: it and its cluster bus port (port + 10000) are both free, which an
// ephemeral port's bus port (above 65535) often cannot be.
inline int free_cluster_node_port() {
  static int next = 21000 + static_cast<int>(::getpid() % 97) * 100;
  for (int tries = 0; tries < 2000; ++tries) {
    const int port = next;
    next = next + 1 >= 31000 ? 21000 : next + 1;
    if (loopback_port_free(port) && loopback_port_free(port + 10000)) return port;
  }
  FAIL("no free port pair for a cluster node");
  return 0;
}

class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra_args = {})
      : extra_(std::move(extra_args)),
        port_(std::find(extra_.begin(), extra_.end(), "--cluster-enabled") != extra_.end()
                  ? free_cluster_node_port()
                  : free_loopback_port()) {
    start();
  }
  ~redis_server() { kill(SIGKILL); }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  int port() const { return port_; }
  storage::redis_endpoint endpoint() const {
    storage::redis_endpoint e;
    e.port = port_;
    e.connect_timeout = std::chrono::milliseconds(500);
    e.command_timeout = std::chrono::seconds(5);
    return e;
  }
  bool running() const { return pid_ > 0; }

  // Starts it (again) on the same port and data folder, and waits until it answers PING.
  void start() {
    REQUIRE(pid_ == 0);
    std::vector<std::string> args{RESCUE_REDIS_SERVER,
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  dir_.path().string(),
                                  "--appendonly",
                                  "yes",
                                  "--appendfsync",
                                  "always",
                                  "--save",
                                  "",
                                  "--daemonize",
                                  "no",
                                  "--loglevel",
                                  "warning",
                                  "--logfile",
                                  (dir_ / "redis.log").string()};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      storage::redis_connection c(endpoint());
      storage::redis_reply r;
      if (!c.command({"PING"}, r) && r.str == "PONG") return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        FAIL("redis-server exited at start-up; see " << (dir_ / "redis.log").string());
      }
      if (std::chrono::steady_clock::now() > deadline) FAIL("redis-server did not answer PING");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // SIGKILL (a crash) or SIGTERM (a clean stop), and waits for the process to go.
  void kill(int sig = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  // Freezes the server (SIGSTOP) or lets it go on (SIGCONT): a pause without losing anything.
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  // Runs one command on a fresh connection; REQUIREs that it worked.
  storage::redis_reply run(const storage::redis_args& args) const {
    storage::redis_connection c(endpoint());
    storage::redis_reply r;
    const auto ec = c.command(args, r);
    INFO(c.last_error());
    REQUIRE_FALSE(ec);
    return r;
  }

 private:
  std::vector<std::string> extra_;
  scratch_dir dir_;
  int port_;
  pid_t pid_ = 0;
};

}  // namespace rescue::test
