// What a SQLite connection reports for the two settings durability rests on, for tests and ops.
#pragma once

#include <string>

struct sqlite3;

namespace rescue::storage {

struct sqlite_durability {
  std::string journal_mode;  // `PRAGMA journal_mode`, lowercase: "wal"
  int synchronous = -1;      // `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA; -1 unknown
};

// Asks `db` itself (synchronous is per connection, so another connection cannot tell). Call it
// from the thread that owns the connection.
sqlite_durability query_durability(sqlite3* db);

}  // namespace rescue::storage
