// The SQLite backend: journal, checkpoints and outbox in one file in WAL mode, behind the
// backend-neutral journal writer (journal_writer.hpp) and outbox interface (outbox_store.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "rescue/storage/journal_writer.hpp"
#include "rescue/storage/sqlite_durability.hpp"

namespace rescue::storage {

// The file's layout (`PRAGMA user_version`) this build writes. Version 1 had no outbox table:
// the outbox was a file of its own, written after the journal.
inline constexpr int sqlite_schema_version = 2;

struct sqlite_journal_config {
  std::filesystem::path path;  // the database file; created when missing
  // Ed25519 private key (PEM) used to sign checkpoints; generated with mode 0600 when missing.
  // Empty: no checkpoints are written.
  std::filesystem::path signing_key_path;
  // A checkpoint is written when this many records are unsigned...
  std::uint64_t checkpoint_every_records = 10'000;
  // ...or when the oldest unsigned record is this old, whichever comes first.
  std::chrono::milliseconds checkpoint_every = std::chrono::seconds(60);
  // Upper bound on events in one transaction, so one commit never holds the others up for long.
  // A single append batch is never split, so a larger batch still commits as one transaction.
  std::size_t max_transaction_events = 16'384;
  // Open for reading only (audit tools): no writer thread, append fails with journal_errc::closed.
  // A read-only open never changes the file, so it also reads files of an older layout.
  bool read_only = false;
  // The outbox file of layout 1. When a layout-1 journal is upgraded, the rows of this file
  // (when it exists) move into the journal's outbox table in the same transaction.
  std::filesystem::path legacy_outbox_path;
};

// What opening did to an older file.
struct sqlite_upgrade {
  int from_version = 0;                // 0: the file was new or already current
  std::size_t legacy_outbox_rows = 0;  // rows moved in from legacy_outbox_path
};

class sqlite_journal final : public journal_writer {
 public:
  // Opens or creates the file, applies or upgrades the schema, resumes the chain after the last
  // record. Returns null and sets `ec` on failure (file unreadable, not a journal, newer layout,
  // key unusable).
  static std::unique_ptr<sqlite_journal> open(const sqlite_journal_config& config,
                                              std::error_code& ec);

  // The writer connection's journal mode and synchronous level, as SQLite reported them once
  // the pragmas were applied (empty for a read-only journal, which has no writer).
  sqlite_durability durability() const { return durability_; }
  const sqlite_upgrade& upgrade() const { return upgrade_; }

 private:
  using journal_writer::journal_writer;
  sqlite_durability durability_;
  sqlite_upgrade upgrade_;
};

// Errors from SQLite itself: the value is the SQLite extended result code.
const std::error_category& sqlite_category() noexcept;

}  // namespace rescue::storage
