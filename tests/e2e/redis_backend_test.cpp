// The server on the Redis backend ([storage] backend = "redis") against a real redis-server on
// loopback: an incident survives kill -9 of the server, and while Redis is away nothing is
// acknowledged, /healthz says why, and service resumes by itself when Redis returns.
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "harness.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/open_storage.hpp"

namespace rescue::e2e {
namespace {

server_options on_redis(const test::redis_server& redis) {
  server_options o;
  o.storage_keys = "backend = \"redis\"\nredis_port = " + std::to_string(redis.port()) +
                   "\nredis_store = \"e2e\"\n";
  return o;
}

// Polls /healthz until its status is `want` (200 or 503); returns the last reply.
http_reply wait_health(e2e_world& world, int want, millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  http_reply r;
  do {
    r = http_call(world.http_port(), method::get, "/healthz", {}, {});
    if (r.status == want) return r;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

TEST_CASE("on the redis backend an incident survives kill -9 of the server and verifies",
          "[e2e][redis]") {
  test::redis_server redis;
  auto options = on_redis(redis);
  options.offer_timeout_s = 30;
  e2e_world world(options);

  auto crew = world.crew_at("c11", city::north(450), city::lon);
  std::uint64_t id = 0;
  {
    auto terminal = world.terminal(city::t1(), 77);
    REQUIRE(terminal->send_event(5, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
    REQUIRE(terminal->wait_ack(5));
    const auto offer = crew->wait_offer();
    REQUIRE(offer);
    id = offer->incident_id();
    world.server().kill_hard();
  }
  // The journal is in Redis, not in a file beside the config.
  CHECK_FALSE(fs::exists(world.dir() / "var" / "journal.db"));
  const auto length = redis.run({"XLEN", "rescue:{e2e}:journal"});
  CHECK(length.integer >= 2);

  world.start();
  const auto view = world.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_OFFERED);
  CHECK(view.offered_crew_id() == "c11");

  const auto verify =
      http_call(world.http_port(), method::get, "/api/v1/journal/verify", {}, auditor_token);
  INFO(verify.body);
  CHECK(verify.status == 200);
  CHECK(verify.body.find("\"ok\":true") != std::string::npos);

  // The audit tool reads the same store while the server runs.
  const std::string location = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/e2e";
  const std::string rescuectl = std::string(RESCUE_BIN_DIR) + "/rescuectl";
  for (const char* command : {"verify", "replay"}) {
    const std::string line =
        rescuectl + " " + command + " --journal " + location + " > /dev/null 2>&1";
    INFO(line);
    const int status = std::system(line.c_str());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("with redis down nothing is acknowledged and healthz says why until redis returns",
          "[e2e][redis]") {
  test::redis_server redis;
  e2e_world world(on_redis(redis));
  auto first = world.terminal(city::t1(), 1);
  REQUIRE(first->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(first->wait_ack(1));
  const auto first_incident = world.wait_incident_for(city::t1().elevator_id);

  redis.kill(SIGKILL);
  const auto down = wait_health(world, 503, 10s);
  INFO(down.body);
  REQUIRE(down.status == 503);
  CHECK(down.body.find("\"status\":\"not_ready\"") != std::string::npos);
  CHECK(down.body.find("\"reason\":\"") != std::string::npos);

  auto second = world.terminal(city::t2(), 1);
  REQUIRE(second->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK_FALSE(second->wait_ack(1, 3s));  // not durable: no ack

  redis.start();  // same port, same AOF: the first alarm is still there
  CHECK(second->wait_ack(1, 15s));
  const auto up = wait_health(world, 200, 10s);
  INFO(up.body);
  CHECK(up.status == 200);
  const auto second_incident = world.wait_incident_for(city::t2().elevator_id);
  CHECK(second_incident != first_incident);
  CHECK(world.incident(first_incident).id() == first_incident);
}

// Every terminal frame the journal holds as an alarm (opened or merged): (terminal, seq).
std::set<std::pair<std::string, std::uint64_t>> journalled_frames(storage::journal& journal) {
  std::set<std::pair<std::string, std::uint64_t>> frames;
  REQUIRE_FALSE(journal.scan(1, journal.last_seq(), [&](const storage::journal_record& r) {
    v1::Event e;
    if (!r.parse(e)) return true;
    const v1::AlarmInfo* alarm = e.has_opened()   ? &e.opened().alarm()
                                 : e.has_merged() ? &e.merged().alarm()
                                                  : nullptr;
    if (alarm) frames.emplace(alarm->terminal_id(), alarm->terminal_seq());
    return true;
  }));
  return frames;
}

// One terminal sending alarm frames as a car's terminal does: the next frame only once the last
// is acknowledged, the same frame again until it is. Runs on a thread of its own: no Catch2.
struct resending_terminal {
  std::unique_ptr<terminal_client> client;
  std::string id;
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> acked;
  bool closed = false;

  void run(const std::atomic<bool>& stop) {
    std::uint64_t seq = 1;
    while (!stop) {
      if (!client->send_event(seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS)) break;
      if (client->wait_ack(seq, 300ms)) {
        std::lock_guard lock(mu);
        acked.emplace_back(seq++, std::chrono::steady_clock::now());
        std::this_thread::sleep_for(20ms);
      } else if (client->closed()) {
        break;
      }
    }
    std::lock_guard lock(mu);
    closed = client->closed();
  }
};

// Terminals of the test city sending alarms on threads of their own until stop(), and what was
// acknowledged to them, counted by time.
class terminal_load {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  terminal_load(e2e_world& world, std::initializer_list<const city::terminal*> which,
                std::uint64_t boot_id) {
    for (const auto* t : which) {
      auto rt = std::make_unique<resending_terminal>();
      rt->client = world.terminal(*t, boot_id);
      rt->id = t->id;
      terminals_.push_back(std::move(rt));
    }
    for (auto& t : terminals_)
      threads_.emplace_back([&t, this] { t->run(stop_); });
  }
  ~terminal_load() { stop(); }

  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  // Acknowledgements that came after `from` and before `to`.
  std::size_t acked_between(time_point from, time_point to = time_point::max()) {
    std::size_t n = 0;
    for (auto& t : terminals_) {
      std::lock_guard lock(t->mu);
      for (const auto& [seq, at] : t->acked)
        n += at > from && at < to ? 1 : 0;
    }
    return n;
  }
  std::size_t acked_total() { return acked_between(time_point::min()); }

  // Whether every terminal has had an acknowledgement after `t`.
  bool all_acked_after(time_point t) {
    for (auto& rt : terminals_) {
      std::lock_guard lock(rt->mu);
      if (rt->acked.empty() || rt->acked.back().second <= t) return false;
    }
    return true;
  }

  // Terminals whose connection the server closed.
  std::size_t closed() {
    std::size_t n = 0;
    for (auto& t : terminals_) {
      std::lock_guard lock(t->mu);
      n += t->closed ? 1 : 0;
    }
    return n;
  }

  // Acknowledged frames the journal does not hold as alarms of their terminal.
  std::size_t missing_from(storage::journal& journal) {
    const auto journalled = journalled_frames(journal);
    std::size_t missing = 0;
    for (auto& t : terminals_) {
      std::lock_guard lock(t->mu);
      for (const auto& [seq, at] : t->acked)
        if (!journalled.count({t->id, seq})) ++missing;
    }
    return missing;
  }

 private:
  std::vector<std::unique_ptr<resending_terminal>> terminals_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

TEST_CASE(
    "redis frozen for 30 s under alarm load: nothing is acknowledged meanwhile, everything "
    "acknowledged is in the journal, and service resumes by itself",
    "[e2e][redis]") {
  test::redis_server redis;
  e2e_world world(on_redis(redis));
  terminal_load load(world, {&city::t1(), &city::t2(), &city::t3(), &city::t4()}, 9);
  std::this_thread::sleep_for(3s);
  const std::size_t before = load.acked_total();

  redis.pause();
  const auto frozen_at = std::chrono::steady_clock::now();
  // The append in flight gives up after the command timeout; /healthz says why.
  const auto down = wait_health(world, 503, 15s);
  INFO(down.body);
  CHECK(down.status == 503);
  std::this_thread::sleep_until(frozen_at + 30s);
  const auto acked_while_frozen = load.acked_total();
  redis.resume();
  const auto resumed_at = std::chrono::steady_clock::now();
  const auto up = wait_health(world, 200, 20s);
  CHECK(up.status == 200);
  // Every terminal gets through again.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool resumed = false;
  while (!(resumed = load.all_acked_after(resumed_at + 100ms)) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  load.stop();
  INFO(before << " acknowledged before the freeze, " << acked_while_frozen - before
              << " in the first moments of it, " << load.acked_total() << " in all");
  CHECK(before >= 8);
  CHECK(resumed);
  CHECK(load.closed() == 0);
  // No acknowledgement while Redis was frozen (one already on its way when it froze aside).
  CHECK(load.acked_between(frozen_at + 200ms, resumed_at) == 0);

  // Every acknowledged frame is in the journal as an alarm of its terminal.
  std::error_code ec;
  auto journal = storage::open_journal_for_audit(
      "redis://127.0.0.1:" + std::to_string(redis.port()) + "/e2e", ec);
  REQUIRE(journal);
  CHECK(load.missing_from(*journal) == 0);
  const auto verify = storage::verify_journal(*journal);
  INFO(verify.reason);
  CHECK(verify.ok());
}

TEST_CASE(
    "on a redis cluster, kill -9 of the store's master under alarm load: the replica takes "
    "over, dispatch goes on and no acknowledged alarm is lost",
    "[e2e][redis]") {
  test::redis_cluster cluster;
  server_options o;
  o.storage_keys =
      "backend = \"redis\"\nredis_store = \"e2e\"\nredis_wait_replicas = 1\n"
      "redis_cluster_nodes = [";
  for (const auto& seed : cluster.seeds())
    o.storage_keys += "\"" + seed + "\", ";
  o.storage_keys += "]\n";
  e2e_world world(o);
  const auto started = std::chrono::steady_clock::now();
  terminal_load load(world, {&city::t1(), &city::t2()}, 4);
  std::this_thread::sleep_for(2s);
  CHECK(load.acked_between(started) >= 4);

  cluster.master_of(storage::redis_keys("e2e").slot).kill(SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  const auto deadline = killed_at + 30s;
  while (load.acked_between(killed_at) < 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  const auto health = http_call(world.http_port(), method::get, "/healthz");
  load.stop();
  CHECK(load.acked_between(killed_at) >= 20);
  // The promoted replica has none of its own: going on, and saying so.
  INFO(health.body);
  CHECK(health.status == 200);
  CHECK(health.body.find("\"status\":\"degraded\"") != std::string::npos);

  // An alarm after the failover opens an incident and reaches a crew as before.
  auto crew = world.crew_at("c11", city::north(450), city::lon);
  auto third = world.terminal(city::t3(), 1);
  REQUIRE(third->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(third->wait_ack(1, 10s));
  CHECK(crew->wait_offer(0, 10s));

  std::error_code ec;
  auto journal =
      storage::open_journal_for_audit("redis-cluster://" + cluster.seeds().front() + "/e2e", ec);
  REQUIRE(journal);
  INFO(load.acked_total() << " alarms acknowledged");
  CHECK(load.missing_from(*journal) == 0);
  CHECK(storage::verify_journal(*journal).ok());
}

}  // namespace
}  // namespace rescue::e2e
