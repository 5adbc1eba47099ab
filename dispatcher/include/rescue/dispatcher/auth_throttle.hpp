// Failed authentication per client address (terminal HMAC, console and fire-centre tokens, crew
// tokens): after max_failures within the window the address is refused for the lockout, so
// secrets cannot be guessed at line rate. Failures are logged escaped and rate-limited.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/metrics.hpp"

namespace rescue::dispatcher {

struct auth_throttle_config {
  std::size_t max_failures = 10;  // 0: never throttle
  std::chrono::seconds window{60};
  std::chrono::seconds lockout{60};
};

class auth_throttle {
 public:
  using clock = std::chrono::steady_clock;

  // `m` may be null (tests of one listener); it must outlive the throttle otherwise.
  auth_throttle(auth_throttle_config config, metrics* m);

  // True while `address` is locked out; counted as a throttled attempt. Thread-safe.
  bool locked(const boost::asio::ip::address& address);
  // Records one failure: `channel` is "terminal", "console", "crew" or "fire centre";
  // `who` is the identity claimed (untrusted: escaped here before logging).
  void failed(const boost::asio::ip::address& address, std::string_view channel,
              std::string_view who, std::string_view why);

 private:
  struct entry {
    clock::time_point window_start{};
    std::size_t failures = 0;
    clock::time_point locked_until{};
  };
  void forget_old(clock::time_point now);

  const auth_throttle_config config_;
  metrics* metrics_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  clock::time_point next_sweep_{};
  log_limiter failure_log_;
  log_limiter lockout_log_;
};

}  // namespace rescue::dispatcher
