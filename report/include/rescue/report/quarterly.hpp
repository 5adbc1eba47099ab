// The quarterly statistics table of the 2017 national notice (rescue.v1.QuarterlyTable in
// report.proto), from the registry: its problem elevators' rectification histories and its
// elevator count, with the facts only the platform's operator knows. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rescue/report.pb.h"
#include "rescue/report/period.hpp"
#include "rescue/report/render.hpp"
#include "rescue/storage/registry.hpp"

namespace rescue::report {

struct quarterly_facts {
  unsigned cities_with_platform = 1;  // J
  bool emergency_number_open = true;
  // "monthly", "quarterly", "half-yearly", "yearly", or "no" (not published).
  std::string quality_published = "no";
};

// "monthly", "quarterly", "half-yearly", "yearly", "no"; false otherwise.
bool is_publish_frequency(std::string_view word);

// The table of a quarter ("2026-Q4"; parse_period gives it). A table whose identities do not hold
// comes back with `problems` set, each naming the rows and the elevators to blame.
rescue::v1::QuarterlyTable quarterly_table(const storage::registry& registry, const period& quarter,
                                           const quarterly_facts& facts);

// "YYYY-MM-DD" of an instant in UTC+8.
std::string china_date(std::int64_t ms);

std::vector<table> quarterly_tables(const rescue::v1::QuarterlyTable& t, language lang);
std::string quarterly_title(const rescue::v1::QuarterlyTable& t, language lang);
std::string render_quarterly_markdown(const rescue::v1::QuarterlyTable& t, language lang);
std::string render_quarterly_csv(const rescue::v1::QuarterlyTable& t, language lang);
std::string render_quarterly_json(const rescue::v1::QuarterlyTable& t);

}  // namespace rescue::report
