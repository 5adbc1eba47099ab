// The lease of a Redis store and its fencing token, against a real redis-server on loopback: one
// writer at a time, a standby that takes over when the owner lets go or its lease lapses, and an
// old owner that wakes after a takeover cannot append a single record.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "backends.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::test {
namespace {

using namespace std::chrono_literals;

// What a lease told its owner, for the checks.
struct lease_log {
  std::mutex mu;
  std::string acquired_as;
  std::string fence;
  std::string waited_on;
  std::string lost;
  std::atomic<int> lost_calls{0};
};

storage::redis_store_config leased(const redis_server& redis, std::string_view store,
                                   std::string owner, std::chrono::milliseconds ttl,
                                   std::chrono::milliseconds wait, lease_log& log) {
  storage::redis_store_config c;
  c.endpoint = redis.endpoint();
  c.store = std::string(store);
  c.lease.enabled = true;
  c.lease.owner = std::move(owner);
  c.lease.ttl = ttl;
  c.lease.wait = wait;
  c.lease.on_acquired = [&log](const std::string& owner, const std::string& fence) {
    std::lock_guard lock(log.mu);
    log.acquired_as = owner;
    log.fence = fence;
  };
  c.lease.on_waiting = [&log](const std::string& holder, std::chrono::milliseconds) {
    std::lock_guard lock(log.mu);
    log.waited_on = holder;
  };
  c.lease.on_lost = [&log](const std::string& why) {
    std::lock_guard lock(log.mu);
    log.lost = why;
    ++log.lost_calls;
  };
  return c;
}

std::unique_ptr<storage::journal> open_writer(const storage::redis_store_config& c,
                                              std::error_code& ec) {
  return storage::open_redis_journal(c, storage::journal_writer_config{}, ec);
}

std::unique_ptr<storage::journal> open_reader(const redis_server& redis, std::string_view store) {
  storage::redis_store_config c;
  c.endpoint = redis.endpoint();
  c.store = std::string(store);
  storage::journal_writer_config w;
  w.read_only = true;
  std::error_code ec;
  auto j = storage::open_redis_journal(c, w, ec);
  REQUIRE(j);
  return j;
}

TEST_CASE(
    "a redis store has one leased writer: another waits and takes over the moment the owner "
    "gives the lease back",
    "[redis]") {
  redis_server redis;
  lease_log a_log, b_log;
  std::error_code ec;
  auto a = open_writer(leased(redis, "lease1", "dispatch-a", 10s, -1ms, a_log), ec);
  REQUIRE(a);
  CHECK(a_log.acquired_as.starts_with("dispatch-a/"));
  CHECK(a_log.fence == "1");
  REQUIRE_FALSE(append_wait(*a, {note_event(1, "a1")}).ec);
  CHECK(redis.run({"GET", storage::redis_keys("lease1").lease}).str == a_log.acquired_as);

  // While A holds it, B gives up after its wait, having been told who holds the store.
  const auto b_config = leased(redis, "lease1", "dispatch-b", 10s, 300ms, b_log);
  CHECK_FALSE(open_writer(b_config, ec));
  CHECK(ec == storage::journal_errc::lease_held);
  CHECK(b_log.waited_on == a_log.acquired_as);

  // A closes and gives the lease back: B, waiting, has the store at once, not a lease later.
  std::thread closer([&] {
    std::this_thread::sleep_for(200ms);
    a->close();
  });
  auto b_waiting = b_config;
  b_waiting.lease.wait = 5s;
  const auto started = std::chrono::steady_clock::now();
  auto b = open_writer(b_waiting, ec);
  closer.join();
  REQUIRE(b);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  CHECK(b_log.fence == "2");
  // The chain goes on where A left it.
  const auto appended = append_wait(*b, {note_event(1, "b1")});
  REQUIRE_FALSE(appended.ec);
  CHECK(appended.seqs == std::vector<std::uint64_t>{2});
  b->close();
  auto reader = open_reader(redis, "lease1");
  const auto result = storage::verify_journal(*reader);
  INFO(result.reason);
  CHECK(result.ok());
  CHECK(result.records_checked == 2);
}

TEST_CASE(
    "an owner that wakes after its store was taken over cannot append: the token is checked "
    "in the append itself",
    "[redis]") {
  redis_server redis;
  lease_log a_log, b_log;
  std::error_code ec;
  // A long lease: A's renewal does not come round during the case, so only the append's own
  // check can stop it.
  auto a = open_writer(leased(redis, "lease2", "old-owner", 60s, -1ms, a_log), ec);
  REQUIRE(a);
  REQUIRE_FALSE(append_wait(*a, {note_event(1, "before")}).ec);

  // A freezes past its lease (here: the lease key expires under it), B takes the store over.
  redis.run({"DEL", storage::redis_keys("lease2").lease});
  auto b = open_writer(leased(redis, "lease2", "new-owner", 60s, 1s, b_log), ec);
  REQUIRE(b);
  CHECK(b_log.fence == "2");

  // A wakes up and appends as if nothing happened: refused whole, nothing stored.
  const auto stale = append_wait(*a, {note_event(2, "stale"), note_event(2, "stale too")});
  CHECK(stale.ec == storage::journal_errc::fenced);
  CHECK(stale.seqs.empty());
  CHECK(a_log.lost_calls == 1);
  CHECK_FALSE(a->problem().empty());
  // It stays refused, and says so without asking Redis again.
  CHECK(append_wait(*a, {note_event(2, "again")}).ec == storage::journal_errc::fenced);
  CHECK(a_log.lost_calls == 1);

  const auto next = append_wait(*b, {note_event(1, "after")});
  REQUIRE_FALSE(next.ec);
  CHECK(next.seqs == std::vector<std::uint64_t>{2});
  std::vector<storage::journal_record> records;
  REQUIRE_FALSE(b->read_incident(2, records));
  CHECK(records.empty());
  // A's close must not give away B's lease.
  a->close();
  CHECK(redis.run({"GET", storage::redis_keys("lease2").lease}).str == b_log.acquired_as);
  b->close();
  CHECK(storage::verify_journal(*open_reader(redis, "lease2")).ok());
}

TEST_CASE("the renewal finds out about a takeover by itself and tells the owner once", "[redis]") {
  redis_server redis;
  lease_log a_log, b_log;
  std::error_code ec;
  auto a = open_writer(leased(redis, "lease3", "a", 600ms, -1ms, a_log), ec);
  REQUIRE(a);
  redis.run({"DEL", storage::redis_keys("lease3").lease});
  auto b = open_writer(leased(redis, "lease3", "b", 600ms, 1s, b_log), ec);
  REQUIRE(b);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (a_log.lost_calls == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(a_log.lost_calls == 1);
  {
    std::lock_guard lock(a_log.mu);
    INFO(a_log.lost);
    CHECK(a_log.lost.find("taken over") != std::string::npos);
  }
  CHECK(append_wait(*a, {note_event(1, "late")}).ec == storage::journal_errc::fenced);
  // B keeps its lease renewed well past one lease time.
  std::this_thread::sleep_for(900ms);
  CHECK(redis.run({"GET", storage::redis_keys("lease3").lease}).str == b_log.acquired_as);
  REQUIRE_FALSE(append_wait(*b, {note_event(1, "b")}).ec);
}

TEST_CASE("a lease that lapsed while nobody took the store is renewed under the same token",
          "[redis]") {
  redis_server redis;
  lease_log log;
  std::error_code ec;
  auto a = open_writer(leased(redis, "lease4", "a", 600ms, -1ms, log), ec);
  REQUIRE(a);
  redis.run({"DEL", storage::redis_keys("lease4").lease});  // lapsed during a stall
  REQUIRE_FALSE(append_wait(*a, {note_event(1, "still mine")}).ec);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (redis.run({"GET", storage::redis_keys("lease4").lease}).is_nil() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(redis.run({"GET", storage::redis_keys("lease4").lease}).str == log.acquired_as);
  CHECK(redis.run({"HGET", storage::redis_keys("lease4").meta, "fence"}).str == "1");
  CHECK(log.lost_calls == 0);
}

TEST_CASE("a standby keeps waiting through a redis restart and takes the store after it",
          "[redis]") {
  redis_server redis;
  lease_log a_log, b_log;
  std::error_code ec;
  auto a = open_writer(leased(redis, "lease6", "a", 1s, -1ms, a_log), ec);
  REQUIRE(a);
  std::unique_ptr<storage::journal> b;
  std::error_code b_ec;
  std::thread standby([&] { b = open_writer(leased(redis, "lease6", "b", 1s, 20s, b_log), b_ec); });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(b_log.mu);
      if (!b_log.waited_on.empty()) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  // Redis goes away under both; A dies meanwhile, so its lease lapses.
  redis.kill(SIGKILL);
  a.reset();
  std::this_thread::sleep_for(300ms);
  redis.start();
  standby.join();
  INFO(b_ec.message());
  REQUIRE(b);
  CHECK(b_log.fence == "2");
  REQUIRE_FALSE(append_wait(*b, {note_event(1, "after the restart")}).ec);
}

TEST_CASE("once a redis store has been leased, a writer without the lease cannot append",
          "[redis]") {
  redis_server redis;
  lease_log log;
  std::error_code ec;
  {
    auto a = open_writer(leased(redis, "lease5", "a", 5s, -1ms, log), ec);
    REQUIRE(a);
    REQUIRE_FALSE(append_wait(*a, {note_event(1, "leased")}).ec);
  }
  storage::redis_store_config plain;
  plain.endpoint = redis.endpoint();
  plain.store = "lease5";
  auto unleased = open_writer(plain, ec);
  REQUIRE(unleased);
  CHECK(append_wait(*unleased, {note_event(1, "unleased")}).ec == storage::journal_errc::fenced);
  CHECK(unleased->last_seq() == 1);
}

}  // namespace
}  // namespace rescue::test
