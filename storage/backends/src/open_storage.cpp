#include "rescue/storage/open_storage.hpp"

#include "rescue/storage/sqlite_crew_position_store.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "rescue/storage/sqlite_outbox_store.hpp"

#include "rescue/storage/redis_store.hpp"

namespace rescue::storage {

namespace {

opened_storage open_sqlite(const storage_config& config, std::error_code& ec) {
  opened_storage out;
  // The outbox file attaches the journal file: one file cannot be both. The positions file is
  // written in place by a writer of its own: it shares neither.
  const auto journal_file = config.journal_path.lexically_normal();
  const auto outbox_file = config.outbox_path.lexically_normal();
  const auto positions_file = config.positions_path.lexically_normal();
  if (journal_file == outbox_file || (!positions_file.empty() && (positions_file == journal_file ||
                                                                  positions_file == outbox_file))) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return out;
  }
  sqlite_journal_config jc;
  jc.path = config.journal_path;
  jc.signing_key_path = config.signing_key_path;
  jc.checkpoint_every_records = config.checkpoint_every_records;
  jc.checkpoint_every = config.checkpoint_every;
  jc.legacy_outbox_path = config.outbox_path;
  // The journal first: it upgrades a file of an older layout, which the outbox refuses.
  auto journal = sqlite_journal::open(jc, ec);
  if (!journal) return out;
  const sqlite_upgrade upgrade = journal->upgrade();
  auto outbox = sqlite_outbox_store::open({config.journal_path, config.outbox_path}, ec);
  if (!outbox) return out;
  std::unique_ptr<sqlite_crew_position_store> positions;
  if (!config.positions_path.empty()) {
    positions = sqlite_crew_position_store::open({config.positions_path}, ec);
    if (!positions) return out;
  }
  if (upgrade.from_version != 0) {
    out.predates_transactional_outbox = upgrade.from_version < 2;
    out.upgrade_note = "upgraded " + config.journal_path.string() + " from layout " +
                       std::to_string(upgrade.from_version) + " to " +
                       std::to_string(sqlite_schema_version) + "; " +
                       std::to_string(upgrade.legacy_outbox_rows) + " outbox calls moved in from " +
                       config.outbox_path.string();
  }
  out.journal = std::move(journal);
  out.outbox = std::move(outbox);
  out.positions = std::move(positions);
  return out;
}

opened_storage open_redis(const storage_config& config, std::error_code& ec) {
  opened_storage out;
  journal_writer_config jc;
  jc.signing_key_path = config.signing_key_path;
  jc.checkpoint_every_records = config.checkpoint_every_records;
  jc.checkpoint_every = config.checkpoint_every;
  auto journal = open_redis_journal(config.redis, jc, ec);
  if (!journal) return out;
  auto outbox = open_redis_outbox(config.redis, ec);
  if (!outbox) return out;
  auto positions = open_redis_positions(config.redis, ec);
  if (!positions) return out;
  out.journal = std::move(journal);
  out.outbox = std::move(outbox);
  out.positions = std::move(positions);
  return out;
}

}  // namespace

std::unique_ptr<journal> open_journal_for_audit(const std::string& location, std::error_code& ec) {
  ec.clear();
  if (location.starts_with("redis://") || location.starts_with("redis-cluster://")) {
    redis_store_config rc;
    if (!parse_redis_location(location, rc)) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return nullptr;
    }
    journal_writer_config jc;
    jc.read_only = true;
    return open_redis_journal(rc, jc, ec);
  }
  sqlite_journal_config c;
  c.path = location;
  c.read_only = true;
  return sqlite_journal::open(c, ec);
}

std::unique_ptr<journal> open_journal_reader(const storage_config& config, std::error_code& ec,
                                             bool create_missing) {
  ec.clear();
  if (config.backend == "redis") {
    journal_writer_config jc;
    jc.read_only = true;
    jc.create_missing = create_missing;
    return open_redis_journal(config.redis, jc, ec);
  }
  if (config.backend == "sqlite") {
    sqlite_journal_config c;
    c.path = config.journal_path;
    c.read_only = true;
    return sqlite_journal::open(c, ec);
  }
  ec = std::make_error_code(std::errc::invalid_argument);
  return nullptr;
}

const std::vector<std::string>& storage_backends() {
  static const std::vector<std::string> names{"sqlite", "redis"};
  return names;
}

opened_storage open_storage(const storage_config& config, std::error_code& ec) {
  ec.clear();
  if (config.backend == "sqlite") return open_sqlite(config, ec);
  if (config.backend == "redis") return open_redis(config, ec);
  ec = std::make_error_code(std::errc::invalid_argument);
  return {};
}

}  // namespace rescue::storage
