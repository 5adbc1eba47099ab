#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <random>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "small_city.hpp"

namespace v1 = rescue::v1;
namespace cmd = rescue::core::cmd;
using namespace std::chrono_literals;
using rescue::core::outcome;
using rescue::dispatcher::dispatch_service;

namespace {

// Named for the folder it makes, so a leftover points at its test.
struct temp_dir : rescue::test_support::temp_dir {
  temp_dir() : rescue::test_support::temp_dir("rescue-recovery-") {}
};

using rescue::test_support::now_ms;
using rescue::test_support::small_city;

struct server_parts {
  rescue::storage::registry registry = small_city();
  rescue::core::escalation_policy policy;
  rescue::dispatcher::metrics metrics;
  boost::asio::io_context io;
  std::unique_ptr<rescue::storage::sqlite_journal> journal;
  std::unique_ptr<dispatch_service> service;

  explicit server_parts(const std::filesystem::path& dir) {
    rescue::storage::sqlite_journal_config config;
    config.path = dir / "journal.db";
    std::error_code ec;
    journal = rescue::storage::sqlite_journal::open(config, ec);
    REQUIRE_FALSE(ec);
    service = std::make_unique<dispatch_service>(io, policy, registry,
                                                 rescue::dispatcher::build_crew_index(registry, {}),
                                                 *journal, metrics);
  }

  // The journal completes on its own thread: close it (flushing every completion into the
  // io_context) before the service those completions post to goes away.
  ~server_parts() {
    journal->close();
    service.reset();
  }

  outcome submit(rescue::core::command c) {
    std::optional<outcome> result;
    service->async_submit(std::move(c), [&](outcome out) { result = std::move(out); });
    run_until([&] { return result.has_value(); });
    return *result;
  }

  // The open incidents' deadlines, read on the service's strand.
  std::map<std::uint64_t, std::map<v1::DeadlineKind, rescue::core::time_point>> deadlines() {
    using result_t = std::map<std::uint64_t, std::map<v1::DeadlineKind, rescue::core::time_point>>;
    std::optional<result_t> result;
    service->async_read<result_t>(
        [](const rescue::core::core_state& s, const rescue::geo::crew_index&) {
          result_t r;
          for (const auto& [id, inc] : s.incidents)
            r[id] = inc.deadlines;
          return r;
        },
        [&](result_t r) { result = std::move(r); });
    run_until([&] { return result.has_value(); });
    return *result;
  }

  // Runs the io_context until `done`, for at most ten seconds. The journal completes on its
  // own thread, so the context is kept busy with a work guard while waiting for it.
  template <class Done>
  void run_until(Done done) {
    auto guard = boost::asio::make_work_guard(io);
    io.restart();
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < give_up)
      io.run_one_for(50ms);
    REQUIRE(done());
  }
};

}  // namespace

TEST_CASE("open incidents and their deadlines survive a restart", "[sqlite][recovery]") {
  temp_dir dir;
  std::map<std::uint64_t, std::map<v1::DeadlineKind, rescue::core::time_point>> before;
  {
    server_parts first(dir.path);
    REQUIRE(first.service->recover().events == 0);
    const auto out = first.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "张", "139"});
    REQUIRE(out.ok());
    before = first.deadlines();
    REQUIRE(before.at(out.incident).size() == 2);
  }
  server_parts second(dir.path);
  const auto report = second.service->recover();
  CHECK(report.open_incidents == 1);
  CHECK(report.deadlines_rearmed == 2);
  CHECK(report.deadlines_overdue == 0);
  // Same absolute deadlines, so the remaining time is what was left, less the time down.
  const auto after = second.deadlines();
  CHECK(after == before);
  const auto offer_at = after.begin()->second.at(v1::DEADLINE_OFFER);
  const auto left = offer_at - dispatch_service::now();
  CHECK(left > 50s);
  CHECK(left <= 60s);
}

TEST_CASE("a deadline that passed while the server was down fires at once on recovery",
          "[sqlite][recovery]") {
  temp_dir dir;
  // Events as a server that stopped ten minutes ago would have written them.
  server_parts first(dir.path);
  auto index = rescue::dispatcher::build_crew_index(first.registry, {});
  rescue::core::core_state state;
  const rescue::core::environment env{first.policy, first.registry, index};
  const auto past = dispatch_service::now() - 10min;
  // Crew positions were fresh then.
  for (const auto& crew : first.registry.crews())
    index.move(crew.id(), {crew.position().lat(), crew.position().lon()},
               rescue::core::to_ms(past));
  const auto opened = rescue::core::decide(
      state, cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "张", "139"}, past, env);
  REQUIRE(opened.ok());
  REQUIRE(state.incidents.at(opened.incident).offer->crew_id == "c1");
  std::atomic<bool> written{false};
  first.journal->append(opened.events, [&](std::error_code ec, std::vector<std::uint64_t>) {
    REQUIRE_FALSE(ec);
    written = true;
  });
  first.journal->close();
  REQUIRE(written);

  server_parts second(dir.path);
  const auto report = second.service->recover();
  CHECK(report.open_incidents == 1);
  CHECK(report.deadlines_overdue == 2);
  // Run until the overdue deadlines have fired: the offer expires, the level window escalates.
  second.run_until([&] { return second.journal->last_seq() > opened.events.size(); });
  std::vector<rescue::storage::journal_record> records;
  REQUIRE_FALSE(second.journal->read_incident(opened.incident, records));
  bool expired = false;
  for (const auto& r : records)
    expired = expired || r.event_type == "offer_expired";
  CHECK(expired);
}

TEST_CASE(
    "a warm standby's follower folds the journal as it grows, and the recovery reads only the "
    "rest",
    "[sqlite][recovery]") {
  temp_dir dir;
  server_parts owner(dir.path);
  REQUIRE(owner.service->recover().events == 0);
  REQUIRE(owner.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "张", "139"}).ok());

  // The standby reads the same journal while the owner writes.
  rescue::storage::sqlite_journal_config reading;
  reading.path = dir.path / "journal.db";
  reading.read_only = true;
  std::error_code ec;
  auto reader = rescue::storage::sqlite_journal::open(reading, ec);
  REQUIRE(reader);
  rescue::dispatcher::journal_follower warm;
  warm.follow(*reader);
  const auto folded = warm.events();
  CHECK(folded == owner.journal->last_seq());
  // Further calls about the same elevator join its incident: more records to follow.
  REQUIRE(owner.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "138"}).ok());
  warm.follow(*reader);
  CHECK(warm.last_seq() == owner.journal->last_seq());
  REQUIRE(owner.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "王", "137"}).ok());
  const auto folded_before_takeover = warm.events();
  owner.journal->close();

  // Taking over: the warm fold plus the records it had not seen give the full state.
  server_parts standby(dir.path);
  const auto report = standby.service->recover(std::move(warm));
  CHECK(report.warm_events == folded_before_takeover);
  CHECK_FALSE(report.warm_discarded);
  CHECK(report.events == standby.journal->last_seq());
  CHECK(report.open_incidents == 1);
  CHECK(report.events > folded_before_takeover);
}

TEST_CASE("a follower whose last record the journal no longer has is discarded on recovery",
          "[sqlite][recovery]") {
  temp_dir a, b;
  rescue::dispatcher::journal_follower warm;
  {
    server_parts first(a.path);
    REQUIRE(first.service->recover().events == 0);
    REQUIRE(first.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "张", "139"}).ok());
    warm.follow(*first.journal);
  }
  // Another journal of the same length but other records, as a store that lost its last
  // unreplicated writes and got others would be.
  server_parts second(b.path);
  REQUIRE(second.service->recover().events == 0);
  REQUIRE(second.submit(cmd::call_alarm{"10001", "", v1::SOURCE_PHONE, "李", "138"}).ok());
  REQUIRE(second.journal->last_seq() == warm.last_seq());
  CHECK_FALSE(warm.still_matches(*second.journal));

  server_parts third(b.path);
  const auto report = third.service->recover(std::move(warm));
  CHECK(report.warm_discarded);
  CHECK(report.warm_events == 0);
  CHECK(report.open_incidents == 1);
}
