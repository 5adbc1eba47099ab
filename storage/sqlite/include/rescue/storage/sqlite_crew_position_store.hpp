// The SQLite backend's crew positions: one row per crew in a file of its own, written in place by
// the server's position writer about once a second.
#pragma once

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/sqlite_durability.hpp"

namespace rescue::storage {

// The file's layout (`PRAGMA user_version`).
inline constexpr int sqlite_positions_schema_version = 1;

struct sqlite_crew_position_config {
  // Not the journal file: rows here change on every flush, while the journal file is append-only
  // with one writer, and a flush must never wait for the journal's write lock, nor it for ours.
  std::filesystem::path path;  // created (0600) when missing
};

class sqlite_crew_position_store final : public crew_position_store {
 public:
  // Null with `ec` set when the file cannot be opened or has a newer layout
  // (journal_errc::unsupported_schema).
  static std::unique_ptr<sqlite_crew_position_store> open(const sqlite_crew_position_config& config,
                                                          std::error_code& ec);
  ~sqlite_crew_position_store() override;

  std::error_code save(const std::vector<crew_position>& batch) override;
  std::error_code load_all(std::vector<crew_position>& out) override;

  // WAL with synchronous=NORMAL: a save survives the process being killed, and may lose its
  // last commits on power loss; positions are refreshed by the next ping anyway.
  sqlite_durability durability() const;

  struct impl;

 private:
  explicit sqlite_crew_position_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rescue::storage
