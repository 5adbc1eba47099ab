// Silences the logs a harness would otherwise print for every malformed input (libprotobuf's
// "invalid UTF-8" lines, spdlog's refusals): at thousands of inputs a second they cost more than
// the code under test and bury libFuzzer's own report.
#pragma once

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

namespace rescue::fuzz {

inline void quiet_logs() {
  static const bool done = [] {
    google::protobuf::SetLogHandler(
        [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)done;
}

}  // namespace rescue::fuzz
