// Canonical byte encodings of journal records and checkpoints, and the SHA-256 that chains them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "rescue/storage/journal.hpp"

namespace rescue::storage {

// Record hash input, byte for byte (integers big-endian, lengths as u32 big-endian):
//   "rescue.journal.v1"          17 ASCII bytes, no terminator
//   seq                          u64
//   at_ms                        i64 (two's complement)
//   incident_id                  u64
//   len(event_type), event_type  u32 + UTF-8 bytes
//   len(payload), payload        u32 + bytes (the serialized Event as stored)
//   prev_hash                    32 bytes (all zero for seq 1)
// hash = SHA-256(that). Anyone can recompute it from the SQLite columns.
//
// Checkpoint signature input:
//   "rescue.checkpoint.v1"       20 ASCII bytes
//   upto_seq                     u64
//   hash                         32 bytes (record hash at upto_seq)
//   at_ms                        i64
// signature = Ed25519(private key, that).
inline constexpr std::string_view record_hash_domain = "rescue.journal.v1";
inline constexpr std::string_view checkpoint_domain = "rescue.checkpoint.v1";

// The hash of the (virtual) record 0: where the chain starts.
std::string genesis_hash();

// Reuses one OpenSSL digest context; one per thread.
class record_hasher {
 public:
  record_hasher();
  ~record_hasher();
  record_hasher(const record_hasher&) = delete;
  record_hasher& operator=(const record_hasher&) = delete;

  // Returns the 32-byte hash. prev_hash must be 32 bytes; a different length is hashed as given,
  // which can only produce a mismatch.
  std::string hash(std::uint64_t seq, std::int64_t at_ms, std::uint64_t incident_id,
                   std::string_view event_type, std::string_view payload,
                   std::string_view prev_hash);
  std::string hash(const journal_record& r) {
    return hash(r.seq, r.at_ms, r.incident_id, r.event_type, r.payload, r.prev_hash);
  }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

std::string checkpoint_message(std::uint64_t upto_seq, std::string_view hash, std::int64_t at_ms);

// Lowercase hex, for printing hashes.
std::string to_hex(std::string_view bytes);

}  // namespace rescue::storage
