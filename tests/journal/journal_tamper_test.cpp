// Tamper evidence: alter a copy of a journal with the sqlite3 C API and check verify names the seq.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <functional>

#include "journal_test_util.hpp"
#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/signing.hpp"
#include "rescue/storage/sqlite_journal.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::append_wait;
using rescue::test::note_event;
using rescue::test::scratch_dir;

namespace {

// 60 records over 6 incidents, checkpoints at 10, 20, ... 60.
struct fixture {
  scratch_dir dir;
  std::filesystem::path original = dir / "journal.db";
  std::filesystem::path key_path = dir / "journal.key";
  std::string public_pem;

  fixture() {
    sqlite_journal_config c;
    c.path = original;
    c.signing_key_path = key_path;
    c.checkpoint_every_records = 10;
    std::error_code ec;
    auto j = sqlite_journal::open(c, ec);
    REQUIRE(j);
    for (int i = 1; i <= 60; ++i) {
      REQUIRE_FALSE(append_wait(*j, {note_event(i % 6 + 1, "event " + std::to_string(i))}).ec);
    }
    j->close();
    auto key = signing_key::load(key_path, ec);
    REQUIRE(key);
    public_pem = key->public_pem();
  }

  // Copies the journal, lets `alter` change the copy through the C API, and verifies the copy.
  verify_result tamper(const std::function<void(sqlite3*)>& alter,
                       const std::string& expected_key = {}) {
    const auto copy = dir / "tampered.db";
    std::filesystem::remove(copy);
    std::filesystem::copy_file(original, copy);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(copy.c_str(), &db) == SQLITE_OK);
    // The append-only triggers stop accidents, not someone with write access to the file.
    exec(db,
         "DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;"
         "DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;");
    alter(db);
    REQUIRE(sqlite3_close(db) == SQLITE_OK);

    sqlite_journal_config c;
    c.path = copy;
    c.read_only = true;
    std::error_code ec;
    auto j = sqlite_journal::open(c, ec);
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

  static void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }

  static std::string blob(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string out(static_cast<const char*>(sqlite3_column_blob(s, 0)),
                    static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
    sqlite3_finalize(s);
    return out;
  }

  static void set_blob(sqlite3* db, const std::string& sql, const std::string& value) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    sqlite3_bind_blob(s, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
  }
};

}  // namespace

TEST_CASE("an untouched copy verifies, with and without the expected key", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3*) {});
  INFO(r.reason);
  CHECK(r.ok());
  CHECK(r.records_checked == 60);
  CHECK(r.checkpoints_checked == 6);
  CHECK(f.tamper([](sqlite3*) {}, f.public_pem).ok());
}

TEST_CASE("changing one payload byte is a hash mismatch at that seq", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) {
    std::string payload = fixture::blob(db, "SELECT payload FROM journal WHERE seq = 17");
    payload[payload.size() - 1] ^= 0x01;
    fixture::set_blob(db, "UPDATE journal SET payload = ?1 WHERE seq = 17", payload);
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::hash_mismatch);
  CHECK(r.first_bad_seq == 17);
  CHECK_THAT(r.reason, Catch::Contains("seq 17"));
}

TEST_CASE("deleting a record is a sequence gap at that seq", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) { fixture::exec(db, "DELETE FROM journal WHERE seq = 23"); });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::sequence_gap);
  CHECK(r.first_bad_seq == 23);
  CHECK_THAT(r.reason, Catch::Contains("seq 23"));
}

TEST_CASE("swapping two records breaks the chain at the first of them", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) {
    // Swap the rows' contents, keeping each seq in place, the way reordering history would.
    fixture::exec(db,
                  "UPDATE journal SET seq = -1 WHERE seq = 30;"
                  "UPDATE journal SET seq = 30 WHERE seq = 31;"
                  "UPDATE journal SET seq = 31 WHERE seq = -1;");
  });
  INFO(r.reason);
  CHECK(r.first_bad_seq == 30);
  CHECK((r.failure == verify_failure::broken_chain || r.failure == verify_failure::hash_mismatch));
  CHECK_THAT(r.reason, Catch::Contains("seq 30"));
}

TEST_CASE("a forged checkpoint signature is caught at the checkpoint's seq", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) {
    std::string sig = fixture::blob(db, "SELECT signature FROM checkpoints WHERE upto_seq = 20");
    sig[5] ^= 0x40;
    fixture::set_blob(db, "UPDATE checkpoints SET signature = ?1 WHERE upto_seq = 20", sig);
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::bad_checkpoint_signature);
  CHECK(r.first_bad_seq == 20);
  CHECK_THAT(r.reason, Catch::Contains("seq 20"));
}

TEST_CASE("a checkpoint re-signed with another key fails against the expected key", "[sqlite]") {
  fixture f;
  auto alter = [](sqlite3* db) {
    auto forger = signing_key::generate();
    const std::string hash = fixture::blob(db, "SELECT hash FROM checkpoints WHERE upto_seq = 30");
    const std::string sig = forger->sign(checkpoint_message(30, hash, 1));
    fixture::set_blob(db, "UPDATE checkpoints SET signature = ?1, at_ms = 1 WHERE upto_seq = 30",
                      sig);
    fixture::set_blob(db, "UPDATE checkpoints SET public_key = ?1 WHERE upto_seq = 30",
                      forger->public_pem());
  };
  auto r = f.tamper(alter, f.public_pem);
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_key_mismatch);
  CHECK(r.first_bad_seq == 30);
  // Without the expected key the self-consistent forgery passes: the reason to pin the key.
  CHECK(f.tamper(alter).ok());
}

TEST_CASE("rewriting a record and re-hashing the chain is caught by the next checkpoint",
          "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) {
    auto forged = note_event(3, "nothing happened here");
    std::string payload;
    forged.SerializeToString(&payload);
    fixture::set_blob(db, "UPDATE journal SET payload = ?1, incident_id = 3 WHERE seq = 15",
                      payload);
    record_hasher hasher;
    std::string prev = fixture::blob(db, "SELECT hash FROM journal WHERE seq = 14");
    for (int seq = 15; seq <= 60; ++seq) {
      sqlite3_stmt* s = nullptr;
      REQUIRE(sqlite3_prepare_v2(db,
                                 "SELECT at_ms, incident_id, event_type, payload FROM journal "
                                 "WHERE seq = ?1",
                                 -1, &s, nullptr) == SQLITE_OK);
      sqlite3_bind_int(s, 1, seq);
      REQUIRE(sqlite3_step(s) == SQLITE_ROW);
      std::string type(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)));
      std::string pl(static_cast<const char*>(sqlite3_column_blob(s, 3)),
                     static_cast<std::size_t>(sqlite3_column_bytes(s, 3)));
      std::string h =
          hasher.hash(seq, sqlite3_column_int64(s, 0),
                      static_cast<std::uint64_t>(sqlite3_column_int64(s, 1)), type, pl, prev);
      sqlite3_finalize(s);
      fixture::set_blob(db, "UPDATE journal SET prev_hash = ?1 WHERE seq = " + std::to_string(seq),
                        prev);
      fixture::set_blob(db, "UPDATE journal SET hash = ?1 WHERE seq = " + std::to_string(seq), h);
      prev = h;
    }
  });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_hash_mismatch);
  CHECK(r.first_bad_seq == 20);
  CHECK_THAT(r.reason, Catch::Contains("seq 20"));
}

TEST_CASE("cutting records off the end is caught by the checkpoint that covered them", "[sqlite]") {
  fixture f;
  auto r = f.tamper([](sqlite3* db) { fixture::exec(db, "DELETE FROM journal WHERE seq >= 55"); });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::checkpoint_beyond_end);
  CHECK(r.first_bad_seq == 55);
}

TEST_CASE("changing the incident column alone is a hash mismatch", "[sqlite]") {
  fixture f;
  auto r = f.tamper(
      [](sqlite3* db) { fixture::exec(db, "UPDATE journal SET incident_id = 99 WHERE seq = 8"); });
  INFO(r.reason);
  CHECK(r.failure == verify_failure::hash_mismatch);
  CHECK(r.first_bad_seq == 8);
}
