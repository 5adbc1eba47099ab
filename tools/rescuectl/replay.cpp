#include "replay.hpp"

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <boost/asio/io_context.hpp>

#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace rescue::tools {
namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_unusable = 2;

}  // namespace

int run_replay(const std::string& journal_path) {
  storage::sqlite_journal_config config;
  config.path = journal_path;
  config.read_only = true;
  std::error_code ec;
  auto journal = storage::sqlite_journal::open(config, ec);
  if (!journal) {
    std::cerr << "rescuectl: cannot open journal " << journal_path << ": " << ec.message() << "\n";
    return exit_unusable;
  }

  // The server's own path: dispatch_service::recover folds every record in sequence order.
  boost::asio::io_context io;
  const storage::registry no_registry;
  const dispatcher::escalation_policy policy;
  dispatcher::metrics m;
  dispatcher::dispatch_service service(io, policy, no_registry, geo::crew_index{}, *journal, m);
  dispatcher::recovery_report report;
  const auto started = std::chrono::steady_clock::now();
  try {
    report = service.recover();
  } catch (const std::exception& e) {
    std::cerr << "rescuectl: replay failed: " << e.what() << "\n";
    return exit_failed;
  }
  const double fold_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::optional<dispatcher::core_state> rebuilt;
  service.async_read<dispatcher::core_state>(
      [](const dispatcher::core_state& s, const geo::crew_index&) { return s; },
      [&](dispatcher::core_state s) { rebuilt = std::move(s); });
  while (!rebuilt)
    io.run_one();
  // Recovery armed timers for the open deadlines; replay only reads, so drop them.
  io.stop();

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
    dispatcher::core_state alone;
    for (const auto& r : records) {
      v1::Event e;
      if (!r.parse(e)) {
        std::cerr << "seq " << r.seq << ": payload does not parse\n";
        return exit_failed;
      }
      dispatcher::apply(alone, e);
    }
    const dispatcher::incident* a = alone.find(id);
    const dispatcher::incident* b = rebuilt->find(id);
    if (a && a->late) ++late;
    if ((a == nullptr) != (b == nullptr) || (a && !(*a == *b))) {
      ++mismatches;
      std::cerr << "incident " << id << ": the server's rebuild differs from its own events\n";
    }
  }

  std::size_t awaiting_follow_up = 0;
  for (const auto& [id, inc] : rebuilt->incidents)
    if (inc.closed_at) ++awaiting_follow_up;
  std::cout << "events:              " << report.events << " (read and folded in "
            << static_cast<long long>(fold_s * 1000) << " ms, "
            << static_cast<long long>(fold_s > 0 ? report.events / fold_s : 0) << " events/s)\n"
            << "incidents opened:    " << opened << "\n"
            << "open (in memory):    " << rebuilt->incidents.size() - awaiting_follow_up << "\n"
            << "closed, follow-up due: " << awaiting_follow_up << "\n"
            << "closed:              " << closed << "\n"
            << "followed up:         " << followed_up << "\n"
            << "cancelled:           " << cancelled << "\n"
            << "open and late:       " << late << "\n"
            << "deadlines to re-arm: " << report.deadlines_rearmed << " ("
            << report.deadlines_overdue << " overdue)\n";
  if (rebuilt->finished != cancelled + followed_up) {
    std::cerr << "finished incidents: rebuild counts " << rebuilt->finished << ", journal has "
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
