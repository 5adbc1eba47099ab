// A journal held in memory: the contract of storage::journal without SQLite, so a harness can run
// thousands of inputs a second and can also store forged rows for the verifier to judge.
#pragma once

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "rescue/storage/journal.hpp"
#include "rescue/storage/journal_hash.hpp"

namespace rescue::fuzz {

class memory_journal final : public storage::journal {
 public:
  // Stores `r` as given, hash and all: what a tampered database file would hold.
  void put(storage::journal_record r) {
    std::lock_guard lock(mutex_);
    records_.push_back(std::move(r));
  }
  void put_checkpoint(storage::journal_checkpoint cp) {
    std::lock_guard lock(mutex_);
    checkpoints_.push_back(std::move(cp));
  }

  // Chains the events as the real backends do and completes at once, on the caller's thread.
  // Outbox messages are accepted and dropped: no harness delivers webhooks.
  void append_batch(storage::journal_batch batch, storage::append_handler done) override {
    const auto& events = batch.events;
    std::vector<std::uint64_t> seqs;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        done(storage::journal_errc::closed, {});
        return;
      }
      for (const auto& e : events) {
        if (e.body_case() == rescue::v1::Event::BODY_NOT_SET) {
          done(storage::journal_errc::invalid_event, {});
          return;
        }
      }
      for (const auto& e : events) {
        storage::journal_record r;
        r.seq = records_.size() + 1;
        r.at_ms = e.at_ms();
        r.incident_id = e.incident_id();
        r.event_type = storage::event_type_name(e);
        e.SerializeToString(&r.payload);
        r.prev_hash = records_.empty() ? storage::genesis_hash() : records_.back().hash;
        r.hash = hasher_.hash(r);
        seqs.push_back(r.seq);
        records_.push_back(std::move(r));
      }
    }
    done({}, std::move(seqs));
  }

  std::error_code read_incident(std::uint64_t incident_id,
                                std::vector<storage::journal_record>& out) override {
    std::lock_guard lock(mutex_);
    out.clear();
    for (const auto& r : records_)
      if (r.incident_id == incident_id) out.push_back(r);
    return {};
  }

  std::error_code scan(std::uint64_t from, std::uint64_t to,
                       const storage::record_visitor& visit) override {
    std::vector<storage::journal_record> copy;
    {
      std::lock_guard lock(mutex_);
      copy = records_;
    }
    for (const auto& r : copy)
      if (r.seq >= from && r.seq <= to && !visit(r)) break;
    return {};
  }

  std::error_code read_after(std::uint64_t after, std::size_t max,
                             std::vector<storage::journal_record>& out) override {
    std::lock_guard lock(mutex_);
    out.clear();
    for (const auto& r : records_) {
      if (out.size() >= max) break;
      if (r.seq > after) out.push_back(r);
    }
    return {};
  }

  void set_tail_listener(storage::tail_listener) override {}
  void set_outbox_listener(storage::outbox_listener) override {}

  std::uint64_t last_seq() const override {
    std::lock_guard lock(mutex_);
    std::uint64_t last = 0;
    for (const auto& r : records_)
      last = std::max(last, r.seq);
    return last;
  }

  std::error_code read_checkpoints(std::vector<storage::journal_checkpoint>& out) override {
    std::lock_guard lock(mutex_);
    out = checkpoints_;
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.upto_seq < b.upto_seq; });
    return {};
  }

  storage::journal_stats stats() const override { return {}; }

  void close() override {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<storage::journal_record> records_;
  std::vector<storage::journal_checkpoint> checkpoints_;
  storage::record_hasher hasher_;
  bool closed_ = false;
};

}  // namespace rescue::fuzz
