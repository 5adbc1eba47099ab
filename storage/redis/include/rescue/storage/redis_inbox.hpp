// A Redis Stream between dispatcher instances: a shard's inbox, where instances that do not own
// the shard leave work for its owner, and an instance's reply stream, where owners answer. An
// entry appended with `durable` is in the master's AOF (`appendfsync always`) and, with
// replicas, confirmed by WAIT before append() returns: a terminal is acknowledged only then.
// Blocking calls on the caller's thread; one thread at a time per object (a blocking read holds
// the connection).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "rescue/storage/redis_connection.hpp"

namespace rescue::storage {

struct redis_stream_entry {
  std::string id;  // "<ms>-<n>"
  std::string payload;
};

// The inbox of the shard whose store is `store`: in the store's hash slot.
std::string redis_inbox_key(std::string_view store);
// The reply stream of instance `instance` of the city `city`.
std::string redis_reply_key(std::string_view city, std::string_view instance);

// Stream ids compared as numbers ("<ms>-<n>"); an id that does not parse sorts first.
bool redis_stream_id_less(std::string_view a, std::string_view b);

struct redis_stream_durability {
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
  // As redis_store_config: with fewer replicas online than asked for, wait for those there are.
  bool continue_without_replicas = true;
};

class redis_stream {
 public:
  using durability = redis_stream_durability;

  // `max_len`: entries kept (approximately, XADD MAXLEN ~); 0 keeps every entry until trim().
  redis_stream(redis_endpoint endpoint, std::string key, durability d = durability(),
               std::size_t max_len = 0);

  // Appends one entry; with `durable`, returns only once it is as durable as configured.
  // An error means the entry may or may not be there: the caller must not acknowledge anything.
  std::error_code append(std::string_view payload, bool durable, std::string& id);

  // Entries after `after` ("0-0": from the first), at most `max`, waiting up to `block` for one
  // when there are none (0: no wait).
  std::error_code read_after(std::string_view after, std::size_t max,
                             std::chrono::milliseconds block, std::vector<redis_stream_entry>& out);

  // Drops the entries up to and including `upto` (the owner has journalled them).
  std::error_code trim_through(std::string_view upto);

  const std::string& key() const { return key_; }
  const std::string& last_error() const { return conn_.last_error(); }

 private:
  int replicas_online();

  std::string key_;
  durability durability_;
  std::size_t max_len_;
  redis_connection conn_;
};

}  // namespace rescue::storage
