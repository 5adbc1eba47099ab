// A city's registry files: import_registry_csv over a folder holding the six CSV files, then the
// promise of write_registry_csv that an import of its output reads back equal records.
//
// Input: the files' contents in import order (maintenance_units, rescue_stations,
// building_operators, elevators, crews, terminals) separated by 0x1C (file separator); a file
// not given is missing from the folder. The folder lives in /dev/shm when there is one.
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <google/protobuf/util/message_differencer.h>

#include "rescue/storage/registry_csv.hpp"

namespace {

using namespace rescue;
namespace fs = std::filesystem;

constexpr const char* file_names[] = {
    "maintenance_units.csv", "rescue_stations.csv", "building_operators.csv",
    "elevators.csv",         "crews.csv",           "terminals.csv"};

fs::path scratch(const char* leaf) {
  const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  return base / ("rescue-fuzz-csv-" + std::to_string(::getpid())) / leaf;
}

template <class Message>
void same_records(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) __builtin_trap();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!google::protobuf::util::MessageDifferencer::Equals(a[i], b[i])) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path in = scratch("in");
  static const fs::path out = scratch("out");
  std::error_code ec;
  fs::remove_all(in, ec);
  fs::create_directories(in);

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (std::size_t i = 0; i < std::size(file_names); ++i) {
    const std::size_t end = std::min(rest.find('\x1c'), rest.size());
    std::ofstream(in / file_names[i], std::ios::binary) << rest.substr(0, end);
    if (end == rest.size()) break;
    rest.remove_prefix(end + 1);
  }

  const storage::registry_import first = storage::import_registry_csv(in);
  for (const auto& e : first.errors)
    (void)e.to_string();

  fs::remove_all(out, ec);
  if (storage::write_registry_csv(first.registry, out)) __builtin_trap();
  const storage::registry_import again = storage::import_registry_csv(out);
  if (!again.ok()) __builtin_trap();
  same_records(first.registry.units(), again.registry.units());
  same_records(first.registry.building_operators(), again.registry.building_operators());
  same_records(first.registry.elevators(), again.registry.elevators());
  same_records(first.registry.crews(), again.registry.crews());
  same_records(first.registry.terminals(), again.registry.terminals());
  return 0;
}
