// The Redis backend: the journal as a Redis Stream, its checkpoints, the outbox and the crew
// positions of one store, every key in one hash slot ("rescue:{<store>}:..."), so a store is a
// shard a Redis Cluster keeps on one master. Appends run as one Lua script that checks the
// chain's end atomically; durability is the server's AOF (`appendfsync always`) and, when
// configured, WAIT for replicas.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/journal_writer.hpp"
#include "rescue/storage/outbox_store.hpp"
#include "rescue/storage/redis_connection.hpp"

namespace rescue::storage {

// One writer per store at a time: the dispatcher instance that owns a store holds its lease,
// a key that expires unless renewed, and writes under the fencing token it got with it. Taking
// the lease raises the token; every append carries the writer's token and the append script
// refuses it atomically when the store's token is newer, so an owner that paused past its lease
// (a long GC-like stall, a frozen VM) cannot write after another instance took over. Once a
// store has been leased, every writer must hold the lease.
struct redis_lease_config {
  bool enabled = false;  // the dispatcher holds one; audit tools read without it
  // Who holds it, for the messages of whoever waits ("host:pid" when empty); a random suffix
  // keeps two processes of one name apart.
  std::string owner;
  // The lease lapses this long after the last renewal; it is renewed every third of it. Also
  // how long a dead owner keeps a store from being taken over.
  std::chrono::milliseconds ttl = std::chrono::seconds(5);
  // Opening a writer waits this long for a lease held by another owner (a standby instance
  // waits for good: a negative value), then fails with journal_errc::lease_held.
  std::chrono::milliseconds wait = std::chrono::milliseconds(-1);
  // Asked while waiting, a few times a second: true stops the wait (the open fails with
  // std::errc::operation_canceled), a standby told to stop.
  std::function<bool()> give_up;
  // While waiting: who holds the lease and how much of it is left. Called at once and then
  // once a minute, on the opening thread.
  std::function<void(const std::string& holder, std::chrono::milliseconds left)> on_waiting;
  // Taken: this owner's name and the fencing token its appends carry. On the opening thread.
  std::function<void(const std::string& owner, const std::string& fence)> on_acquired;
  // The lease passed to another owner (or the store's token moved on): nothing more can be
  // appended. Called once, on a storage thread; must not block.
  std::function<void(const std::string& why)> on_lost;
};

struct redis_store_config {
  redis_endpoint endpoint;
  // The store's name: letters, digits, '-', '_' and '.'; its keys are "rescue:{<store>}:...".
  std::string store = "city";
  // With replicas: an append is durable only once WAIT reports this many of them have it.
  int wait_replicas = 0;
  // When the master has fewer replicas than wait_replicas at all (its replica died, or was
  // promoted and the old master is not back yet): true goes on with what it has, down to the
  // master's own fsynced AOF, and says so (journal::degraded()); false waits, acknowledging
  // nothing, until enough replicas are back.
  bool continue_without_replicas = true;
  std::chrono::milliseconds wait_timeout = std::chrono::seconds(1);
  // While Redis is unreachable an append is retried, pausing at most this long between tries;
  // nothing is acknowledged meanwhile.
  std::chrono::milliseconds retry_pause_limit = std::chrono::seconds(1);
  redis_lease_config lease;
};

// The keys of one store, all in the slot of "{<store>}".
struct redis_keys {
  explicit redis_keys(std::string_view store);
  std::string meta;         // hash: layout, last_seq, last_hash, last_checkpoint, outbox_id...
  std::string journal;      // stream, entry id 0-<seq>: at inc type payload prev hash
  std::string checkpoints;  // stream, entry id 0-<upto_seq>: hash at sig pub
  std::string by_incident;  // sorted set: member zero-padded seq, score incident id
  std::string outbox;       // hash: "<id>:<column>" for each call
  std::string outbox_due;   // sorted set of undelivered calls with a URL, by next attempt
  std::string outbox_by_incident;  // sorted set: member zero-padded id, score incident id
  std::string positions;           // hash: crew id -> "lat lon at_ms"
  std::string lease;               // string: the owner, expiring (meta "fence": its token)
  std::uint16_t slot = 0;          // the cluster hash slot of them all
  std::vector<std::string> all() const;
};

// False for a name that cannot be a store (empty, too long, or characters outside the set).
bool valid_redis_store_name(std::string_view store);

// Reads "redis://HOST:PORT/STORE" (PORT defaults to 6379, STORE to "city"), or for a cluster
// "redis-cluster://HOST:PORT,HOST:PORT.../STORE", into `out`'s endpoint and store; false when it
// is not such a location.
bool parse_redis_location(std::string_view location, redis_store_config& out);

// Layout of the keys this build writes (meta "layout").
inline constexpr int redis_layout_version = 1;

// Opens the store's journal. A writer creates the store when missing; a read-only open of a
// missing store fails with std::errc::no_such_file_or_directory.
std::unique_ptr<journal_writer> open_redis_journal(const redis_store_config& config,
                                                   const journal_writer_config& writer,
                                                   std::error_code& ec);

// The outbox of a store whose journal was opened at least once.
std::unique_ptr<outbox_store> open_redis_outbox(const redis_store_config& config,
                                                std::error_code& ec);

std::unique_ptr<crew_position_store> open_redis_positions(const redis_store_config& config,
                                                          std::error_code& ec);

}  // namespace rescue::storage
