// The default journal backend: one SQLite file in WAL mode, a writer thread with group commit.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>

#include "rescue/storage/journal.hpp"

namespace rescue::storage {

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
  bool read_only = false;
};

class sqlite_journal final : public journal {
 public:
  // Opens or creates the file, applies the schema, resumes the chain after the last record.
  // Returns null and sets `ec` on failure (file unreadable, not a journal, key unusable).
  static std::unique_ptr<sqlite_journal> open(const sqlite_journal_config& config,
                                              std::error_code& ec);

  ~sqlite_journal() override;

  void append(std::vector<rescue::v1::Event> events, append_handler done) override;
  std::error_code read_incident(std::uint64_t incident_id,
                                std::vector<journal_record>& out) override;
  std::error_code scan(std::uint64_t from, std::uint64_t to, const record_visitor& visit) override;
  std::error_code read_after(std::uint64_t after, std::size_t max,
                             std::vector<journal_record>& out) override;
  void set_tail_listener(tail_listener listener) override;
  std::uint64_t last_seq() const override;
  std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) override;
  journal_stats stats() const override;
  void close() override;

  struct impl;

 private:
  explicit sqlite_journal(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Errors from SQLite itself: the value is the SQLite extended result code.
const std::error_category& sqlite_category() noexcept;

}  // namespace rescue::storage
