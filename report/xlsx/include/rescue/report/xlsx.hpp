// The report as an Excel workbook (.xlsx, through libxlsxwriter): one sheet per table, headings
// in the report's language, numbers as numbers (shares as percentages) so they can be summed
// and charted, and a legend sheet.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "rescue/report.pb.h"
#include "rescue/report/render.hpp"

namespace rescue::report {

// Writes `file` (replaced if it exists). created_ms stamps the workbook's properties, so one
// report always gives the same document properties. Returns an empty string on success,
// otherwise a readable reason.
std::string write_xlsx(const rescue::v1::Report& report, language lang,
                       const std::filesystem::path& file, std::int64_t created_ms);
// Any tables (the quarterly table, say), one sheet each, the same way.
std::string write_xlsx_tables(std::string title, const std::vector<table>& tables,
                              const std::filesystem::path& file, std::int64_t created_ms);

}  // namespace rescue::report
