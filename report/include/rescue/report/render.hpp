// The report as people read it: tables with headings in Chinese (the default) or English,
// rendered as Markdown, CSV (UTF-8 with a byte-order mark, one table after another), or as the
// protobuf JSON mapping of rescue.v1.Report. All three are pure functions of the report, so the
// same report renders to the same bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rescue/report.pb.h"

namespace rescue::report {

enum class language { zh, en };

// "zh" or "en"; nullopt otherwise.
std::optional<language> parse_language(std::string_view text);

// One cell: the text every format prints, and for numbers the value a spreadsheet keeps.
struct cell {
  enum class kind { text, integer, decimal, percent };
  kind type = kind::text;
  std::string text;
  double number = 0;  // integer, decimal, percent (a share: 0.25 prints as 25.00%)

  static cell of_text(std::string s);
  static cell of_integer(double n);
  static cell of_decimal(double x, int places);
  static cell of_percent(double share);
};

struct table {
  std::string id;  // "summary", "districts", ... stable across languages
  std::string title;
  std::string definition;  // what the figures in it mean
  std::vector<std::string> columns;
  std::vector<std::vector<cell>> rows;
};

// The report's tables in print order; the last one is the legend of every figure.
std::vector<table> report_tables(const rescue::v1::Report& report, language lang);

std::string render_markdown(const rescue::v1::Report& report, language lang);
std::string render_csv(const rescue::v1::Report& report, language lang);
// Any tables, the same way: a title (and a line under it), then each table.
std::string render_tables_markdown(const std::string& title, const std::string& subtitle,
                                   const std::vector<table>& tables, language lang);
std::string render_tables_csv(const std::string& title, const std::vector<table>& tables);
// Every field, defaults included (a report's zeros are figures too); ends with a newline.
std::string render_json(const rescue::v1::Report& report);

// The report's title line, "电梯应急处置统计报告 2026-11" / "Elevator emergency report 2026-11".
std::string report_title(const rescue::v1::Report& report, language lang);

}  // namespace rescue::report
