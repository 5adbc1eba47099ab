// Crew positions across a restart, without the process: the write-behind keeps the newest fix
// per crew and never makes a ping wait for the store, and the start-up restore moves only known
// crews, only to positions newer than the registry's.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>

#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/position_writer.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/registry_csv.hpp"

using rescue::dispatcher::metrics;
using rescue::dispatcher::position_writer;
using rescue::storage::crew_position;
using namespace std::chrono_literals;

namespace {

// A store in memory with the contract's newest-wins rule; it can be told to fail, or to hold a
// save until released.
class memory_store final : public rescue::storage::crew_position_store {
 public:
  std::error_code save(const std::vector<crew_position>& batch) override {
    std::unique_lock lock(mu_);
    ++saves_;
    if (entered_) {
      entered_->set_value();
      entered_ = nullptr;
    }
    if (hold_) {
      auto release = std::move(*hold_);
      hold_.reset();
      lock.unlock();
      release.wait();
      lock.lock();
    }
    if (failures_left_ > 0) {
      --failures_left_;
      return std::make_error_code(std::errc::io_error);
    }
    batches_.push_back(batch);
    for (const auto& p : batch) {
      auto [it, added] = rows_.emplace(p.crew_id, p);
      if (!added && p.at_ms > it->second.at_ms) it->second = p;
    }
    return {};
  }
  std::error_code load_all(std::vector<crew_position>& out) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : rows_)
      out.push_back(p);
    return {};
  }

  // The next save signals `entered` on arrival, then waits for `release`.
  void hold_next(std::promise<void>& entered, std::shared_future<void> release) {
    std::lock_guard lock(mu_);
    entered_ = &entered;
    hold_ = std::move(release);
  }
  // The next save signals `entered` and fails.
  void fail_next(std::promise<void>& entered) {
    std::lock_guard lock(mu_);
    entered_ = &entered;
    failures_left_ = 1;
  }
  std::vector<std::vector<crew_position>> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::map<std::string, crew_position> rows() const {
    std::lock_guard lock(mu_);
    return rows_;
  }

 private:
  mutable std::mutex mu_;
  int saves_ = 0;
  int failures_left_ = 0;
  std::promise<void>* entered_ = nullptr;
  std::optional<std::shared_future<void>> hold_;
  std::vector<std::vector<crew_position>> batches_;
  std::map<std::string, crew_position> rows_;
};

const rescue::storage::registry& sample_city() {
  static const auto imported = rescue::storage::import_registry_csv(
      std::filesystem::path(RESCUE_TEST_DATA_DIR) / "chongqing-sample");
  REQUIRE(imported.ok());
  return imported.registry;
}

}  // namespace

TEST_CASE("the position writer keeps only the newest fix of each crew and stores it on close",
          "[unit][positions]") {
  memory_store store;
  metrics m;
  // No periodic flush within the test: close() is the one write.
  position_writer writer(store, m, std::chrono::hours(1));
  writer.record({"c1", 1.0, 1.0, 100});
  writer.record({"c1", 3.0, 3.0, 300});
  writer.record({"c1", 2.0, 2.0, 200});  // arrived late: older than what is pending
  writer.record({"c2", 5.0, 5.0, 500});
  for (int i = 0; i < 1000; ++i)
    writer.record({"c3", 29.0, 106.0, 1000 + i});
  // One entry per crew, whatever the ping count.
  CHECK(writer.pending() == 3);
  CHECK(store.batches().empty());

  writer.close();
  const auto batches = store.batches();
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].size() == 3);
  const auto rows = store.rows();
  REQUIRE(rows.size() == 3);
  CHECK(rows.at("c1").at_ms == 300);
  CHECK(rows.at("c1").lat == 3.0);
  CHECK(rows.at("c2").at_ms == 500);
  CHECK(rows.at("c3").at_ms == 1999);
  CHECK(m.crew_positions_flushed_total == 3);

  // Closed: later pings are not kept, and a second close writes nothing.
  writer.record({"c4", 1.0, 1.0, 1});
  CHECK(writer.pending() == 0);
  writer.close();
  CHECK(store.batches().size() == 1);
}

TEST_CASE("a ping is taken in while the position store is busy writing", "[unit][positions]") {
  memory_store store;
  metrics m;
  std::promise<void> entered;
  std::promise<void> release;
  store.hold_next(entered, release.get_future().share());
  position_writer writer(store, m, 10ms);
  writer.record({"c1", 1.0, 1.0, 100});
  // The writer is now inside a save that does not return until released.
  REQUIRE(entered.get_future().wait_for(5s) == std::future_status::ready);
  auto ping = std::async(std::launch::async, [&writer] { writer.record({"c2", 2.0, 2.0, 200}); });
  // Were record() waiting for the store, it would wait for the release, which comes only after.
  CHECK(ping.wait_for(5s) == std::future_status::ready);
  release.set_value();
  ping.wait();
  writer.close();
  const auto rows = store.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows.at("c1").at_ms == 100);
  CHECK(rows.at("c2").at_ms == 200);
}

TEST_CASE("a failed position flush is retried without overwriting anything newer",
          "[unit][positions]") {
  memory_store store;
  metrics m;
  std::promise<void> entered;
  store.fail_next(entered);
  position_writer writer(store, m, 10ms);
  writer.record({"c1", 1.0, 1.0, 100});
  writer.record({"c2", 2.0, 2.0, 200});
  REQUIRE(entered.get_future().wait_for(5s) == std::future_status::ready);
  // While (or after) the failed batch goes back into the queue: a newer fix for c2, an older one
  // for c1. The retry must store c1's failed fix and c2's newer one.
  writer.record({"c2", 2.5, 2.5, 250});
  writer.record({"c1", 0.5, 0.5, 50});
  writer.close();
  const auto rows = store.rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows.at("c1").at_ms == 100);
  CHECK(rows.at("c1").lat == 1.0);
  CHECK(rows.at("c2").at_ms == 250);
  CHECK(rows.at("c2").lat == 2.5);
  CHECK(m.crew_position_flush_failures_total == 1);
  CHECK(m.crew_positions_flushed_total >= 2);
}

TEST_CASE("stored positions newer than the registry's move known crews and nothing else",
          "[unit][positions]") {
  const auto& reg = sample_city();
  REQUIRE(reg.crews().size() >= 3);
  const auto& a = reg.crews()[0];
  const auto& b = reg.crews()[1];
  const auto& c = reg.crews()[2];
  auto index = rescue::dispatcher::build_crew_index(reg, {});
  const std::vector<crew_position> stored{
      {a.id(), 29.6, 106.6, a.position_at_ms() + 60'000},  // newer: restored
      {b.id(), 29.7, 106.7, b.position_at_ms()},           // as old as the registry's: kept
      {c.id(), 95.0, 106.7, c.position_at_ms() + 1},       // impossible latitude
      {"removed-from-registry", 29.5, 106.5, a.position_at_ms() + 60'000},
  };
  const auto report = rescue::dispatcher::restore_positions(index, stored);
  CHECK(report.stored == 4);
  CHECK(report.restored == 1);
  CHECK(report.older == 1);
  CHECK(report.invalid == 1);
  CHECK(report.unknown == 1);

  const auto& table = index.table();
  const auto& ca = table.crew(*table.find(a.id()));
  CHECK(ca.position.lat == 29.6);
  CHECK(ca.position.lon == 106.6);
  CHECK(ca.position_at_ms == a.position_at_ms() + 60'000);
  const auto& cb = table.crew(*table.find(b.id()));
  CHECK(cb.position.lat == b.position().lat());
  CHECK(cb.position_at_ms == b.position_at_ms());
  const auto& cc = table.crew(*table.find(c.id()));
  CHECK(cc.position.lat == c.position().lat());
  CHECK_FALSE(table.find("removed-from-registry"));
}

TEST_CASE("open_storage opens the crew positions in their own file or none when unnamed",
          "[unit][positions][sqlite]") {
  std::string pattern = (std::filesystem::temp_directory_path() / "pos-open-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  const std::filesystem::path dir = pattern;
  rescue::storage::storage_config config;
  config.journal_path = dir / "journal.db";
  config.outbox_path = dir / "outbox.db";
  std::error_code ec;
  {
    auto none = rescue::storage::open_storage(config, ec);
    INFO(ec.message());
    REQUIRE(none.journal);
    CHECK_FALSE(none.positions);
  }
  // The journal file is append-only under its writer, the outbox file attaches it: neither may
  // hold the positions.
  for (const auto& shared : {config.journal_path, config.outbox_path}) {
    config.positions_path = shared;
    auto refused = rescue::storage::open_storage(config, ec);
    CHECK_FALSE(refused.journal);
    CHECK(ec == std::errc::invalid_argument);
  }
  config.positions_path = dir / "positions.db";
  {
    auto opened = rescue::storage::open_storage(config, ec);
    INFO(ec.message());
    REQUIRE(opened.positions);
    REQUIRE_FALSE(opened.positions->save({{"c1", 29.5, 106.5, 42}}));
  }
  auto again = rescue::storage::open_storage(config, ec);
  REQUIRE(again.positions);
  std::vector<crew_position> rows;
  REQUIRE_FALSE(again.positions->load_all(rows));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].crew_id == "c1");
  CHECK(rows[0].at_ms == 42);
  again = {};
  std::filesystem::remove_all(dir);
}
