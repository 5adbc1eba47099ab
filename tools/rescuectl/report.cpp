#include "report.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>

#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"
#include "rescue/report/xlsx.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/registry_csv.hpp"

namespace rescue::tools {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_unusable = 2;

// Every event of one journal, in journal order.
bool read_events(const std::string& location, std::vector<rescue::v1::Event>& out) {
  std::error_code ec;
  auto j = storage::open_journal_for_audit(location, ec);
  if (!j) {
    std::cerr << "rescuectl: cannot open journal " << location << ": " << ec.message() << "\n";
    return false;
  }
  std::uint64_t bad_seq = 0;
  ec = j->scan(1, UINT64_MAX, [&](const storage::journal_record& r) {
    rescue::v1::Event e;
    if (!r.parse(e)) {
      bad_seq = r.seq;
      return false;
    }
    out.push_back(std::move(e));
    return true;
  });
  if (ec) {
    std::cerr << "rescuectl: cannot read journal " << location << ": " << ec.message() << "\n";
    return false;
  }
  if (bad_seq) {
    std::cerr << "rescuectl: " << location << " seq " << bad_seq
              << ": payload is not a valid Event\n";
    return false;
  }
  return true;
}

}  // namespace

int run_report(const report_request& request) {
  std::string error;
  std::optional<report::period> period;
  if (!request.period.empty() && (!request.from.empty() || !request.to.empty())) {
    std::cerr << "rescuectl: give --period or --from and --to, not both\n";
    return exit_unusable;
  }
  if (!request.period.empty())
    period = report::parse_period(request.period, error);
  else if (!request.from.empty() && !request.to.empty())
    period = report::period_between(request.from, request.to, error);
  else
    error = "a period is required: --period 2026-11 | 2026-Q4 | 2026, or --from and --to";
  if (!period) {
    std::cerr << "rescuectl: " << error << "\n";
    return exit_unusable;
  }
  const auto lang = report::parse_language(request.lang);
  if (!lang) {
    std::cerr << "rescuectl: --lang must be zh or en (got '" << request.lang << "')\n";
    return exit_unusable;
  }
  const std::string& format = request.format;
  if (format != "md" && format != "csv" && format != "json" && format != "xlsx") {
    std::cerr << "rescuectl: --format must be md, csv, json or xlsx (got '" << format << "')\n";
    return exit_unusable;
  }
  if (format == "xlsx" && request.out.empty()) {
    std::cerr << "rescuectl: an Excel report needs --out FILE\n";
    return exit_unusable;
  }

  auto imported = storage::import_registry_csv(request.registry_dir);
  for (const auto& e : imported.errors)
    std::cerr << "rescuectl: registry: " << e.to_string() << " (row skipped)\n";
  if (imported.registry.elevators().empty()) {
    std::cerr << "rescuectl: registry " << request.registry_dir << " has no elevators\n";
    return exit_unusable;
  }

  // A sharded city's journals, merged by event time (each shard's own order kept).
  std::vector<rescue::v1::Event> events;
  for (const auto& location : request.journals) {
    std::vector<rescue::v1::Event> shard;
    if (!read_events(location, shard)) return exit_unusable;
    const auto middle = static_cast<std::ptrdiff_t>(events.size());
    events.insert(events.end(), std::make_move_iterator(shard.begin()),
                  std::make_move_iterator(shard.end()));
    std::inplace_merge(events.begin(), events.begin() + middle, events.end(),
                       [](const auto& a, const auto& b) { return a.at_ms() < b.at_ms(); });
  }

  report::builder builder(imported.registry, *period);
  std::int64_t last_ms = 0;
  for (const auto& e : events) {
    builder.add(e);
    last_ms = std::max(last_ms, e.at_ms());
  }
  const auto result = builder.finish();

  if (format == "xlsx") {
    const std::string failure = report::write_xlsx(result, *lang, request.out, last_ms);
    if (!failure.empty()) {
      std::cerr << "rescuectl: " << failure << "\n";
      return exit_unusable;
    }
    return exit_ok;
  }
  const std::string text = format == "md"    ? report::render_markdown(result, *lang)
                           : format == "csv" ? report::render_csv(result, *lang)
                                             : report::render_json(result);
  if (request.out.empty()) {
    std::cout << text;
    std::cout.flush();
    return std::cout ? exit_ok : exit_unusable;
  }
  std::ofstream file(request.out, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    std::cerr << "rescuectl: cannot write " << request.out << "\n";
    return exit_unusable;
  }
  return exit_ok;
}

}  // namespace rescue::tools
