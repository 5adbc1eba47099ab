// A sharded city on a real Redis Cluster: three rescue-dispatchd instances, each deciding one
// shard of districts. Alarms come in through any instance, offers reach crews on whichever
// instance holds their phone, every console sees every incident, and when a shard's owner is
// killed its standby takes the shard over while the crews finish through another instance.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "redis_cluster.hpp"

namespace rescue::e2e {
namespace {

constexpr int lease_ms = 1500;

// The e2e city with its elevators spread over three districts: E1 and E2 in Yuzhong (500103),
// E3 in Jiangbei (500105), E4 in Nan'an (500108). Unit U1 (E1-E3) has its home in Yuzhong.
void write_sharded_city(const fs::path& dir) {
  city::write(dir);
  std::ifstream in(dir / "elevators.csv");
  std::stringstream text;
  text << in.rdbuf();
  std::string csv = text.str();
  const auto move_to = [&csv](const std::string& id, const std::string& district) {
    const auto at = csv.find("\n" + id + ",");
    REQUIRE(at != std::string::npos);
    const auto code = csv.find(",500103,", at);
    REQUIRE(code != std::string::npos);
    csv.replace(code + 1, 6, district);
  };
  move_to("E3", "500105");
  move_to("E4", "500108");
  std::ofstream(dir / "elevators.csv") << csv;
}

server_options shard_instance(const test::redis_cluster& cluster, const std::string& shard,
                              const std::string& instance, bool standby = false) {
  server_options o;
  o.write_registry = write_sharded_city;
  o.offer_timeout_s = 30;
  o.level1_window_s = 60;
  o.level2_window_s = 60;
  o.storage_keys =
      "backend = \"redis\"\nredis_store = \"cq\"\nredis_wait_replicas = 1\n"
      "redis_lease_ms = " +
      std::to_string(lease_ms) + "\nredis_shard = \"" + shard + "\"\nredis_instance = \"" +
      instance + "\"\nredis_cluster_nodes = [";
  for (const auto& seed : cluster.seeds())
    o.storage_keys += "\"" + seed + "\", ";
  o.storage_keys +=
      "]\n"
      "[[storage.shards]]\nname = \"yuzhong\"\nnumber = 1\ndistricts = [\"500103\"]\n"
      "[[storage.shards]]\nname = \"jiangbei\"\nnumber = 2\ndistricts = [\"500105\"]\n"
      "[[storage.shards]]\nname = \"rest\"\nnumber = 3\ndistricts = [\"*\"]\n";
  o.wait_healthy = !standby;
  return o;
}

constexpr std::uint64_t ids_per_shard = 1'000'000'000'000ULL;

// The incident `id` as `world`'s console lists it, waiting for it to appear there.
bool console_lists(e2e_world& world, std::uint64_t id, millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto board = world.incidents();
    for (const auto& inc : board.incidents())
      if (inc.id() == id) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE(
    "three instances on a redis cluster: alarms through any instance reach their shard's owner, "
    "offers reach crews on other instances, every console sees every incident",
    "[e2e][redis][shards]") {
  test::redis_cluster cluster;
  e2e_world yuzhong(shard_instance(cluster, "yuzhong", "inst-a"));
  e2e_world jiangbei(shard_instance(cluster, "jiangbei", "inst-b"));
  e2e_world rest(shard_instance(cluster, "rest", "inst-c"));
  CHECK(yuzhong.server().log_text().find("deciding shard yuzhong") != std::string::npos);

  // c11 (unit U1) keeps its phone on the Yuzhong instance; the position stream carries its
  // pings to the others.
  auto c11 = yuzhong.crew_at("c11", city::north(400), city::lon);
  jiangbei.wait_crew_position("c11", 5s);

  // E3 is in Jiangbei; its terminal is connected to the Yuzhong instance. The ack means the
  // alarm is durable in the Jiangbei shard's inbox.
  auto t3 = yuzhong.terminal(city::t3(), 1);
  REQUIRE(t3->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(t3->wait_ack(1));
  // The Jiangbei owner decided it and offered it to c11, whose phone is on another instance.
  const auto offer = c11->wait_offer();
  REQUIRE(offer);
  const std::uint64_t e3_incident = offer->incident_id();
  CHECK(e3_incident / ids_per_shard == 2);
  CHECK(offer->elevator_id() == city::t3().elevator_id);

  // Accepting through the Yuzhong instance: decided by the Jiangbei owner, answered here once
  // this instance's view has it (read your writes): its console shows c11 on the job at once.
  c11->accept(e3_incident);
  REQUIRE(c11->wait_notice("ok accept"));
  {
    const auto crews_here = yuzhong.crews();
    bool busy_here = false;
    for (const auto& crew : crews_here.crews())
      if (crew.id() == "c11") busy_here = crew.busy() && crew.current_incident_id() == e3_incident;
    CHECK(busy_here);
    CHECK(yuzhong.incident(e3_incident).stage() == v1::STAGE_ACCEPTED);
  }
  c11->departed(e3_incident);
  REQUIRE(c11->wait_notice("ok departed"));

  // An alarm for Yuzhong through the Jiangbei instance, one for Nan'an ("rest") through its own.
  auto t1 = jiangbei.terminal(city::t1(), 1);
  REQUIRE(t1->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(t1->wait_ack(1));
  auto t4 = rest.terminal(city::t4(), 1);
  REQUIRE(t4->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(t4->wait_ack(1));
  const std::uint64_t e1_incident = yuzhong.wait_incident_for(city::t1().elevator_id);
  CHECK(e1_incident / ids_per_shard == 1);
  const std::uint64_t e4_incident = rest.wait_incident_for(city::t4().elevator_id);
  CHECK(e4_incident / ids_per_shard == 3);

  // Every console sees all three, live and on request, with each timeline from its own shard.
  for (e2e_world* console : {&yuzhong, &jiangbei, &rest})
    for (const std::uint64_t id : {e1_incident, e3_incident, e4_incident})
      CHECK(console_lists(*console, id, 5s));
  const auto e3_on_rest = rest.incident(e3_incident);
  INFO(describe_timeline(e3_on_rest));
  CHECK(e3_on_rest.stage() == v1::STAGE_DEPARTED);
  CHECK(count_events(e3_on_rest, v1::Event::kOpened) == 1);
  CHECK(count_events(e3_on_rest, v1::Event::kOfferAccepted) == 1);

  // c11 holds a job on the Jiangbei shard: the Yuzhong owner does not offer it E1's job,
  // and every instance's crew list shows it busy there.
  const auto e1_view = yuzhong.incident(e1_incident);
  INFO(describe_timeline(e1_view));
  for (const auto& e : e1_view.timeline())
    if (e.has_offer_made()) CHECK(e.offer_made().crew_id() != "c11");
  const auto crews_on_rest = rest.crews();
  for (const auto& crew : crews_on_rest.crews())
    if (crew.id() == "c11") {
      CHECK(crew.busy());
      CHECK(crew.current_incident_id() == e3_incident);
    }

  // An operator on the Nan'an instance reports a caller in E3: joined to the open incident by
  // its owner, and answered here.
  const auto call = rest.post(
      "/api/v1/incidents", R"({"rescue_code":"10003","caller_name":"张三","people_trapped":true})");
  INFO(call.body);
  CHECK(call.status == 200);
  CHECK(call.body.find(std::to_string(e3_incident)) != std::string::npos);

  // The rescue ends through the Yuzhong instance.
  c11->arrived(e3_incident);
  REQUIRE(c11->wait_notice("ok arrived"));
  c11->released(e3_incident);
  REQUIRE(c11->wait_notice("ok released"));
  // Its owner's console has it at once.
  const auto done = jiangbei.incident(e3_incident);
  INFO(describe_timeline(done));
  CHECK(done.stage() == v1::STAGE_RELEASED);
  CHECK(count_events(done, v1::Event::kMerged) == 1);

  // The auditor's tool verifies every shard's chain and checkpoints, each on its own.
  std::string seeds;
  for (const auto& seed : cluster.seeds())
    seeds += (seeds.empty() ? "" : ",") + seed;
  const fs::path out = yuzhong.dir() / "verify.txt";
  const std::string line = std::string(RESCUE_BIN_DIR) +
                           "/rescuectl verify --journal redis-cluster://" + seeds +
                           "/cq --shards yuzhong,jiangbei,rest > " + out.string() + " 2>&1";
  INFO(line);
  const int status = std::system(line.c_str());
  std::ifstream in(out);
  std::stringstream printed;
  printed << in.rdbuf();
  INFO(printed.str());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  for (const char* shard : {"yuzhong", "jiangbei", "rest"})
    CHECK(printed.str().find(std::string("shard ") + shard + ": OK") != std::string::npos);
}

TEST_CASE(
    "kill -9 of a shard's owner mid-incident: its standby takes the shard over and the crew "
    "finishes the rescue through another instance",
    "[e2e][redis][shards]") {
  test::redis_cluster cluster;
  e2e_world yuzhong(shard_instance(cluster, "yuzhong", "inst-a"));
  e2e_world jiangbei(shard_instance(cluster, "jiangbei", "inst-b"));
  e2e_world jiangbei_standby(shard_instance(cluster, "jiangbei", "inst-b2", true));
  REQUIRE(log_says(jiangbei_standby.server(), "standing by: store cq.jiangbei is held by", 10s));

  auto c11 = yuzhong.crew_at("c11", city::north(400), city::lon);
  jiangbei.wait_crew_position("c11", 5s);
  auto t3 = yuzhong.terminal(city::t3(), 1);
  REQUIRE(t3->send_event(1, v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  REQUIRE(t3->wait_ack(1));
  const auto offer = c11->wait_offer();
  REQUIRE(offer);
  const std::uint64_t id = offer->incident_id();
  c11->accept(id);
  REQUIRE(c11->wait_notice("ok accept"));

  jiangbei.server().kill_hard();
  const auto killed = std::chrono::steady_clock::now();
  // Meanwhile the crew sets off, through the Yuzhong instance.
  c11->departed(id);
  jiangbei_standby.wait_healthy(15s);
  const auto took_over = std::chrono::steady_clock::now() - killed;
  INFO("takeover after " << std::chrono::duration_cast<millis>(took_over).count() << " ms");
  CHECK(took_over < millis(lease_ms) + 6s);

  // The departure was left in the shard's inbox while nobody owned it: the new owner decides it
  // and answers the Yuzhong instance, which tells the crew.
  REQUIRE(c11->wait_notice("ok departed", 12s));
  c11->arrived(id);
  REQUIRE(c11->wait_notice("ok arrived"));
  c11->released(id);
  REQUIRE(c11->wait_notice("ok released"));
  // The crew heard "ok" from the Yuzhong instance once its view had the release.
  const auto view = yuzhong.incident(id);
  INFO(describe_timeline(view));
  CHECK(view.stage() == v1::STAGE_RELEASED);
  CHECK(count_events(view, v1::Event::kOpened) == 1);
  CHECK(count_events(view, v1::Event::kCrewDeparted) == 1);
}

}  // namespace
}  // namespace rescue::e2e
