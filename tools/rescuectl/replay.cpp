#include "replay.hpp"

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "rescue/core/replayer.hpp"
#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/storage/open_storage.hpp"

namespace rescue::tools {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_unusable = 2;

}  // namespace

int run_replay(const std::string& journal_path) {
  std::error_code ec;
  auto journal = storage::open_journal_for_audit(journal_path, ec);
  if (!journal) {
    std::cerr << "rescuectl: cannot open journal " << journal_path << ": " << ec.message() << "\n";
    return exit_unusable;
  }

  // The server's own path: the core's replayer over every record in sequence order.
  core::replayed rebuilt;
  const auto started = std::chrono::steady_clock::now();
  try {
    rebuilt = dispatcher::replay_journal(*journal);
  } catch (const std::exception& e) {
    std::cerr << "rescuectl: replay failed: " << e.what() << "\n";
    return exit_failed;
  }
  const double fold_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // What the server would re-arm at start-up, and how much of it is already overdue.
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::size_t deadlines = 0, overdue = 0;
  for (const auto& [id, inc] : rebuilt.state.incidents) {
    for (const auto& [kind, at] : inc.deadlines) {
      ++deadlines;
      if (at <= now) ++overdue;
    }
  }

  // An independent fold: each incident from its own events alone. An incident's state must not
  // depend on any other incident's events.
  std::set<std::uint64_t> ids;
  std::uint64_t opened = 0, cancelled = 0, closed = 0, followed_up = 0, late = 0;
  ec = journal->scan(1, journal->last_seq(), [&](const storage::journal_record& r) {
    if (r.event_type == "opened") {
      ids.insert(r.incident_id);
      ++opened;
    }
    if (r.event_type == "cancelled") ++cancelled;
    if (r.event_type == "closed") ++closed;
    if (r.event_type == "follow_up") ++followed_up;
    return true;
  });
  if (ec) {
    std::cerr << "rescuectl: cannot read the journal: " << ec.message() << "\n";
    return exit_unusable;
  }

  std::uint64_t mismatches = 0;
  for (const std::uint64_t id : ids) {
    std::vector<storage::journal_record> records;
    if ((ec = journal->read_incident(id, records))) {
      std::cerr << "rescuectl: cannot read incident " << id << ": " << ec.message() << "\n";
      return exit_unusable;
    }
    core::replayer alone;
    for (const auto& r : records) {
      if (const auto why = alone.feed(r.seq, r.payload)) {
        std::cerr << *why << "\n";
        return exit_failed;
      }
    }
    const core::incident* a = alone.state().find(id);
    const core::incident* b = rebuilt.state.find(id);
    if (a && a->late) ++late;
    if ((a == nullptr) != (b == nullptr) || (a && !(*a == *b))) {
      ++mismatches;
      std::cerr << "incident " << id << ": the server's rebuild differs from its own events\n";
    }
  }

  std::size_t awaiting_follow_up = 0;
  for (const auto& [id, inc] : rebuilt.state.incidents)
    if (inc.closed_at) ++awaiting_follow_up;
  std::cout << "events:              " << rebuilt.events << " (read and folded in "
            << static_cast<long long>(fold_s * 1000) << " ms, "
            << static_cast<long long>(fold_s > 0 ? rebuilt.events / fold_s : 0) << " events/s)\n"
            << "incidents opened:    " << opened << "\n"
            << "open (in memory):    " << rebuilt.state.incidents.size() - awaiting_follow_up
            << "\n"
            << "closed, follow-up due: " << awaiting_follow_up << "\n"
            << "closed:              " << closed << "\n"
            << "followed up:         " << followed_up << "\n"
            << "cancelled:           " << cancelled << "\n"
            << "open and late:       " << late << "\n"
            << "deadlines to re-arm: " << deadlines << " (" << overdue << " overdue)\n";
  if (rebuilt.state.finished != cancelled + followed_up) {
    std::cerr << "finished incidents: rebuild counts " << rebuilt.state.finished << ", journal has "
              << cancelled + followed_up << "\n";
    ++mismatches;
  }
  if (mismatches) {
    std::cout << "replay: FAILED, " << mismatches << " mismatch(es)\n";
    return exit_failed;
  }
  std::cout << "replay: OK, the server's rebuild equals every incident's own fold\n";
  return exit_ok;
}

}  // namespace rescue::tools
