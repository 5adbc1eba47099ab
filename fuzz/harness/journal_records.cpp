// What a journal file may hold when someone has written to it: records with any seq, hashes,
// event type and payload, and checkpoints with any key, hash and signature. verify_journal must
// judge them without crashing, journal_record::parse must take any payload, and a journal that
// verifies must fold into a state the way recovery and `rescuectl replay` fold it.
//
// Input (byte_reader.hpp): a flags byte, a record count, the records, a checkpoint count, the
// checkpoints; fuzz_make_seeds writes real ones. The harness
// chains the records' hashes itself when asked and can sign checkpoints with a key of its own, so
// the fuzzer reaches the checks behind the hash comparisons.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "byte_reader.hpp"
#include "memory_journal.hpp"
#include "quiet.hpp"
#include "rescue/core/replayer.hpp"
#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/signing.hpp"

namespace {

using namespace rescue;

enum flag : std::uint8_t {
  chain_hashes = 1,  // store the hashes the verifier will recompute
  sequential = 2,    // seq 1, 2, 3... instead of raw values
  check_payload = 4,
  expect_key = 8,  // verify against the harness's public key
  two_threads = 16,
  true_types = 32,  // event_type and incident_id columns taken from the payload
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const auto key = storage::signing_key::generate();
  fuzz::byte_reader in(data, size);
  const std::uint8_t flags = in.integer<std::uint8_t>();
  fuzz::memory_journal journal;
  storage::record_hasher hasher;

  std::vector<storage::journal_record> records;
  const std::size_t count = in.integer<std::uint8_t>() % 25u;
  std::string prev = storage::genesis_hash();
  for (std::size_t i = 0; i < count && in.remaining() > 0; ++i) {
    storage::journal_record r;
    r.seq = flags & sequential ? i + 1 : in.integer<std::uint64_t>();
    r.at_ms = in.integer<std::int64_t>();
    r.incident_id = in.integer<std::uint8_t>() % 5u;
    r.event_type = in.bytes(24);
    r.payload = in.bytes(4096);
    if (flags & true_types) {
      v1::Event e;
      if (e.ParseFromString(r.payload)) {
        r.incident_id = e.incident_id();
        r.event_type = storage::event_type_name(e);
      }
    }
    if (flags & chain_hashes) {
      r.prev_hash = prev;
      r.hash = hasher.hash(r);
    } else {
      r.prev_hash = in.bytes(64);
      r.hash = in.bytes(64);
    }
    prev = r.hash;
    records.push_back(r);
    journal.put(std::move(r));
  }

  const std::size_t checkpoints = in.integer<std::uint8_t>() % 4u;
  for (std::size_t i = 0; i < checkpoints && in.remaining() > 0; ++i) {
    storage::journal_checkpoint cp;
    cp.upto_seq = in.integer<std::uint8_t>() % (count + 2);
    cp.hash = cp.upto_seq >= 1 && cp.upto_seq <= records.size() && in.flag()
                  ? records[cp.upto_seq - 1].hash
                  : in.fixed(32);
    cp.at_ms = in.integer<std::int64_t>();
    if (in.flag()) {
      cp.public_key = key->public_pem();
      cp.signature = in.flag()
                         ? key->sign(storage::checkpoint_message(cp.upto_seq, cp.hash, cp.at_ms))
                         : in.fixed(64);
    } else {
      cp.public_key = in.bytes(256);
      cp.signature = in.bytes(80);
    }
    journal.put_checkpoint(std::move(cp));
  }

  storage::verify_options options;
  options.check_payload = flags & check_payload;
  options.threads = flags & two_threads ? 2 : 1;
  if (flags & expect_key) options.expected_public_key = key->public_pem();
  const storage::verify_result result = storage::verify_journal(journal, options);
  if (result.ok() && result.first_bad_seq != 0) __builtin_trap();

  // What recovery does with a journal: the core's replayer over every record, in order.
  if (result.ok()) {
    core::replayer replay;
    try {
      for (const auto& r : records)
        if (replay.feed(r.seq, r.payload)) break;
    } catch (const std::exception&) {
      // Refused at start-up with a reason: the server does not come up on a journal it cannot
      // fold. Not a crash.
    }
  } else {
    for (const auto& r : records) {
      v1::Event e;
      (void)r.parse(e);
    }
  }
  return 0;
}
