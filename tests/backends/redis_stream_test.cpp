// The streams between the instances of a sharded city (a shard's inbox, an instance's reply
// stream, the position stream), against real redis-servers on loopback: entries come back in
// order after the id given, an append that asks for a replica is refused while none confirms,
// and a trim drops exactly the entries up to the one given.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "redis_server.hpp"
#include "rescue/storage/redis_inbox.hpp"

namespace rescue::test {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a shard's inbox hands out its entries in order after the last one read, and trims",
          "[redis][shards]") {
  redis_server redis;
  storage::redis_stream inbox(redis.endpoint(), storage::redis_inbox_key("cq.jiangbei"));
  CHECK(storage::redis_key_slot(inbox.key()) == storage::redis_key_slot("{cq.jiangbei}"));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    std::string id;
    REQUIRE_FALSE(inbox.append("command " + std::to_string(i), true, id));
    ids.push_back(id);
  }
  for (std::size_t i = 1; i < ids.size(); ++i)
    CHECK(storage::redis_stream_id_less(ids[i - 1], ids[i]));

  std::vector<storage::redis_stream_entry> read;
  REQUIRE_FALSE(inbox.read_after("0-0", 3, 0ms, read));
  REQUIRE(read.size() == 3);
  CHECK(read[0].payload == "command 0");
  CHECK(read[2].id == ids[2]);
  REQUIRE_FALSE(inbox.read_after(read.back().id, 10, 0ms, read));
  REQUIRE(read.size() == 2);
  CHECK(read[0].payload == "command 3");

  // Nothing new: a blocking read waits, then returns empty; an entry appended meanwhile ends it.
  const auto waited_from = std::chrono::steady_clock::now();
  REQUIRE_FALSE(inbox.read_after(ids.back(), 10, 200ms, read));
  CHECK(read.empty());
  CHECK(std::chrono::steady_clock::now() - waited_from >= 150ms);
  std::thread late([&redis] {
    std::this_thread::sleep_for(100ms);
    storage::redis_stream other(redis.endpoint(), storage::redis_inbox_key("cq.jiangbei"));
    std::string id;
    CHECK_FALSE(other.append("late", true, id));
  });
  REQUIRE_FALSE(inbox.read_after(ids.back(), 10, 3000ms, read));
  late.join();
  REQUIRE(read.size() == 1);
  CHECK(read[0].payload == "late");

  // Trimmed through the third entry: the rest is still there, from the first on.
  REQUIRE_FALSE(inbox.trim_through(ids[2]));
  REQUIRE_FALSE(inbox.read_after("0-0", 10, 0ms, read));
  REQUIRE(read.size() == 3);
  CHECK(read[0].id == ids[3]);
}

TEST_CASE("an inbox entry that asks for a replica is durable only once the replica has it",
          "[redis][shards]") {
  redis_server master;
  redis_server replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  storage::redis_stream::durability d;
  d.wait_replicas = 1;
  d.wait_timeout = 500ms;
  d.continue_without_replicas = false;
  storage::redis_stream inbox(master.endpoint(), storage::redis_inbox_key("cq.rest"), d);
  // The replica's first sync may take a moment: until then an append is refused as not
  // durable, yet may be in the inbox all the same (the owner decides it; a terminal's resend of
  // it is recognised), so the sender acknowledges nothing and sends again.
  std::string id;
  int attempts = 0;
  bool synced = false;
  while (attempts < 50 && !synced) {
    ++attempts;
    synced = !inbox.append("first", true, id);
    if (!synced) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(synced);
  std::vector<storage::redis_stream_entry> read;
  storage::redis_stream on_replica(replica.endpoint(), storage::redis_inbox_key("cq.rest"));
  REQUIRE_FALSE(on_replica.read_after("0-0", 100, 0ms, read));
  REQUIRE(read.size() == static_cast<std::size_t>(attempts));
  CHECK(read.back().id == id);

  // The replica gone: not durable as asked, so the caller acknowledges nothing.
  replica.kill(SIGKILL);
  CHECK(inbox.append("second", true, id));
  // Asked for no replica (a receipt, a reply), it goes through.
  CHECK_FALSE(inbox.append("third", false, id));

  // With continue_without_replicas the master's own AOF is what there is, and it is enough.
  d.continue_without_replicas = true;
  storage::redis_stream degraded(master.endpoint(), storage::redis_inbox_key("cq.rest"), d);
  std::this_thread::sleep_for(200ms);  // the master notices its replica left
  bool accepted = false;
  for (int i = 0; i < 30 && !accepted; ++i) {
    accepted = !degraded.append("fourth", true, id);
    if (!accepted) std::this_thread::sleep_for(200ms);
  }
  CHECK(accepted);
}

TEST_CASE("stream ids order by time, then by sequence, as numbers", "[unit][shards]") {
  using storage::redis_stream_id_less;
  CHECK(redis_stream_id_less("1700000000000-9", "1700000000000-10"));
  CHECK(redis_stream_id_less("999-5", "1000-0"));
  CHECK_FALSE(redis_stream_id_less("1000-0", "1000-0"));
  CHECK(redis_stream_id_less("", "0-1"));
  CHECK_FALSE(redis_stream_id_less("0-1", "junk"));
}

}  // namespace
}  // namespace rescue::test
