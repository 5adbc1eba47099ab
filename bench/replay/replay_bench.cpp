// Replay benchmark: rebuilding the incident state from the journal, as the server does at
// start-up and `rescuectl replay` does for an auditor, in events per second.
//
// The journal is written by the incident core itself: a synthetic city (units, crews,
// elevators with terminals) and a deterministic stream of alarms, calls, offers, accepts,
// declines, expiries, escalations, releases, closes, follow-ups and notes, so every event type
// and the real proportions of the server's journal are replayed. docs/benchmarks.md has the
// figures.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "rescue/core/incident_core.hpp"
#include "rescue/core/replayer.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/storage/journal.hpp"
#include "rescue/storage/registry.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace {

using namespace rescue;
using namespace std::chrono_literals;

constexpr std::size_t units = 20;
constexpr std::size_t crews_per_unit = 15;
constexpr std::size_t elevators = 4000;
constexpr std::size_t max_open = 150;

// Deterministic positions: the generator must write the same journal in every build.
double spread(std::uint64_t n, double span) {
  return span * (static_cast<double>((n * 2654435761u) % 1000) / 1000.0 - 0.5);
}

storage::registry make_city(std::int64_t positions_at_ms) {
  storage::registry reg;
  for (std::size_t u = 0; u < units; ++u) {
    v1::MaintenanceUnit unit;
    unit.set_id("U" + std::to_string(u));
    unit.set_name("维保单位 " + std::to_string(u));
    unit.set_licence("LIC-" + std::to_string(u));
    unit.set_contact_phone("023-6000000");
    unit.set_kind(u % 5 == 4 ? v1::ORG_RESCUE_STATION : v1::ORG_MAINTENANCE_UNIT);
    unit.set_level2_participant(u % 2 == 0);
    unit.mutable_base()->set_lat(29.556 + spread(u, 0.08));
    unit.mutable_base()->set_lon(106.568 + spread(u + 7, 0.08));
    if (auto why = reg.add_unit(unit)) throw std::runtime_error(*why);
    for (std::size_t k = 0; k < crews_per_unit; ++k) {
      const std::size_t n = u * crews_per_unit + k;
      v1::CrewMember c;
      c.set_id("C" + std::to_string(n));
      c.set_unit_id(unit.id());
      c.set_name("crew " + std::to_string(n));
      c.set_certificate("T-" + std::to_string(n));
      c.set_phone("13800000000");
      c.set_on_duty(true);
      c.mutable_position()->set_lat(unit.base().lat() + spread(n + 3, 0.05));
      c.mutable_position()->set_lon(unit.base().lon() + spread(n + 11, 0.05));
      c.set_position_at_ms(positions_at_ms);
      if (auto why = reg.add_crew(c)) throw std::runtime_error(*why);
    }
  }
  for (std::size_t i = 0; i < elevators; ++i) {
    v1::Elevator e;
    e.set_id("E" + std::to_string(i));
    const std::string serial = std::to_string(100000 + i);
    e.set_registration_code("31105001022019" + serial);
    e.set_rescue_code(std::to_string(10000 + i));
    e.set_address("重庆市渝中区解放碑民权路" + std::to_string(i) + "号 3栋");
    e.set_district_code("500103");
    e.mutable_location()->set_lat(29.556 + spread(i + 5, 0.08));
    e.mutable_location()->set_lon(106.568 + spread(i + 13, 0.08));
    e.set_place_type(v1::PLACE_RESIDENTIAL);
    // One elevator in a hundred has no maintenance unit (三无电梯) and starts at level 2; every
    // fifth unit is a rescue station, which maintains nothing.
    std::size_t unit = i % units;
    if (unit % 5 == 4) --unit;
    if (i % 100 != 99) e.set_maintenance_unit_id("U" + std::to_string(unit));
    e.set_area(i % 20 == 19 ? v1::AREA_RURAL : v1::AREA_URBAN);
    if (auto why = reg.add_elevator(e)) throw std::runtime_error(*why);
    v1::Terminal t;
    t.set_id("T" + std::to_string(i));
    t.set_elevator_id(e.id());
    t.set_secret("secret-" + std::to_string(i));
    if (auto why = reg.add_terminal(t)) throw std::runtime_error(*why);
  }
  return reg;
}

// Drives the core the way the server does, until the journal holds `events` events.
std::vector<v1::Event> write_journal(std::size_t events) {
  const core::time_point start = core::from_ms(1'714'530'225'000);
  const storage::registry reg = make_city(core::to_ms(start));
  geo::ranking_config ranking;
  ranking.max_position_age = std::chrono::hours(24 * 365 * 10);  // nobody pings here
  const geo::crew_index crews = dispatcher::build_crew_index(reg, ranking);
  const core::escalation_policy policy;
  const core::environment env{policy, reg, crews};
  core::core_state state;
  core::time_point now = start;
  std::mt19937_64 rng(96333);
  std::map<std::string, std::uint64_t> terminal_seq;
  std::vector<v1::Event> journal;
  journal.reserve(events + 64);

  const auto run = [&](const core::command& c) {
    auto out = core::decide(state, c, now, env);
    journal.insert(journal.end(), std::make_move_iterator(out.events.begin()),
                   std::make_move_iterator(out.events.end()));
  };
  while (journal.size() < events) {
    now += std::chrono::seconds(2 + rng() % 10);
    // Due deadlines fire, as the shell's timers would.
    std::vector<std::pair<core::incident_id, v1::DeadlineKind>> due;
    for (const auto& [id, inc] : state.incidents)
      for (const auto& [kind, at] : inc.deadlines)
        if (at <= now) due.emplace_back(id, kind);
    for (const auto& [id, kind] : due)
      run(core::cmd::deadline_fired{id, kind});

    const std::uint64_t roll = rng() % 100;
    if (roll < 6 && state.incidents.size() < max_open) {
      const std::size_t e = rng() % elevators;
      const std::string terminal = "T" + std::to_string(e);
      const auto code = roll < 3   ? v1::EVENT_TRAPPED_BETWEEN_FLOORS
                        : roll < 5 ? v1::EVENT_TRAPPED_IN_DOOR_ZONE
                                   : v1::EVENT_ALARM_BUTTON;
      run(core::cmd::terminal_event{terminal, ++terminal_seq[terminal], code, {}, 7});
      continue;
    }
    if (roll < 7 && state.incidents.size() < max_open) {
      core::cmd::call_alarm call;
      call.rescue_code = std::to_string(10000 + rng() % elevators);
      call.caller_name = "王女士";
      call.caller_phone = "1390000" + std::to_string(1000 + rng() % 9000);
      call.injured = rng() % 20 == 0;
      call.operator_id = "op1";
      run(call);
      continue;
    }
    if (state.incidents.empty()) continue;
    auto it = state.incidents.begin();
    std::advance(it, static_cast<long>(rng() % state.incidents.size()));
    const core::incident& inc = it->second;
    const core::incident_id id = inc.id;
    const std::uint64_t act = rng() % 100;
    if (act < 3) {
      run(core::cmd::add_note{id, "caller says two people inside, one elderly", "op1"});
    } else if (act < 5 && !inc.assigned && !inc.alarms.empty() &&
               !inc.alarms.front().terminal_id().empty()) {
      const std::string terminal = inc.alarms.front().terminal_id();
      run(core::cmd::terminal_event{
          terminal, ++terminal_seq[terminal], v1::EVENT_TRAPPED_CLEARED, {}, 7});
    } else if (act < 7 && !inc.people_trapped) {
      run(core::cmd::confirm_trapped{id, false, "op1"});
    } else if (inc.fire_notified && !inc.fire_acknowledged) {
      run(core::cmd::fire_acknowledged{id, "渝中消防救援站"});
    } else if (inc.closed_at) {
      run(core::cmd::record_follow_up{id, v1::FOLLOW_UP_SATISFIED, "thanked the crew", "op1"});
    } else if (inc.released_at || (inc.fire_arrived_at && !inc.assigned)) {
      v1::Cause cause;
      cause.set_category(act % 2 ? v1::CAUSE_DOOR_SYSTEM : v1::CAUSE_EXTERNAL);
      cause.set_sub_cause(act % 2 ? "door lock circuit" : "power cut");
      run(core::cmd::close{id, cause, "op1"});
    } else if (inc.assigned) {
      const std::string crew = inc.assigned->crew_id;
      if (!inc.assigned->departed_at)
        run(core::cmd::crew_departed{id, crew});
      else if (!inc.assigned->arrived_at)
        run(core::cmd::crew_arrived{id, crew});
      else
        run(core::cmd::people_released{id, crew});
    } else if (inc.offer) {
      const std::string crew = inc.offer->crew_id;
      if (act < 80)
        run(core::cmd::accept_offer{id, crew});
      else if (act < 90)
        run(core::cmd::decline_offer{id, crew, "stuck in traffic"});
      // else the offer expires
    } else if (inc.fire_notified && !inc.fire_arrived_at && act < 30) {
      run(core::cmd::fire_arrived{id, "渝中消防救援站"});
    }
  }
  // A journal ends where the server stopped; cut it at exactly `events`.
  journal.resize(events);
  return journal;
}

// The journal as stored: what every replay reads.
std::vector<storage::journal_record> as_records(const std::vector<v1::Event>& events) {
  std::vector<storage::journal_record> records;
  records.reserve(events.size());
  for (const auto& e : events) {
    storage::journal_record& r = records.emplace_back();
    r.seq = records.size();
    r.at_ms = e.at_ms();
    r.incident_id = e.incident_id();
    r.event_type = storage::event_type_name(e);
    e.SerializeToString(&r.payload);
  }
  return records;
}

// The records in memory behind the journal interface, so a replay's cost is the fold, not the
// disk. Read-only.
class memory_journal final : public storage::journal {
 public:
  explicit memory_journal(const std::vector<storage::journal_record>& records)
      : records_(records) {}
  void append_batch(storage::journal_batch, storage::append_handler done) override {
    done(storage::journal_errc::closed, {});
  }
  std::error_code read_incident(std::uint64_t, std::vector<storage::journal_record>& out) override {
    out.clear();  // not needed by a replay
    return {};
  }
  std::error_code scan(std::uint64_t from, std::uint64_t to,
                       const storage::record_visitor& visit) override {
    for (const auto& r : records_)
      if (r.seq >= from && r.seq <= to && !visit(r)) break;
    return {};
  }
  std::error_code read_after(std::uint64_t, std::size_t,
                             std::vector<storage::journal_record>& out) override {
    out.clear();
    return {};
  }
  void set_tail_listener(storage::tail_listener) override {}
  void set_outbox_listener(storage::outbox_listener) override {}
  std::uint64_t last_seq() const override { return records_.size(); }
  std::error_code read_checkpoints(std::vector<storage::journal_checkpoint>& out) override {
    out.clear();
    return {};
  }
  storage::journal_stats stats() const override { return {}; }
  void close() override {}

 private:
  const std::vector<storage::journal_record>& records_;
};

// One journal per size, written once per process.
const std::vector<storage::journal_record>& records_of(std::size_t events) {
  static std::map<std::size_t, std::vector<storage::journal_record>> cache;
  auto it = cache.find(events);
  if (it != cache.end()) return it->second;
  const auto journal = write_journal(events);
  // What was replayed, once per size, so runs of different builds can be compared.
  std::map<std::string, std::size_t> kinds;
  std::uint64_t incidents = 0;
  for (const auto& e : journal) {
    ++kinds[std::string(storage::event_type_name(e))];
    incidents = std::max(incidents, e.incident_id());
  }
  auto records = as_records(journal);
  std::size_t bytes = 0;
  for (const auto& r : records)
    bytes += r.payload.size();
  std::fprintf(stderr, "journal: %zu events, %llu incidents, %zu payload bytes:", records.size(),
               static_cast<unsigned long long>(incidents), bytes);
  for (const auto& [kind, n] : kinds)
    std::fprintf(stderr, " %s %zu", kind.c_str(), n);
  std::fprintf(stderr, "\n");
  return cache.emplace(events, std::move(records)).first->second;
}

// The journal files of one process, in a folder of its own (several runs may share the
// machine), removed at exit.
struct sqlite_files {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("rescue_replay_bench_" + std::to_string(::getpid()));
  std::map<std::size_t, std::unique_ptr<storage::sqlite_journal>> journals;
  ~sqlite_files() {
    journals.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

// The same records in an SQLite journal file (WAL, as the server keeps it).
storage::journal& sqlite_of(std::size_t events) {
  static sqlite_files files;
  auto it = files.journals.find(events);
  if (it != files.journals.end()) return *it->second;
  std::filesystem::create_directories(files.dir);
  storage::sqlite_journal_config config;
  config.path = files.dir / ("journal_" + std::to_string(events) + ".db");
  std::error_code ec;
  auto journal = storage::sqlite_journal::open(config, ec);
  if (!journal)
    throw std::runtime_error("cannot open " + config.path.string() + ": " + ec.message());
  const auto& records = records_of(events);
  std::vector<v1::Event> batch;
  std::error_code failed;
  for (std::size_t i = 0; i < records.size(); ++i) {
    v1::Event e;
    records[i].parse(e);
    batch.push_back(std::move(e));
    if (batch.size() == 1000 || i + 1 == records.size()) {
      std::promise<std::error_code> done;
      journal->append(std::move(batch), [&done](std::error_code ec, std::vector<std::uint64_t>) {
        done.set_value(ec);
      });
      if ((failed = done.get_future().get())) throw std::runtime_error(failed.message());
      batch.clear();
    }
  }
  return *files.journals.emplace(events, std::move(journal)).first->second;
}

void count(benchmark::State& state, std::size_t events, std::uint64_t folded, std::size_t open) {
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["open"] = static_cast<double>(open);
  if (folded != events) state.SkipWithError("not every event was folded");
}

// The core alone: the replayer fed every stored record (parse and fold). What the server and
// `rescuectl replay` do after reading a record, without the reading.
void BM_replayer(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  const auto& records = records_of(events);
  core::replayed result;
  for (auto _ : state) {
    state.PauseTiming();
    result = {};  // the previous replay's state is freed outside the timing
    state.ResumeTiming();
    core::replayer replay;
    for (const auto& r : records)
      if (replay.feed(r.seq, r.payload)) state.SkipWithError("a record was refused");
    result = std::move(replay).take();
    benchmark::DoNotOptimize(result);
  }
  count(state, events, result.events, result.state.incidents.size());
}

// Reading an SQLite journal into the replayer: `rescuectl replay`'s rebuild.
void BM_replay_journal_sqlite(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  storage::journal& journal = sqlite_of(events);
  core::replayed result;
  for (auto _ : state) {
    state.PauseTiming();
    result = {};
    state.ResumeTiming();
    result = dispatcher::replay_journal(journal);
    benchmark::DoNotOptimize(result);
  }
  count(state, events, result.events, result.state.incidents.size());
}

// The server's start-up: dispatch_service::recover over the journal (read, parse, fold, and the
// deadlines re-armed as timers).
void replay_service(benchmark::State& state, storage::journal& journal, std::size_t events) {
  const storage::registry no_registry;
  const core::escalation_policy policy;
  dispatcher::metrics m;
  dispatcher::recovery_report report;
  for (auto _ : state) {
    state.PauseTiming();
    {
      boost::asio::io_context io;
      dispatcher::dispatch_service service(io, policy, no_registry, geo::crew_index{}, journal, m);
      state.ResumeTiming();
      report = service.recover();
      benchmark::DoNotOptimize(report);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  count(state, events, report.events, report.open_incidents);
}

void BM_service_recover_memory(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  memory_journal journal(records_of(events));
  replay_service(state, journal, events);
}

void BM_service_recover_sqlite(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  replay_service(state, sqlite_of(events), events);
}

}  // namespace

BENCHMARK(BM_replayer)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_replay_journal_sqlite)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_service_recover_memory)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_service_recover_sqlite)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
