// rescue-dispatchd: the 96333 dispatch server.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/server.hpp"

namespace {

// A city's terminals are tens of thousands of sockets: take every descriptor the system allows.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const auto before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
    spdlog::info("open file limit raised from {} to {}", before, limit.rlim_cur);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rescue-dispatchd: the 96333 elevator rescue dispatch server"};
  std::string config_path;
  bool check_only = false;
  app.add_option("--config", config_path, "TOML configuration file (deploy/rescue-dispatchd.toml)")
      ->required();
  app.add_flag("--check-config", check_only, "Read and validate the configuration, then exit");
  CLI11_PARSE(app, argc, argv);

  // The journal, the outbox, the registry copy and the signing key hold callers' phone numbers
  // and the platform's secrets: nothing this process creates is readable by other users.
  ::umask(077);
  rescue::dispatcher::configure_logging(rescue::dispatcher::log_format::text);
  try {
    auto config = rescue::dispatcher::load_server_config(config_path);
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    if (config.log_format == "json")
      rescue::dispatcher::configure_logging(rescue::dispatcher::log_format::json);
    if (check_only) {
      std::printf("%s: configuration is valid\n", config_path.c_str());
      return 0;
    }
    raise_open_file_limit();
    rescue::dispatcher::server server(std::move(config));
    server.start();
    server.run();
  } catch (const rescue::dispatcher::stopped_on_standby& e) {
    spdlog::info("rescue-dispatchd: {}", e.what());
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("rescue-dispatchd: {}", e.what());
    return 1;
  }
  return 0;
}
