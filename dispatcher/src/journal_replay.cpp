#include "rescue/dispatcher/journal_replay.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace rescue::dispatcher {

core::replayed replay_journal(storage::journal& journal) {
  journal_follower follower;
  return std::move(follower).finish(journal);
}

void journal_follower::follow(storage::journal& journal) {
  std::optional<std::string> refused;
  const auto from = replay_.result().last_seq + 1;
  const auto to = journal.last_seq();
  if (to < from) return;
  const auto ec = journal.scan(from, to, [&](const storage::journal_record& r) {
    refused = replay_.feed(r.seq, r.payload);
    if (!refused) last_hash_ = r.hash;
    return !refused;
  });
  if (refused) throw std::runtime_error(*refused);
  if (ec) throw std::runtime_error("reading the journal: " + ec.message());
}

bool journal_follower::still_matches(storage::journal& journal) {
  const auto seq = replay_.result().last_seq;
  if (seq == 0) return true;
  bool same = false;
  const auto ec = journal.scan(seq, seq, [&](const storage::journal_record& r) {
    same = r.seq == seq && r.hash == last_hash_;
    return false;
  });
  return !ec && same;
}

core::replayed journal_follower::finish(storage::journal& journal) && {
  follow(journal);
  return std::move(replay_).take();
}

}  // namespace rescue::dispatcher
