// Reads a journal into the core's replayer: the one path from the journal back to the incident
// state, taken by the server at start-up and by `rescuectl replay`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rescue/core/replayer.hpp"
#include "rescue/storage/journal.hpp"

namespace rescue::dispatcher {

// Every durable record, in sequence order. Throws std::runtime_error naming the record when one
// cannot be folded, or when the journal cannot be read: the server does not come up on a journal
// it cannot fold.
core::replayed replay_journal(storage::journal& journal);

// Every event of these journals (a city's shards), each in its own order and merged by event
// time: what the reports read. Appends to `out`; returns an empty string, or why a journal could
// not be read (the record it could not parse named).
std::string read_events(const std::vector<storage::journal*>& journals,
                        std::vector<rescue::v1::Event>& out);

// A replay kept up to date while another instance writes the journal: a standby folds what the
// owner appends, so that taking over replays only the records since its last look. Not
// thread-safe; one thread follows.
class journal_follower {
 public:
  // Folds every durable record after the last one folded. Throws as replay_journal does.
  void follow(storage::journal& journal);

  // Whether the records folded are still the journal's: the record last folded is there, with
  // the same hash (a Redis failover can lose a record the old master had not replicated, which
  // was then never acknowledged). False: replay from the start instead.
  bool still_matches(storage::journal& journal);

  std::uint64_t last_seq() const { return replay_.result().last_seq; }
  std::uint64_t events() const { return replay_.result().events; }

  // Folds what is left of `journal` and hands over the result; the follower is spent.
  core::replayed finish(storage::journal& journal) &&;

 private:
  core::replayer replay_;
  std::string last_hash_;
};

}  // namespace rescue::dispatcher
