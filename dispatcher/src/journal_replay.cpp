#include "rescue/dispatcher/journal_replay.hpp"

#include <algorithm>
#include <iterator>
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

std::string read_events(const std::vector<storage::journal*>& journals,
                        std::vector<rescue::v1::Event>& out) {
  for (storage::journal* j : journals) {
    const auto middle = static_cast<std::ptrdiff_t>(out.size());
    std::uint64_t bad_seq = 0;
    const auto ec = j->scan(1, UINT64_MAX, [&](const storage::journal_record& r) {
      out.emplace_back();
      if (r.parse(out.back())) return true;
      out.pop_back();
      bad_seq = r.seq;
      return false;
    });
    if (ec) return "cannot read the journal: " + ec.message();
    if (bad_seq) return "seq " + std::to_string(bad_seq) + ": payload is not a valid Event";
    std::inplace_merge(out.begin(), out.begin() + middle, out.end(),
                       [](const auto& a, const auto& b) { return a.at_ms() < b.at_ms(); });
  }
  return {};
}

}  // namespace rescue::dispatcher
