#include "rescue/dispatcher/credentials.hpp"

#include <exception>

namespace rescue::dispatcher {

credentials credentials_from(const server_config& config) {
  return credentials{config.tokens, config.fire_inbound_token, config.crew_token_secret};
}

credential_store::credential_store(credentials initial)
    : current_(std::make_shared<const credentials>(std::move(initial))) {}

std::shared_ptr<const credentials> credential_store::current() const {
  return current_.load(std::memory_order_acquire);
}

void credential_store::replace(credentials next) {
  current_.store(std::make_shared<const credentials>(std::move(next)), std::memory_order_release);
}

credential_reload reload_credentials(credential_store& store, const std::filesystem::path& path) {
  credential_reload result;
  credentials next;
  try {
    next = credentials_from(load_server_config(path));
  } catch (const std::exception& e) {
    result.message = std::string("config not reloaded, the old credentials stay: ") + e.what();
    return result;
  }
  const auto count = next.console_tokens.size();
  const bool fire = !next.fire_inbound_token.empty();
  const bool crew = !next.crew_token_secret.empty();
  store.replace(std::move(next));
  result.ok = true;
  result.message = "credentials reloaded from " + path.string() + ": " + std::to_string(count) +
                   " console token(s), fire inbound token " + (fire ? "set" : "empty") +
                   ", crew token secret " + (crew ? "set" : "empty") +
                   "; other settings take effect at the next restart";
  return result;
}

}  // namespace rescue::dispatcher
