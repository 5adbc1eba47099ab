// Markdown, CSV and JSON renderings of a report: pure functions of it.
#include <cctype>

#include "rescue/protocol/json.hpp"
#include "rescue/report/render.hpp"

namespace rescue::report {

namespace {

std::string markdown_cell(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string csv_field(const std::string& s) {
  // Quoted when it holds a separator, a quote or a line break; a leading = + - @ is quoted too
  // and prefixed with an apostrophe so a spreadsheet never runs a cell as a formula.
  const bool formula =
      !s.empty() &&
      (s[0] == '=' || s[0] == '+' || s[0] == '@' ||
       (s[0] == '-' && s.size() > 1 && !std::isdigit(static_cast<unsigned char>(s[1]))));
  if (!formula && s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  if (formula) out += '\'';
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string render_markdown(const rescue::v1::Report& report, language lang) {
  return render_tables_markdown(report_title(report, lang),
                                (lang == language::zh ? "统计期 " : "Period ") +
                                    report.period().from() + " .. " + report.period().to(),
                                report_tables(report, lang), lang);
}

std::string render_tables_markdown(const std::string& title, const std::string& subtitle,
                                   const std::vector<table>& tables, language lang) {
  std::string out = "# " + title + "\n";
  if (!subtitle.empty()) out += "\n" + subtitle + "\n";
  for (const auto& t : tables) {
    out += "\n## " + t.title + "\n\n";
    if (!t.definition.empty()) out += "> " + markdown_cell(t.definition) + "\n\n";
    if (t.rows.empty()) {
      out += lang == language::zh ? "（无）\n" : "(none)\n";
      continue;
    }
    out += "|";
    for (const auto& c : t.columns)
      out += " " + markdown_cell(c) + " |";
    out += "\n|";
    for (std::size_t i = 0; i < t.columns.size(); ++i)
      out += "---|";
    out += "\n";
    for (const auto& row : t.rows) {
      out += "|";
      for (const auto& c : row)
        out += " " + markdown_cell(c.text) + " |";
      out += "\n";
    }
  }
  return out;
}

std::string render_csv(const rescue::v1::Report& report, language lang) {
  return render_tables_csv(report_title(report, lang), report_tables(report, lang));
}

std::string render_tables_csv(const std::string& title, const std::vector<table>& tables) {
  // A byte-order mark so that spreadsheets read the Chinese headings as UTF-8.
  std::string out = "\xEF\xBB\xBF";
  out += csv_field(title) + "\r\n";
  for (const auto& t : tables) {
    out += "\r\n" + csv_field(t.title) + "\r\n";
    bool first = true;
    for (const auto& c : t.columns) {
      if (!first) out += ',';
      out += csv_field(c);
      first = false;
    }
    out += "\r\n";
    for (const auto& row : t.rows) {
      first = true;
      for (const auto& c : row) {
        if (!first) out += ',';
        out += csv_field(c.text);
        first = false;
      }
      out += "\r\n";
    }
  }
  return out;
}

std::string render_json(const rescue::v1::Report& report) {
  return rescue::protocol::to_json(report, rescue::protocol::json_fields::all) + "\n";
}

}  // namespace rescue::report
