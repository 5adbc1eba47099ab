// Connections for concurrent readers: each call leases one, and returns it when done.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "rescue/storage/redis_connection.hpp"

namespace rescue::storage {

class redis_pool {
 public:
  redis_pool(redis_endpoint endpoint, std::uint16_t slot)
      : endpoint_(std::move(endpoint)), slot_(slot) {}

  class lease {
   public:
    lease(redis_pool& pool, std::unique_ptr<redis_connection> c) : pool_(pool), c_(std::move(c)) {}
    ~lease() { pool_.give_back(std::move(c_)); }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    redis_connection* operator->() { return c_.get(); }
    redis_connection& operator*() { return *c_; }

   private:
    redis_pool& pool_;
    std::unique_ptr<redis_connection> c_;
  };

  lease take() {
    std::unique_ptr<redis_connection> c;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!c) c = std::make_unique<redis_connection>(endpoint_, slot_);
    return lease(*this, std::move(c));
  }

 private:
  void give_back(std::unique_ptr<redis_connection> c) {
    if (!c || !c->connected()) return;  // a broken one reconnects as a new one
    std::lock_guard lock(mu_);
    if (idle_.size() < 8) idle_.push_back(std::move(c));
  }

  redis_endpoint endpoint_;
  std::uint16_t slot_;
  std::mutex mu_;
  std::vector<std::unique_ptr<redis_connection>> idle_;
};

}  // namespace rescue::storage
