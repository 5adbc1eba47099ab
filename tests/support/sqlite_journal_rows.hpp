// The journal and checkpoint rows of a SQLite journal file read and written with the C API, as
// someone with access to the file (or an earlier version of the server) would.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "rescue/storage/journal.hpp"

namespace rescue::test {

inline void exec_sql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  INFO(sql << ": " << (error ? error : ""));
  sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);
}

inline std::string column_bytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

inline void read_journal_rows(sqlite3* db, std::vector<storage::journal_record>& records,
                              std::vector<storage::journal_checkpoint>& checkpoints) {
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT seq, at_ms, incident_id, event_type, payload, prev_hash, "
                             "hash FROM journal ORDER BY seq",
                             -1, &s, nullptr) == SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    storage::journal_record r;
    r.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    r.at_ms = sqlite3_column_int64(s, 1);
    r.incident_id = static_cast<std::uint64_t>(sqlite3_column_int64(s, 2));
    r.event_type = column_bytes(s, 3);
    r.payload = column_bytes(s, 4);
    r.prev_hash = column_bytes(s, 5);
    r.hash = column_bytes(s, 6);
    records.push_back(std::move(r));
  }
  sqlite3_finalize(s);
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT upto_seq, hash, at_ms, signature, public_key FROM "
                             "checkpoints ORDER BY upto_seq",
                             -1, &s, nullptr) == SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    storage::journal_checkpoint cp;
    cp.upto_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    cp.hash = column_bytes(s, 1);
    cp.at_ms = sqlite3_column_int64(s, 2);
    cp.signature = column_bytes(s, 3);
    cp.public_key = column_bytes(s, 4);
    checkpoints.push_back(std::move(cp));
  }
  sqlite3_finalize(s);
}

inline void write_journal_rows(sqlite3* db, const std::vector<storage::journal_record>& records,
                               const std::vector<storage::journal_checkpoint>& checkpoints) {
  const auto bind = [](sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "INSERT INTO journal (seq, at_ms, incident_id, event_type, "
                             "payload, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                             -1, &s, nullptr) == SQLITE_OK);
  for (const auto& r : records) {
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.seq));
    sqlite3_bind_int64(s, 2, r.at_ms);
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(r.incident_id));
    sqlite3_bind_text(s, 4, r.event_type.data(), static_cast<int>(r.event_type.size()),
                      SQLITE_TRANSIENT);
    bind(s, 5, r.payload);
    bind(s, 6, r.prev_hash);
    bind(s, 7, r.hash);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  REQUIRE(sqlite3_prepare_v2(db,
                             "INSERT INTO checkpoints (upto_seq, hash, at_ms, signature, "
                             "public_key) VALUES (?1, ?2, ?3, ?4, ?5)",
                             -1, &s, nullptr) == SQLITE_OK);
  for (const auto& cp : checkpoints) {
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(cp.upto_seq));
    bind(s, 2, cp.hash);
    sqlite3_bind_int64(s, 3, cp.at_ms);
    bind(s, 4, cp.signature);
    sqlite3_bind_text(s, 5, cp.public_key.data(), static_cast<int>(cp.public_key.size()),
                      SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
}

}  // namespace rescue::test
