// The journal file's layout, created or upgraded in one transaction on open.
#pragma once

#include <filesystem>
#include <system_error>

#include "rescue/storage/sqlite_journal.hpp"
#include "sqlite_db.hpp"

namespace rescue::storage::sqlite {

// Creates the tables of a new journal file, or upgrades a file of an older layout (moving the
// calls of `legacy_outbox`, the layout-1 outbox file, into the outbox table when that file
// exists), or checks that the file is current; one transaction. A newer layout is refused with
// journal_errc::unsupported_schema.
std::error_code apply_schema(sqlite3* db, const std::filesystem::path& legacy_outbox,
                             sqlite_upgrade& out);

// Prepared on the journal's writer connection, then used by insert_outbox_row.
inline constexpr const char* insert_outbox_sql =
    "INSERT INTO outbox (kind, incident_id, url, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";

// Stores one call (its id is assigned) with a statement prepared from insert_outbox_sql.
std::error_code insert_outbox_row(sqlite3* db, sqlite3_stmt* insert, const outbox_row& r);

// Whether `schema` ("main", or an attached database) has the table.
std::error_code has_table(sqlite3* db, const char* schema, const char* table, bool& out);

}  // namespace rescue::storage::sqlite
