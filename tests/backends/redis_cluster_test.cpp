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

}  // namespace
}  // namespace rescue::test
