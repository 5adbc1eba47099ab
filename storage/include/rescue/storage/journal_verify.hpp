// Checks a journal end to end: every hash, the chain, the sequence, and every signed checkpoint.
#pragma once

#include <cstdint>
#include <string>

#include "rescue/storage/journal.hpp"

namespace rescue::storage {

enum class verify_failure {
  none = 0,
  read_error,                // the backend could not be read
  sequence_gap,              // a seq is missing, repeated or out of order
  broken_chain,              // prev_hash differs from the previous record's hash
  hash_mismatch,             // the stored hash differs from the recomputed one
  payload_mismatch,          // payload does not parse, or disagrees with incident/type columns
  checkpoint_beyond_end,     // a checkpoint covers records that are no longer there
  checkpoint_hash_mismatch,  // the record hash at upto_seq differs from the signed one
  bad_checkpoint_signature,  // the signature does not verify with the stored key
  checkpoint_key_mismatch,   // signed by a key other than the expected one
};

const char* to_string(verify_failure f);

struct verify_options {
  // PEM public key the checkpoints must be signed with. Empty: accept the key stored with each
  // checkpoint, which proves integrity only against someone who does not also re-sign.
  std::string expected_public_key;
  // Check that the payload parses and agrees with the incident_id and event_type columns.
  bool check_payload = true;
  // Threads checking ranges of records in parallel; 0 = one per core. Small journals use one.
  unsigned threads = 0;
};

struct verify_result {
  bool ok() const { return failure == verify_failure::none; }
  verify_failure failure = verify_failure::none;
  std::uint64_t first_bad_seq = 0;  // 0 when ok
  std::string reason;               // readable, names the seq
  std::uint64_t records_checked = 0;
  std::uint64_t checkpoints_checked = 0;
  std::uint64_t last_seq = 0;
};

// Reports the lowest sequence number at which anything is wrong. Records after the last
// checkpoint are protected by the chain only: a cut-off tail is detectable only up to the last
// checkpoint.
verify_result verify_journal(journal& j, const verify_options& options = {});

}  // namespace rescue::storage
