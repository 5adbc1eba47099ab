// rescuectl report: the KPI report of a period from the journal and the registry.
#pragma once

#include <string>
#include <vector>

namespace rescue::tools {

struct report_request {
  std::vector<std::string> journals;  // one, or one per shard of a city
  std::string registry_dir;           // the registry's CSV folder
  std::string period;                 // "2026-11", "2026-Q4", "2026"; or from and to
  std::string from, to;
  std::string format = "md";  // md, csv, json, xlsx
  std::string lang = "zh";
  std::string out;  // file; empty: standard output (not for xlsx)
};

// Exit code 0 when the report was written, 2 when the request or an input is unusable.
int run_report(const report_request& request);

struct quarterly_request {
  std::string registry_dir;
  std::string quarter;              // "2026-Q4"
  unsigned cities = 1;              // J
  std::string number_open = "yes";  // yes or no
  std::string quality_published;    // monthly, quarterly, half-yearly, yearly or no
  std::string format = "md";
  std::string lang = "zh";
  std::string out;
};

// Exit code 0 when the table was written, 1 when it breaks A = B + C + D + E or F = G + H + I
// (nothing is printed but the reasons), 2 when the request or the registry is unusable.
int run_quarterly(const quarterly_request& request);

}  // namespace rescue::tools
