// The journal contract, for every backend: append and ordering, reads, following the tail, group
// commit, atomic batches, close, reopen and the chain, checkpoints, a second writer, concurrent
// readers.
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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

TEMPLATE_TEST_CASE("append assigns consecutive seqs and completes only once the batch is readable",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
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

TEMPLATE_TEST_CASE("an unstamped event gets the server time and its record carries it",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto e = note_event(1, "x", 0);
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  REQUIRE_FALSE(append_wait(*j, {e}).ec);
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_after(0, 1, records));
  CHECK(records.at(0).at_ms >= before);
}

TEMPLATE_TEST_CASE("read_incident returns only that incident, in sequence order", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
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
  // Ids above 2^63 are ids like any other.
  const std::uint64_t big = (std::uint64_t{1} << 63) + 5;
  REQUIRE_FALSE(append_wait(*j, {note_event(big, "big")}).ec);
  REQUIRE_FALSE(j->read_incident(big, records));
  REQUIRE(records.size() == 1);
  CHECK(records[0].incident_id == big);
}

TEMPLATE_TEST_CASE("scan streams an inclusive range and stops when the visitor says so",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
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
  CHECK(seen == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
}

TEMPLATE_TEST_CASE("a follower polls with read_after and is woken by the tail listener",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
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
  j->set_tail_listener({});
  std::lock_guard lock(mu);
  CHECK(notified == 25);
}

TEMPLATE_TEST_CASE("group commit puts many concurrent appends into fewer transactions",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options o;
  o.checkpoint_every_records = 1000;
  auto j = open_journal(backend, o);
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

TEMPLATE_TEST_CASE(
    "an empty batch completes with no seqs, a batch with an event without a body "
    "is refused whole",
    "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto r = append_wait(*j, {});
  CHECK_FALSE(r.ec);
  CHECK(r.seqs.empty());
  v1::Event empty;
  empty.set_incident_id(3);
  r = append_wait(*j, {note_event(1, "ok"), empty});
  CHECK(r.ec == journal_errc::invalid_event);
  CHECK(r.seqs.empty());
  CHECK(j->last_seq() == 0);
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_incident(1, records));
  CHECK(records.empty());
}

TEMPLATE_TEST_CASE("close drains queued appends, later appends fail with closed", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
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

TEMPLATE_TEST_CASE("reopening continues the sequence and the chain", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  {
    auto j = open_journal(backend);
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "a"), note_event(1, "b")}).ec);
  }
  auto j = open_journal(backend);
  CHECK(j->last_seq() == 2);
  auto r = append_wait(*j, {note_event(1, "c")});
  CHECK(r.seqs == std::vector<std::uint64_t>{3});
  std::vector<journal_record> records;
  REQUIRE_FALSE(j->read_after(1, 10, records));
  REQUIRE(records.size() == 2);
  CHECK(records[1].prev_hash == records[0].hash);
  auto result = verify_journal(*j);
  INFO(result.reason);
  CHECK(result.ok());
  CHECK(result.records_checked == 3);
}

TEMPLATE_TEST_CASE("checkpoints are signed every N records and on close with the configured key",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  {
    auto j = open_journal(backend);
    for (int i = 0; i < 25; ++i)
      REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
  }
  // The key was created owner-only.
  struct stat st {};
  REQUIRE(::stat(backend.key_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  std::error_code ec;
  auto key = signing_key::load(backend.key_path(), ec);
  REQUIRE(key);
  auto j = open_journal(backend);
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

TEMPLATE_TEST_CASE("a checkpoint is written after the time limit even when appends stop",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options o;
  o.checkpoint_every_records = 1'000'000;
  o.checkpoint_every = std::chrono::milliseconds(50);
  auto j = open_journal(backend, o);
  REQUIRE_FALSE(append_wait(*j, {note_event(1, "x"), note_event(1, "y")}).ec);
  std::vector<journal_checkpoint> cps;
  for (int i = 0; i < 100 && cps.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE_FALSE(j->read_checkpoints(cps));
  }
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].upto_seq == 2);
}

TEMPLATE_TEST_CASE("without a key no checkpoint is written, and a read-only open refuses appends",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options o;
  o.signed_checkpoints = false;
  {
    auto j = open_journal(backend, o);
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}).ec);
  }
  o.read_only = true;
  auto j = open_journal(backend, o);
  CHECK(j->last_seq() == 1);
  std::vector<journal_checkpoint> cps;
  REQUIRE_FALSE(j->read_checkpoints(cps));
  CHECK(cps.empty());
  CHECK(append_wait(*j, {note_event(1, "y")}).ec == journal_errc::closed);
  CHECK(verify_journal(*j).ok());
}

TEMPLATE_TEST_CASE("a read-only journal sees what a writer appends after it opened",
                   "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto writer = open_journal(backend);
  REQUIRE_FALSE(append_wait(*writer, {note_event(1, "a")}).ec);
  store_options o;
  o.read_only = true;
  auto reader = open_journal(backend, o);
  CHECK(reader->last_seq() == 1);
  REQUIRE_FALSE(append_wait(*writer, {note_event(1, "b"), note_event(1, "c")}).ec);
  CHECK(reader->last_seq() == 3);
  std::vector<journal_record> records;
  REQUIRE_FALSE(reader->read_incident(1, records));
  CHECK(records.size() == 3);
}

TEMPLATE_TEST_CASE("opening a missing store read-only fails with an error code", "[conformance]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options o;
  o.read_only = true;
  std::error_code ec;
  CHECK_FALSE(backend.open_journal(o, "absent", ec));
  CHECK(ec);
}

TEMPLATE_TEST_CASE(
    "a second writer's append is refused whole once the first has appended, and "
    "the chain stays one",
    "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto first = open_journal(backend);
  REQUIRE_FALSE(append_wait(*first, {note_event(1, "a")}).ec);
  // Both resume after seq 1: only one of them may write seq 2.
  auto second = open_journal(backend);
  REQUIRE_FALSE(append_wait(*first, {note_event(1, "b")}).ec);
  auto refused = append_wait(*second, {note_event(2, "forked"), note_event(2, "forked too")});
  CHECK(refused.ec == journal_errc::stale_writer);
  CHECK(refused.seqs.empty());
  // Nothing of the refused batch is visible; the first writer goes on.
  std::vector<journal_record> records;
  REQUIRE_FALSE(first->read_incident(2, records));
  CHECK(records.empty());
  CHECK(append_wait(*first, {note_event(1, "c")}).seqs == std::vector<std::uint64_t>{3});
  second->close();
  first->close();
  store_options o;
  o.read_only = true;
  auto reader = open_journal(backend, o);
  CHECK(reader->last_seq() == 3);
  auto result = verify_journal(*reader);
  INFO(result.reason);
  CHECK(result.ok());
}

TEMPLATE_TEST_CASE(
    "concurrent readers see whole batches and an unbroken chain while appends go "
    "on",
    "[conformance]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options o;
  o.checkpoint_every_records = 100;
  auto j = open_journal(backend, o);
  constexpr int batches = 150;
  constexpr int per_batch = 8;
  std::atomic<bool> writing{true};
  std::atomic<int> scans{0}, torn{0}, unchained{0}, read_errors{0}, half_incidents{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      std::uint64_t probe = 1;
      while (writing) {
        // A whole scan: seqs from 1 without gaps, each record chained to the one before, every
        // batch (one incident each) either all there or not at all.
        std::map<std::uint64_t, int> per_incident;
        std::uint64_t expected = 1;
        std::string prev = genesis_hash();
        const auto last = j->last_seq();
        if (j->scan(1, last, [&](const journal_record& rec) {
              if (rec.seq != expected++) ++torn;
              if (rec.prev_hash != prev) ++unchained;
              prev = rec.hash;
              ++per_incident[rec.incident_id];
              return true;
            }))
          ++read_errors;
        if (expected - 1 < last) ++torn;  // durable records went missing
        for (const auto& [incident, count] : per_incident)
          if (count != per_batch) ++half_incidents;
        // And one incident read on its own.
        std::vector<journal_record> one;
        if (j->read_incident(probe, one)) ++read_errors;
        if (!one.empty() && one.size() != per_batch) ++half_incidents;
        probe = probe % batches + 1 + static_cast<std::uint64_t>(r);
        ++scans;
      }
    });
  }
  for (int b = 1; b <= batches; ++b) {
    std::vector<v1::Event> batch;
    for (int k = 0; k < per_batch; ++k)
      batch.push_back(note_event(static_cast<std::uint64_t>(b), std::to_string(k)));
    // Half of them waited for, half left in flight: commits of one and of many batches.
    if (b % 2)
      j->append(std::move(batch), nullptr);
    else
      REQUIRE_FALSE(append_wait(*j, std::move(batch)).ec);
  }
  REQUIRE_FALSE(append_wait(*j, {}).ec);
  writing = false;
  for (auto& t : readers)
    t.join();
  INFO(scans << " scans");
  CHECK(scans > 4);
  CHECK(read_errors == 0);
  CHECK(torn == 0);
  CHECK(unchained == 0);
  CHECK(half_incidents == 0);
  CHECK(j->last_seq() == batches * per_batch);
  CHECK(verify_journal(*j).ok());
}
