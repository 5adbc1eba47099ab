// Opens the journal and the outbox of the backend the configuration names: the one place that
// knows every backend. A new backend is a folder beside sqlite/ and one entry here.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/journal.hpp"
#include "rescue/storage/outbox_store.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::storage {

struct storage_config {
  std::string backend = "sqlite";  // one of storage_backends()
  // sqlite: the journal file (records, checkpoints, the outbox's calls) and the outbox file
  // (how each delivery stands). An outbox file of layout 1 also held the calls: the journal's
  // upgrade moves them over.
  std::filesystem::path journal_path;
  std::filesystem::path outbox_path;
  // sqlite: each crew's last GPS position (its own file, rewritten in place). Empty: positions
  // are not kept, and opened_storage::positions is null.
  std::filesystem::path positions_path;
  // redis: the server and the store (the shard's keys) journal, outbox and positions live in.
  redis_store_config redis;
  // Checkpoint signing (journal_writer_config).
  std::filesystem::path signing_key_path;
  std::uint64_t checkpoint_every_records = 10'000;
  std::chrono::milliseconds checkpoint_every = std::chrono::seconds(60);
};

struct opened_storage {
  std::unique_ptr<storage::journal> journal;
  std::unique_ptr<storage::outbox_store> outbox;
  std::unique_ptr<storage::crew_position_store> positions;  // null when not configured
  // The store was written by a version that stored outbox rows after their events rather than
  // with them, so an escalation journalled then may lack its outbox row.
  bool predates_transactional_outbox = false;
  // What opening upgraded, for the log; empty when nothing.
  std::string upgrade_note;
};

// Opens the journal alone, for reading (audit tools): `location` is a SQLite file, or for redis
// "redis://HOST:PORT/STORE" (the store defaults to "city"), or "redis-cluster://SEEDS/STORE".
std::unique_ptr<journal> open_journal_for_audit(const std::string& location, std::error_code& ec);

// The configured backend's journal, opened for reading only (as open_journal_for_audit): a
// standby follows the journal with it while another instance writes. A store that does not
// exist yet fails with std::errc::no_such_file_or_directory, unless `create_missing` (Redis:
// the empty store is made, for a shard whose owner has not started yet).
std::unique_ptr<journal> open_journal_reader(const storage_config& config, std::error_code& ec,
                                             bool create_missing = false);

// The names open_storage accepts, in the order the documentation lists them.
const std::vector<std::string>& storage_backends();

// Opens the journal, the outbox and the crew positions of the named backend. Unknown names (and,
// for sqlite, one file named for two of them) fail with std::errc::invalid_argument; anything
// else with the backend's own error.
opened_storage open_storage(const storage_config& config, std::error_code& ec);

}  // namespace rescue::storage
