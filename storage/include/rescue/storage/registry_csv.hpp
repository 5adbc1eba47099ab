// CSV import and export of the registry: the files a city hands over, one per record type.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "rescue/storage/registry.hpp"

namespace rescue::storage {

// One refused header or row. line is the 1-based physical line where the record starts
// (0 when the whole file is missing); field is the column, empty when no column is to blame.
struct import_error {
  std::string file;
  std::size_t line = 0;
  std::string field;
  std::string message;

  // "elevators.csv:17: registration_code: must be 20 digits (got '123')"
  std::string to_string() const;
};

struct registry_import {
  rescue::storage::registry registry;
  // Rows with an error were skipped; everything else is in the registry.
  std::vector<import_error> errors;

  bool ok() const { return errors.empty(); }
};

// Reads maintenance_units.csv, rescue_stations.csv, building_operators.csv, elevators.csv,
// crews.csv and the optional terminals.csv and rectifications.csv from dir, in that order so
// references resolve.
// Columns are named by a header row and may come in any order; storage/README.md lists them.
// Bad rows are reported and skipped, so one typo does not hold back a city's registry.
registry_import import_registry_csv(const std::filesystem::path& dir);

// Writes the same files into dir (created if missing) so that import_registry_csv reads back
// equal records.
std::error_code write_registry_csv(const registry& reg, const std::filesystem::path& dir);

}  // namespace rescue::storage
