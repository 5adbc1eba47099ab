// The few SQLite C API helpers the backend's files share: owning handles, prepared statements
// that reset themselves, reading columns, and errors as std::error_code.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "rescue/storage/sqlite_journal.hpp"

namespace rescue::storage::sqlite {

inline std::error_code error(int rc) {
  return {rc, sqlite_category()};
}
// The connection's last error: the extended code of whatever just failed on it.
inline std::error_code last_error(sqlite3* db) {
  return error(sqlite3_extended_errcode(db));
}

struct db_deleter {
  // close_v2: statements still alive when the connection goes do not keep it open forever.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using db_ptr = std::unique_ptr<sqlite3, db_deleter>;

struct stmt_deleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_deleter>;

// Resets the statement on every exit path so a failed step never leaves a read transaction open.
struct stmt_reset {
  sqlite3_stmt* s;
  ~stmt_reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

// Kept prepared for the life of the connection.
inline std::error_code prepare(sqlite3* db, const char* sql, stmt_ptr& out) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  out.reset(s);
  return rc == SQLITE_OK ? std::error_code{} : error(rc);
}

inline std::error_code exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? std::error_code{} : last_error(db);
}

// Steps a statement that returns no rows.
inline std::error_code step_done(sqlite3* db, sqlite3_stmt* s) {
  return sqlite3_step(s) == SQLITE_DONE ? std::error_code{} : last_error(db);
}

inline void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
// SQLite integers are signed: values above 2^63 are stored as their two's complement.
inline void bind_u64(sqlite3_stmt* s, int i, std::uint64_t v) {
  sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(v));
}

inline std::string column_blob(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  const int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string{};
}

inline std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  const int n = sqlite3_column_bytes(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string{};
}

inline std::uint64_t column_u64(sqlite3_stmt* s, int i) {
  return static_cast<std::uint64_t>(sqlite3_column_int64(s, i));
}

// Opens a connection used by one thread at a time under the caller's own locks. A writable
// open creates the file owner-only when it is missing.
std::error_code open_db(const std::filesystem::path& path, bool read_only, db_ptr& out);

// `PRAGMA user_version` of `schema` ("main", or an attached database).
std::error_code user_version(sqlite3* db, int& out, const char* schema = "main");

}  // namespace rescue::storage::sqlite
