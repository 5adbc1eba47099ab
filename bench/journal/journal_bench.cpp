// Journal benchmark: durable appends from concurrent producers (group commit), per-append
// durable latency, and replay speed (read + parse + hash-chain verify) over a large journal.
//   journal_bench [--dir DIR] [--seconds S] [--replay-events N] [--keep]
//                 [--redis redis://HOST:PORT/STORE | redis-cluster://SEEDS/STORE]
//                 [--wait-replicas N]
// With --redis the journal is the Redis backend's (the store's keys are deleted first); the
// SQLite file is not used.
// Prints a Markdown table per part; the figures in docs/benchmarks.md come from it.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "rescue/storage/journal_verify.hpp"
#include "rescue/storage/redis_store.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace {

using namespace rescue;
using clock_type = std::chrono::steady_clock;

// A realistic mix: an incident's life in eight events, the ranking being the largest.
v1::Event sample_event(std::uint64_t n) {
  v1::Event e;
  e.set_incident_id(1 + n / 8);
  e.set_at_ms(1'714'530'225'000 + static_cast<std::int64_t>(n));
  switch (n % 8) {
    case 0: {
      auto* o = e.mutable_opened();
      auto* el = o->mutable_elevator();
      el->set_elevator_id("E" + std::to_string(100000 + n % 300000));
      el->set_registration_code("31105001022019" + std::to_string(100000 + n % 900000));
      el->set_rescue_code(std::to_string(10000 + n % 90000));
      el->set_address("重庆市渝中区解放碑民权路28号英利国际金融中心3号梯");
      el->set_district_code("500103");
      el->mutable_location()->set_lat(29.556);
      el->mutable_location()->set_lon(106.568);
      el->set_maintenance_unit_id("U0042");
      el->set_target_minutes(30);
      o->mutable_alarm()->set_source(v1::SOURCE_TERMINAL);
      o->mutable_alarm()->set_terminal_event(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
      o->mutable_alarm()->set_terminal_id("T" + std::to_string(n));
      o->set_start_level(v1::LEVEL_1_MAINTENANCE);
      break;
    }
    case 1: {
      auto* r = e.mutable_candidates_ranked();
      r->set_level(v1::LEVEL_1_MAINTENANCE);
      for (unsigned i = 0; i < 5; ++i) {
        auto* c = r->add_candidates();
        c->set_crew_id("C" + std::to_string(1000 + i));
        c->set_unit_id("U0042");
        c->set_rank(i + 1);
        c->set_eta_s(300 + 60 * i);
        c->set_distance_m(2000 + 700 * i);
        c->set_level(v1::LEVEL_1_MAINTENANCE);
      }
      for (unsigned i = 0; i < 3; ++i) {
        auto* x = r->add_exclusions();
        x->set_crew_id("C" + std::to_string(2000 + i));
        x->set_unit_id("U0042");
        x->set_distance_m(500 + 100 * i);
        x->set_reason(v1::EXCLUSION_BUSY);
      }
      break;
    }
    case 2: {
      auto* o = e.mutable_offer_made();
      o->set_crew_id("C1000");
      o->set_unit_id("U0042");
      o->set_level(v1::LEVEL_1_MAINTENANCE);
      o->set_eta_s(300);
      o->set_rank(1);
      break;
    }
    case 3:
      e.mutable_offer_accepted()->set_crew_id("C1000");
      break;
    case 4:
      e.mutable_crew_departed()->set_crew_id("C1000");
      break;
    case 5:
      e.mutable_crew_arrived()->set_crew_id("C1000");
      break;
    case 6:
      e.mutable_people_released()->set_crew_id("C1000");
      break;
    default:
      e.mutable_closed()->mutable_cause()->set_category(v1::CAUSE_DOOR_SYSTEM);
      e.mutable_closed()->mutable_cause()->set_sub_cause("door_operator_fault");
      e.mutable_closed()->set_operator_id("op-7");
      break;
  }
  return e;
}

// Set by --redis: the store the rows write, its name suffixed per part.
std::optional<storage::redis_store_config> redis_target;

storage::redis_store_config redis_store(const std::string& name) {
  auto c = *redis_target;
  c.store += "-" + name.substr(0, name.find('.'));
  std::replace(c.store.begin(), c.store.end(), '_', '-');
  return c;
}

// The Redis master's used_memory (INFO memory) for the store's slot; 0 when unknown.
std::uint64_t redis_used_memory(const storage::redis_store_config& c) {
  storage::redis_connection conn(c.endpoint, storage::redis_keys(c.store).slot);
  storage::redis_reply r;
  if (conn.command({"INFO", "memory"}, r)) return 0;
  const auto at = r.str.find("used_memory:");
  return at == std::string::npos ? 0 : std::stoull(r.str.substr(at + 12));
}

std::unique_ptr<storage::journal> open_fresh(const std::filesystem::path& dir,
                                             const std::string& name) {
  if (redis_target) {
    const auto c = redis_store(name);
    storage::redis_connection conn(c.endpoint, storage::redis_keys(c.store).slot);
    for (const auto& key : storage::redis_keys(c.store).all()) {
      storage::redis_reply r;
      if (const auto ec = conn.command({"DEL", key}, r)) {
        std::fprintf(stderr, "redis %s: %s\n", conn.target().c_str(), conn.last_error().c_str());
        std::exit(1);
      }
    }
    storage::journal_writer_config wc;
    wc.signing_key_path = dir / "journal_bench.key";
    std::error_code ec;
    auto j = storage::open_redis_journal(c, wc, ec);
    if (!j) {
      std::fprintf(stderr, "open %s: %s\n", c.store.c_str(), ec.message().c_str());
      std::exit(1);
    }
    return j;
  }
  const auto path = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path.string() + suffix);
  storage::sqlite_journal_config config;
  config.path = path;
  config.signing_key_path = dir / "journal_bench.key";
  std::error_code ec;
  auto j = storage::sqlite_journal::open(config, ec);
  if (!j) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), ec.message().c_str());
    std::exit(1);
  }
  return j;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Each producer keeps `window` appends of one event in flight; window 1 is a producer that waits
// for each append to be durable before the next (like acknowledging one alarm at a time).
void append_run(const std::filesystem::path& dir, int producers, int window, double seconds) {
  auto j = open_fresh(dir, "journal_bench_append.db");
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(producers));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = clock_type::now();
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      auto& lat = latencies[static_cast<std::size_t>(p)];
      lat.reserve(1 << 20);
      std::counting_semaphore<1 << 20> slots(window);
      std::mutex lat_mu;  // handlers run on the writer thread; the producer reads at the end
      std::atomic<int> outstanding{0};
      for (std::uint64_t n = static_cast<std::uint64_t>(p);;
           n += static_cast<std::uint64_t>(producers)) {
        slots.acquire();
        if (stop.load(std::memory_order_relaxed)) {
          slots.release();
          break;
        }
        const auto t0 = clock_type::now();
        outstanding.fetch_add(1);
        j->append({sample_event(n)}, [&, t0](std::error_code ec, std::vector<std::uint64_t>) {
          if (!ec) {
            const std::chrono::duration<double, std::micro> d = clock_type::now() - t0;
            std::lock_guard lock(lat_mu);
            lat.push_back(d.count());
          }
          slots.release();
          // Last touch of this producer's state: it waits for zero before leaving.
          outstanding.fetch_sub(1);
        });
      }
      // Wait until our in-flight appends completed before the semaphore goes away.
      for (int i = 0; i < window; ++i)
        slots.acquire();
      while (outstanding.load() != 0)
        std::this_thread::yield();
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  const std::chrono::duration<double> elapsed = clock_type::now() - start;
  const auto stats = j->stats();
  std::vector<double> all;
  for (auto& v : latencies)
    all.insert(all.end(), v.begin(), v.end());
  const double p50 = percentile(all, 0.50);
  const double p99 = percentile(all, 0.99);
  std::printf("| %d | %d | %.0f | %llu | %.1f | %.2f | %.2f |\n", producers, window,
              static_cast<double>(stats.events) / elapsed.count(),
              static_cast<unsigned long long>(stats.transactions),
              static_cast<double>(stats.events) /
                  static_cast<double>(std::max<std::uint64_t>(1, stats.transactions)),
              p50 / 1000.0, p99 / 1000.0);
  std::fflush(stdout);
}

void replay_run(const std::filesystem::path& dir, std::uint64_t total) {
  const auto path = dir / "journal_bench_replay.db";
  const std::uint64_t memory_before =
      redis_target ? redis_used_memory(redis_store(path.filename())) : 0;
  {
    auto j = open_fresh(dir, "journal_bench_replay.db");
    const auto t0 = clock_type::now();
    constexpr std::uint64_t batch = 1000;
    std::counting_semaphore<64> slots(16);
    for (std::uint64_t n = 0; n < total; n += batch) {
      std::vector<v1::Event> events;
      for (std::uint64_t k = n; k < std::min(total, n + batch); ++k)
        events.push_back(sample_event(k));
      slots.acquire();
      j->append(std::move(events), [&](std::error_code ec, auto) {
        if (ec) std::fprintf(stderr, "append: %s\n", ec.message().c_str());
        slots.release();
      });
    }
    j->close();
    const std::chrono::duration<double> d = clock_type::now() - t0;
    std::printf("| write %llu events in batches of 1000 | %.2f s | %.0f events/s |\n",
                static_cast<unsigned long long>(total), d.count(),
                static_cast<double>(total) / d.count());
  }
  std::error_code ec;
  std::unique_ptr<storage::journal> j;
  if (redis_target) {
    const auto c = redis_store(path.filename());
    const double bytes =
        static_cast<double>(redis_used_memory(c)) - static_cast<double>(memory_before);
    std::printf("| redis memory (used_memory growth) | %.1f MB | %.0f bytes/event |\n", bytes / 1e6,
                bytes / static_cast<double>(total));
    storage::journal_writer_config wc;
    wc.read_only = true;
    j = storage::open_redis_journal(c, wc, ec);
  } else {
    std::printf("| file size | %.1f MB | %.0f bytes/event |\n",
                static_cast<double>(std::filesystem::file_size(path)) / 1e6,
                static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(total));
    storage::sqlite_journal_config config;
    config.path = path;
    config.read_only = true;
    j = storage::sqlite_journal::open(config, ec);
  }
  if (!j) {
    std::fprintf(stderr, "open: %s\n", ec.message().c_str());
    std::exit(1);
  }
  auto timed = [&](const char* what, auto&& body) {
    const auto t0 = clock_type::now();
    std::uint64_t n = body();
    const std::chrono::duration<double> d = clock_type::now() - t0;
    std::printf("| %s | %.2f s | %.0f events/s |\n", what, d.count(),
                static_cast<double>(n) / d.count());
    std::fflush(stdout);
  };
  timed("scan (read rows only)", [&] {
    std::uint64_t n = 0;
    j->scan(1, UINT64_MAX, [&](const storage::journal_record&) { return ++n, true; });
    return n;
  });
  timed("scan + parse Event", [&] {
    std::uint64_t n = 0;
    v1::Event e;
    j->scan(1, UINT64_MAX, [&](const storage::journal_record& r) {
      n += r.parse(e);
      return true;
    });
    return n;
  });
  timed("verify_journal (read + parse + SHA-256 chain + checkpoints)", [&] {
    auto r = storage::verify_journal(*j);
    if (!r.ok()) std::fprintf(stderr, "verify failed: %s\n", r.reason.c_str());
    return r.records_checked;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  double seconds = 3;
  std::uint64_t replay_events = 1'000'000;
  bool keep = false;
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--keep")) keep = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::stod(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--replay-events"))
      replay_events = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--redis")) {
      storage::redis_store_config c;
      if (!storage::parse_redis_location(argv[i + 1], c)) {
        std::fprintf(stderr, "--redis: not a redis:// or redis-cluster:// location\n");
        return 2;
      }
      c.endpoint.command_timeout = std::chrono::seconds(30);
      redis_target = c;
    } else if (!std::strcmp(argv[i], "--wait-replicas")) {
      if (!redis_target) {
        std::fprintf(stderr, "--wait-replicas needs --redis first\n");
        return 2;
      }
      redis_target->wait_replicas = std::stoi(argv[i + 1]);
    }
  }

  if (redis_target)
    std::printf(
        "## durable appends (Redis %s, store %s, WAIT %d replica(s), one event per append)\n\n",
        redis_target->endpoint.cluster_nodes.empty() ? "server" : "Cluster",
        redis_target->store.c_str(), redis_target->wait_replicas);
  else
    std::printf("## durable appends (WAL, synchronous=FULL, one event per append)\n\n");
  std::printf(
      "| producers | in flight each | durable events/s | transactions | events/txn | "
      "p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n");
  for (int producers : {1, 8, 64})
    append_run(dir, producers, 1, seconds);
  for (int producers : {1, 8, 64})
    append_run(dir, producers, 64, seconds);

  std::printf("\n## replay over %llu events\n\n| step | time | rate |\n|---|---|---|\n",
              static_cast<unsigned long long>(replay_events));
  replay_run(dir, replay_events);

  // --keep leaves the replay journal for `rescuectl replay` to be timed against.
  if (keep || redis_target) return 0;
  for (const char* name : {"journal_bench_append.db", "journal_bench_replay.db"})
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(dir / (std::string(name) + suffix));
  std::filesystem::remove(dir / "journal_bench.key");
}
