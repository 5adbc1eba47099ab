// The SQLite journal: append, read, scan, follow, group commit, checkpoints, reopen.
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

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

std::unique_ptr<sqlite_journal> open_journal(const sqlite_journal_config& config) {
  std::error_code ec;
  auto j = sqlite_journal::open(config, ec);
  INFO(ec.message());
  REQUIRE(j);
  return j;
}

sqlite_journal_config config_in(const scratch_dir& dir) {
  sqlite_journal_config c;
  c.path = dir / "journal.db";
  c.signing_key_path = dir / "journal.key";
  c.checkpoint_every_records = 10;
  return c;
}

}  // namespace

TEST_CASE("append assigns consecutive seqs and completes only once the batch is readable",
          "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  CHECK(j->last_seq() == 0);

  auto r = append_wait(*j, {note_event(7, "a"), note_event(8, "b"), note_event(7, "c")});
  REQUIRE_FALSE(r.ec);
  CHECK(r.seqs == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(j->last_seq() == 3);

  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_after(0, 100, records));
  REQUIRE(records.size() == 3);
  CHECK(records[0].seq == 1);
  CHECK(records[1].incident_id == 8);
  CHECK(records[2].event_type == "note");
  CHECK(records[0].prev_hash == genesis_hash());
  CHECK(records[1].prev_hash == records[0].hash);
  v1::Event parsed;
  REQUIRE(records[2].parse(parsed));
  CHECK(parsed.note().text() == "c");

  r = append_wait(*j, {note_event(9, "d")});
  CHECK(r.seqs == std::vector<std::uint64_t>{4});
}

TEST_CASE("an unstamped event gets the server time and its record carries it", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  auto e = note_event(1, "x", 0);
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  REQUIRE_FALSE(append_wait(*j, {e}).ec);
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_after(0, 1, records));
  CHECK(records.at(0).at_ms >= before);
}

TEST_CASE("read_incident returns only that incident, in sequence order", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  for (int i = 0; i < 30; ++i) {
    REQUIRE_FALSE(append_wait(*j, {note_event(100 + i % 3, std::to_string(i))}).ec);
  }
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_incident(101, records));
  REQUIRE(records.size() == 10);
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].incident_id == 101);
    CHECK(records[i].seq == 2 + 3 * i);
  }
  records.clear();
  REQUIRE_FALSE(j->read_incident(999, records));
  CHECK(records.empty());
}

TEST_CASE("scan streams an inclusive range and stops when the visitor says so", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  std::vector<v1::Event> batch;
  for (int i = 0; i < 50; ++i)
    batch.push_back(note_event(1, std::to_string(i)));
  REQUIRE_FALSE(append_wait(*j, batch).ec);

  std::vector<std::uint64_t> seen;
  REQUIRE_FALSE(j->scan(10, 20, [&](const journal_record& r) {
    seen.push_back(r.seq);
    return true;
  }));
  REQUIRE(seen.size() == 11);
  CHECK(seen.front() == 10);
  CHECK(seen.back() == 20);

  seen.clear();
  REQUIRE_FALSE(j->scan(1, UINT64_MAX, [&](const journal_record& r) {
    seen.push_back(r.seq);
    return seen.size() < 5;
  }));
  CHECK(seen.size() == 5);
}

TEST_CASE("a follower polls with read_after and is woken by the tail listener", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t notified = 0;
  j->set_tail_listener([&](std::uint64_t last) {
    std::lock_guard lock(mu);
    notified = last;
    cv.notify_all();
  });

  // Catch2 assertions are not thread-safe: the follower records what it saw and the test checks.
  std::vector<std::string> received;
  std::uint64_t cursor = 0;
  bool read_failed = false, out_of_order = false, over_limit = false;
  std::thread follower([&] {
    while (received.size() < 25 && !read_failed) {
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return notified > cursor; });
      }
      std::vector<journal_record> batch;
      if (j->read_after(cursor, 4, batch)) read_failed = true;
      if (batch.size() > 4) over_limit = true;
      for (const auto& r : batch) {
        if (r.seq != cursor + 1) out_of_order = true;
        cursor = r.seq;
        v1::Event e;
        r.parse(e);
        received.push_back(e.note().text());
      }
    }
  });
  for (int i = 0; i < 25; ++i) {
    j->append({note_event(1, std::to_string(i))}, nullptr);
  }
  follower.join();
  CHECK_FALSE(read_failed);
  CHECK_FALSE(out_of_order);
  CHECK_FALSE(over_limit);
  REQUIRE(received.size() == 25);
  for (int i = 0; i < 25; ++i)
    CHECK(received[i] == std::to_string(i));
  std::lock_guard lock(mu);
  CHECK(notified == 25);
}

TEST_CASE("group commit puts many concurrent appends into fewer transactions", "[sqlite]") {
  scratch_dir dir;
  auto config = config_in(dir);
  config.checkpoint_every_records = 1000;
  auto j = open_journal(config);
  constexpr int producers = 16;
  constexpr int per_producer = 200;
  std::mutex mu;
  std::set<std::uint64_t> seqs;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        // Each producer waits for durability before the next append, like a session that
        // acknowledges one alarm at a time; only batching across producers can beat one fsync each.
        auto r = append_wait(*j, {note_event(p, std::to_string(i))});
        if (r.ec || r.seqs.size() != 1) {
          ++errors;
          continue;
        }
        std::lock_guard lock(mu);
        seqs.insert(r.seqs[0]);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto stats = j->stats();
  CHECK(errors == 0);
  CHECK(seqs.size() == producers * per_producer);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == producers * per_producer);
  CHECK(stats.events == producers * per_producer);
  CHECK(stats.transactions < stats.events);
  CHECK(stats.largest_transaction > 1);
  INFO("transactions " << stats.transactions << " for " << stats.events << " events");
  CHECK(verify_journal(*j).ok());
}

TEST_CASE("an empty batch completes with no seqs, an event without a body is refused", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  auto r = append_wait(*j, {});
  CHECK_FALSE(r.ec);
  CHECK(r.seqs.empty());
  v1::Event empty;
  empty.set_incident_id(3);
  r = append_wait(*j, {note_event(1, "ok"), empty});
  CHECK(r.ec == journal_errc::invalid_event);
  CHECK(j->last_seq() == 0);
}

TEST_CASE("close drains queued appends, later appends fail with closed", "[sqlite]") {
  scratch_dir dir;
  auto j = open_journal(config_in(dir));
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    j->append({note_event(1, std::to_string(i))}, [&](std::error_code ec, auto) {
      if (!ec) ++done;
    });
  }
  j->close();
  CHECK(done == 100);
  CHECK(j->last_seq() == 100);
  auto r = append_wait(*j, {note_event(1, "late")});
  CHECK(r.ec == journal_errc::closed);
}

TEST_CASE("reopening continues the sequence and the chain", "[sqlite]") {
  scratch_dir dir;
  auto config = config_in(dir);
  {
    auto j = open_journal(config);
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "a"), note_event(1, "b")}).ec);
  }
  auto j = open_journal(config);
  CHECK(j->last_seq() == 2);
  auto r = append_wait(*j, {note_event(1, "c")});
  CHECK(r.seqs == std::vector<std::uint64_t>{3});
  auto result = verify_journal(*j);
  INFO(result.reason);
  CHECK(result.ok());
  CHECK(result.records_checked == 3);
}

TEST_CASE("checkpoints are signed every N records and on close with the configured key",
          "[sqlite]") {
  scratch_dir dir;
  auto config = config_in(dir);
  {
    auto j = open_journal(config);
    for (int i = 0; i < 25; ++i)
      REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
  }
  // The key was created owner-only.
  struct stat st {};
  REQUIRE(::stat(config.signing_key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  std::error_code ec;
  auto key = signing_key::load(config.signing_key_path, ec);
  REQUIRE(key);
  auto j = open_journal(config);
  std::vector<journal_checkpoint> cps;
  REQUIRE_FALSE(j->read_checkpoints(cps));
  REQUIRE(cps.size() == 3);
  CHECK(cps[0].upto_seq == 10);
  CHECK(cps[1].upto_seq == 20);
  CHECK(cps[2].upto_seq == 25);  // written by close
  for (const auto& cp : cps) {
    CHECK(cp.public_key == key->public_pem());
    CHECK(verify_signature(cp.public_key, checkpoint_message(cp.upto_seq, cp.hash, cp.at_ms),
                           cp.signature));
  }
  verify_options options;
  options.expected_public_key = key->public_pem();
  auto result = verify_journal(*j, options);
  INFO(result.reason);
  CHECK(result.ok());
  CHECK(result.checkpoints_checked == 3);
}

TEST_CASE("a checkpoint is written after the time limit even when appends stop", "[sqlite]") {
  scratch_dir dir;
  auto config = config_in(dir);
  config.checkpoint_every_records = 1'000'000;
  config.checkpoint_every = std::chrono::milliseconds(50);
  auto j = open_journal(config);
  REQUIRE_FALSE(append_wait(*j, {note_event(1, "x"), note_event(1, "y")}).ec);
  std::vector<journal_checkpoint> cps;
  for (int i = 0; i < 100 && cps.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE_FALSE(j->read_checkpoints(cps));
  }
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].upto_seq == 2);
}

TEST_CASE("no key path means no checkpoints; read-only open refuses appends", "[sqlite]") {
  scratch_dir dir;
  sqlite_journal_config config;
  config.path = dir / "plain.db";
  {
    auto j = open_journal(config);
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
  }
  config.read_only = true;
  auto j = open_journal(config);
  CHECK(j->last_seq() == 1);
  std::vector<journal_checkpoint> cps;
  REQUIRE_FALSE(j->read_checkpoints(cps));
  CHECK(cps.empty());
  CHECK(append_wait(*j, {note_event(1, "y")}).ec == journal_errc::closed);
  CHECK(verify_journal(*j).ok());
}

TEST_CASE("opening a missing file read-only fails with an error code", "[sqlite]") {
  scratch_dir dir;
  sqlite_journal_config config;
  config.path = dir / "absent.db";
  config.read_only = true;
  std::error_code ec;
  CHECK_FALSE(sqlite_journal::open(config, ec));
  CHECK(ec);
}

TEST_CASE("the record hash covers every field", "[sqlite]") {
  record_hasher h;
  const std::string prev = genesis_hash();
  const auto base = h.hash(1, 2, 3, "note", "payload", prev);
  CHECK(base.size() == 32);
  CHECK(h.hash(1, 2, 3, "note", "payload", prev) == base);
  CHECK(h.hash(9, 2, 3, "note", "payload", prev) != base);
  CHECK(h.hash(1, 9, 3, "note", "payload", prev) != base);
  CHECK(h.hash(1, 2, 9, "note", "payload", prev) != base);
  CHECK(h.hash(1, 2, 3, "closed", "payload", prev) != base);
  CHECK(h.hash(1, 2, 3, "note", "payloaD", prev) != base);
  CHECK(h.hash(1, 2, 3, "note", "payload", std::string(32, '\1')) != base);
  // Length prefixes keep field boundaries: moving a byte between fields changes the hash.
  CHECK(h.hash(1, 2, 3, "notep", "ayload", prev) != base);
}
