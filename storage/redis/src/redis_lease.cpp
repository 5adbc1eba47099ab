#include "redis_lease.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "redis_common.hpp"
#include "rescue/storage/journal.hpp"

namespace rescue::storage::redis_detail {

namespace {

// KEYS: lease meta. ARGV: owner ttl_ms. A free lease is taken and the store's fencing token
// raised; a held one is answered with its holder and what is left of it.
constexpr const char* acquire_script = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, holder, redis.call('PTTL', KEYS[1])}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, tostring(redis.call('HINCRBY', KEYS[2], 'fence', 1)), 0}
)lua";

// KEYS: lease meta. ARGV: owner ttl_ms fence. Renews while the token is still ours; a lease
// that lapsed with nobody taking it is taken back under the same token, since nobody can have
// written in between (taking the lease raises the token).
constexpr const char* renew_script = R"lua(
local fence = redis.call('HGET', KEYS[2], 'fence')
if fence ~= ARGV[3] then
  return redis.error_reply('FENCED the store is at token ' .. tostring(fence))
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return redis.error_reply('FENCED the lease is held by ' .. holder)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

// KEYS: lease meta. ARGV: owner fence.
constexpr const char* release_script = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('HGET', KEYS[2], 'fence') == ARGV[2] then
  redis.call('DEL', KEYS[1])
end
return 1
)lua";

std::string default_owner(const std::string& configured) {
  std::string name = configured;
  if (name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    name = std::string(host[0] ? host : "host") + ":" + std::to_string(getpid());
  }
  std::random_device rd;
  std::uniform_int_distribution<std::uint32_t> d;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", d(rd));
  return name + "/" + suffix;
}

}  // namespace

redis_lease::redis_lease(const redis_store_config& config, const redis_keys& keys)
    : config_(config.lease),
      keys_(keys),
      conn_(config.endpoint, keys.slot),
      owner_(default_owner(config.lease.owner)) {}

redis_lease::~redis_lease() {
  release();
}

std::error_code redis_lease::acquire() {
  const auto started = std::chrono::steady_clock::now();
  const auto ttl = std::max<std::chrono::milliseconds>(config_.ttl, std::chrono::milliseconds(100));
  // Told at once, then once a minute: a standby may wait for days.
  constexpr auto tell_every = std::chrono::minutes(1);
  auto last_told = started - tell_every;
  bool answered = false;  // Redis has answered once: later failures are waited out
  for (;;) {
    redis_args a{"EVAL", acquire_script, "2", keys_.lease, keys_.meta, owner_};
    a.add(static_cast<std::int64_t>(ttl.count()));
    redis_reply r;
    std::string holder;
    auto left = ttl / 4;
    if (auto ec = conn_.command(a, r)) {
      // Unreachable at the first try: the open fails as it would without a lease. A standby
      // that was waiting keeps waiting (a Redis failover, a restart) with what it has folded.
      if (!answered) return ec;
    } else {
      answered = true;
      if (r.type != redis_reply::kind::array || r.elements.size() != 3)
        return redis_errc::unexpected_reply;
      if (r.elements[0].integer == 1) {
        fence_ = r.elements[1].str;
        break;
      }
      holder = r.elements[1].str;
      left = std::chrono::milliseconds(std::max<long long>(r.elements[2].integer, 0));
    }
    const auto now = std::chrono::steady_clock::now();
    if (config_.wait.count() >= 0 && now - started >= config_.wait) return journal_errc::lease_held;
    if (config_.on_waiting && !holder.empty() && now - last_told >= tell_every) {
      config_.on_waiting(holder, left);
      last_told = now;
    }
    // Ask again soon after the holder's lease would lapse, and at least every ttl/4 (it may be
    // given back early).
    auto pause =
        std::clamp(left + std::chrono::milliseconds(20), std::chrono::milliseconds(20), ttl / 4);
    if (config_.wait.count() >= 0)
      pause = std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  config_.wait - (now - started)) +
                                  std::chrono::milliseconds(1));
    for (const auto until = now + pause; std::chrono::steady_clock::now() < until;) {
      if (config_.give_up && config_.give_up())
        return std::make_error_code(std::errc::operation_canceled);
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
  }
  if (config_.on_acquired) config_.on_acquired(owner_, fence_);
  renewer_ = std::thread([this] { renew_loop(); });
  return {};
}

void redis_lease::mark_lost(const std::string& why) {
  std::function<void(const std::string&)> tell;
  {
    std::lock_guard lock(mu_);
    if (lost_.load(std::memory_order_relaxed)) return;
    lost_reason_ = why;
    lost_.store(true, std::memory_order_release);
    tell = config_.on_lost;
  }
  cv_.notify_all();
  if (tell) tell(why);
}

std::string redis_lease::lost_reason() const {
  std::lock_guard lock(mu_);
  return lost_reason_;
}

void redis_lease::renew_loop() {
  const auto ttl = std::max<std::chrono::milliseconds>(config_.ttl, std::chrono::milliseconds(100));
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, ttl / 3, [this] { return stopping_ || lost(); })) return;
    }
    redis_args a{"EVAL", renew_script, "2", keys_.lease, keys_.meta, owner_};
    a.add(static_cast<std::int64_t>(ttl.count())).add(std::string_view(fence_));
    redis_reply r;
    const auto ec = conn_.command(a, r);
    if (ec == redis_errc::error_reply && r.error_is("FENCED")) {
      mark_lost("the lease of store " + keys_.lease + " was taken over: " + r.str);
      return;
    }
    // Unreachable, or refused for now: the next round asks again. Should the lease lapse
    // meanwhile, the token tells whether anyone took it.
  }
}

void redis_lease::release() {
  {
    std::lock_guard lock(mu_);
    if (released_) return;
    released_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (fence_.empty() || lost()) return;
  redis_args a{"EVAL", release_script, "2", keys_.lease, keys_.meta, owner_};
  a.add(std::string_view(fence_));
  redis_reply r;
  conn_.command(a, r);  // at worst the lease lapses by itself
}

}  // namespace rescue::storage::redis_detail
