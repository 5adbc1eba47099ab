// The journal: the durable, append-only, hash-chained event log every backend implements.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "rescue/journal.pb.h"
#include "rescue/protocol/event_type.hpp"
#include "rescue/storage/outbox_store.hpp"

namespace rescue::storage {

using sha256_digest = std::array<std::uint8_t, 32>;

// One stored event. `hash` and `prev_hash` are the values as stored, so a verifier can compare
// them with what it recomputes (see journal_hash.hpp for the canonical encoding).
struct journal_record {
  std::uint64_t seq = 0;   // global sequence, 1-based, no gaps
  std::int64_t at_ms = 0;  // server time, ms since the Unix epoch
  std::uint64_t incident_id = 0;
  std::string event_type;  // name of the Event's oneof case, e.g. "offer_made"
  std::string payload;     // serialized rescue::v1::Event
  std::string prev_hash;   // 32 bytes as stored (all zero for seq 1)
  std::string hash;        // 32 bytes as stored

  // False when the payload is not a valid Event.
  bool parse(rescue::v1::Event& event) const { return event.ParseFromString(payload); }
};

// A signed statement "the chain up to `upto_seq` ends in `hash`" written by the journal.
struct journal_checkpoint {
  std::uint64_t upto_seq = 0;
  std::string hash;        // record hash at upto_seq, 32 bytes
  std::int64_t at_ms = 0;  // when the checkpoint was written
  std::string signature;   // Ed25519 over checkpoint_message() (journal_hash.hpp)
  std::string public_key;  // PEM (SubjectPublicKeyInfo) of the signing key
};

struct journal_stats {
  std::uint64_t transactions = 0;         // committed write transactions (one fsync each)
  std::uint64_t events = 0;               // events made durable
  std::uint64_t checkpoints = 0;          // checkpoints written
  std::uint64_t largest_transaction = 0;  // most events in one transaction
};

// Errors the journal reports itself; backend errors carry their own category.
enum class journal_errc {
  closed = 1,          // the journal is shutting down or closed
  corrupt_record,      // a stored row is malformed (wrong hash length...)
  invalid_event,       // the event cannot be serialized or has no body
  key_unavailable,     // the checkpoint signing key cannot be read or created
  stale_writer,        // another writer appended to the store since this one read its end
  unsupported_schema,  // the store was written by a newer version of this program
  fenced,              // another instance holds the store's lease now: this one may not write
  lease_held,          // the store's lease is held by another instance (opening a writer)
};
const std::error_category& journal_category() noexcept;
inline std::error_code make_error_code(journal_errc e) noexcept {
  return {static_cast<int>(e), journal_category()};
}

// The event_type column: the Event's body name ("offer_made"), or "unset".
using protocol::event_type_name;

// Called once per append with the global sequence numbers assigned to the batch, in order, after
// the whole batch is durable (or with an error and no sequence numbers: nothing of the batch was
// written). It runs on the journal's writer thread: post it to your own executor and return;
// blocking here stalls every other append.
using append_handler = std::function<void(std::error_code, std::vector<std::uint64_t> seqs)>;

// Called on the writer thread after each commit with the last durable sequence number. Same rule
// as append_handler: do not block, post elsewhere.
using tail_listener = std::function<void(std::uint64_t last_seq)>;

// Called on the writer thread after each commit that stored outbox messages. Same rule again.
using outbox_listener = std::function<void()>;

// Return false to stop a scan early.
using record_visitor = std::function<bool(const journal_record&)>;

// What one append writes atomically: the events, and the outbox messages they cause. A message
// is durable exactly when its events are: both are in one transaction or neither is.
struct journal_batch {
  std::vector<rescue::v1::Event> events;
  std::vector<outbox_message> outbox;
};

// All methods are thread-safe and reads may run concurrently. Reads see only durable
// (committed) records.
class journal {
 public:
  virtual ~journal() = default;

  // Queues the batch and returns at once; the batch is written atomically in one transaction,
  // together with whatever else is queued (group commit). An empty batch completes with no seqs.
  virtual void append_batch(journal_batch batch, append_handler done) = 0;

  void append(std::vector<rescue::v1::Event> events, append_handler done) {
    append_batch({std::move(events), {}}, std::move(done));
  }
  void append(std::vector<rescue::v1::Event> events, std::vector<outbox_message> outbox,
              append_handler done) {
    append_batch({std::move(events), std::move(outbox)}, std::move(done));
  }

  // Every record of one incident in sequence order.
  virtual std::error_code read_incident(std::uint64_t incident_id,
                                        std::vector<journal_record>& out) = 0;

  // Records with from <= seq <= to in sequence order, streamed to `visit`.
  virtual std::error_code scan(std::uint64_t from, std::uint64_t to,
                               const record_visitor& visit) = 0;

  // Up to `max` records with seq > after: the poll half of following the tail.
  virtual std::error_code read_after(std::uint64_t after, std::size_t max,
                                     std::vector<journal_record>& out) = 0;

  // The notification half: replaces any previous listener; an empty function removes it.
  virtual void set_tail_listener(tail_listener listener) = 0;

  // Wakes an outbox delivery loop right after a commit that stored outbox messages. Replaces
  // any previous listener; an empty function removes it.
  virtual void set_outbox_listener(outbox_listener listener) = 0;

  // Last durable sequence number, 0 when empty.
  virtual std::uint64_t last_seq() const = 0;

  // All checkpoints in upto_seq order.
  virtual std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) = 0;

  virtual journal_stats stats() const = 0;

  // What keeps appends from completing right now (the store unreachable, replicas not
  // confirming), in words for /healthz; empty when appends are going through.
  virtual std::string problem() const { return {}; }

  // What makes appends less safe than configured while they go through (a Redis master that
  // lost its replica: durable on its own disk only), in words for /healthz; empty when nothing.
  virtual std::string degraded() const { return {}; }

  // Completes everything queued, then stops the writer; later appends fail with
  // journal_errc::closed. Idempotent; the destructor calls it.
  virtual void close() = 0;
};

}  // namespace rescue::storage

template <>
struct std::is_error_code_enum<rescue::storage::journal_errc> : std::true_type {};
