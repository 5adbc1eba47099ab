#include "rescue/storage/journal_verify.hpp"

#include <string>
#include <vector>

#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/signing.hpp"

namespace rescue::storage {

const char* to_string(verify_failure f) {
  switch (f) {
    case verify_failure::none:
      return "intact";
    case verify_failure::read_error:
      return "read error";
    case verify_failure::sequence_gap:
      return "sequence gap";
    case verify_failure::broken_chain:
      return "broken chain";
    case verify_failure::hash_mismatch:
      return "hash mismatch";
    case verify_failure::payload_mismatch:
      return "payload mismatch";
    case verify_failure::checkpoint_beyond_end:
      return "checkpoint beyond end";
    case verify_failure::checkpoint_hash_mismatch:
      return "checkpoint hash mismatch";
    case verify_failure::bad_checkpoint_signature:
      return "bad checkpoint signature";
    case verify_failure::checkpoint_key_mismatch:
      return "checkpoint key mismatch";
  }
  return "unknown";
}

namespace {

// Keeps the lowest-seq failure; on a tie the first one found (records before checkpoints).
void note(verify_result& r, verify_failure f, std::uint64_t seq, std::string reason) {
  if (r.failure != verify_failure::none && r.first_bad_seq <= seq) return;
  r.failure = f;
  r.first_bad_seq = seq;
  r.reason = std::move(reason);
}

}  // namespace

verify_result verify_journal(journal& j, const verify_options& options) {
  verify_result result;

  std::vector<journal_checkpoint> checkpoints;
  if (auto ec = j.read_checkpoints(checkpoints)) {
    result.failure = verify_failure::read_error;
    result.reason = "cannot read checkpoints: " + ec.message();
    return result;
  }
  std::string expected_raw;
  if (!options.expected_public_key.empty()) {
    expected_raw = raw_public_key(options.expected_public_key);
    if (expected_raw.empty()) {
      result.failure = verify_failure::read_error;
      result.reason = "the expected public key is not an Ed25519 PEM key";
      return result;
    }
  }

  // Signatures and keys need no records; check them first, and remember which checkpoint hashes
  // the record scan has to compare.
  for (const auto& cp : checkpoints) {
    ++result.checkpoints_checked;
    const std::string where = "checkpoint at seq " + std::to_string(cp.upto_seq) + ": ";
    if (!expected_raw.empty() && raw_public_key(cp.public_key) != expected_raw) {
      note(result, verify_failure::checkpoint_key_mismatch, cp.upto_seq,
           where + "signed by a key other than the expected public key");
    } else if (!verify_signature(cp.public_key, checkpoint_message(cp.upto_seq, cp.hash, cp.at_ms),
                                 cp.signature)) {
      note(result, verify_failure::bad_checkpoint_signature, cp.upto_seq,
           where + "signature does not verify");
    }
  }

  record_hasher hasher;
  rescue::v1::Event event;
  std::uint64_t expected_seq = 1;
  std::string prev_hash = genesis_hash();
  std::size_t next_cp = 0;
  bool stop = false;

  auto scan_ec = j.scan(1, UINT64_MAX, [&](const journal_record& r) {
    const std::string at = "seq " + std::to_string(expected_seq) + ": ";
    if (r.seq != expected_seq) {
      note(result, verify_failure::sequence_gap, expected_seq,
           r.seq > expected_seq
               ? at + "missing (next record is seq " + std::to_string(r.seq) + ")"
               : at + "record seq " + std::to_string(r.seq) + " is out of order or repeated");
      return false;
    }
    if (r.prev_hash != prev_hash) {
      note(result, verify_failure::broken_chain, r.seq,
           at + "prev_hash " + to_hex(r.prev_hash) + " does not match the hash of seq " +
               std::to_string(r.seq - 1) + " (" + to_hex(prev_hash) + ")");
      return false;
    }
    const std::string computed = hasher.hash(r);
    if (computed != r.hash) {
      note(result, verify_failure::hash_mismatch, r.seq,
           at + "stored hash " + to_hex(r.hash) + " differs from the recomputed " +
               to_hex(computed) + " (record altered)");
      return false;
    }
    if (options.check_payload) {
      if (!r.parse(event)) {
        note(result, verify_failure::payload_mismatch, r.seq, at + "payload is not a valid Event");
        return false;
      }
      if (event.incident_id() != r.incident_id || event_type_name(event) != r.event_type) {
        note(result, verify_failure::payload_mismatch, r.seq,
             at + "payload (incident " + std::to_string(event.incident_id()) + ", " +
                 event_type_name(event) + ") disagrees with the columns (incident " +
                 std::to_string(r.incident_id) + ", " + r.event_type + ")");
        return false;
      }
    }
    while (next_cp < checkpoints.size() && checkpoints[next_cp].upto_seq <= r.seq) {
      const auto& cp = checkpoints[next_cp++];
      if (cp.upto_seq == r.seq && cp.hash != r.hash) {
        note(result, verify_failure::checkpoint_hash_mismatch, r.seq,
             "checkpoint at seq " + std::to_string(r.seq) + ": signed hash " + to_hex(cp.hash) +
                 " differs from the record hash " + to_hex(r.hash) +
                 " (records up to this seq were rewritten)");
        stop = true;
      }
    }
    ++result.records_checked;
    result.last_seq = r.seq;
    prev_hash = r.hash;
    ++expected_seq;
    // An earlier checkpoint failure makes later records irrelevant to the answer.
    if (result.failure != verify_failure::none && result.first_bad_seq <= r.seq) stop = true;
    return !stop;
  });
  if (scan_ec) {
    note(result, verify_failure::read_error, expected_seq,
         "seq " + std::to_string(expected_seq) + ": cannot read: " + scan_ec.message());
    return result;
  }
  // Checkpoints for records that are gone mean the tail was cut off. After an earlier failure
  // this lands at or after it, and note() keeps the earlier one.
  if (next_cp < checkpoints.size()) {
    const auto& cp = checkpoints[next_cp];
    note(result, verify_failure::checkpoint_beyond_end, result.last_seq + 1,
         "seq " + std::to_string(result.last_seq + 1) + ": missing, but checkpoint at seq " +
             std::to_string(cp.upto_seq) + " covers it (records deleted from the end)");
  }
  return result;
}

}  // namespace rescue::storage
