// Connection caps of one listener, in total and per client address, and the share of the
// process's descriptors each listener may take, so that one client cannot starve the rest and
// car terminals keep a reserve.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace rescue::dispatcher {

class connection_limiter;

// Holds one connection's place in its listener's counts until destroyed. Moves with the
// connection: an HTTP connection upgraded to a WebSocket keeps counting.
class connection_slot {
 public:
  connection_slot() = default;
  connection_slot(connection_slot&&) noexcept = default;
  // Releases the place this slot held, then takes `other`'s.
  connection_slot& operator=(connection_slot&& other) noexcept;
  ~connection_slot();
  explicit operator bool() const { return static_cast<bool>(owner_); }

 private:
  friend class connection_limiter;
  connection_slot(std::shared_ptr<connection_limiter> owner, std::string address)
      : owner_(std::move(owner)), address_(std::move(address)) {}
  void release();

  std::shared_ptr<connection_limiter> owner_;
  std::string address_;
};

class connection_limiter : public std::enable_shared_from_this<connection_limiter> {
 public:
  // 0 means no limit. Create with std::make_shared. `gauge`, when given, follows the count of
  // open connections and must outlive every slot.
  connection_limiter(std::size_t max_total, std::size_t max_per_address,
                     std::atomic<std::int64_t>* gauge = nullptr);

  enum class verdict { admitted, listener_full, address_full };
  // A slot for a new connection from `address`, or an empty one and why not. Thread-safe.
  connection_slot try_admit(const boost::asio::ip::address& address, verdict& why);

  std::size_t open() const;
  std::size_t max_total() const { return max_total_; }

 private:
  friend class connection_slot;
  void release(const std::string& address);

  const std::size_t max_total_;
  const std::size_t max_per_address_;
  std::atomic<std::int64_t>* const gauge_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// How the process's open-file limit is shared out, computed once at start-up.
struct descriptor_plan {
  std::size_t limit = 0;      // RLIMIT_NOFILE (soft)
  std::size_t in_use = 0;     // open when the plan was made (journal, outbox, listeners...)
  std::size_t available = 0;  // limit - in_use - headroom for files and webhooks
  std::size_t http_max = 0;   // the console port's cap after the terminals' reserve
  std::size_t terminal_max = 0;
};

// `http_max` and `terminal_max` are the configured caps; the HTTP listener gets at most
// (1 - terminal_share) of the available descriptors, so it can never take the terminals' share.
descriptor_plan plan_descriptors(std::size_t http_max, std::size_t terminal_max,
                                 double terminal_share);

}  // namespace rescue::dispatcher
