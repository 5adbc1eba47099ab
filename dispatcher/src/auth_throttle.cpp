#include "rescue/dispatcher/auth_throttle.hpp"

#include <spdlog/spdlog.h>

namespace rescue::dispatcher {

auth_throttle::auth_throttle(auth_throttle_config config, metrics* m)
    : config_(config), metrics_(m) {}

bool auth_throttle::locked(const boost::asio::ip::address& address) {
  if (config_.max_failures == 0) return false;
  const auto now = clock::now();
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(address.to_string());
  if (it == entries_.end() || it->second.locked_until <= now) return false;
  if (metrics_) metrics_->auth_throttled_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void auth_throttle::failed(const boost::asio::ip::address& address, std::string_view channel,
                           std::string_view who, std::string_view why) {
  if (metrics_) metrics_->auth_failures_total.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t suppressed = 0;
  if (failure_log_.allow(suppressed))
    spdlog::warn("authentication failed: {} '{}' from {}: {}{}", channel, log_safe(who),
                 address.to_string(), why, suppressed_note(suppressed));
  if (config_.max_failures == 0) return;
  const auto now = clock::now();
  bool now_locked = false;
  {
    std::lock_guard lock(mutex_);
    forget_old(now);
    auto& e = entries_[address.to_string()];
    if (now - e.window_start > config_.window) {
      e.window_start = now;
      e.failures = 0;
    }
    if (++e.failures >= config_.max_failures && e.locked_until <= now) {
      e.locked_until = now + config_.lockout;
      e.failures = 0;
      e.window_start = now;
      now_locked = true;
    }
  }
  if (now_locked && lockout_log_.allow(suppressed))
    spdlog::warn("authentication: {} refused for {} s after {} failures within {} s{}",
                 address.to_string(), config_.lockout.count(), config_.max_failures,
                 config_.window.count(), suppressed_note(suppressed));
}

void auth_throttle::forget_old(clock::time_point now) {
  // Bounded memory under a spray of addresses: entries past their window and lockout go.
  if (now < next_sweep_ && entries_.size() < 100'000) return;
  next_sweep_ = now + config_.window;
  std::erase_if(entries_, [&](const auto& kv) {
    return kv.second.locked_until <= now && now - kv.second.window_start > config_.window;
  });
}

}  // namespace rescue::dispatcher
