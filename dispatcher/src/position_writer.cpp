#include "rescue/dispatcher/position_writer.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace rescue::dispatcher {

position_writer::position_writer(storage::crew_position_store& store, metrics& m,
                                 std::chrono::milliseconds flush_every)
    : store_(store), metrics_(m), flush_every_(flush_every) {
  thread_ = std::thread([this] { run(); });
}

position_writer::~position_writer() {
  close();
}

void position_writer::keep_newest(std::unordered_map<std::string, storage::crew_position>& into,
                                  storage::crew_position p) {
  const auto it = into.find(p.crew_id);
  if (it == into.end()) {
    std::string id = p.crew_id;
    into.emplace(std::move(id), std::move(p));
  } else if (p.at_ms > it->second.at_ms) {
    it->second = std::move(p);
  }
}

void position_writer::record(storage::crew_position p) {
  std::lock_guard lock(mu_);
  if (closing_) return;
  keep_newest(pending_, std::move(p));
}

std::size_t position_writer::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void position_writer::close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  closed_ = true;
}

void position_writer::run() {
  std::unique_lock lock(mu_);
  bool last_failed = false;
  for (;;) {
    wake_.wait_for(lock, flush_every_, [this] { return closing_; });
    const bool final_flush = closing_;
    if (!pending_.empty()) {
      std::unordered_map<std::string, storage::crew_position> taken;
      taken.swap(pending_);
      lock.unlock();
      std::vector<storage::crew_position> batch;
      batch.reserve(taken.size());
      for (auto& [id, p] : taken)
        batch.push_back(std::move(p));
      const auto ec = store_.save(batch);
      lock.lock();
      if (ec) {
        metrics_.crew_position_flush_failures_total.fetch_add(1, std::memory_order_relaxed);
        // Logged when the store starts failing and when it recovers, not once a second.
        if (!last_failed || final_flush)
          spdlog::warn("crew positions: storing {} failed: {}{}", batch.size(), ec.message(),
                       final_flush ? "; they are lost" : "; retrying every flush");
        last_failed = true;
        // Back into the queue for the next flush, under anything newer that came in meanwhile.
        if (!final_flush)
          for (auto& p : batch)
            keep_newest(pending_, std::move(p));
      } else {
        if (last_failed) spdlog::info("crew positions: storing works again");
        last_failed = false;
        metrics_.crew_positions_flushed_total.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    }
    if (final_flush) return;
  }
}

}  // namespace rescue::dispatcher
