// The lease of one store and its fencing token (redis_lease_config): taken when a writer opens,
// renewed on a thread of its own, given back when the writer closes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "rescue/storage/redis_connection.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::storage::redis_detail {

class redis_lease {
 public:
  redis_lease(const redis_store_config& config, const redis_keys& keys);
  ~redis_lease();
  redis_lease(const redis_lease&) = delete;
  redis_lease& operator=(const redis_lease&) = delete;

  // Takes the lease, waiting as configured for another owner's to lapse, and starts renewing
  // it. journal_errc::lease_held when the wait ran out; a Redis error when Redis cannot be
  // asked at all (as opening without a lease would fail).
  std::error_code acquire();

  // The token every append carries ("" before acquire()).
  const std::string& fence() const { return fence_; }
  const std::string& owner() const { return owner_; }

  // The store's token moved on or the lease went to another owner: appends are refused.
  bool lost() const { return lost_.load(std::memory_order_acquire); }
  // The append script said FENCED: the same as a renewal finding it out.
  void mark_lost(const std::string& why);
  std::string lost_reason() const;

  // Stops renewing and deletes the lease if it is still this owner's. Idempotent.
  void release();

 private:
  void renew_loop();

  redis_lease_config config_;
  const redis_keys& keys_;
  redis_connection conn_;  // the renewal thread's (acquire's before it starts)
  std::string owner_;
  std::string fence_;
  std::atomic<bool> lost_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool released_ = false;
  std::string lost_reason_;
  std::thread renewer_;
};

}  // namespace rescue::storage::redis_detail
