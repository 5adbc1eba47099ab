// The cluster side of the Redis backend against a real Redis Cluster of 3 masters + 3 replicas
// on loopback: hash slots as the servers compute them, and a store reached through any seed.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "backends.hpp"
#include "redis_cluster.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::test {
namespace {

using storage::journal_record;

TEST_CASE("redis key slots are CRC16 of the key or its hash tag", "[redis][unit]") {
  using storage::redis_key_slot;
  CHECK(redis_key_slot("123456789") == 0x31C3 % 16384);  // the CRC16-XMODEM check value
  CHECK(redis_key_slot("foo") == 12182);
  CHECK(redis_key_slot("{user1000}.following") == redis_key_slot("{user1000}.followers"));
  CHECK(redis_key_slot("{user1000}.following") == redis_key_slot("user1000"));
  CHECK(redis_key_slot("foo{}{bar}") != redis_key_slot("bar"));  // empty tag: the whole key
  CHECK(redis_key_slot("foo{{bar}}zap") == redis_key_slot("{bar"));
  CHECK(redis_key_slot("foo{bar}{zap}") == redis_key_slot("bar"));
}

TEST_CASE(
    "on a redis cluster a store is reached through any seed and its slot agrees with the "
    "servers",
    "[redis]") {
  redis_cluster cluster;
  for (const char* key : {"rescue:{city}:meta", "rescue:{yuzhong}:journal", "plain-key", "{}x"})
    CHECK(cluster.node(0).run({"CLUSTER", "KEYSLOT", key}).integer == storage::redis_key_slot(key));

  storage::redis_store_config config;
  config.store = "yuzhong";
  const storage::redis_keys keys(config.store);
  // A seed list that starts with a node which does not serve the store: MOVED is followed.
  auto& master = cluster.master_of(keys.slot);
  config.endpoint = cluster.endpoint();
  for (std::size_t i = 0; i < cluster.size(); ++i)
    if (cluster.node(i).port() != master.port()) {
      config.endpoint.cluster_nodes.insert(config.endpoint.cluster_nodes.begin(),
                                           "127.0.0.1:" + std::to_string(cluster.node(i).port()));
      break;
    }
  config.wait_replicas = 1;

  storage::journal_writer_config wc;
  std::error_code ec;
  auto j = storage::open_redis_journal(config, wc, ec);
  INFO(ec.message());
  REQUIRE(j);
  for (int i = 0; i < 20; ++i) {
    std::promise<std::error_code> done;
    j->append({note_event(1, "n" + std::to_string(i))}, {{"fire_escalation", 1, "", "{}"}},
              [&](std::error_code e, std::vector<std::uint64_t>) { done.set_value(e); });
    REQUIRE_FALSE(done.get_future().get());
  }
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_incident(1, records));
  CHECK(records.size() == 20);
  auto outbox = storage::open_redis_outbox(config, ec);
  REQUIRE(outbox);
  std::size_t pending = 0;
  REQUIRE_FALSE(outbox->pending(pending));
  CHECK(pending == 20);
  // The records live on the slot's master (and its replica), not on the node asked first.
  CHECK(master.run({"XLEN", keys.journal}).integer == 20);
}

TEST_CASE(
    "kill -9 of the store's redis master under appends: its replica takes over, appends go on "
    "and every acknowledged one is there",
    "[redis]") {
  redis_cluster cluster;
  storage::redis_store_config config;
  config.store = "failover";
  config.endpoint = cluster.endpoint();
  config.endpoint.command_timeout = std::chrono::seconds(2);
  config.wait_replicas = 1;
  config.retry_pause_limit = std::chrono::milliseconds(200);
  const storage::redis_keys keys(config.store);
  std::error_code ec;
  auto j = storage::open_redis_journal(config, storage::journal_writer_config{}, ec);
  INFO(ec.message());
  REQUIRE(j);

  // Four producers, each waiting for its append to be durable before the next, as terminals
  // waiting for their acks do. Bounded in count and time.
  constexpr int producers = 4;
  constexpr int per_producer = 400;
  std::atomic<bool> stop{false};
  std::atomic<int> acked_after_kill{0};
  std::atomic<bool> killed{false};
  std::chrono::steady_clock::time_point first_after_kill;  // under mu
  std::mutex mu;
  std::map<std::uint64_t, std::string> acked;  // seq -> text
  std::vector<std::thread> threads;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer && !stop && std::chrono::steady_clock::now() < give_up;
           ++i) {
        const std::string text = "p" + std::to_string(p) + "-" + std::to_string(i);
        const auto r = append_wait(*j, {note_event(static_cast<std::uint64_t>(p + 1), text)});
        if (r.ec || r.seqs.size() != 1) continue;  // not acknowledged: a terminal would resend
        std::lock_guard lock(mu);
        acked.emplace(r.seqs.at(0), text);
        if (killed && acked_after_kill++ == 0) first_after_kill = std::chrono::steady_clock::now();
      }
    });
  const auto count_acked = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  while (count_acked() < 100 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto& master = cluster.master_of(keys.slot);
  master.kill(SIGKILL);
  killed = true;
  const auto killed_at = std::chrono::steady_clock::now();
  // Dispatch goes on: appends are acknowledged again once the replica is promoted.
  while (acked_after_kill < 50 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto resumed_after = [&] {
    std::lock_guard lock(mu);
    return first_after_kill - killed_at;
  }();
  const std::string degraded = j->degraded();
  stop = true;
  // An append still retrying (the test about to fail) gives up: the producers end.
  j->close();
  for (auto& t : threads)
    t.join();
  INFO("first append acknowledged "
       << std::chrono::duration_cast<std::chrono::milliseconds>(resumed_after).count()
       << " ms after the kill; degraded: " << degraded);
  CHECK(acked_after_kill >= 50);
  // The promoted replica has no replica of its own: the journal says so while it goes on.
  CHECK(degraded.find("0 of the 1 replica") != std::string::npos);

  // Every acknowledged append is in the journal, as acknowledged, and the chain is whole.
  storage::journal_writer_config ro;
  ro.read_only = true;
  auto reader = storage::open_redis_journal(config, ro, ec);
  REQUIRE(reader);
  std::size_t missing = 0;
  std::map<std::uint64_t, std::string> stored;
  REQUIRE_FALSE(reader->scan(1, reader->last_seq(), [&](const journal_record& r) {
    v1::Event e;
    stored.emplace(r.seq, r.parse(e) ? e.note().text() : std::string("(unreadable)"));
    return true;
  }));
  for (const auto& [seq, text] : acked) {
    const auto it = stored.find(seq);
    if (it == stored.end() || it->second != text) ++missing;
  }
  INFO(acked.size() << " acknowledged, " << stored.size() << " stored");
  CHECK(missing == 0);
  const auto verified = storage::verify_journal(*reader);
  INFO(verified.reason);
  CHECK(verified.ok());
}

}  // namespace
}  // namespace rescue::test
