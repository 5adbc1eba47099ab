// Synthetic city: a deterministic registry scattered around Chongqing's central districts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rescue/storage/registry.hpp"

namespace rescue::sim {

struct city_options {
  std::size_t elevators = 1000;
  std::size_t units = 20;          // maintenance units
  std::size_t stations = 4;        // grid rescue stations
  std::size_t crews_per_unit = 6;  // for units and stations alike
  std::uint64_t seed = 96333;
  double terminal_share = 0.8;  // elevators with a car terminal
};

// The rescue-code space (5 and 6 digits) bounds how many elevators one city can have.
inline constexpr std::size_t max_city_elevators = 990'000;

// Same options, same registry, on every platform: the generator uses its own random numbers
// rather than <random> distributions, whose output the standard leaves to the library.
// Requires elevators <= max_city_elevators and units >= 1.
rescue::storage::registry generate_city(const city_options& options);

}  // namespace rescue::sim
