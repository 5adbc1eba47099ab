#include "rescue/storage/journal_verify.hpp"

#include <algorithm>
#include <string>
#include <thread>
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

namespace {

// Checks one contiguous seq range [from, to]. Ranges run on separate threads; the hash of the
// record before `from` is not known here, so the link into the range is checked by the caller.
struct range_check {
  std::uint64_t from = 0, to = 0;
  const std::vector<journal_checkpoint>* checkpoints = nullptr;
  bool check_payload = true;
  bool open_end = false;  // the last range: running out of records there is the normal end

  // Outputs.
  verify_result failure;  // only failure, first_bad_seq and reason are used
  std::string first_prev_hash, last_hash;
  std::uint64_t checked = 0, last_seq = 0;

  void fail(verify_failure f, std::uint64_t seq, std::string reason) {
    failure.failure = f;
    failure.first_bad_seq = seq;
    failure.reason = std::move(reason);
  }

  void run(journal& j) {
    record_hasher hasher;
    rescue::v1::Event event;
    std::uint64_t expected_seq = from;
    std::string prev_hash;
    auto next_cp = std::lower_bound(
        checkpoints->begin(), checkpoints->end(), from,
        [](const journal_checkpoint& cp, std::uint64_t seq) { return cp.upto_seq < seq; });

    auto ec = j.scan(from, to, [&](const journal_record& r) {
      // Built only on failure: this loop runs a million times a second.
      const auto at = [&] { return "seq " + std::to_string(expected_seq) + ": "; };
      if (r.seq != expected_seq) {
        fail(verify_failure::sequence_gap, expected_seq,
             r.seq > expected_seq
                 ? at() + "missing (next record is seq " + std::to_string(r.seq) + ")"
                 : at() + "record seq " + std::to_string(r.seq) + " is out of order or repeated");
        return false;
      }
      if (r.seq == from) {
        first_prev_hash = r.prev_hash;
      } else if (r.prev_hash != prev_hash) {
        fail(verify_failure::broken_chain, r.seq,
             at() + "prev_hash " + to_hex(r.prev_hash) + " does not match the hash of seq " +
                 std::to_string(r.seq - 1) + " (" + to_hex(prev_hash) + ")");
        return false;
      }
      const std::string computed = hasher.hash(r);
      if (computed != r.hash) {
        fail(verify_failure::hash_mismatch, r.seq,
             at() + "stored hash " + to_hex(r.hash) + " differs from the recomputed " +
                 to_hex(computed) + " (record altered)");
        return false;
      }
      if (check_payload) {
        if (!r.parse(event)) {
          fail(verify_failure::payload_mismatch, r.seq, at() + "payload is not a valid Event");
          return false;
        }
        if (event.incident_id() != r.incident_id || event_type_name(event) != r.event_type) {
          fail(verify_failure::payload_mismatch, r.seq,
               at() + "payload (incident " + std::to_string(event.incident_id()) + ", " +
                   std::string(event_type_name(event)) + ") disagrees with the columns (incident " +
                   std::to_string(r.incident_id) + ", " + r.event_type + ")");
          return false;
        }
      }
      for (; next_cp != checkpoints->end() && next_cp->upto_seq <= r.seq; ++next_cp) {
        if (next_cp->upto_seq == r.seq && next_cp->hash != r.hash) {
          fail(verify_failure::checkpoint_hash_mismatch, r.seq,
               "checkpoint at seq " + std::to_string(r.seq) + ": signed hash " +
                   to_hex(next_cp->hash) + " differs from the record hash " + to_hex(r.hash) +
                   " (records up to this seq were rewritten)");
          return false;
        }
      }
      ++checked;
      last_seq = r.seq;
      prev_hash = r.hash;
      ++expected_seq;
      return true;
    });
    if (ec) {
      fail(verify_failure::read_error, expected_seq,
           "seq " + std::to_string(expected_seq) + ": cannot read: " + ec.message());
    } else if (failure.ok() && !open_end && expected_seq <= to) {
      fail(verify_failure::sequence_gap, expected_seq,
           "seq " + std::to_string(expected_seq) + ": missing (records end at seq " +
               std::to_string(expected_seq - 1) + ")");
    }
    last_hash = prev_hash;
  }
};

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

  // Signatures and keys need no records.
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

  // The records split into contiguous ranges checked in parallel; each stored hash depends only
  // on its own row, so only the links between ranges need the neighbours' results.
  const std::uint64_t last = j.last_seq();
  // Automatic threading leaves small journals to one thread: starting threads costs more.
  std::uint64_t threads =
      options.threads ? options.threads
                      : std::min<std::uint64_t>(std::thread::hardware_concurrency(), last / 50'000);
  threads = std::clamp<std::uint64_t>(std::min<std::uint64_t>(threads, last), 1, 64);
  std::vector<range_check> ranges(threads);
  const std::uint64_t per = last / threads;
  for (unsigned i = 0; i < threads; ++i) {
    ranges[i].from = 1 + i * per;
    // The last range is open-ended so records appended meanwhile, or a repeated or stray seq
    // past the end, are still looked at.
    ranges[i].to = i + 1 == threads ? UINT64_MAX : (i + 1) * per;
    ranges[i].checkpoints = &checkpoints;
    ranges[i].check_payload = options.check_payload;
    ranges[i].open_end = i + 1 == threads;
  }
  if (threads == 1) {
    ranges[0].run(j);
  } else {
    std::vector<std::thread> workers;
    for (auto& r : ranges)
      workers.emplace_back([&r, &j] { r.run(j); });
    for (auto& w : workers)
      w.join();
  }

  // Walk the ranges in order: the first failure found is the lowest record failure.
  std::string prev_hash = genesis_hash();
  for (const auto& r : ranges) {
    if (r.checked > 0 && r.first_prev_hash != prev_hash) {
      note(result, verify_failure::broken_chain, r.from,
           "seq " + std::to_string(r.from) + ": prev_hash " + to_hex(r.first_prev_hash) +
               " does not match the hash of seq " + std::to_string(r.from - 1) + " (" +
               to_hex(prev_hash) + ")");
      break;
    }
    result.records_checked += r.checked;
    if (r.checked > 0) result.last_seq = r.last_seq;
    if (!r.failure.ok()) {
      note(result, r.failure.failure, r.failure.first_bad_seq, r.failure.reason);
      break;
    }
    prev_hash = r.last_hash;
  }

  // Checkpoints for records that are gone mean the tail was cut off. After an earlier failure
  // this lands at or after it, and note() keeps the earlier one.
  for (const auto& cp : checkpoints) {
    if (cp.upto_seq > result.last_seq) {
      note(result, verify_failure::checkpoint_beyond_end, result.last_seq + 1,
           "seq " + std::to_string(result.last_seq + 1) + ": missing, but checkpoint at seq " +
               std::to_string(cp.upto_seq) + " covers it (records deleted from the end)");
      break;
    }
  }
  return result;
}

}  // namespace rescue::storage
