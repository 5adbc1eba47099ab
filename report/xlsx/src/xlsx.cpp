#include "rescue/report/xlsx.hpp"

#include <xlsxwriter.h>

#include <algorithm>
#include <set>

namespace rescue::report {

namespace {

// Sheet names: at most 31 characters (Excel counts UTF-16 units; the titles are BMP text, so
// code points), none of []:*?/\ and unique in the workbook.
std::string sheet_name(const std::string& title, std::set<std::string>& taken) {
  std::string clean;
  std::size_t points = 0;
  for (std::size_t i = 0; i < title.size() && points < 28;) {
    const unsigned char c = static_cast<unsigned char>(title[i]);
    const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    const std::string piece = title.substr(i, len);
    i += len;
    if (piece.size() == 1 && std::string("[]:*?/\\").find(piece[0]) != std::string::npos) continue;
    clean += piece;
    ++points;
  }
  std::string name = clean;
  for (int n = 2; taken.count(name); ++n)
    name = clean + " " + std::to_string(n);
  taken.insert(name);
  return name;
}

}  // namespace

std::string write_xlsx(const rescue::v1::Report& report, language lang,
                       const std::filesystem::path& file, std::int64_t created_ms) {
  return write_xlsx_tables(report_title(report, lang), report_tables(report, lang), file,
                           created_ms);
}

std::string write_xlsx_tables(std::string title, const std::vector<table>& tables,
                              const std::filesystem::path& file, std::int64_t created_ms) {
  const std::string path = file.string();
  lxw_workbook* wb = workbook_new(path.c_str());
  if (!wb) return "cannot create " + path;

  lxw_doc_properties props{};
  props.title = title.data();
  props.created = static_cast<time_t>(created_ms / 1000);
  workbook_set_properties(wb, &props);

  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* heading = workbook_add_format(wb);
  format_set_bold(heading);
  format_set_font_size(heading, 14);
  lxw_format* wrap = workbook_add_format(wb);
  format_set_text_wrap(wrap);
  format_set_align(wrap, LXW_ALIGN_VERTICAL_TOP);
  lxw_format* percent = workbook_add_format(wb);
  format_set_num_format(percent, "0.00%");
  lxw_format* integer = workbook_add_format(wb);
  format_set_num_format(integer, "0");
  lxw_format* decimal = workbook_add_format(wb);
  format_set_num_format(decimal, "0.0##");

  std::set<std::string> taken;
  for (const auto& t : tables) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, sheet_name(t.title, taken).c_str());
    if (!ws) continue;
    // Row 1: the title; row 2: the definition; row 4: the headings; data from row 5.
    worksheet_write_string(ws, 0, 0, (title + " · " + t.title).c_str(), heading);
    const lxw_col_t cols = static_cast<lxw_col_t>(std::max<std::size_t>(t.columns.size(), 1));
    if (!t.definition.empty()) {
      worksheet_merge_range(ws, 1, 0, 1, static_cast<lxw_col_t>(std::max<lxw_col_t>(cols - 1, 3)),
                            t.definition.c_str(), wrap);
      worksheet_set_row(ws, 1, 15.0 * static_cast<double>(1 + t.definition.size() / 120), NULL);
    }
    for (std::size_t c = 0; c < t.columns.size(); ++c)
      worksheet_write_string(ws, 3, static_cast<lxw_col_t>(c), t.columns[c].c_str(), bold);
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      const auto row = static_cast<lxw_row_t>(4 + r);
      for (std::size_t c = 0; c < t.rows[r].size(); ++c) {
        const auto& cell = t.rows[r][c];
        const auto col = static_cast<lxw_col_t>(c);
        switch (cell.type) {
          case cell::kind::text:
            worksheet_write_string(ws, row, col, cell.text.c_str(), NULL);
            break;
          case cell::kind::integer:
            worksheet_write_number(ws, row, col, cell.number, integer);
            break;
          case cell::kind::decimal:
            worksheet_write_number(ws, row, col, std::stod(cell.text), decimal);
            break;
          case cell::kind::percent:
            worksheet_write_number(ws, row, col, cell.number, percent);
            break;
        }
      }
    }
    worksheet_set_column(ws, 0, static_cast<lxw_col_t>(cols - 1), 16, NULL);
    if (t.id == "legend") worksheet_set_column(ws, 1, 1, 100, wrap);
    worksheet_freeze_panes(ws, 4, 0);
  }
  const lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR) return "cannot write " + path + ": " + lxw_strerror(err);
  return {};
}

}  // namespace rescue::report
