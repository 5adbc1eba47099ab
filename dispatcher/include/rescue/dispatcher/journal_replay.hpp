// Reads a journal into the core's replayer: the one path from the journal back to the incident
// state, taken by the server at start-up and by `rescuectl replay`.
#pragma once

#include "rescue/core/replayer.hpp"
#include "rescue/storage/journal.hpp"

namespace rescue::dispatcher {

// Every durable record, in sequence order. Throws std::runtime_error naming the record when one
// cannot be folded, or when the journal cannot be read: the server does not come up on a journal
// it cannot fold.
core::replayed replay_journal(storage::journal& journal);

}  // namespace rescue::dispatcher
