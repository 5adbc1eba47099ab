// The last known GPS position of each crew, kept across restarts: one row per crew, the newest
// fix only, never the trail of pings (those are not incident events and stay out of the journal).
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace rescue::storage {

struct crew_position {
  std::string crew_id;
  double lat = 0;
  double lon = 0;
  std::int64_t at_ms = 0;  // when the fix was taken (server-bounded, see geo/position_fix.hpp)
};

// All methods are thread-safe. Positions are not acknowledged to anyone, so a backend may trade
// the last second of them on power loss for cheaper writes (the SQLite one does: README).
class crew_position_store {
 public:
  virtual ~crew_position_store() = default;

  // Stores the batch in one write. For each crew the newest stamp wins: a position older than,
  // or as old as, the stored one is ignored, and of several for one crew in the batch the newest
  // is kept. All or nothing on failure.
  virtual std::error_code save(const std::vector<crew_position>& batch) = 0;

  // Every stored position, one per crew, in no particular order.
  virtual std::error_code load_all(std::vector<crew_position>& out) = 0;
};

}  // namespace rescue::storage
