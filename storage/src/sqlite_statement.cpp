#include "rescue/storage/sqlite_statement.hpp"

#include <sqlite3.h>

#include <utility>

namespace rescue::storage {

sqlite_statement::sqlite_statement(sqlite3* db, const char* sql, bool persistent) {
  prepare_rc_ =
      sqlite3_prepare_v3(db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
  if (prepare_rc_ != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

sqlite_statement::~sqlite_statement() {
  sqlite3_finalize(stmt_);
}

sqlite_statement::sqlite_statement(sqlite_statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), prepare_rc_(other.prepare_rc_) {}

sqlite_statement& sqlite_statement::operator=(sqlite_statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    prepare_rc_ = other.prepare_rc_;
  }
  return *this;
}

void sqlite_statement::bind(int i, std::int64_t value) {
  sqlite3_bind_int64(stmt_, i, value);
}

void sqlite_statement::bind(int i, double value) {
  sqlite3_bind_double(stmt_, i, value);
}

void sqlite_statement::bind_text(int i, std::string_view value) {
  sqlite3_bind_text(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

void sqlite_statement::bind_blob(int i, std::string_view value) {
  sqlite3_bind_blob(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

void sqlite_statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
}

int sqlite_statement::step() {
  return sqlite3_step(stmt_);
}

void sqlite_statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool sqlite_statement::is_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

std::int64_t sqlite_statement::column_int64(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

double sqlite_statement::column_double(int i) const {
  return sqlite3_column_double(stmt_, i);
}

std::string sqlite_statement::column_text(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}

std::string sqlite_statement::column_blob(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}

}  // namespace rescue::storage
