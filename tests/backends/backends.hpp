// The backends the conformance suite runs against, one fixture type each. Every case in this
// folder is a TEMPLATE_TEST_CASE over RESCUE_STORAGE_BACKENDS: a new backend is its fixture
// (the members of sqlite_backend) plus one entry in that list, and it is done when every case
// passes.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "journal_test_util.hpp"
#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/journal.hpp"
#include "rescue/storage/outbox_store.hpp"
#include "rescue/storage/sqlite_crew_position_store.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "rescue/storage/sqlite_outbox_store.hpp"
#include "sqlite_journal_rows.hpp"

#ifdef RESCUE_REDIS_SERVER
#include "redis_server.hpp"
#include "rescue/storage/redis_store.hpp"
#define RESCUE_STORAGE_BACKENDS rescue::test::sqlite_backend, rescue::test::redis_backend
#else
#define RESCUE_STORAGE_BACKENDS rescue::test::sqlite_backend
#endif

namespace rescue::test {

// How a case wants its journal opened; the same for every backend.
struct store_options {
  bool signed_checkpoints = true;  // with the fixture's signing key
  std::uint64_t checkpoint_every_records = 10;
  std::chrono::milliseconds checkpoint_every = std::chrono::seconds(60);
  bool read_only = false;
};

// Everything stored: what a tampering case edits.
using store_edit = std::function<void(std::vector<storage::journal_record>& records,
                                      std::vector<storage::journal_checkpoint>& checkpoints)>;

// A store is named by the case ("main", "copy"); the fixture maps names to its own locations,
// all removed with the fixture.
class sqlite_backend {
 public:
  // Opens (creating when missing) the journal of `store`; null with `ec` set on failure.
  std::unique_ptr<storage::journal> open_journal(const store_options& o, const std::string& store,
                                                 std::error_code& ec) const {
    storage::sqlite_journal_config c;
    c.path = journal_file(store);
    if (o.signed_checkpoints) c.signing_key_path = key_path();
    c.checkpoint_every_records = o.checkpoint_every_records;
    c.checkpoint_every = o.checkpoint_every;
    c.read_only = o.read_only;
    return storage::sqlite_journal::open(c, ec);
  }

  // The outbox of `store`, whose journal was opened at least once.
  std::unique_ptr<storage::outbox_store> open_outbox(const std::string& store,
                                                     std::error_code& ec) const {
    return storage::sqlite_outbox_store::open({journal_file(store), outbox_file(store)}, ec);
  }

  // The crew positions of `store`, created when missing.
  std::unique_ptr<storage::crew_position_store> open_positions(const std::string& store,
                                                               std::error_code& ec) const {
    return storage::sqlite_crew_position_store::open({positions_file(store)}, ec);
  }

  std::filesystem::path key_path() const { return dir_ / "journal.key"; }

  // An independent copy of a closed store.
  void copy(const std::string& from, const std::string& to) const {
    for (const auto& [source, target] : {std::pair{journal_file(from), journal_file(to)},
                                         {outbox_file(from), outbox_file(to)},
                                         {positions_file(from), positions_file(to)}})
      if (std::filesystem::exists(source))
        std::filesystem::copy_file(source, target,
                                   std::filesystem::copy_options::overwrite_existing);
  }

  // Rewrites the records and checkpoints of a closed store as `edit` leaves them, the way
  // someone with write access to the store could.
  void rewrite(const std::string& store, const store_edit& edit) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(journal_file(store).c_str(), &db) == SQLITE_OK);
    std::vector<storage::journal_record> records;
    std::vector<storage::journal_checkpoint> checkpoints;
    read_journal_rows(db, records, checkpoints);
    edit(records, checkpoints);
    // The append-only triggers stop accidents, not someone with write access to the file.
    exec_sql(db,
             "BEGIN; DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;"
             "DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;"
             "DELETE FROM journal; DELETE FROM checkpoints;");
    write_journal_rows(db, records, checkpoints);
    exec_sql(db, "COMMIT");
    REQUIRE(sqlite3_close(db) == SQLITE_OK);
  }

  // What journal_crash_writer needs after its own arguments to open `store` (open_storage).
  std::vector<std::string> crash_writer_args(const std::string& store) const {
    return {"sqlite", journal_file(store).string(), outbox_file(store).string()};
  }

 private:
  std::filesystem::path journal_file(const std::string& store) const {
    return dir_ / (store + ".db");
  }
  std::filesystem::path outbox_file(const std::string& store) const {
    return dir_ / (store + "-outbox.db");
  }
  std::filesystem::path positions_file(const std::string& store) const {
    return dir_ / (store + "-positions.db");
  }

  scratch_dir dir_;
};

#ifdef RESCUE_REDIS_SERVER
// Every store is a set of keys ("rescue:{<store>}:...") on one redis-server of the fixture's own.
class redis_backend {
 public:
  std::unique_ptr<storage::journal> open_journal(const store_options& o, const std::string& store,
                                                 std::error_code& ec) const {
    storage::journal_writer_config c;
    if (o.signed_checkpoints) c.signing_key_path = key_path();
    c.checkpoint_every_records = o.checkpoint_every_records;
    c.checkpoint_every = o.checkpoint_every;
    c.read_only = o.read_only;
    return storage::open_redis_journal(config(store), c, ec);
  }

  std::unique_ptr<storage::outbox_store> open_outbox(const std::string& store,
                                                     std::error_code& ec) const {
    return storage::open_redis_outbox(config(store), ec);
  }

  std::unique_ptr<storage::crew_position_store> open_positions(const std::string& store,
                                                               std::error_code& ec) const {
    return storage::open_redis_positions(config(store), ec);
  }

  std::filesystem::path key_path() const { return dir_ / "journal.key"; }

  void copy(const std::string& from, const std::string& to) const {
    const auto source = storage::redis_keys(from).all();
    const auto target = storage::redis_keys(to).all();
    for (std::size_t i = 0; i < source.size(); ++i) {
      auto dump = server_.run({"DUMP", source[i]});
      if (dump.is_nil()) continue;
      server_.run({"RESTORE", target[i], "0", dump.str, "REPLACE"});
    }
  }

  // Read through the backend itself, written back with plain commands, as someone with write
  // access to the server could.
  void rewrite(const std::string& store, const store_edit& edit) const {
    std::vector<storage::journal_record> records;
    std::vector<storage::journal_checkpoint> checkpoints;
    {
      store_options o;
      o.read_only = true;
      std::error_code ec;
      auto j = open_journal(o, store, ec);
      REQUIRE(j);
      REQUIRE_FALSE(j->scan(0, std::numeric_limits<std::uint64_t>::max(),
                            [&](const storage::journal_record& r) {
                              records.push_back(r);
                              return true;
                            }));
      REQUIRE_FALSE(j->read_checkpoints(checkpoints));
    }
    edit(records, checkpoints);
    std::ranges::sort(records, {}, &storage::journal_record::seq);
    std::ranges::sort(checkpoints, {}, &storage::journal_checkpoint::upto_seq);
    const storage::redis_keys k(store);
    server_.run({"DEL", k.journal, k.checkpoints, k.by_incident});
    for (const auto& r : records) {
      server_.run(storage::redis_args{"XADD", k.journal}
                      .add_owned("0-" + std::to_string(r.seq))
                      .add("at")
                      .add(r.at_ms)
                      .add("inc")
                      .add(r.incident_id)
                      .add("type")
                      .add(std::string_view(r.event_type))
                      .add("payload")
                      .add(std::string_view(r.payload))
                      .add("prev")
                      .add(std::string_view(r.prev_hash))
                      .add("hash")
                      .add(std::string_view(r.hash)));
      std::string member = std::to_string(r.seq);
      member.insert(0, 20 - member.size(), '0');
      server_.run(storage::redis_args{"ZADD", k.by_incident}.add(r.incident_id).add_owned(member));
    }
    for (const auto& cp : checkpoints)
      server_.run(storage::redis_args{"XADD", k.checkpoints}
                      .add_owned("0-" + std::to_string(cp.upto_seq))
                      .add("hash")
                      .add(std::string_view(cp.hash))
                      .add("at")
                      .add(cp.at_ms)
                      .add("sig")
                      .add(std::string_view(cp.signature))
                      .add("pub")
                      .add(std::string_view(cp.public_key)));
    if (!records.empty())
      server_.run(storage::redis_args{"HSET", k.meta, "last_seq"}
                      .add(records.back().seq)
                      .add("last_hash")
                      .add(std::string_view(records.back().hash)));
  }

  std::vector<std::string> crash_writer_args(const std::string& store) const {
    return {"redis", "127.0.0.1", std::to_string(server_.port()), store};
  }

  const redis_server& server() const { return server_; }

 private:
  storage::redis_store_config config(const std::string& store) const {
    storage::redis_store_config c;
    c.endpoint = server_.endpoint();
    c.store = store;
    return c;
  }

  scratch_dir dir_;
  redis_server server_;
};
#endif

// The cases' way in: REQUIREs what they do not test.
template <class Backend>
std::unique_ptr<storage::journal> open_journal(const Backend& b, const store_options& o = {},
                                               const std::string& store = "main") {
  std::error_code ec;
  auto j = b.open_journal(o, store, ec);
  INFO(ec.message());
  REQUIRE(j);
  return j;
}

template <class Backend>
std::unique_ptr<storage::outbox_store> open_outbox(const Backend& b,
                                                   const std::string& store = "main") {
  std::error_code ec;
  auto o = b.open_outbox(store, ec);
  INFO(ec.message());
  REQUIRE(o);
  return o;
}

template <class Backend>
std::unique_ptr<storage::crew_position_store> open_positions(const Backend& b,
                                                             const std::string& store = "main") {
  std::error_code ec;
  auto p = b.open_positions(store, ec);
  INFO(ec.message());
  REQUIRE(p);
  return p;
}

}  // namespace rescue::test
