// Write-behind for crew GPS positions: pings are coalesced in memory, latest per crew, and a
// thread of its own stores them about once a second and once more on close. A ping never waits
// for the disk.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "rescue/dispatcher/metrics.hpp"
#include "rescue/storage/crew_position_store.hpp"

namespace rescue::dispatcher {

class position_writer {
 public:
  // Starts the writer thread. `store` and `m` must outlive the writer.
  position_writer(storage::crew_position_store& store, metrics& m,
                  std::chrono::milliseconds flush_every = std::chrono::seconds(1));
  ~position_writer();  // close()
  position_writer(const position_writer&) = delete;
  position_writer& operator=(const position_writer&) = delete;

  // Takes a position in, keeping only the newest per crew until the next flush: memory is one
  // entry per crew whatever the ping rate. Thread-safe; holds a lock only as long as a map
  // insert (the writer holds it no longer than a swap). Ignored once closed.
  void record(storage::crew_position p);

  // Stores what is pending, then stops the thread. Blocks for that one write: call it off the
  // I/O threads. Idempotent.
  void close();

  // Pending positions not yet handed to the store (tests, ops).
  std::size_t pending() const;

 private:
  void run();
  // Keeps `p` in `into` unless `into` has a newer (or as new) position for that crew.
  static void keep_newest(std::unordered_map<std::string, storage::crew_position>& into,
                          storage::crew_position p);

  storage::crew_position_store& store_;
  metrics& metrics_;
  const std::chrono::milliseconds flush_every_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::unordered_map<std::string, storage::crew_position> pending_;
  bool closing_ = false;
  bool closed_ = false;
  std::mutex close_mu_;  // one close() at a time joins the thread
  std::thread thread_;
};

}  // namespace rescue::dispatcher
