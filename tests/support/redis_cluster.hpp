// A real Redis Cluster for a test: six redis-servers on loopback (3 masters + 3 replicas, the
// reference layout), created with `redis-cli --cluster create --cluster-replicas 1`, with a short
// cluster-node-timeout so a killed master's replica takes over within seconds.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.hpp"

namespace rescue::test {

class redis_cluster {
 public:
  static constexpr int node_timeout_ms = 2000;

  redis_cluster() {
    for (int i = 0; i < 6; ++i)
      nodes_.push_back(std::make_unique<redis_server>(std::vector<std::string>{
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
          "--cluster-node-timeout", std::to_string(node_timeout_ms), "--repl-diskless-sync-delay",
          "0"}));
    std::string line = std::string(RESCUE_REDIS_CLI) + " --cluster create";
    for (const auto& n : nodes_)
      line += " 127.0.0.1:" + std::to_string(n->port());
    line += " --cluster-replicas 1 --cluster-yes > /dev/null 2>&1";
    REQUIRE(std::system(line.c_str()) == 0);
    wait_state_ok(std::chrono::seconds(30));
    wait_replicas_online(std::chrono::seconds(30));
  }

  // The seeds a client is given: every node.
  std::vector<std::string> seeds() const {
    std::vector<std::string> out;
    for (const auto& n : nodes_)
      out.push_back("127.0.0.1:" + std::to_string(n->port()));
    return out;
  }
  storage::redis_endpoint endpoint() const {
    storage::redis_endpoint e = nodes_[0]->endpoint();
    e.cluster_nodes = seeds();
    return e;
  }

  std::size_t size() const { return nodes_.size(); }
  redis_server& node(std::size_t i) { return *nodes_[i]; }

  // The node that is master of `slot` now, as a running node reports it.
  redis_server& master_of(std::uint16_t slot) {
    for (auto& n : nodes_) {
      if (!n->running()) continue;
      storage::redis_connection c(n->endpoint());
      storage::redis_reply r;
      if (c.command({"CLUSTER", "SLOTS"}, r)) continue;
      for (const auto& range : r.elements)
        if (range.elements.size() >= 3 && range.elements[0].integer <= slot &&
            range.elements[1].integer >= slot)
          for (auto& m : nodes_)
            if (m->port() == range.elements[2].elements[1].integer) return *m;
    }
    FAIL("no running node knows the master of slot " << slot);
    throw;  // unreachable
  }

  // Waits until every master has a replica that finished its first sync: only such a replica
  // can be promoted when its master dies.
  void wait_replicas_online(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int masters = 0, synced = 0;
      for (auto& n : nodes_) {
        if (!n->running()) continue;
        storage::redis_connection c(n->endpoint());
        storage::redis_reply r;
        if (c.command({"INFO", "replication"}, r)) continue;
        if (r.str.find("role:master") == std::string::npos) continue;
        ++masters;
        if (r.str.find("state=online") != std::string::npos) ++synced;
      }
      if (masters > 0 && synced == masters) return;
      if (std::chrono::steady_clock::now() > deadline) FAIL("the replicas never came online");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Waits until every running node says cluster_state:ok.
  void wait_state_ok(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool ok = true;
      for (auto& n : nodes_) {
        if (!n->running()) continue;
        storage::redis_connection c(n->endpoint());
        storage::redis_reply r;
        ok = ok && !c.command({"CLUSTER", "INFO"}, r) &&
             r.str.find("cluster_state:ok") != std::string::npos;
      }
      if (ok) return;
      if (std::chrono::steady_clock::now() > deadline) FAIL("the cluster never reached state ok");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  std::vector<std::unique_ptr<redis_server>> nodes_;
};

}  // namespace rescue::test
