// The SQLite backend's outbox. The calls are the outbox table of the journal file, written by the
// journal in the transaction of the events that cause them; how each delivery stands (attempts,
// next attempt, delivered, last error) is kept in a file of its own, so that the journal file
// has one writer and no row of it ever changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "rescue/storage/outbox_store.hpp"
#include "rescue/storage/sqlite_durability.hpp"

namespace rescue::storage {

// The delivery file's layout. Layout 1 was the whole outbox (calls and state, no
// user_version); opening converts it once the journal has taken its calls over.
inline constexpr int sqlite_delivery_schema_version = 2;

struct sqlite_outbox_config {
  std::filesystem::path journal_path;  // the journal file, opened (and upgraded) by the journal
  std::filesystem::path path;          // the delivery state; created when missing
};

class sqlite_outbox_store final : public outbox_store {
 public:
  // Open the journal first: a journal file of layout 1 is refused here with
  // journal_errc::unsupported_schema, since only the journal's upgrade moves the calls over.
  static std::unique_ptr<sqlite_outbox_store> open(const sqlite_outbox_config& config,
                                                   std::error_code& ec);
  ~sqlite_outbox_store() override;

  std::error_code due(std::size_t max, std::vector<outbox_row>& out) override;
  std::error_code record_attempt(const outbox_attempt& a) override;
  std::error_code by_incident(std::uint64_t incident_id, std::vector<outbox_row>& out) override;
  std::error_code rows(std::vector<outbox_row>& out) override;
  std::error_code pending(std::size_t& count) override;

  // The delivery connection's journal mode and synchronous level: record_attempt() is durable
  // on synchronous=FULL.
  sqlite_durability durability() const;

  struct impl;

 private:
  explicit sqlite_outbox_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace rescue::storage
