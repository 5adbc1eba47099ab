// An instance's ties to the other shards of a sharded city on Redis: commands for a shard owned
// elsewhere go to its inbox (a terminal is acknowledged once the entry is durable there; a
// console or crew request waits for the owner's answer on this instance's reply stream); the
// own shard's inbox is decided here; and the other shards' journals are followed, so consoles
// see every incident, crews connected here hear of their offers, and the ranking knows which
// crews are busy elsewhere. Blocking Redis calls run on the link's own threads, never on the
// io threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "rescue/core/shard_map.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/storage/journal.hpp"

namespace rescue::dispatcher {

struct shard_link_config {
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::vector<std::string> redis_cluster_nodes;
  std::string redis_password;
  std::string city;      // the store prefix: shard stores are "<city>.<shard>"
  std::string instance;  // names this instance's reply stream
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
  bool continue_without_replicas = true;
  // How long a console or crew request waits for the owner of another shard to answer.
  std::chrono::milliseconds reply_timeout{10'000};
  // How often the other shards' journals are read when nothing new came.
  std::chrono::milliseconds follow_interval{5};
};

class shard_link {
 public:
  // `journals`: a read-only journal of every other shard, by shard name. All references must
  // outlive the link.
  shard_link(shard_link_config config, const core::shard_map& map, const core::shard_spec& own,
             dispatch_service& service,
             std::map<std::string, std::unique_ptr<storage::journal>> journals);
  ~shard_link();
  shard_link(const shard_link&) = delete;
  shard_link& operator=(const shard_link&) = delete;

  // Before serving, after the service recovered: folds the other shards' journals as they are.
  // Throws std::runtime_error when one cannot be read.
  void catch_up();

  // For dispatch_service::set_shards.
  shard_forwarder forwarder();

  // A crew connected here receipted an offer of another shard's incident: tell its owner.
  void forward_receipt(const std::string& crew_id, core::incident_id incident);
  // What to do when another instance forwards a receipt of one of this shard's offers.
  void set_receipt_handler(std::function<void(const std::string& crew_id, core::incident_id)> h);

  // A position a phone connected here reported: published on the city's position stream (in
  // batches, a few a second) for the other instances' crew index. Thread-safe, never blocks.
  void publish_position(const std::string& crew_id, double lat, double lon, std::int64_t at_ms);

  // The journal that holds `id`'s records: another shard's, or null for this one's.
  storage::journal* journal_of(core::incident_id id);

  // Starts reading the own inbox (from after `after`, the last entry the journal names), the
  // reply stream and the other journals.
  void start(std::string after);
  // Stops the threads; requests still waiting for an answer complete as shard_unavailable.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rescue::dispatcher
