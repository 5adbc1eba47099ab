// The journal over any backend: the append queue, group commit, the hash chain, the checkpoint
// schedule and signing, written once. A backend only stores and reads (journal_backend.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>

#include "rescue/storage/journal.hpp"
#include "rescue/storage/journal_backend.hpp"

namespace rescue::storage {

struct journal_writer_config {
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
  // Reading only (audit tools): no writer thread, append fails with journal_errc::closed, and
  // last_seq() asks the backend each time, since someone else may be writing.
  bool read_only = false;
  // A reader that finds no store creates its empty layout (Redis): an instance of a sharded
  // city follows a shard whose owner has not started yet.
  bool create_missing = false;
};

class journal_writer : public journal {
 public:
  // Loads (or creates) the signing key, resumes the chain at the backend's tail and starts the
  // writer thread. Returns null and sets `ec` on failure.
  static std::unique_ptr<journal_writer> open(std::unique_ptr<journal_backend> backend,
                                              const journal_writer_config& config,
                                              std::error_code& ec);

  ~journal_writer() override;
  journal_writer(const journal_writer&) = delete;
  journal_writer& operator=(const journal_writer&) = delete;

  void append_batch(journal_batch batch, append_handler done) override;
  std::error_code read_incident(std::uint64_t incident_id,
                                std::vector<journal_record>& out) override;
  std::error_code scan(std::uint64_t from, std::uint64_t to, const record_visitor& visit) override;
  std::error_code read_after(std::uint64_t after, std::size_t max,
                             std::vector<journal_record>& out) override;
  void set_tail_listener(tail_listener listener) override;
  void set_outbox_listener(outbox_listener listener) override;
  std::uint64_t last_seq() const override;
  std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) override;
  journal_stats stats() const override;
  std::string problem() const override;
  std::string degraded() const override;
  void close() override;

 protected:
  // For a backend's own journal type (sqlite_journal), which adds accessors: construct, then
  // start() before handing it out.
  journal_writer(std::unique_ptr<journal_backend> backend, const journal_writer_config& config);
  std::error_code start();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rescue::storage
