#include "report.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>

#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/report/quarterly.hpp"
#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"
#include "rescue/report/xlsx.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/registry_csv.hpp"

namespace rescue::tools {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_unusable = 2;

bool known_format(const std::string& format) {
  if (format == "md" || format == "csv" || format == "json" || format == "xlsx") return true;
  std::cerr << "rescuectl: --format must be md, csv, json or xlsx (got '" << format << "')\n";
  return false;
}

// Text to --out, or to standard output.
int write_text(const std::string& text, const std::string& out) {
  if (out.empty()) {
    std::cout << text;
    std::cout.flush();
    return std::cout ? exit_ok : exit_unusable;
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    std::cerr << "rescuectl: cannot write " << out << "\n";
    return exit_unusable;
  }
  return exit_ok;
}

std::optional<storage::registry> load_registry(const std::string& dir) {
  auto imported = storage::import_registry_csv(dir);
  for (const auto& e : imported.errors)
    std::cerr << "rescuectl: registry: " << e.to_string() << " (row skipped)\n";
  if (imported.registry.elevators().empty()) {
    std::cerr << "rescuectl: registry " << dir << " has no elevators\n";
    return std::nullopt;
  }
  return std::move(imported.registry);
}

}  // namespace

int run_report(const report_request& request) {
  std::string error;
  const auto period = report::period_of(request.period, request.from, request.to, error);
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
  if (!known_format(format)) return exit_unusable;
  if (format == "xlsx" && request.out.empty()) {
    std::cerr << "rescuectl: an Excel report needs --out FILE\n";
    return exit_unusable;
  }

  const auto registry = load_registry(request.registry_dir);
  if (!registry) return exit_unusable;

  // A sharded city's journals, merged by event time (each shard's own order kept).
  std::vector<std::unique_ptr<storage::journal>> journals;
  std::vector<storage::journal*> readers;
  for (const auto& location : request.journals) {
    std::error_code ec;
    auto j = storage::open_journal_for_audit(location, ec);
    if (!j) {
      std::cerr << "rescuectl: cannot open journal " << location << ": " << ec.message() << "\n";
      return exit_unusable;
    }
    readers.push_back(j.get());
    journals.push_back(std::move(j));
  }
  std::vector<rescue::v1::Event> events;
  if (const std::string failure = dispatcher::read_events(readers, events); !failure.empty()) {
    std::cerr << "rescuectl: " << failure << "\n";
    return exit_unusable;
  }

  report::builder builder(*registry, *period);
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
  return write_text(text, request.out);
}

int run_quarterly(const quarterly_request& request) {
  std::string error;
  const auto quarter = report::parse_period(request.quarter, error);
  if (!quarter || request.quarter.size() != 7 ||
      (request.quarter[5] != 'Q' && request.quarter[5] != 'q')) {
    std::cerr << "rescuectl: --quarter must be a quarter such as 2026-Q4 (got '" << request.quarter
              << "')\n";
    return exit_unusable;
  }
  const auto lang = report::parse_language(request.lang);
  if (!lang) {
    std::cerr << "rescuectl: --lang must be zh or en (got '" << request.lang << "')\n";
    return exit_unusable;
  }
  if (!known_format(request.format)) return exit_unusable;
  if (request.format == "xlsx" && request.out.empty()) {
    std::cerr << "rescuectl: an Excel table needs --out FILE\n";
    return exit_unusable;
  }
  if (request.number_open != "yes" && request.number_open != "no") {
    std::cerr << "rescuectl: --emergency-number-open must be yes or no\n";
    return exit_unusable;
  }
  if (!report::is_publish_frequency(request.quality_published)) {
    std::cerr << "rescuectl: --quality-published must be monthly, quarterly, half-yearly, yearly "
                 "or no (got '"
              << request.quality_published << "')\n";
    return exit_unusable;
  }
  const auto registry = load_registry(request.registry_dir);
  if (!registry) return exit_unusable;
  report::quarterly_facts facts;
  facts.cities_with_platform = request.cities;
  facts.emergency_number_open = request.number_open == "yes";
  facts.quality_published = request.quality_published;
  const auto table = report::quarterly_table(*registry, *quarter, facts);
  if (!table.problems().empty()) {
    std::cerr << "rescuectl: the " << table.quarter()
              << " table breaks its identities and is not printed:\n";
    for (const auto& p : table.problems())
      std::cerr << "  " << p << "\n";
    return exit_failed;
  }
  if (request.format == "xlsx") {
    const std::string failure = report::write_xlsx_tables(report::quarterly_title(table, *lang),
                                                          report::quarterly_tables(table, *lang),
                                                          request.out, quarter->to_ms - 1);
    if (!failure.empty()) {
      std::cerr << "rescuectl: " << failure << "\n";
      return exit_unusable;
    }
    return exit_ok;
  }
  const std::string text = request.format == "md" ? report::render_quarterly_markdown(table, *lang)
                           : request.format == "csv" ? report::render_quarterly_csv(table, *lang)
                                                     : report::render_quarterly_json(table);
  return write_text(text, request.out);
}

}  // namespace rescue::tools
