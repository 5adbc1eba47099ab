#include "rescue/dispatcher/toml_reader.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rescue::dispatcher {

toml::table parse_toml(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source << ":" << e.source().begin.line << ": " << e.description();
    throw std::runtime_error(out.str());
  }
}

std::string read_config_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open " + std::string(what));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const toml::table* subtable(const toml::table& root, std::string_view name,
                            std::string_view source) {
  const toml::node* node = root.get(name);
  if (!node) return nullptr;
  const toml::table* t = node->as_table();
  if (!t)
    throw std::runtime_error(std::string(source) + ": " + std::string(name) + ": must be a table");
  return t;
}

toml_table_reader::toml_table_reader(const toml::table* table, std::string source, std::string name)
    : table_(table), source_(std::move(source)), name_(std::move(name)) {}

void toml_table_reader::fail(std::string_view key, std::string_view why) const {
  throw std::runtime_error(source_ + ": " + name_ + "." + std::string(key) + ": " +
                           std::string(why));
}

const toml::node* toml_table_reader::get(std::string_view key) {
  known_.insert(std::string(key));
  return table_ ? table_->get(key) : nullptr;
}

std::int64_t toml_table_reader::integer(std::string_view key, std::int64_t fallback,
                                        std::int64_t min, std::int64_t max) {
  const toml::node* node = get(key);
  if (!node) return fallback;
  const auto v = node->value_exact<std::int64_t>();
  if (!v) fail(key, "must be an integer");
  if (*v < min || *v > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return *v;
}

double toml_table_reader::number(std::string_view key, double fallback, double min, double max) {
  const toml::node* node = get(key);
  if (!node) return fallback;
  const auto v = node->value<double>();
  if (!v) fail(key, "must be a number");
  if (*v < min || *v > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return *v;
}

std::string toml_table_reader::string(std::string_view key, std::string fallback) {
  const toml::node* node = get(key);
  if (!node) return fallback;
  const auto v = node->value_exact<std::string>();
  if (!v) fail(key, "must be a string");
  return *v;
}

bool toml_table_reader::boolean(std::string_view key, bool fallback) {
  const toml::node* node = get(key);
  if (!node) return fallback;
  const auto v = node->value_exact<bool>();
  if (!v) fail(key, "must be true or false");
  return *v;
}

std::vector<std::string> toml_table_reader::strings(std::string_view key,
                                                    std::vector<std::string> fallback) {
  const toml::node* node = get(key);
  if (!node) return fallback;
  const toml::array* list = node->as_array();
  if (!list) fail(key, "must be an array of strings");
  std::vector<std::string> out;
  for (const toml::node& entry : *list) {
    const auto v = entry.value_exact<std::string>();
    if (!v) fail(key, "must be an array of strings");
    out.push_back(*v);
  }
  return out;
}

void toml_table_reader::finish() const {
  if (!table_) return;
  for (const auto& [key, value] : *table_)
    if (!known_.contains(key.str())) fail(key.str(), "unknown key");
}

}  // namespace rescue::dispatcher
