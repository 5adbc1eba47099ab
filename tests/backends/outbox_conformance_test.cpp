// The outbox contract, for every backend: a call is stored exactly when the events of its batch
// are, delivery state is kept across reopening, and the delivery side lists, orders and finds
// calls as the delivery loop needs.
#include <atomic>
#include <catch2/catch.hpp>
#include <limits>
#include <set>
#include <thread>

#include "backends.hpp"

using namespace rescue;
using namespace rescue::storage;
using rescue::test::append_result;
using rescue::test::note_event;
using rescue::test::open_journal;
using rescue::test::open_outbox;
using rescue::test::store_options;

namespace {

outbox_message call(std::uint64_t incident, std::string body,
                    std::string url = "http://127.0.0.1:9/hook") {
  return {"fire_escalation", incident, std::move(url), std::move(body)};
}

// Appends events with their calls and waits until they are durable.
append_result append_wait(journal& j, std::vector<v1::Event> events,
                          std::vector<outbox_message> calls) {
  auto done = std::make_shared<std::promise<append_result>>();
  auto f = done->get_future();
  j.append(std::move(events), std::move(calls),
           [done](std::error_code ec, std::vector<std::uint64_t> seqs) {
             done->set_value({ec, std::move(seqs)});
           });
  return f.get();
}

std::vector<outbox_row> all_rows(outbox_store& o) {
  std::vector<outbox_row> out;
  REQUIRE_FALSE(o.rows(out));
  return out;
}

std::size_t pending(outbox_store& o) {
  std::size_t n = 0;
  REQUIRE_FALSE(o.pending(n));
  return n;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEMPLATE_TEST_CASE("a call appended with its events is in the outbox once the append completes",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  CHECK(all_rows(*o).empty());
  const auto before = now_ms();
  const auto r = append_wait(*j, {note_event(7, "escalated")}, {call(7, R"({"incident_id":7})")});
  REQUIRE_FALSE(r.ec);
  CHECK(r.seqs == std::vector<std::uint64_t>{1});
  const auto rows = all_rows(*o);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id > 0);
  CHECK(rows[0].kind == "fire_escalation");
  CHECK(rows[0].incident_id == 7);
  CHECK(rows[0].url == "http://127.0.0.1:9/hook");
  CHECK(rows[0].body == R"({"incident_id":7})");
  CHECK(rows[0].created_ms >= before);
  CHECK(rows[0].attempts == 0);
  CHECK(rows[0].next_attempt_ms == rows[0].created_ms);  // due at once
  CHECK_FALSE(rows[0].delivered_ms);
  CHECK(rows[0].last_error.empty());
  CHECK(pending(*o) == 1);
}

TEMPLATE_TEST_CASE("a batch the journal refuses stores none of its calls", "[conformance][outbox]",
                   RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  v1::Event no_body;
  no_body.set_incident_id(3);
  CHECK(append_wait(*j, {note_event(3, "ok"), no_body}, {call(3, "{}")}).ec ==
        journal_errc::invalid_event);
  // A second writer whose view is stale: refused by the store, call and all.
  REQUIRE_FALSE(append_wait(*j, {note_event(4, "a")}, {}).ec);
  auto stale = open_journal(backend);
  REQUIRE_FALSE(append_wait(*j, {note_event(4, "b")}, {}).ec);
  CHECK(append_wait(*stale, {note_event(5, "forked")}, {call(5, "{}")}).ec ==
        journal_errc::stale_writer);
  CHECK(all_rows(*o).empty());
  CHECK(pending(*o) == 0);
}

TEMPLATE_TEST_CASE("calls appended on their own are stored, ids increasing in commit order",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  REQUIRE_FALSE(append_wait(*j, {}, {call(1, "one"), call(2, "two")}).ec);
  REQUIRE_FALSE(append_wait(*j, {note_event(3, "x")}, {call(3, "three")}).ec);
  REQUIRE_FALSE(append_wait(*j, {}, {call(4, "four")}).ec);
  CHECK(j->last_seq() == 1);  // calls are not records
  const auto rows = all_rows(*o);
  REQUIRE(rows.size() == 4);
  for (std::size_t i = 1; i < rows.size(); ++i)
    CHECK(rows[i].id > rows[i - 1].id);
  CHECK(rows[0].body == "one");
  CHECK(rows[1].body == "two");
  CHECK(rows[2].body == "three");
  CHECK(rows[3].body == "four");
}

TEMPLATE_TEST_CASE("due lists undelivered calls with a URL, earliest attempt first, up to max",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  REQUIRE_FALSE(append_wait(*j, {}, {call(1, "a"), call(2, "b"), call(3, "c")}).ec);
  // No URL: kept, counted as pending, never due.
  REQUIRE_FALSE(append_wait(*j, {}, {call(4, "d", "")}).ec);
  std::vector<outbox_row> due;
  REQUIRE_FALSE(o->due(10, due));
  REQUIRE(due.size() == 3);
  CHECK(due[0].body == "a");
  CHECK(due[2].body == "c");
  CHECK(pending(*o) == 4);
  const auto rows = all_rows(*o);
  CHECK(rows[3].last_error == outbox_no_url_error);

  // The first one failed and waits: it goes behind the others.
  REQUIRE_FALSE(o->record_attempt(
      {due[0].id, 1, std::nullopt, due[0].next_attempt_ms + 60'000, "HTTP 503: busy"}));
  due.clear();
  REQUIRE_FALSE(o->due(2, due));
  REQUIRE(due.size() == 2);
  CHECK(due[0].body == "b");
  CHECK(due[1].body == "c");
  due.clear();
  REQUIRE_FALSE(o->due(10, due));
  REQUIRE(due.size() == 3);
  CHECK(due[2].body == "a");
  CHECK(due[2].attempts == 1);
  CHECK(due[2].last_error == "HTTP 503: busy");
}

TEMPLATE_TEST_CASE("a delivered call is neither due nor pending, and keeps when it went",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  REQUIRE_FALSE(append_wait(*j, {}, {call(1, "a"), call(2, "b")}).ec);
  std::vector<outbox_row> due;
  REQUIRE_FALSE(o->due(10, due));
  REQUIRE(due.size() == 2);
  const std::int64_t at = now_ms();
  REQUIRE_FALSE(o->record_attempt({due[0].id, 2, at, due[0].next_attempt_ms, ""}));
  due.clear();
  REQUIRE_FALSE(o->due(10, due));
  REQUIRE(due.size() == 1);
  CHECK(due[0].body == "b");
  CHECK(pending(*o) == 1);
  const auto rows = all_rows(*o);
  CHECK(rows[0].delivered_ms == at);
  CHECK(rows[0].attempts == 2);
  CHECK(rows[0].last_error.empty());
}

TEMPLATE_TEST_CASE("by_incident finds only that incident's calls, in id order",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max() - 1;
  REQUIRE_FALSE(append_wait(*j, {}, {call(5, "a"), call(6, "b"), call(5, "c"), call(big, "d")}).ec);
  std::vector<outbox_row> rows;
  REQUIRE_FALSE(o->by_incident(5, rows));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].body == "a");
  CHECK(rows[1].body == "c");
  rows.clear();
  REQUIRE_FALSE(o->by_incident(big, rows));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].incident_id == big);
  rows.clear();
  REQUIRE_FALSE(o->by_incident(7, rows));
  CHECK(rows.empty());
}

TEMPLATE_TEST_CASE("the outbox listener runs after a commit that stored calls, and only then",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  auto j = open_journal(backend);
  std::atomic<int> woken{0};
  std::atomic<std::uint64_t> durable_when_woken{0};
  j->set_outbox_listener([&] {
    durable_when_woken = j->last_seq();
    ++woken;
  });
  REQUIRE_FALSE(append_wait(*j, {note_event(1, "no call")}, {}).ec);
  CHECK(woken == 0);
  REQUIRE_FALSE(append_wait(*j, {note_event(1, "with a call")}, {call(1, "x")}).ec);
  CHECK(woken == 1);
  // Woken once the commit is done: what it wakes for is readable.
  CHECK(durable_when_woken == 2);
  REQUIRE_FALSE(append_wait(*j, {}, {call(1, "y")}).ec);
  CHECK(woken == 2);
  j->set_outbox_listener({});
  REQUIRE_FALSE(append_wait(*j, {}, {call(1, "z")}).ec);
  CHECK(woken == 2);
}

TEMPLATE_TEST_CASE("calls and their delivery state survive reopening the journal and the outbox",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  std::int64_t failed_id = 0;
  {
    auto j = open_journal(backend);
    auto o = open_outbox(backend);
    REQUIRE_FALSE(append_wait(*j, {note_event(1, "x")}, {call(1, "a"), call(2, "b")}).ec);
    std::vector<outbox_row> due;
    REQUIRE_FALSE(o->due(10, due));
    REQUIRE(due.size() == 2);
    failed_id = due[0].id;
    REQUIRE_FALSE(o->record_attempt({due[0].id, 3, std::nullopt, 42, "connect: refused"}));
    REQUIRE_FALSE(o->record_attempt({due[1].id, 1, now_ms(), due[1].next_attempt_ms, ""}));
  }
  auto j = open_journal(backend);
  auto o = open_outbox(backend);
  const auto rows = all_rows(*o);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == failed_id);
  CHECK(rows[0].attempts == 3);
  CHECK(rows[0].next_attempt_ms == 42);
  CHECK(rows[0].last_error == "connect: refused");
  CHECK_FALSE(rows[0].delivered_ms);
  CHECK(rows[1].delivered_ms);
  CHECK(pending(*o) == 1);
  // New calls after the reopen get new ids.
  REQUIRE_FALSE(append_wait(*j, {}, {call(3, "c")}).ec);
  const auto after = all_rows(*o);
  REQUIRE(after.size() == 3);
  CHECK(after[2].id > after[1].id);
}

TEMPLATE_TEST_CASE("calls appended by many producers at once are all stored, each once",
                   "[conformance][outbox]", RESCUE_STORAGE_BACKENDS) {
  TestType backend;
  store_options opts;
  opts.checkpoint_every_records = 1000;
  auto j = open_journal(backend, opts);
  auto o = open_outbox(backend);
  constexpr int producers = 8;
  constexpr int per_producer = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        const auto id = static_cast<std::uint64_t>(p * 1000 + i);
        if (append_wait(*j, {note_event(id, "x")}, {call(id, std::to_string(id))}).ec) ++errors;
      }
    });
  }
  // The delivery side reads while the calls arrive.
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::thread reader([&] {
    while (!done) {
      std::vector<outbox_row> due;
      if (o->due(1000, due)) ++read_errors;
    }
  });
  for (auto& t : threads)
    t.join();
  done = true;
  reader.join();
  CHECK(errors == 0);
  CHECK(read_errors == 0);
  const auto rows = all_rows(*o);
  CHECK(rows.size() == producers * per_producer);
  std::set<std::int64_t> ids;
  std::set<std::string> bodies;
  for (const auto& r : rows) {
    ids.insert(r.id);
    bodies.insert(r.body);
    CHECK(r.body == std::to_string(r.incident_id));
  }
  CHECK(ids.size() == rows.size());
  CHECK(bodies.size() == rows.size());
}
