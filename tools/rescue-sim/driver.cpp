#include "driver.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http_call.hpp"
#include "rescue/console.pb.h"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/storage/registry_csv.hpp"

namespace rescue::sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace v1 = rescue::v1;
using std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

clock::duration seconds(double s) {
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

driver::driver(drive_options options) : options_(std::move(options)), random_(options_.seed) {
  terminal_settings_.host = options_.host;
  terminal_settings_.port = options_.terminal_port;
  terminal_settings_.heartbeat =
      milliseconds(static_cast<std::int64_t>(options_.heartbeat_s * 1000));
  terminal_settings_.status_every = options_.status_every;
  crew_settings_.host = options_.host;
  crew_settings_.http_port = options_.http_port;
  crew_settings_.token_secret = options_.crew_secret;
  crew_settings_.accept_prob = options_.accept_prob;
  crew_settings_.decline_prob = options_.decline_prob;
  crew_settings_.speed_kmh = options_.speed_kmh;
  crew_settings_.time_scale = options_.time_scale;
  crew_settings_.release_after_s = options_.release_after_s;
  fire_settings_.listen_port = options_.fire_port;
  fire_settings_.server_host = options_.host;
  fire_settings_.server_http_port = options_.http_port;
  fire_settings_.inbound_token = options_.fire_token;
  fire_settings_.arrival_after_s = options_.fire_arrival_after_s;
  fire_settings_.time_scale = options_.time_scale;
}

int driver::run() {
  auto imported = rescue::storage::import_registry_csv(options_.registry_dir);
  if (!imported.ok()) {
    std::fprintf(stderr,
                 "rescue-sim: %zu registry rows refused (first: %s); going on without them\n",
                 imported.errors.size(), imported.errors.front().to_string().c_str());
  }
  registry_ = std::move(imported.registry);
  if (registry_.terminals().empty() && registry_.crews().empty())
    throw std::runtime_error("registry " + options_.registry_dir +
                             " has no terminals and no crews");
  const std::size_t n_terminals = options_.terminals == 0
                                      ? registry_.terminals().size()
                                      : std::min(options_.terminals, registry_.terminals().size());
  raise_limits(n_terminals + (options_.crews ? registry_.crews().size() : 0) + 64);

  std::uint64_t boot =
      options_.seed * 1'000'003 +
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  for (const auto port : options_.terminal_ports) {
    more_terminal_settings_.push_back(terminal_settings_);
    more_terminal_settings_.back().port = port;
  }
  for (const auto port : options_.http_ports) {
    more_crew_settings_.push_back(crew_settings_);
    more_crew_settings_.back().http_port = port;
  }
  const auto terminal_settings_of = [this](std::size_t i) -> const terminal_settings& {
    const std::size_t k = i % (more_terminal_settings_.size() + 1);
    return k == 0 ? terminal_settings_ : more_terminal_settings_[k - 1];
  };
  const auto crew_settings_of = [this](std::size_t i) -> const crew_settings& {
    const std::size_t k = i % (more_crew_settings_.size() + 1);
    return k == 0 ? crew_settings_ : more_crew_settings_[k - 1];
  };
  for (std::size_t i = 0; i < n_terminals; ++i) {
    const auto& t = registry_.terminals()[i];
    const auto* elevator = registry_.elevator(t.elevator_id());
    terminals_.push_back(std::make_unique<terminal_sim>(
        io_, terminal_settings_of(i), t, elevator ? elevator->district_code() : std::string(),
        stats_, boot + i));
  }
  if (options_.crews) {
    for (const auto& c : registry_.crews())
      crews_.push_back(std::make_unique<crew_sim>(
          io_, crew_settings_of(crews_.size()), c, stats_, random_(),
          [this](std::uint64_t, const std::string& elevator) { busy_elevators_.erase(elevator); }));
  }
  if (options_.fire_port != 0) {
    fire_ = std::make_unique<fire_receiver>(io_, fire_settings_, stats_);
    fire_->start();
  }
  asio::co_spawn(io_, phases(), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "rescue-sim: %s\n", ex.what());
      }
      exit_status_ = 1;
    }
    io_.stop();
  });
  io_.run();
  return exit_status_;
}

void driver::raise_limits(std::size_t connections) const {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(connections);
  if (limit.rlim_cur >= wanted) return;
  // Only root may raise the hard limit; the soft one can go up to it.
  rlimit raised = limit;
  raised.rlim_cur = std::min<rlim_t>(wanted, limit.rlim_max);
  if (wanted > limit.rlim_max) {
    raised.rlim_max = wanted;
    raised.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
    raised = limit;
    raised.rlim_cur = limit.rlim_max;
    std::fprintf(stderr,
                 "rescue-sim: warning: %zu connections need %zu descriptors but the hard limit is "
                 "%llu; some connections will fail\n",
                 connections, connections, static_cast<unsigned long long>(limit.rlim_max));
  }
  setrlimit(RLIMIT_NOFILE, &raised);
}

long driver::server_rss_kb() const {
  if (options_.server_pid <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(options_.server_pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

double driver::exponential(double rate) {
  return std::exponential_distribution<double>(rate)(random_);
}

asio::awaitable<void> driver::sleep(clock::duration d) {
  asio::steady_timer timer(io_);
  timer.expires_after(d);
  co_await timer.async_wait(tuple);
}

asio::awaitable<double> driver::scrape_frames_total() {
  auto r = co_await http_call(io_.get_executor(), options_.host, options_.http_port,
                              http::verb::get, "/metrics", "", "", std::chrono::seconds(10));
  if (r.status != 200) co_return -1;
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto name_end = line.find_first_of(" {");
    if (name_end == std::string::npos) continue;
    const std::string name = line.substr(0, name_end);
    if (name.size() >= 21 && name.compare(name.size() - 21, 21, "terminal_frames_total") == 0)
      co_return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  co_return -1;
}

asio::awaitable<void> driver::phases() {
  const auto started = clock::now();
  for (std::size_t i = 0; i < crews_.size(); ++i)
    crews_[i]->start(milliseconds(static_cast<std::int64_t>(i * 5)));
  while (stats_.crews_connected < crews_.size() && seconds_since(started) < 20)
    co_await sleep(milliseconds(200));
  std::printf("crews: %llu of %zu connected in %.1f s\n",
              static_cast<unsigned long long>(stats_.crews_connected), crews_.size(),
              seconds_since(started));
  co_await sleep(milliseconds(1000));
  stats_.server_rss_before_kb = server_rss_kb();

  const auto ramp = clock::now();
  for (std::size_t i = 0; i < terminals_.size(); ++i)
    terminals_[i]->start(milliseconds(
        static_cast<std::int64_t>(1000.0 * static_cast<double>(i) / options_.connect_rate)));
  while (stats_.terminals_authenticated < terminals_.size() &&
         seconds_since(ramp) < options_.connect_timeout_s) {
    co_await sleep(milliseconds(250));
  }
  stats_.connect_seconds = seconds_since(ramp);
  std::printf("terminals: %llu of %zu authenticated in %.1f s\n",
              static_cast<unsigned long long>(stats_.terminals_authenticated), terminals_.size(),
              stats_.connect_seconds);
  co_await sleep(milliseconds(2000));  // let the server settle before reading its memory
  stats_.server_rss_after_connect_kb = server_rss_kb();
  stats_.terminals_at_rss = stats_.terminals_authenticated;

  // Traffic phase.
  running_ = true;
  const auto t0 = clock::now();
  const double frames0 = co_await scrape_frames_total();
  const std::uint64_t acked0 = stats_.acked_frames();
  const std::uint64_t sent0 = stats_.sent_frames();
  const std::uint64_t heartbeats0 = stats_.heartbeats_sent;
  if (options_.alarm_rate > 0 && !terminals_.empty())
    asio::co_spawn(io_, alarm_generator(),
                   rescue::dispatcher::log_if_thrown("sim driver alarm generator"));
  if (options_.calls_rate > 0)
    asio::co_spawn(io_, call_generator(),
                   rescue::dispatcher::log_if_thrown("sim driver call generator"));
  asio::co_spawn(io_, progress(), rescue::dispatcher::log_if_thrown("sim driver progress"));

  const bool bursting = options_.burst_at_s >= 0 && options_.burst_rate > 0 &&
                        options_.burst_s > 0 && options_.burst_at_s < options_.duration_s;
  const double steady_end = bursting ? options_.burst_at_s : options_.duration_s;
  co_await sleep(seconds(steady_end));
  const double frames1 = co_await scrape_frames_total();
  stats_.steady_window_s = seconds_since(t0);
  if (frames0 >= 0 && frames1 >= 0)
    stats_.steady_events_per_s_server = (frames1 - frames0) / stats_.steady_window_s;
  const auto rate = [&](std::uint64_t now, std::uint64_t before) {
    return static_cast<double>(now - before) / stats_.steady_window_s;
  };
  stats_.steady_frames_per_s_acked = rate(stats_.acked_frames(), acked0);
  stats_.steady_frames_per_s_sent = rate(stats_.sent_frames(), sent0);
  stats_.steady_heartbeats_per_s = rate(stats_.heartbeats_sent, heartbeats0);
  if (bursting) {
    asio::co_spawn(io_, burst(), rescue::dispatcher::log_if_thrown("sim driver burst"));
    co_await sleep(seconds(options_.duration_s - seconds_since(t0)));
  }
  const double frames_end = co_await scrape_frames_total();
  stats_.run_seconds = seconds_since(t0);
  if (frames0 >= 0 && frames_end >= 0)
    stats_.run_events_per_s_server = (frames_end - frames0) / stats_.run_seconds;
  stats_.server_rss_end_kb = server_rss_kb();
  running_ = false;
  stats_.print(stdout);
  std::fflush(stdout);
  stop_all();
}

void driver::stop_all() {
  for (auto& t : terminals_)
    t->stop();
  for (auto& c : crews_)
    c->stop();
  if (fire_) fire_->stop();
}

terminal_sim* driver::pick_idle_terminal() {
  std::uniform_int_distribution<std::size_t> pick(0, terminals_.size() - 1);
  for (int attempt = 0; attempt < 32; ++attempt) {
    terminal_sim* t = terminals_[pick(random_)].get();
    if (t->authenticated() && !busy_elevators_.contains(t->elevator_id())) return t;
  }
  return nullptr;
}

asio::awaitable<void> driver::alarm_generator() {
  std::discrete_distribution<int> code({45, 35, 20});
  constexpr v1::TerminalEventCode codes[] = {
      v1::EVENT_TRAPPED_BETWEEN_FLOORS, v1::EVENT_TRAPPED_IN_DOOR_ZONE, v1::EVENT_ALARM_BUTTON};
  while (running_) {
    co_await sleep(seconds(exponential(options_.alarm_rate)));
    if (!running_) co_return;
    if (terminal_sim* t = pick_idle_terminal()) {
      busy_elevators_.insert(t->elevator_id());
      t->raise_alarm(codes[code(random_)]);
    }
  }
}

asio::awaitable<void> driver::call_generator() {
  const auto& elevators = registry_.elevators();
  if (elevators.empty()) co_return;
  std::uniform_int_distribution<std::size_t> pick(0, elevators.size() - 1);
  std::uniform_int_distribution<int> digits(0, 99'999'999);
  while (running_) {
    co_await sleep(seconds(exponential(options_.calls_rate)));
    if (!running_) co_return;
    const auto& e = elevators[pick(random_)];
    if (busy_elevators_.contains(e.id()) || e.rescue_code().empty()) continue;
    busy_elevators_.insert(e.id());
    char phone[16];
    std::snprintf(phone, sizeof phone, "139%08d", digits(random_));
    const bool injured =
        std::uniform_real_distribution<double>(0, 1)(random_) < options_.injured_prob;
    rescue::v1::CreateFromCall call;
    call.set_rescue_code(e.rescue_code());
    call.set_source(rescue::v1::SOURCE_PHONE);
    call.set_caller_phone(phone);
    call.set_people_trapped(true);
    call.set_injured(injured);
    const std::string body = rescue::protocol::to_json(call);
    ++stats_.calls_sent;
    stats_.alarm_sent(e.id(), clock::now());
    // Not awaited inline: a slow answer must not hold back the Poisson schedule.
    asio::co_spawn(
        io_,
        [](driver* self, std::string body) -> asio::awaitable<void> {
          auto r = co_await http_call(self->io_.get_executor(), self->options_.host,
                                      self->options_.http_port, http::verb::post,
                                      "/api/v1/incidents", self->options_.operator_token,
                                      std::move(body), std::chrono::seconds(10));
          if (r.status == 200 || r.status == 201) {
            ++self->stats_.calls_accepted;
          } else {
            ++self->stats_.calls_failed;
            std::fprintf(stderr, "console call refused: %d %s%s\n", r.status, r.body.c_str(),
                         r.error.c_str());
          }
        }(this, body),
        rescue::dispatcher::log_if_thrown("sim driver call"));
  }
}

asio::awaitable<void> driver::burst() {
  std::vector<terminal_sim*> hit;
  for (auto& t : terminals_)
    if (t->authenticated() && !busy_elevators_.contains(t->elevator_id()) &&
        (options_.burst_district.empty() || t->district_code() == options_.burst_district))
      hit.push_back(t.get());
  std::shuffle(hit.begin(), hit.end(), random_);
  const auto wanted = static_cast<std::size_t>(options_.burst_rate * options_.burst_s);
  if (hit.size() < wanted)
    std::printf("burst: only %zu idle terminals in district %s for %zu alarms\n", hit.size(),
                options_.burst_district.empty() ? "(all)" : options_.burst_district.c_str(),
                wanted);
  hit.resize(std::min(hit.size(), wanted));
  std::printf("burst: %zu alarms over %.0f s in district %s\n", hit.size(), options_.burst_s,
              options_.burst_district.empty() ? "(all)" : options_.burst_district.c_str());
  // A power cut stops the cars where they are: between floors, people inside.
  const auto start = clock::now();
  std::size_t sent = 0;
  while (sent < hit.size() && running_) {
    const auto due = std::min(
        hit.size(), static_cast<std::size_t>(seconds_since(start) * options_.burst_rate) + 1);
    for (; sent < due; ++sent) {
      busy_elevators_.insert(hit[sent]->elevator_id());
      hit[sent]->raise_alarm(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
      ++stats_.burst_alarms_sent;
    }
    co_await sleep(milliseconds(10));
  }
}

asio::awaitable<void> driver::progress() {
  const auto t0 = clock::now();
  while (running_) {
    co_await sleep(std::chrono::seconds(10));
    if (!running_) co_return;
    std::printf(
        "[%5.0f s] terminals %llu, crews %llu, alarms %llu (acked %llu), calls %llu, offers %llu, "
        "accepted %llu, released %llu, fire %llu\n",
        seconds_since(t0), static_cast<unsigned long long>(stats_.terminals_authenticated),
        static_cast<unsigned long long>(stats_.crews_connected),
        static_cast<unsigned long long>(stats_.alarms_sent),
        static_cast<unsigned long long>(stats_.alarms_acked),
        static_cast<unsigned long long>(stats_.calls_sent),
        static_cast<unsigned long long>(stats_.offers_received),
        static_cast<unsigned long long>(stats_.accepts_sent),
        static_cast<unsigned long long>(stats_.releases),
        static_cast<unsigned long long>(stats_.fire_escalations));
    std::fflush(stdout);
  }
}

}  // namespace rescue::sim
