#include "rescue/dispatcher/journal_replay.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace rescue::dispatcher {

core::replayed replay_journal(storage::journal& journal) {
  core::replayer replay;
  std::optional<std::string> refused;
  const auto ec = journal.scan(1, journal.last_seq(), [&](const storage::journal_record& r) {
    refused = replay.feed(r.seq, r.payload);
    return !refused;
  });
  if (refused) throw std::runtime_error(*refused);
  if (ec) throw std::runtime_error("reading the journal: " + ec.message());
  return std::move(replay).take();
}

}  // namespace rescue::dispatcher
