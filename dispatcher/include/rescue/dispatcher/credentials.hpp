// The secrets callers are checked against (console tokens, the fire centre's inbound token, the
// crew token secret), swapped as a whole at run time so that SIGHUP rotates them without a restart.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rescue/dispatcher/server_config.hpp"

namespace rescue::dispatcher {

struct credentials {
  std::vector<api_token> console_tokens;
  std::string fire_inbound_token;
  std::string crew_token_secret;
};

credentials credentials_from(const server_config& config);

// Readers take a snapshot and keep it for as long as they use anything in it (a request's
// caller points into it); a replacement never changes a snapshot already taken.
class credential_store {
 public:
  explicit credential_store(credentials initial);
  credential_store(const credential_store&) = delete;
  credential_store& operator=(const credential_store&) = delete;

  // Thread-safe.
  std::shared_ptr<const credentials> current() const;
  void replace(credentials next);

 private:
  std::atomic<std::shared_ptr<const credentials>> current_;
};

struct credential_reload {
  bool ok = false;
  std::string message;  // what was loaded, or why nothing was
};

// Re-reads the whole config file at `path` and, only when all of it is valid, swaps the store's
// credentials for the file's. Other settings are not applied: they need a restart.
credential_reload reload_credentials(credential_store& store, const std::filesystem::path& path);

}  // namespace rescue::dispatcher
