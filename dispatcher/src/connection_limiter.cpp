#include "rescue/dispatcher/connection_limiter.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace rescue::dispatcher {

connection_slot::~connection_slot() {
  release();
}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::move(other.owner_);
    address_ = std::move(other.address_);
  }
  return *this;
}

void connection_slot::release() {
  if (owner_) owner_->release(address_);
  owner_.reset();
}

connection_limiter::connection_limiter(std::size_t max_total, std::size_t max_per_address,
                                       std::atomic<std::int64_t>* gauge)
    : max_total_(max_total), max_per_address_(max_per_address), gauge_(gauge) {}

connection_slot connection_limiter::try_admit(const boost::asio::ip::address& address,
                                              verdict& why) {
  // IPv4 clients on a dual-stack socket share their count with their mapped form.
  std::string key =
      address.is_v6() && address.to_v6().is_v4_mapped()
          ? boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
                .to_string()
          : address.to_string();
  std::lock_guard lock(mutex_);
  if (max_total_ != 0 && open_ >= max_total_) {
    why = verdict::listener_full;
    return {};
  }
  auto& count = per_address_[key];
  if (max_per_address_ != 0 && count >= max_per_address_) {
    why = verdict::address_full;
    return {};
  }
  ++count;
  ++open_;
  if (gauge_) gauge_->fetch_add(1, std::memory_order_relaxed);
  why = verdict::admitted;
  return connection_slot(shared_from_this(), std::move(key));
}

void connection_limiter::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  --open_;
  if (gauge_) gauge_->fetch_sub(1, std::memory_order_relaxed);
  const auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t connection_limiter::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

descriptor_plan plan_descriptors(std::size_t http_max, std::size_t terminal_max,
                                 double terminal_share) {
  descriptor_plan plan;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    plan.http_max = http_max;
    plan.terminal_max = terminal_max;
    return plan;
  }
  plan.limit = static_cast<std::size_t>(limit.rlim_cur);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++plan.in_use;
  if (ec || plan.in_use == 0) plan.in_use = 64;  // no /proc: a generous guess
  // Room for what opens later: SQLite's temporary files, outgoing webhooks, the accept loops'
  // spare descriptors.
  const std::size_t headroom = std::max<std::size_t>(16, plan.limit / 64);
  plan.available = plan.limit > plan.in_use + headroom ? plan.limit - plan.in_use - headroom : 0;
  const auto http_share = static_cast<std::size_t>(static_cast<double>(plan.available) *
                                                   std::clamp(1.0 - terminal_share, 0.0, 1.0));
  // Never 0, which the limiter reads as "no limit".
  plan.http_max =
      std::max<std::size_t>(1, std::min(http_max == 0 ? http_share : http_max, http_share));
  plan.terminal_max = std::max<std::size_t>(
      1, std::min(terminal_max == 0 ? plan.available : terminal_max, plan.available));
  return plan;
}

}  // namespace rescue::dispatcher
