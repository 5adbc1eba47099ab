#include "rescue/storage/sqlite_durability.hpp"

#include <sqlite3.h>

#include "rescue/storage/sqlite_statement.hpp"

namespace rescue::storage {

sqlite_durability query_durability(sqlite3* db) {
  sqlite_durability out;
  if (!db) return out;
  if (sqlite_statement mode(db, "PRAGMA journal_mode"); mode && mode.step() == SQLITE_ROW)
    out.journal_mode = mode.column_text(0);
  if (sqlite_statement sync(db, "PRAGMA synchronous"); sync && sync.step() == SQLITE_ROW)
    out.synchronous = static_cast<int>(sync.column_int64(0));
  return out;
}

}  // namespace rescue::storage
