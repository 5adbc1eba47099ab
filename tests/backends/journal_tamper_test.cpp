// Tamper evidence, for every backend: alter a copy of a store the way someone with write access
// could, and check that verification names the first seq that is wrong.
#include <catch2/catch.hpp>
#include <functional>

#include "backends.hpp"
#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/signing.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::append_wait;
using rescue::test::note_event;
using rescue::test::open_journal;
using rescue::test::store_options;

namespace {

using records = std::vector<journal_record>;
using checkpoints = std::vector<journal_checkpoint>;

journal_record& at(records& all, std::uint64_t seq) {
  for (auto& r : all)
    if (r.seq == seq) return r;
  FAIL("no record " << seq);
  return all.front();
}

journal_checkpoint& checkpoint_at(checkpoints& all, std::uint64_t upto) {
  for (auto& cp : all)
    if (cp.upto_seq == upto) return cp;
  FAIL("no checkpoint " << upto);
  return all.front();
}

// 60 records over 6 incidents, checkpoints at 10, 20, ... 60.
template <class Backend>
struct fixture {
  Backend backend;
  std::string public_pem;

  fixture() {
    {
      auto j = open_journal(backend);
      for (int i = 1; i <= 60; ++i) {
        REQUIRE_FALSE(append_wait(*j, {note_event(i % 6 + 1, "event " + std::to_string(i))}).ec);
      }
    }
    std::error_code ec;
    auto key = signing_key::load(backend.key_path(), ec);
    REQUIRE(key);
    public_pem = key->public_pem();
  }

  // Copies the store, lets `alter` edit the copy's records and checkpoints, and verifies it.
  verify_result tamper(const std::function<void(records&, checkpoints&)>& alter,
                       const std::string& expected_key = {}) {
    backend.copy("main", "tampered");
    backend.rewrite("tampered", alter);
    store_options o;
    o.read_only = true;
    std::error_code ec;
    auto j = backend.open_journal(o, "tampered", ec);
    INFO(ec.message());
    REQUIRE(j);
    verify_options options;
    options.expected_public_key = expected_key;
    options.threads = 1;
    auto result = verify_journal(*j, options);
    // Parallel verification must find the same first failure, whichever range boundaries the
    // tampering falls on (4 threads put a boundary between seq 30 and 31).
    for (unsigned threads : {2u, 3u, 4u, 7u}) {
      options.threads = threads;
      auto parallel = verify_journal(*j, options);
      INFO(threads << " threads: " << parallel.reason << " / one thread: " << result.reason);
      CHECK(parallel.failure == result.failure);
      CHECK(parallel.first_bad_seq == result.first_bad_seq);
      CHECK(parallel.records_checked == result.records_checked);
    }
    return result;
  }
};

const auto untouched = [](records&, checkpoints&) {};

}  // namespace

TEMPLATE_TEST_CASE("an untouched copy verifies, with and without the expected key", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper(untouched);
  INFO(r.reason);
  CHECK(r.ok());
  CHECK(r.records_checked == 60);
  CHECK(r.checkpoints_checked == 6);
  CHECK(f.tamper(untouched, f.public_pem).ok());
}

TEMPLATE_TEST_CASE("changing one payload byte is a hash mismatch at that seq", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) {
    std::string& payload = at(all, 17).payload;
    payload[payload.size() - 1] ^= 0x01;
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::hash_mismatch);
  CHECK(r.first_bad_seq == 17);
  CHECK_THAT(r.reason, Catch::Contains("seq 17"));
}

TEMPLATE_TEST_CASE("deleting a record is a sequence gap at that seq", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) {
    std::erase_if(all, [](const journal_record& x) { return x.seq == 23; });
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::sequence_gap);
  CHECK(r.first_bad_seq == 23);
  CHECK_THAT(r.reason, Catch::Contains("seq 23"));
}

TEMPLATE_TEST_CASE("swapping two records breaks the chain at the first of them", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) {
    // Swap the records' contents, keeping each seq in place, the way reordering history would.
    std::swap(at(all, 30), at(all, 31));
    std::swap(at(all, 30).seq, at(all, 31).seq);
  });
  INFO(r.reason);
  CHECK(r.first_bad_seq == 30);
  CHECK((r.failure == verify_failure::broken_chain || r.failure == verify_failure::hash_mismatch));
  CHECK_THAT(r.reason, Catch::Contains("seq 30"));
}

TEMPLATE_TEST_CASE("a forged checkpoint signature is caught at the checkpoint's seq",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r =
      f.tamper([](records&, checkpoints& cps) { checkpoint_at(cps, 20).signature[5] ^= 0x40; });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::bad_checkpoint_signature);
  CHECK(r.first_bad_seq == 20);
  CHECK_THAT(r.reason, Catch::Contains("seq 20"));
}

TEMPLATE_TEST_CASE("a checkpoint re-signed with another key fails against the expected key",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto alter = [](records&, checkpoints& cps) {
    auto forger = signing_key::generate();
    auto& cp = checkpoint_at(cps, 30);
    cp.at_ms = 1;
    cp.signature = forger->sign(checkpoint_message(30, cp.hash, 1));
    cp.public_key = forger->public_pem();
  };
  auto r = f.tamper(alter, f.public_pem);
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_key_mismatch);
  CHECK(r.first_bad_seq == 30);
  // Without the expected key the self-consistent forgery passes: the reason to pin the key.
  CHECK(f.tamper(alter).ok());
}

TEMPLATE_TEST_CASE("rewriting a record and re-hashing the chain is caught by the next checkpoint",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) {
    auto forged = note_event(3, "nothing happened here");
    auto& victim = at(all, 15);
    forged.SerializeToString(&victim.payload);
    victim.incident_id = 3;
    record_hasher hasher;
    std::string prev = at(all, 14).hash;
    for (std::uint64_t seq = 15; seq <= 60; ++seq) {
      auto& rec = at(all, seq);
      rec.prev_hash = prev;
      rec.hash = hasher.hash(rec);
      prev = rec.hash;
    }
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_hash_mismatch);
  CHECK(r.first_bad_seq == 20);
  CHECK_THAT(r.reason, Catch::Contains("seq 20"));
}

TEMPLATE_TEST_CASE("cutting records off the end is caught by the checkpoint that covered them",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) {
    std::erase_if(all, [](const journal_record& x) { return x.seq >= 55; });
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_beyond_end);
  CHECK(r.first_bad_seq == 55);
}

TEMPLATE_TEST_CASE("changing the incident column alone is a hash mismatch", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  fixture<TestType> f;
  auto r = f.tamper([](records& all, checkpoints&) { at(all, 8).incident_id = 99; });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::hash_mismatch);
  CHECK(r.first_bad_seq == 8);
}
