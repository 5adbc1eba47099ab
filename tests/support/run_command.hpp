// Runs a shell command in a test and keeps what it printed (standard output and error).
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace rescue::test {

struct run_result {
  int exit_code = -1;
  std::string out;
};

inline run_result run_command(const std::string& command) {
  run_result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// build/bin/rescuectl with these arguments.
inline run_result rescuectl(const std::string& args) {
  return run_command(std::string(RESCUE_BIN_DIR) + "/rescuectl " + args);
}

}  // namespace rescue::test
