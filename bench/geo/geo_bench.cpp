// Nearest-qualified-crew queries and GPS updates: the R-tree index against a linear scan and
// against Redis GEOSEARCH, at 10 000, 100 000 and 1 000 000 crews.
//
// The Redis side runs a redis-server this program starts on 127.0.0.1 (random free port, no
// persistence) and stops at exit. Two Redis variants are measured, and the difference matters:
//  - redis_geosearch_local_state: GEOSEARCH ... BYRADIUS ... ASC COUNT k WITHDIST, then the crew's
//    duty/licence/job/unit state is read from this process's memory (the linear finder's table);
//  - redis_geosearch_hash_state: the same GEOSEARCH, then one HMGET on a Redis hash holding every
//    crew's state, i.e. the state lives in Redis as well (two round trips per attempt).
// Both grow COUNT (×4 from 16) until five crews qualify or the radius is exhausted.
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rescue/geo/crew_index.hpp"
#include "rescue/geo/linear_crew_finder.hpp"

using namespace rescue::geo;
namespace v1 = rescue::v1;

namespace {

constexpr std::int64_t now_ms = 1709233200000;  // 03:00 local
constexpr std::size_t wanted = 5;
const ranking_config config{};

// Chongqing central district centres (DESIGN.md).
const std::vector<lat_lon> districts = {{29.556, 106.568}, {29.606, 106.574}, {29.523, 106.644},
                                        {29.541, 106.457}, {29.502, 106.511}, {29.484, 106.482},
                                        {29.718, 106.631}, {29.402, 106.540}, {29.805, 106.397}};

std::string numbered(char prefix, std::size_t n) {
  std::string out(1, prefix);
  out += std::to_string(n);
  return out;
}

// ---- redis-server lifetime -------------------------------------------------------------------

class redis_server {
 public:
  redis_server() {
    port_ = free_port();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      std::freopen("/dev/null", "w", stdout);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      redisContext* c = redisConnect("127.0.0.1", port_);
      if (c && !c->err) {
        ctx_ = c;
        return;
      }
      if (c) redisFree(c);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server did not start");
  }
  ~redis_server() {
    if (ctx_) redisFree(ctx_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  redisContext* ctx() const { return ctx_; }
  int port() const { return port_; }

 private:
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
  }

  int port_ = 0;
  pid_t pid_ = -1;
  redisContext* ctx_ = nullptr;
};

redis_server& redis() {
  static redis_server server;
  return server;
}

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (!r) throw std::runtime_error("redis connection lost");
  return reply_ptr(r);
}

// ---- synthetic city ----------------------------------------------------------------------------

struct city {
  std::size_t crews;
  std::vector<crew_record> records;
  std::vector<std::pair<std::string, bool>> units;  // id, level-2 participant
  crew_index index{config};
  linear_crew_finder linear{config};
  std::vector<crew_query> queries;
  std::string geo_key;
  std::string state_key;
  bool in_redis = false;

  explicit city(std::size_t n) : crews(n) {
    std::mt19937_64 rng(n);
    const std::size_t unit_count = std::max<std::size_t>(4, n / 50);
    std::vector<lat_lon> bases;
    std::normal_distribution<double> spread(0, 0.03);  // ~3 km around a district centre
    for (std::size_t u = 0; u < unit_count; ++u) {
      const bool station = u % 10 == 0;
      const bool participant = station || rng() % 10 < 6;
      units.emplace_back(numbered('u', u), participant);
      const lat_lon d = districts[rng() % districts.size()];
      bases.push_back({d.lat + spread(rng), d.lon + spread(rng)});
      const auto kind = station ? v1::ORG_RESCUE_STATION : v1::ORG_MAINTENANCE_UNIT;
      index.register_unit(units.back().first, kind, participant);
      linear.register_unit(units.back().first, kind, participant);
    }
    std::normal_distribution<double> around_base(0, 0.02);
    index.reserve(n);
    linear.reserve(n);
    records.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      crew_record c;
      c.id = numbered('c', i);
      const std::size_t u = rng() % unit_count;
      c.unit_id = units[u].first;
      c.licensed = rng() % 100 < 97;
      c.on_duty = rng() % 100 < 70;
      c.position = {bases[u].lat + around_base(rng), bases[u].lon + around_base(rng)};
      c.position_at_ms = now_ms - (rng() % 100 < 5 ? 3600000 : static_cast<int>(rng() % 60000));
      index.upsert(c);
      linear.upsert(c);
      records.push_back(std::move(c));
    }
    std::normal_distribution<double> elevator(0, 0.04);
    for (int i = 0; i < 1024; ++i) {
      crew_query q;
      q.level = v1::LEVEL_2_AREA;
      q.maintenance_unit_id = units[rng() % unit_count].first;
      q.district_code = "500103";
      const lat_lon d = districts[rng() % districts.size()];
      q.location.set_lat(d.lat + elevator(rng));
      q.location.set_lon(d.lon + elevator(rng));
      q.now_ms = now_ms;
      q.max_candidates = wanted;
      queries.push_back(std::move(q));
    }
    geo_key = "crews:geo:" + std::to_string(n);
    state_key = "crews:state:" + std::to_string(n);
  }

  void load_redis() {
    if (in_redis) return;
    redisContext* c = redis().ctx();
    constexpr std::size_t batch = 1000;
    for (std::size_t start = 0; start < records.size(); start += batch) {
      std::vector<std::string> geo{"GEOADD", geo_key};
      std::vector<std::string> state{"HSET", state_key};
      for (std::size_t i = start; i < std::min(records.size(), start + batch); ++i) {
        const crew_record& r = records[i];
        geo.push_back(std::to_string(r.position.lon));
        geo.push_back(std::to_string(r.position.lat));
        geo.push_back(r.id);
        state.push_back(r.id);
        state.push_back(encode_state(r));
      }
      command(c, geo);
      command(c, state);
    }
    in_redis = true;
  }

  // unit|licensed|on_duty|position_at_ms (jobs are the incident core's, passed in the query)
  static std::string encode_state(const crew_record& r) {
    return r.unit_id + '|' + (r.licensed ? '1' : '0') + '|' + (r.on_duty ? '1' : '0') + '|' +
           std::to_string(r.position_at_ms);
  }
};

city& get_city(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<city>> cities;
  auto& slot = cities[n];
  if (!slot) slot = std::make_unique<city>(n);
  return *slot;
}

// The qualification rules of a level-2 query, for crews Redis returned.
bool qualifies(const crew_query& q, const std::string& id, const std::string& unit, bool licensed,
               bool on_duty, std::int64_t at_ms, const crew_table& units) {
  if (unit == q.maintenance_unit_id) return false;
  const auto u = units.find_unit(unit);
  if (!u || !units.unit(*u).level2_participant) return false;
  return licensed && on_duty && !q.engaged.contains(id) &&
         q.now_ms - at_ms <= config.max_position_age.count();
}

// ---- queries
// -------------------------------------------------------------------------------------

// The city's queries in turn against one of its finders.
void run_queries(benchmark::State& state, const city& c, const crew_finder& finder) {
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    auto r = finder.rank(c.queries[i++ % c.queries.size()]);
    found += r.candidates.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["candidates"] =
      benchmark::Counter(static_cast<double>(found), benchmark::Counter::kAvgIterations);
}

void BM_query_rtree(benchmark::State& state) {
  const city& c = get_city(static_cast<std::size_t>(state.range(0)));
  run_queries(state, c, c.index);
}

void BM_query_linear(benchmark::State& state) {
  const city& c = get_city(static_cast<std::size_t>(state.range(0)));
  run_queries(state, c, c.linear);
}

template <bool state_in_redis>
void BM_query_redis(benchmark::State& state) {
  city& c = get_city(static_cast<std::size_t>(state.range(0)));
  c.load_redis();
  redisContext* ctx = redis().ctx();
  const crew_table& table = c.linear.table();
  const std::string radius = std::to_string(config.level2_max_radius_m);
  std::size_t i = 0, found = 0, round_trips = 0;
  for (auto _ : state) {
    const crew_query& q = c.queries[i++ % c.queries.size()];
    const std::string lon = std::to_string(q.location.lon());
    const std::string lat = std::to_string(q.location.lat());
    std::vector<std::string> chosen;
    for (std::size_t count = 16;; count *= 4) {
      chosen.clear();
      auto r = command(ctx, {"GEOSEARCH", c.geo_key, "FROMLONLAT", lon, lat, "BYRADIUS", radius,
                             "m", "ASC", "COUNT", std::to_string(count), "WITHDIST"});
      ++round_trips;
      std::vector<std::string> ids;
      for (std::size_t e = 0; e < r->elements; ++e) {
        ids.emplace_back(r->element[e]->element[0]->str, r->element[e]->element[0]->len);
      }
      if constexpr (state_in_redis) {
        std::vector<std::string> args{"HMGET", c.state_key};
        args.insert(args.end(), ids.begin(), ids.end());
        auto s = command(ctx, args);
        ++round_trips;
        for (std::size_t e = 0; e < s->elements && chosen.size() < wanted; ++e) {
          const std::string v(s->element[e]->str, s->element[e]->len);
          const auto p1 = v.find('|');
          const auto p3 = v.rfind('|');
          const std::string unit = v.substr(0, p1);
          if (qualifies(q, ids[e], unit, v[p1 + 1] == '1', v[p1 + 3] == '1',
                        std::stoll(v.substr(p3 + 1)), table)) {
            chosen.push_back(ids[e]);
          }
        }
      } else {
        for (const std::string& id : ids) {
          if (chosen.size() == wanted) break;
          const crew_entry& e = table.crew(*table.find(id));
          if (qualifies(q, id, table.unit(e.unit).id, e.licensed, e.on_duty, e.position_at_ms,
                        table)) {
            chosen.push_back(id);
          }
        }
      }
      if (chosen.size() == wanted || r->elements < count) break;
    }
    found += chosen.size();
    benchmark::DoNotOptimize(chosen);
  }
  state.counters["candidates"] =
      benchmark::Counter(static_cast<double>(found), benchmark::Counter::kAvgIterations);
  state.counters["round_trips"] =
      benchmark::Counter(static_cast<double>(round_trips), benchmark::Counter::kAvgIterations);
}

// ---- position updates --------------------------------------------------------------------------

struct ping {
  const std::string* id;
  lat_lon at;
};

std::vector<ping> make_pings(city& c, std::size_t count) {
  std::mt19937_64 rng(count + c.crews);
  std::normal_distribution<double> step(0, 0.0005);  // ~50 m between pings
  std::vector<ping> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const crew_record& r = c.records[rng() % c.records.size()];
    out.push_back({&r.id, {r.position.lat + step(rng), r.position.lon + step(rng)}});
  }
  return out;
}

void BM_update_rtree(benchmark::State& state) {
  city& c = get_city(static_cast<std::size_t>(state.range(0)));
  const auto pings = make_pings(c, 1 << 16);
  std::size_t i = 0;
  for (auto _ : state) {
    const ping& p = pings[i++ & (pings.size() - 1)];
    benchmark::DoNotOptimize(c.index.move(*p.id, p.at, now_ms));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_update_redis_geoadd(benchmark::State& state) {
  city& c = get_city(static_cast<std::size_t>(state.range(0)));
  c.load_redis();
  const auto pings = make_pings(c, 1 << 12);
  std::size_t i = 0;
  for (auto _ : state) {
    const ping& p = pings[i++ & (pings.size() - 1)];
    command(redis().ctx(),
            {"GEOADD", c.geo_key, std::to_string(p.at.lon), std::to_string(p.at.lat), *p.id});
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(10000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_query_rtree)->Apply(sizes);
BENCHMARK(BM_query_linear)->Apply(sizes);
// Redis work happens in another process: only wall-clock time is meaningful there.
BENCHMARK_TEMPLATE(BM_query_redis, false)
    ->Name("BM_query_redis_local_state")
    ->Apply(sizes)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_query_redis, true)
    ->Name("BM_query_redis_hash_state")
    ->Apply(sizes)
    ->UseRealTime();
BENCHMARK(BM_update_rtree)->Apply(sizes);
BENCHMARK(BM_update_redis_geoadd)->Apply(sizes)->UseRealTime();

BENCHMARK_MAIN();
