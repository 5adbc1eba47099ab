// The narrow interface a storage backend implements for the journal writer: store a chained
// batch atomically, read it back. Queueing, group commit, hashing, checkpoints and signing are
// the writer's (journal_writer.hpp), the same for every backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "rescue/storage/journal.hpp"
#include "rescue/storage/outbox_store.hpp"

namespace rescue::storage {

// Where the stored chain ends: the writer resumes from here.
struct journal_tail {
  std::uint64_t last_seq = 0;         // 0: empty
  std::string last_hash;              // hash of record last_seq; genesis_hash() when empty
  std::uint64_t last_checkpoint = 0;  // upto_seq of the newest checkpoint; 0: none
};

// A record to store, hashed and chained by the writer. Views into the writer's buffers, valid
// for the duration of the append call.
struct record_view {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::uint64_t incident_id = 0;
  std::string_view event_type;
  std::string_view payload;
  std::string_view prev_hash;  // 32 bytes: the previous record's hash
  std::string_view hash;       // 32 bytes
};

// One write, stored entirely or not at all.
struct backend_batch {
  // Consecutive seqs starting right after the stored tail.
  std::vector<record_view> records;
  // The outbox calls these records cause (make_outbox_row); the backend assigns their ids.
  std::vector<outbox_row> outbox;
  // Signs the chain up to its upto_seq, which is the last of `records` or already stored.
  std::optional<journal_checkpoint> checkpoint;

  bool empty() const { return records.empty() && outbox.empty() && !checkpoint; }
  void clear() {
    records.clear();
    outbox.clear();
    checkpoint.reset();
  }
};

// Thread-safety: append is called by one writer thread at a time; the reads may run
// concurrently with each other and with append, and see only completed appends.
class journal_backend {
 public:
  virtual ~journal_backend() = default;

  // The stored end of the chain, read from the store itself (another process may be writing).
  virtual std::error_code read_tail(journal_tail& out) = 0;

  // Stores the batch durably, all of it or nothing. When the stored last seq is not
  // `expected_last_seq` (another writer appended), writes nothing and returns
  // journal_errc::stale_writer.
  virtual std::error_code append(std::uint64_t expected_last_seq, const backend_batch& batch) = 0;

  // Records with from <= seq <= to in seq order, streamed; `visit` returns false to stop.
  virtual std::error_code scan(std::uint64_t from, std::uint64_t to,
                               const record_visitor& visit) = 0;

  // Every record of one incident in seq order, appended to `out`.
  virtual std::error_code read_incident(std::uint64_t incident_id,
                                        std::vector<journal_record>& out) = 0;

  // Every checkpoint in upto_seq order, appended to `out`.
  virtual std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) = 0;

  // A backend that retries an append while its store is unreachable (nothing is acknowledged
  // meanwhile) stops retrying and fails that append: the writer is closing. Any thread.
  virtual void interrupt() {}

  // Called on the writer thread about once a second while no append is queued: a backend whose
  // store can go away (a server) checks it here, so problem() is known before an append fails.
  virtual void check() {}

  // Called once the writer thread has stopped for good (close()): give up what the writer held,
  // a lease, so that another instance may take the store over at once.
  virtual void release() {}

  // What keeps appends from completing right now, in words for /healthz; empty when nothing.
  // Any thread.
  virtual std::string problem() const { return {}; }

  // journal::degraded(). Any thread.
  virtual std::string degraded() const { return {}; }
};

}  // namespace rescue::storage
