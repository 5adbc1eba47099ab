// A prepared SQLite statement that finalizes itself: the one wrapper every SQLite user shares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace rescue::storage {

class sqlite_statement {
 public:
  sqlite_statement() = default;
  // Prepares `sql` (one statement) on `db`; check ok() before use. `persistent` hints that the
  // statement lives as long as the connection (SQLITE_PREPARE_PERSISTENT).
  sqlite_statement(sqlite3* db, const char* sql, bool persistent = false);
  ~sqlite_statement();
  sqlite_statement(sqlite_statement&& other) noexcept;
  sqlite_statement& operator=(sqlite_statement&& other) noexcept;
  sqlite_statement(const sqlite_statement&) = delete;
  sqlite_statement& operator=(const sqlite_statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  explicit operator bool() const { return ok(); }
  int prepare_result() const { return prepare_rc_; }  // the SQLite result code of the prepare
  sqlite3_stmt* get() const { return stmt_; }

  // Parameters are numbered from 1. Text and blobs are copied.
  void bind(int i, std::int64_t value);
  void bind(int i, double value);
  void bind_text(int i, std::string_view value);
  void bind_blob(int i, std::string_view value);
  void bind_null(int i);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Back to the start with no bindings, ending any read transaction the statement holds.
  void reset();

  // Columns are numbered from 0.
  bool is_null(int i) const;
  std::int64_t column_int64(int i) const;
  double column_double(int i) const;
  std::string column_text(int i) const;  // empty for NULL
  std::string column_blob(int i) const;  // empty for NULL

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int prepare_rc_ = 0;
};

// Resets a statement on every exit path, so that a failed step never leaves a read transaction
// open.
class sqlite_reset_on_exit {
 public:
  explicit sqlite_reset_on_exit(sqlite_statement& s) : s_(s) {}
  ~sqlite_reset_on_exit() { s_.reset(); }
  sqlite_reset_on_exit(const sqlite_reset_on_exit&) = delete;
  sqlite_reset_on_exit& operator=(const sqlite_reset_on_exit&) = delete;

 private:
  sqlite_statement& s_;
};

}  // namespace rescue::storage
