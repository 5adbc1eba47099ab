// rescue-sim: synthetic cities now; load-driving subcommands join later.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "city.hpp"
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

  CLI11_PARSE(app, argc, argv);

  try {
    if (city_cmd->parsed()) return run_city(city, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rescue-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
