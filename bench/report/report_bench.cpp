// Report benchmark: a Chongqing-sized city (270 000 elevators with terminals, 300 maintenance
// units, 6 000 building operators, nine districts) and a year of its journal as the report
// reads it (~100 entrapments a day with offers, declines, arrivals, releases and closes; ~2 000
// fault records a day; terminal links dropping and coming back). Measures the report of one
// month and of the whole year: the fold, every table, and the Markdown, CSV and JSON renderings.
// BM_report_* take the events from memory; BM_rescuectl_month does what `rescuectl report`
// does, from files: the registry's CSV import, the SQLite journal read and parsed, the report,
// its renderings, each stage timed. docs/benchmarks.md has the figures.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace {

using namespace rescue;
namespace v1 = rescue::v1;

constexpr int elevator_count = 270'000;
constexpr int unit_count = 300;
constexpr int operator_count = 6'000;
constexpr int entrapments_per_day = 100;
constexpr int faults_per_day = 2'000;
const char* const districts[] = {"500103", "500105", "500108", "500106", "500107",
                                 "500104", "500112", "500113", "500109"};

std::string id(const char* prefix, int n) {
  return prefix + std::to_string(n);
}

const storage::registry& city() {
  static const storage::registry reg = [] {
    storage::registry r;
    for (int u = 0; u < unit_count; ++u) {
      v1::MaintenanceUnit unit;
      unit.set_id(id("U", u));
      unit.set_name("维保单位" + std::to_string(u));
      unit.set_kind(v1::ORG_MAINTENANCE_UNIT);
      unit.mutable_base()->set_lat(29.5);
      unit.mutable_base()->set_lon(106.5);
      (void)r.add_unit(unit);
    }
    for (int o = 0; o < operator_count; ++o) {
      v1::BuildingOperator op;
      op.set_id(id("O", o));
      op.set_name("物业" + std::to_string(o));
      (void)r.add_building_operator(op);
    }
    for (int i = 0; i < elevator_count; ++i) {
      v1::Elevator e;
      e.set_id(id("E", i));
      char code[24];
      std::snprintf(code, sizeof code, "3110500100%010d", i);
      e.set_registration_code(code);
      e.set_rescue_code(std::to_string(100000 + i));
      e.set_district_code(districts[i % 9]);
      e.mutable_location()->set_lat(29.3 + (i % 1000) * 0.0005);
      e.mutable_location()->set_lon(106.3 + (i / 1000) * 0.002);
      e.set_brand("Brand" + std::to_string(i % 12));
      e.set_install_year(2000 + static_cast<std::uint32_t>(i % 25));
      e.set_maintenance_unit_id(id("U", i % unit_count));
      e.set_building_operator_id(id("O", i % operator_count));
      e.set_area(i % 10 == 0 ? v1::AREA_RURAL : v1::AREA_URBAN);
      (void)r.add_elevator(e);
      v1::Terminal t;
      t.set_id(id("T", i));
      t.set_elevator_id(e.id());
      t.set_secret("0123456789abcdef");
      (void)r.add_terminal(t);
    }
    return r;
  }();
  return reg;
}

// A year of events from 2026-01-01, in time order.
const std::vector<v1::Event>& year_of_events() {
  static const std::vector<v1::Event> events = [] {
    std::mt19937_64 rng(96333);
    std::vector<v1::Event> out;
    const std::int64_t start = report::china_midnight_ms(2026, 1, 1);
    std::uint64_t next = 1;
    const auto ev = [&](std::uint64_t inc, std::int64_t at) -> v1::Event& {
      out.emplace_back();
      out.back().set_incident_id(inc);
      out.back().set_at_ms(at);
      return out.back();
    };
    for (int day = 0; day < 365; ++day) {
      const std::int64_t day_ms = start + day * 86'400'000LL;
      // Links: a few hundred terminals drop and come back each day.
      for (int k = 0; k < 300; ++k) {
        const int t = static_cast<int>(rng() % elevator_count);
        const std::int64_t at = day_ms + static_cast<std::int64_t>(rng() % 80'000'000);
        auto& down = ev(0, at);
        down.mutable_terminal_link()->set_terminal_id(id("T", t));
        down.mutable_terminal_link()->set_online(false);
        auto& up = ev(0, at + 600'000);
        up.mutable_terminal_link()->set_terminal_id(id("T", t));
        up.mutable_terminal_link()->set_online(true);
      }
      for (int k = 0; k < faults_per_day; ++k) {
        const int el = static_cast<int>(rng() % elevator_count);
        auto& e = ev(0, day_ms + static_cast<std::int64_t>(rng() % 86'400'000));
        auto* f = e.mutable_fault_recorded();
        f->set_elevator_id(id("E", el));
        f->set_code(static_cast<v1::TerminalEventCode>(4 + rng() % 14));
        f->set_maintenance_unit_id(id("U", el % unit_count));
        f->set_building_operator_id(id("O", el % operator_count));
        f->set_brand("Brand" + std::to_string(el % 12));
        f->set_install_year(2000 + static_cast<std::uint32_t>(el % 25));
        f->set_district_code(districts[el % 9]);
      }
      for (int k = 0; k < entrapments_per_day; ++k) {
        const int el = static_cast<int>(rng() % elevator_count);
        const std::uint64_t inc = next++;
        const std::int64_t t0 = day_ms + static_cast<std::int64_t>(rng() % 86'400'000);
        auto& o = ev(inc, t0);
        auto* snap = o.mutable_opened()->mutable_elevator();
        snap->set_elevator_id(id("E", el));
        snap->set_district_code(districts[el % 9]);
        snap->set_maintenance_unit_id(id("U", el % unit_count));
        snap->set_building_operator_id(id("O", el % operator_count));
        snap->set_target_minutes(el % 10 == 0 ? 60 : 30);
        o.mutable_opened()->mutable_alarm()->set_source(
            static_cast<v1::SourceChannel>(1 + rng() % 3));
        o.mutable_opened()->set_start_level(v1::LEVEL_1_MAINTENANCE);
        const std::string crew = id("C", el % unit_count);
        auto& offer = ev(inc, t0 + 20'000);
        offer.mutable_offer_made()->set_crew_id(crew);
        offer.mutable_offer_made()->set_unit_id(id("U", el % unit_count));
        if (rng() % 5 == 0) {
          ev(inc, t0 + 50'000).mutable_offer_declined()->set_crew_id(crew);
          auto& again = ev(inc, t0 + 52'000);
          again.mutable_offer_made()->set_crew_id(crew + "b");
          again.mutable_offer_made()->set_unit_id(id("U", el % unit_count));
        }
        if (rng() % 8 == 0) {
          ev(inc, t0 + 120'000).mutable_cancelled()->set_reason(v1::CANCEL_SELF_RECOVERED);
          continue;
        }
        const std::int64_t accept = t0 + 60'000 + static_cast<std::int64_t>(rng() % 120'000);
        ev(inc, accept).mutable_offer_accepted()->set_crew_id(crew);
        const std::int64_t arrive = accept + 300'000 + static_cast<std::int64_t>(rng() % 1'800'000);
        ev(inc, arrive).mutable_crew_arrived()->set_crew_id(crew);
        ev(inc, arrive + 600'000).mutable_people_released()->set_crew_id(crew);
        auto& c = ev(inc, arrive + 900'000);
        c.mutable_closed()->mutable_cause()->set_category(
            static_cast<v1::CauseCategory>(1 + rng() % 4));
        c.mutable_closed()->mutable_cause()->set_sub_cause("sub" + std::to_string(rng() % 6));
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const v1::Event& a, const v1::Event& b) { return a.at_ms() < b.at_ms(); });
    return out;
  }();
  return events;
}

void run_report(benchmark::State& state, const char* period_text) {
  const auto& reg = city();
  const auto& events = year_of_events();
  std::string error;
  const auto period = *report::parse_period(period_text, error);
  std::size_t bytes = 0;
  for (auto _ : state) {
    report::builder b(reg, period);
    for (const auto& e : events)
      b.add(e);
    const auto r = b.finish();
    bytes = report::render_markdown(r, report::language::zh).size() +
            report::render_csv(r, report::language::zh).size() + report::render_json(r).size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["journal_events"] = static_cast<double>(events.size());
  state.counters["output_bytes"] = static_cast<double>(bytes);
}

// The whole year's journal is fed either way, as rescuectl does: a month's report still reads
// the year before it for the early warning.
void BM_report_month(benchmark::State& state) {
  run_report(state, "2026-11");
}
void BM_report_year(benchmark::State& state) {
  run_report(state, "2026");
}

// The city and its year as files: the registry's CSV files and a SQLite journal (WAL), in a
// folder removed at exit.
struct city_files {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("report_bench_" + std::to_string(::getpid()));
  std::filesystem::path journal = dir / "journal.db";
  std::filesystem::path registry = dir / "registry";
  city_files() {
    std::filesystem::create_directories(dir);
    if (storage::write_registry_csv(city(), registry))
      throw std::runtime_error("cannot write the registry");
    storage::sqlite_journal_config config;
    config.path = journal;
    config.signing_key_path = dir / "journal.key";
    std::error_code ec;
    auto j = storage::sqlite_journal::open(config, ec);
    if (!j) throw std::runtime_error("cannot open " + journal.string() + ": " + ec.message());
    const auto& events = year_of_events();
    for (std::size_t i = 0; i < events.size(); i += 2000) {
      std::vector<v1::Event> batch(
          events.begin() + static_cast<std::ptrdiff_t>(i),
          events.begin() + static_cast<std::ptrdiff_t>(std::min(i + 2000, events.size())));
      std::promise<std::error_code> done;
      j->append(std::move(batch),
                [&done](std::error_code e, std::vector<std::uint64_t>) { done.set_value(e); });
      if (const auto failed = done.get_future().get()) throw std::runtime_error(failed.message());
    }
  }
  ~city_files() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void BM_rescuectl_month(benchmark::State& state) {
  static city_files files;
  std::string error;
  const auto period = *report::parse_period("2026-11", error);
  using clock = std::chrono::steady_clock;
  double import_s = 0, read_s = 0, report_s = 0;
  for (auto _ : state) {
    const auto t0 = clock::now();
    auto imported = storage::import_registry_csv(files.registry);
    const auto t1 = clock::now();
    std::error_code ec;
    auto j = storage::open_journal_for_audit(files.journal.string(), ec);
    if (!j) {
      state.SkipWithError("cannot open the journal");
      return;
    }
    std::vector<v1::Event> events;
    ec = j->scan(1, UINT64_MAX, [&](const storage::journal_record& r) {
      events.emplace_back();
      return r.parse(events.back());
    });
    const auto t2 = clock::now();
    report::builder b(imported.registry, period);
    for (const auto& e : events)
      b.add(e);
    const auto r = b.finish();
    benchmark::DoNotOptimize(report::render_markdown(r, report::language::zh).size());
    const auto t3 = clock::now();
    import_s += std::chrono::duration<double>(t1 - t0).count();
    read_s += std::chrono::duration<double>(t2 - t1).count();
    report_s += std::chrono::duration<double>(t3 - t2).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["registry_import_s"] = import_s / n;
  state.counters["journal_read_s"] = read_s / n;
  state.counters["report_s"] = report_s / n;
}

BENCHMARK(BM_report_month)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_report_year)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_rescuectl_month)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
