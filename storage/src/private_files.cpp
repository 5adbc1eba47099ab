#include "rescue/storage/private_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace rescue::storage {

std::error_code create_private_directories(const std::filesystem::path& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent_ec = create_private_directories(dir.parent_path())) return parent_ec;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return std::error_code(errno, std::generic_category());
  return {};
}

std::error_code create_private_file(const std::filesystem::path& file) {
  if (file.has_parent_path())
    if (auto ec = create_private_directories(file.parent_path())) return ec;
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return {};
  }
  if (errno == EEXIST) return {};
  return std::error_code(errno, std::generic_category());
}

}  // namespace rescue::storage
