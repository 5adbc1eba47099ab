// Files and folders only the server's own user may read: the journal, the outbox, the registry
// copy and the signing key are created 0600 in folders created 0700, whatever the umask.
#pragma once

#include <filesystem>
#include <system_error>

namespace rescue::storage {

// Creates `dir` and its missing parents with mode 0700; folders that exist keep their mode.
std::error_code create_private_directories(const std::filesystem::path& dir);

// Creates `file` empty with mode 0600 when it does not exist, so that SQLite (which gives its
// -wal and -shm files the database's mode) opens a private file. Existing files are untouched.
std::error_code create_private_file(const std::filesystem::path& file);

}  // namespace rescue::storage
