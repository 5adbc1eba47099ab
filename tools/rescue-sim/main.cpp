// rescue-sim: synthetic cities, and a driver that runs terminals, crews and a fire centre
// against a live rescue-dispatchd (`drive` for demos, `load` for the benchmark figures).
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "city.hpp"
#include "driver.hpp"
#include "rescue/storage/registry_csv.hpp"

namespace {

int run_city(const rescue::sim::city_options& options, const std::filesystem::path& out) {
  const auto started = std::chrono::steady_clock::now();
  const rescue::storage::registry reg = rescue::sim::generate_city(options);
  if (const std::error_code ec = rescue::storage::write_registry_csv(reg, out)) {
    std::fprintf(stderr, "rescue-sim: cannot write %s: %s\n", out.c_str(), ec.message().c_str());
    return 1;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::printf(
      "wrote %zu elevators, %zu units and stations, %zu building operators, %zu crews, %zu "
      "terminals to %s in %lld ms\n",
      reg.elevators().size(), reg.units().size(), reg.building_operators().size(),
      reg.crews().size(), reg.terminals().size(), out.c_str(), static_cast<long long>(ms));
  return 0;
}

// Options shared by `drive` and `load`; each subcommand starts from its own defaults.
void add_drive_options(CLI::App* cmd, rescue::sim::drive_options& o) {
  cmd->add_option("--registry", o.registry_dir, "Registry CSV folder the server was started on")
      ->required();
  cmd->add_option("--host", o.host, "Server address (loopback only)")
      ->check([](const std::string& h) {
        return h.rfind("127.", 0) == 0 ? std::string() : std::string("must be in 127.0.0.0/8");
      });
  cmd->add_option("--terminal-port", o.terminal_port, "[server] terminal_port");
  cmd->add_option("--http-port", o.http_port, "[server] http_port");
  cmd->add_option("--more-terminal-ports", o.terminal_ports,
                  "Other instances' terminal ports: terminals are spread over all, round robin")
      ->delimiter(',');
  cmd->add_option("--more-http-ports", o.http_ports,
                  "Other instances' HTTP ports: crew phones are spread over all, round robin")
      ->delimiter(',');
  cmd->add_option("--crew-secret", o.crew_secret, "[crews] token_secret");
  cmd->add_option("--fire-token", o.fire_token, "[fire] inbound_token");
  cmd->add_option("--operator-token", o.operator_token, "Console operator token for phone calls");
  cmd->add_option("--terminals", o.terminals, "Terminals that connect (0 = all in the registry)");
  cmd->add_option("--connect-rate", o.connect_rate, "New terminal connections per second")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--heartbeat-s", o.heartbeat_s, "Heartbeat interval per terminal (s)")
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("--status-every", o.status_every,
                  "Every Nth heartbeat is a StatusReport (acked); 0 = none");
  cmd->add_option("--alarm-rate", o.alarm_rate,
                  "Terminal alarms per second (Poisson), all terminals")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--calls-rate", o.calls_rate, "Phone calls per second via the console API")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--injured-prob", o.injured_prob, "Share of calls reporting an injury")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--burst-district", o.burst_district,
                  "District code of the power cut (empty: all)");
  cmd->add_option("--burst-at", o.burst_at_s,
                  "Burst start, seconds into the traffic phase (<0: none)");
  cmd->add_option("--burst-rate", o.burst_rate, "Burst alarms per second")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--burst-s", o.burst_s, "Burst length (s)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--accept-prob", o.accept_prob, "Probability a crew accepts an offer")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--decline-prob", o.decline_prob,
                  "Probability a crew declines (else it stays silent and the offer expires)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--speed-kmh", o.speed_kmh, "Crew travel speed")->check(CLI::PositiveNumber);
  cmd->add_option("--time-scale", o.time_scale,
                  "Simulated seconds per real second for travel, rescue and fire arrival")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--release-after-s", o.release_after_s,
                  "Simulated seconds on site before the people are released");
  cmd->add_option("--fire-arrival-s", o.fire_arrival_after_s,
                  "Simulated seconds from escalation to fire rescue on site");
  cmd->add_option("--duration-s", o.duration_s,
                  "Traffic phase length after the terminals connected")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--fire-port", o.fire_port,
                  "Run the fire-centre receiver on 127.0.0.1:PORT (0 = none); the server's [fire] "
                  "webhook_url must point at it");
  cmd->add_option("--seed", o.seed, "Random seed");
  cmd->add_option("--server-pid", o.server_pid, "Server process id, to read its VmRSS");
  cmd->add_option("--connect-timeout-s", o.connect_timeout_s,
                  "Give up waiting for the ramp after this");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"96333 simulator: synthetic cities and load"};
  app.require_subcommand(1);

  rescue::sim::city_options city;
  std::string out;
  CLI::App* city_cmd = app.add_subcommand(
      "city", "Generate a synthetic Chongqing registry as CSV files (storage/README.md)");
  city_cmd->add_option("--out", out, "Directory for the CSV files (created)")->required();
  city_cmd->add_option("--elevators", city.elevators, "Number of elevators")
      ->check(CLI::Range(std::size_t{1}, rescue::sim::max_city_elevators));
  city_cmd->add_option("--units", city.units, "Number of maintenance units")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  city_cmd->add_option("--stations", city.stations, "Number of grid rescue stations")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000}));
  city_cmd
      ->add_option("--crews-per-unit", city.crews_per_unit,
                   "Crew members per maintenance unit and per rescue station")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000}));
  city_cmd->add_option("--seed", city.seed, "Random seed; same seed, same city");
  city_cmd
      ->add_option("--terminal-share", city.terminal_share,
                   "Share of elevators with a car terminal")
      ->check(CLI::Range(0.0, 1.0));

  rescue::sim::drive_options drive;
  CLI::App* drive_cmd = app.add_subcommand(
      "drive", "Drive a running rescue-dispatchd: terminals, crews, phone calls, fire centre");
  add_drive_options(drive_cmd, drive);

  // The load figure: every terminal heartbeating each second, then a power-cut burst; crews
  // stay silent so that each of them remains free to be offered the next incident.
  rescue::sim::drive_options load;
  load.heartbeat_s = 1;
  load.status_every = 2;
  load.alarm_rate = 0;
  load.calls_rate = 0;
  load.burst_at_s = 30;
  load.burst_rate = 500;
  load.burst_s = 4;
  load.accept_prob = 0;
  load.decline_prob = 0;
  load.duration_s = 50;
  CLI::App* load_cmd = app.add_subcommand(
      "load",
      "Load figure: many heartbeating terminals plus an alarm burst (drive, other defaults)");
  add_drive_options(load_cmd, load);

  CLI11_PARSE(app, argc, argv);

  try {
    if (city_cmd->parsed()) return run_city(city, out);
    if (drive_cmd->parsed()) return rescue::sim::driver(drive).run();
    if (load_cmd->parsed()) return rescue::sim::driver(load).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rescue-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
