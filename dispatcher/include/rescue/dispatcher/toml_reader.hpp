// Reading the TOML configuration: one table at a time, every value checked for type and range,
// and every key nobody asked for refused, so that a misspelt setting never passes silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace rescue::dispatcher {

// Parses `text`; a syntax error throws std::runtime_error "source:line: what".
toml::table parse_toml(std::string_view text, std::string_view source);

// The whole file; throws std::runtime_error "path: cannot open <what>" when it cannot be read.
std::string read_config_file(const std::filesystem::path& path, std::string_view what);

// The table `name` of `root`, or nullptr when absent; throws when `name` is not a table.
const toml::table* subtable(const toml::table& root, std::string_view name,
                            std::string_view source);

// Reads one table (which may be absent: every value then takes its fallback), remembering which
// keys were asked for so that finish() can refuse the rest. Errors throw std::runtime_error
// "source: name.key: why".
class toml_table_reader {
 public:
  toml_table_reader(const toml::table* table, std::string source, std::string name);

  [[noreturn]] void fail(std::string_view key, std::string_view why) const;

  // The raw node, for shapes the typed readers below do not cover; marks the key as known.
  const toml::node* get(std::string_view key);

  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  double number(std::string_view key, double fallback, double min, double max);
  std::string string(std::string_view key, std::string fallback);
  bool boolean(std::string_view key, bool fallback);
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback);

  // An integer count of the duration's own unit ("offer_timeout_s" read into seconds).
  template <class Rep, class Period>
  std::chrono::duration<Rep, Period> duration(std::string_view key,
                                              std::chrono::duration<Rep, Period> fallback,
                                              std::int64_t min, std::int64_t max) {
    return std::chrono::duration<Rep, Period>(integer(key, fallback.count(), min, max));
  }

  // Every key of the table must have been asked for.
  void finish() const;

 private:
  const toml::table* table_;
  std::string source_;
  std::string name_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace rescue::dispatcher
