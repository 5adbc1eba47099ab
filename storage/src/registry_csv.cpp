#include "rescue/storage/registry_csv.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace rescue::storage {

namespace {

namespace v1 = rescue::v1;

// ---------------------------------------------------------------------------------------------
// RFC 4180 reader. Accepts LF or CRLF line ends, skips blank lines and a UTF-8 byte order mark,
// and reports where a record is malformed instead of guessing what was meant.

struct csv_problem {
  std::size_t line = 0;
  std::size_t field_index = 0;
  std::string message;
};

class csv_reader {
 public:
  enum class status { record, end, error };

  explicit csv_reader(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  // On status::record, fields holds the record and line the line it started on. On
  // status::error the reader has skipped to the next line and can go on.
  status next(std::vector<std::string>& fields, std::size_t& line, csv_problem& problem) {
    skip_blank_lines();
    if (pos_ >= text_.size()) return status::end;
    line = line_;
    fields.clear();
    for (;;) {
      std::string& field = fields.emplace_back();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        const std::size_t opened_at = line_;
        ++pos_;
        for (;;) {
          const std::size_t quote = text_.find('"', pos_);
          if (quote == std::string_view::npos) {
            problem = {opened_at, fields.size() - 1, "unterminated quoted field"};
            pos_ = text_.size();
            return status::error;
          }
          const std::string_view chunk = text_.substr(pos_, quote - pos_);
          line_ += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
          field.append(chunk);
          pos_ = quote + 1;
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
            continue;
          }
          break;
        }
        if (pos_ >= text_.size()) return status::record;
        if (text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (end_of_line()) return status::record;
        problem = {line_, fields.size() - 1, "unexpected text after a closing quote"};
        skip_line();
        return status::error;
      }
      for (;;) {
        const std::size_t stop = text_.find_first_of(",\n\r\"", pos_);
        const std::size_t end = stop == std::string_view::npos ? text_.size() : stop;
        field.append(text_.substr(pos_, end - pos_));
        pos_ = end;
        if (pos_ >= text_.size()) return status::record;
        if (text_[pos_] == '\r' && !(pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n')) {
          // A lone CR is data, not a line end.
          field.push_back('\r');
          ++pos_;
          continue;
        }
        break;
      }
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (end_of_line()) return status::record;
      problem = {line_, fields.size() - 1, "quote inside an unquoted field"};
      skip_line();
      return status::error;
    }
  }

 private:
  bool end_of_line() {
    if (text_[pos_] == '\n') {
      ++pos_;
      ++line_;
      return true;
    }
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
      return true;
    }
    return false;
  }

  void skip_blank_lines() {
    while (pos_ < text_.size() && end_of_line()) {
    }
  }

  void skip_line() {
    const std::size_t nl = text_.find('\n', pos_);
    pos_ = nl == std::string_view::npos ? text_.size() : nl + 1;
    if (nl != std::string_view::npos) ++line_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// proto3 string fields must hold UTF-8; files exported from older Chinese systems are often GBK.
bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::array<std::uint32_t, 5> min_for_len{0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Column tables. The order here is the order write_registry_csv uses; import takes any order.

struct column {
  std::string_view name;
  bool required;  // the header must name it; whether the value may be empty is per column
};

enum unit_col {
  u_id,
  u_name,
  u_licence,
  u_contact_name,
  u_contact_phone,
  u_level2,
  u_base_lat,
  u_base_lon
};
constexpr std::array<column, 8> unit_columns{{{"id", true},
                                              {"name", true},
                                              {"licence", false},
                                              {"contact_name", false},
                                              {"contact_phone", false},
                                              {"level2", true},
                                              {"base_lat", true},
                                              {"base_lon", true}}};

enum operator_col { o_id, o_name, o_contact_name, o_contact_phone };
constexpr std::array<column, 4> operator_columns{
    {{"id", true}, {"name", true}, {"contact_name", false}, {"contact_phone", false}}};

enum elevator_col {
  e_id,
  e_registration_code,
  e_certificate_no,
  e_rescue_code,
  e_address,
  e_district_code,
  e_lat,
  e_lon,
  e_place_type,
  e_brand,
  e_install_year,
  e_maintenance_unit_id,
  e_building_operator_id,
  e_area
};
constexpr std::array<column, 14> elevator_columns{{{"id", true},
                                                   {"registration_code", true},
                                                   {"certificate_no", true},
                                                   {"rescue_code", true},
                                                   {"address", true},
                                                   {"district_code", true},
                                                   {"lat", true},
                                                   {"lon", true},
                                                   {"place_type", false},
                                                   {"brand", false},
                                                   {"install_year", false},
                                                   {"maintenance_unit_id", true},
                                                   {"building_operator_id", true},
                                                   {"area", true}}};

enum crew_col {
  c_id,
  c_unit_id,
  c_name,
  c_certificate,
  c_phone,
  c_on_duty,
  c_lat,
  c_lon,
  c_position_at_ms
};
constexpr std::array<column, 9> crew_columns{{{"id", true},
                                              {"unit_id", true},
                                              {"name", false},
                                              {"certificate", true},
                                              {"phone", false},
                                              {"on_duty", true},
                                              {"lat", false},
                                              {"lon", false},
                                              {"position_at_ms", false}}};

enum terminal_col { t_id, t_elevator_id, t_secret };
constexpr std::array<column, 3> terminal_columns{
    {{"id", true}, {"elevator_id", true}, {"secret", true}}};

enum rectification_col { r_elevator_id, r_origin, r_found_on, r_status, r_status_on, r_remark };
constexpr std::array<column, 6> rectification_columns{{{"elevator_id", true},
                                                       {"origin", true},
                                                       {"found_on", true},
                                                       {"status", true},
                                                       {"status_on", true},
                                                       {"remark", false}}};

constexpr std::array<std::pair<std::string_view, v1::RectificationOrigin>, 2> origin_words{{
    {"listed", v1::ORIGIN_LISTED},
    {"review", v1::ORIGIN_REVIEW},
}};
constexpr std::array<std::pair<std::string_view, v1::RectificationStatus>, 4> status_words{{
    {"rectified", v1::RECTIFICATION_RECTIFIED},
    {"rectifying", v1::RECTIFICATION_RECTIFYING},
    {"sealed", v1::RECTIFICATION_SEALED},
    {"supervised", v1::RECTIFICATION_SUPERVISED},
}};

template <class Words, class Value>
std::string_view word_of(const Words& words, Value v) {
  for (const auto& [word, value] : words)
    if (value == v) return word;
  return {};
}

// The enums index the tables; a column added to one but not the other fails here.
static_assert(unit_columns[u_base_lon].name == "base_lon" && unit_columns.size() == u_base_lon + 1);
static_assert(operator_columns[o_contact_phone].name == "contact_phone" &&
              operator_columns.size() == o_contact_phone + 1);
static_assert(elevator_columns[e_area].name == "area" && elevator_columns.size() == e_area + 1);
static_assert(crew_columns[c_position_at_ms].name == "position_at_ms" &&
              crew_columns.size() == c_position_at_ms + 1);
static_assert(terminal_columns[t_secret].name == "secret" &&
              terminal_columns.size() == t_secret + 1);
static_assert(rectification_columns[r_remark].name == "remark" &&
              rectification_columns.size() == r_remark + 1);

constexpr std::array<std::pair<std::string_view, v1::PlaceType>, 10> place_words{{
    {"residential", v1::PLACE_RESIDENTIAL},
    {"hospital", v1::PLACE_HOSPITAL},
    {"mall", v1::PLACE_MALL},
    {"office", v1::PLACE_OFFICE},
    {"metro", v1::PLACE_METRO},
    {"school", v1::PLACE_SCHOOL},
    {"hotel", v1::PLACE_HOTEL},
    {"public", v1::PLACE_PUBLIC},
    {"industrial", v1::PLACE_INDUSTRIAL},
    {"other", v1::PLACE_OTHER},
}};

std::string_view place_word(v1::PlaceType type) {
  for (const auto& [word, value] : place_words)
    if (value == type) return word;
  return {};
}

std::string_view area_word(v1::AreaKind area) {
  switch (area) {
    case v1::AREA_URBAN:
      return "urban";
    case v1::AREA_RURAL:
      return "rural";
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Import.

// One CSV file being imported: maps the header to the column table and collects errors.
class file_import {
 public:
  file_import(std::string file, std::span<const column> columns, std::vector<import_error>& errors)
      : file_(std::move(file)), columns_(columns), errors_(errors) {}

  // Reads the file and its header; false when there is nothing usable to import.
  bool open(const std::filesystem::path& dir, bool optional) {
    std::ifstream in(dir / file_, std::ios::binary);
    if (!in) {
      if (!optional) error(0, "", "file not found in " + dir.string());
      return false;
    }
    text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
      error(0, "", "read failed");
      return false;
    }
    reader_.emplace(text_);
    std::vector<std::string> header;
    std::size_t line = 0;
    csv_problem problem;
    switch (reader_->next(header, line, problem)) {
      case csv_reader::status::end:
        error(1, "", "missing header row");
        return false;
      case csv_reader::status::error:
        error(problem.line, "", "header: " + problem.message);
        return false;
      case csv_reader::status::record:
        break;
    }
    position_.assign(columns_.size(), -1);
    bool usable = true;
    for (std::size_t i = 0; i < header.size(); ++i) {
      const std::string_view name = trim(header[i]);
      std::size_t c = 0;
      while (c < columns_.size() && columns_[c].name != name)
        ++c;
      if (c == columns_.size()) {
        // Reported, then ignored: the rest of the row still means what the header says.
        error(line, std::string(name), "unknown column");
      } else if (position_[c] >= 0) {
        error(line, std::string(name), "column appears more than once");
        usable = false;
      } else {
        position_[c] = static_cast<int>(i);
      }
    }
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (columns_[c].required && position_[c] < 0) {
        error(line, std::string(columns_[c].name), "required column is missing");
        usable = false;
      }
    }
    width_ = header.size();
    header_ = std::move(header);
    return usable;
  }

  // Advances to the next well-formed record; false at the end of the file.
  bool next_row() {
    for (;;) {
      csv_problem problem;
      switch (reader_->next(fields_, line_, problem)) {
        case csv_reader::status::end:
          return false;
        case csv_reader::status::error:
          error(problem.line,
                problem.field_index < header_.size() ? header_[problem.field_index] : "",
                problem.message);
          continue;
        case csv_reader::status::record:
          break;
      }
      if (fields_.size() != width_) {
        error(line_, "",
              "has " + std::to_string(fields_.size()) + " fields, the header has " +
                  std::to_string(width_));
        continue;
      }
      row_failed_ = false;
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (!is_utf8(fields_[i])) {
          error(line_, header_[i],
                "not valid UTF-8 (a GBK file? convert it with iconv -f GBK -t UTF-8)");
          row_failed_ = true;
          break;
        }
      }
      if (row_failed_) continue;
      return true;
    }
  }

  std::string_view get(int c) const {
    const int at = position_[static_cast<std::size_t>(c)];
    return at < 0 ? std::string_view{} : std::string_view(fields_[static_cast<std::size_t>(at)]);
  }

  // A value that does not parse: reported against the current row, which is then skipped.
  void field_error(int c, std::string message) {
    error(line_, std::string(columns_[static_cast<std::size_t>(c)].name), std::move(message));
    row_failed_ = true;
  }
  bool row_failed() const { return row_failed_; }
  // Line breaks in the file: at least the number of rows, for reserving room.
  std::size_t line_breaks() const {
    return static_cast<std::size_t>(std::count(text_.begin(), text_.end(), '\n'));
  }

  // A refusal from the registry: "field: message".
  void refused(const std::string& reason) {
    const std::size_t colon = reason.find(": ");
    if (colon == std::string::npos)
      error(line_, "", reason);
    else
      error(line_, reason.substr(0, colon), reason.substr(colon + 2));
  }

  std::optional<double> number(int c, bool required) {
    const std::string_view s = get(c);
    if (s.empty()) {
      if (required) field_error(c, "is required");
      return std::nullopt;
    }
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      field_error(c, "not a number (got '" + std::string(s) + "')");
      return std::nullopt;
    }
    return v;
  }

  template <class Int>
  Int integer(int c) {
    const std::string_view s = get(c);
    Int v = 0;
    if (s.empty()) return v;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size())
      field_error(c, "not a whole number (got '" + std::string(s) + "')");
    return v;
  }

  bool yes_no(int c) {
    const std::string_view s = get(c);
    if (s == "yes") return true;
    if (s != "no") field_error(c, "must be yes or no (got '" + std::string(s) + "')");
    return false;
  }

  // Both coordinates or neither.
  std::optional<v1::GeoPoint> point(int lat_c, int lon_c, bool required) {
    const auto lat = number(lat_c, required);
    const auto lon = number(lon_c, required);
    if (row_failed_) return std::nullopt;
    if (lat.has_value() != lon.has_value()) {
      field_error(lat ? lon_c : lat_c, "lat and lon must be given together");
      return std::nullopt;
    }
    if (!lat) return std::nullopt;
    v1::GeoPoint p;
    p.set_lat(*lat);
    p.set_lon(*lon);
    return p;
  }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
      s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
      s.remove_suffix(1);
    return s;
  }

  void error(std::size_t line, std::string field, std::string message) {
    errors_.push_back({file_, line, std::move(field), std::move(message)});
  }

  std::string file_;
  std::span<const column> columns_;
  std::vector<import_error>& errors_;
  std::string text_;
  std::optional<csv_reader> reader_;
  std::vector<std::string> header_;
  std::vector<int> position_;
  std::size_t width_ = 0;
  std::vector<std::string> fields_;
  std::size_t line_ = 0;
  bool row_failed_ = false;
};

std::optional<std::string> decode_hex(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]);
    const int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

void import_units(const std::filesystem::path& dir, std::string file, v1::OrganisationKind kind,
                  registry_import& out) {
  file_import f(std::move(file), unit_columns, out.errors);
  if (!f.open(dir, false)) return;
  while (f.next_row()) {
    v1::MaintenanceUnit u;
    u.set_kind(kind);
    u.set_id(std::string(f.get(u_id)));
    u.set_name(std::string(f.get(u_name)));
    u.set_licence(std::string(f.get(u_licence)));
    u.set_contact_name(std::string(f.get(u_contact_name)));
    u.set_contact_phone(std::string(f.get(u_contact_phone)));
    u.set_level2_participant(f.yes_no(u_level2));
    if (auto base = f.point(u_base_lat, u_base_lon, false)) *u.mutable_base() = *base;
    if (f.row_failed()) continue;
    if (auto reason = out.registry.add_unit(std::move(u))) f.refused(*reason);
  }
}

void import_operators(const std::filesystem::path& dir, registry_import& out) {
  file_import f("building_operators.csv", operator_columns, out.errors);
  if (!f.open(dir, false)) return;
  while (f.next_row()) {
    v1::BuildingOperator op;
    op.set_id(std::string(f.get(o_id)));
    op.set_name(std::string(f.get(o_name)));
    op.set_contact_name(std::string(f.get(o_contact_name)));
    op.set_contact_phone(std::string(f.get(o_contact_phone)));
    if (auto reason = out.registry.add_building_operator(std::move(op))) f.refused(*reason);
  }
}

void import_elevators(const std::filesystem::path& dir, registry_import& out) {
  file_import f("elevators.csv", elevator_columns, out.errors);
  if (!f.open(dir, false)) return;
  out.registry.reserve_elevators(f.line_breaks());
  while (f.next_row()) {
    v1::Elevator e;
    e.set_id(std::string(f.get(e_id)));
    e.set_registration_code(std::string(f.get(e_registration_code)));
    e.set_certificate_no(std::string(f.get(e_certificate_no)));
    e.set_rescue_code(std::string(f.get(e_rescue_code)));
    e.set_address(std::string(f.get(e_address)));
    e.set_district_code(std::string(f.get(e_district_code)));
    if (auto location = f.point(e_lat, e_lon, true)) *e.mutable_location() = *location;
    if (const std::string_view word = f.get(e_place_type); !word.empty()) {
      const auto* it = std::find_if(place_words.begin(), place_words.end(),
                                    [&](const auto& p) { return p.first == word; });
      if (it == place_words.end())
        f.field_error(e_place_type,
                      "unknown place type '" + std::string(word) +
                          "' (expected residential, hospital, mall, office, metro, school, "
                          "hotel, public, industrial or other)");
      else
        e.set_place_type(it->second);
    }
    e.set_brand(std::string(f.get(e_brand)));
    e.set_install_year(f.integer<std::uint32_t>(e_install_year));
    e.set_maintenance_unit_id(std::string(f.get(e_maintenance_unit_id)));
    e.set_building_operator_id(std::string(f.get(e_building_operator_id)));
    const std::string_view area = f.get(e_area);
    if (area == "urban")
      e.set_area(v1::AREA_URBAN);
    else if (area == "rural")
      e.set_area(v1::AREA_RURAL);
    else
      f.field_error(e_area, "must be urban or rural (got '" + std::string(area) + "')");
    if (f.row_failed()) continue;
    if (auto reason = out.registry.add_elevator(std::move(e))) f.refused(*reason);
  }
}

void import_crews(const std::filesystem::path& dir, registry_import& out) {
  file_import f("crews.csv", crew_columns, out.errors);
  if (!f.open(dir, false)) return;
  while (f.next_row()) {
    v1::CrewMember c;
    c.set_id(std::string(f.get(c_id)));
    c.set_unit_id(std::string(f.get(c_unit_id)));
    c.set_name(std::string(f.get(c_name)));
    c.set_certificate(std::string(f.get(c_certificate)));
    c.set_phone(std::string(f.get(c_phone)));
    c.set_on_duty(f.yes_no(c_on_duty));
    if (auto position = f.point(c_lat, c_lon, false)) *c.mutable_position() = *position;
    c.set_position_at_ms(f.integer<std::int64_t>(c_position_at_ms));
    if (f.row_failed()) continue;
    if (auto reason = out.registry.add_crew(std::move(c))) f.refused(*reason);
  }
}

void import_terminals(const std::filesystem::path& dir, registry_import& out) {
  file_import f("terminals.csv", terminal_columns, out.errors);
  if (!f.open(dir, true)) return;
  out.registry.reserve_terminals(f.line_breaks());
  while (f.next_row()) {
    v1::Terminal t;
    t.set_id(std::string(f.get(t_id)));
    t.set_elevator_id(std::string(f.get(t_elevator_id)));
    const std::string_view hex = f.get(t_secret);
    if (hex.empty()) {
      f.field_error(t_secret, "is required");
    } else if (auto secret = decode_hex(hex)) {
      t.set_secret(std::move(*secret));
    } else {
      f.field_error(t_secret, "must be an even number of hex digits");
    }
    if (f.row_failed()) continue;
    if (auto reason = out.registry.add_terminal(std::move(t))) f.refused(*reason);
  }
}

void import_rectifications(const std::filesystem::path& dir, registry_import& out) {
  file_import f("rectifications.csv", rectification_columns, out.errors);
  if (!f.open(dir, true)) return;
  while (f.next_row()) {
    v1::Rectification r;
    r.set_elevator_id(std::string(f.get(r_elevator_id)));
    const auto word = [&](int c, const auto& words, auto set) {
      const std::string_view s = f.get(c);
      for (const auto& [w, value] : words) {
        if (s == w) {
          set(value);
          return;
        }
      }
      std::string allowed;
      for (const auto& [w, value] : words)
        allowed += (allowed.empty() ? "" : ", ") + std::string(w);
      f.field_error(c, "must be one of " + allowed + " (got '" + std::string(s) + "')");
    };
    word(r_origin, origin_words, [&](v1::RectificationOrigin o) { r.set_origin(o); });
    word(r_status, status_words, [&](v1::RectificationStatus st) { r.set_status(st); });
    r.set_found_on(std::string(f.get(r_found_on)));
    r.set_status_on(std::string(f.get(r_status_on)));
    r.set_remark(std::string(f.get(r_remark)));
    if (f.row_failed()) continue;
    if (auto reason = out.registry.add_rectification(std::move(r))) f.refused(*reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Export.

class csv_writer {
 public:
  template <std::size_t N>
  explicit csv_writer(const std::array<column, N>& columns) {
    for (const column& c : columns)
      field(c.name);
    end_row();
  }

  csv_writer& field(std::string_view v) {
    if (!first_) out_.push_back(',');
    first_ = false;
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
      out_.append(v);
      return *this;
    }
    out_.push_back('"');
    for (char c : v) {
      if (c == '"') out_.push_back('"');
      out_.push_back(c);
    }
    out_.push_back('"');
    return *this;
  }

  // Shortest text that reads back as the same double.
  csv_writer& number(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return field(ec == std::errc() ? std::string_view(buf, static_cast<std::size_t>(end - buf))
                                   : std::string_view{});
  }

  template <class Int>
  csv_writer& integer(Int v, bool zero_is_empty) {
    if (v == 0 && zero_is_empty) return field({});
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return field(std::string_view(buf, static_cast<std::size_t>(end - buf)));
  }

  csv_writer& point(bool set, const v1::GeoPoint& p) {
    if (!set) return field({}).field({});
    return number(p.lat()).number(p.lon());
  }

  csv_writer& yes_no(bool v) { return field(v ? "yes" : "no"); }

  void end_row() {
    out_.push_back('\n');
    first_ = true;
  }

  std::error_code save(const std::filesystem::path& path) const {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return {errno, std::generic_category()};
    if (std::fwrite(out_.data(), 1, out_.size(), f.get()) != out_.size())
      return {errno, std::generic_category()};
    if (std::fclose(f.release()) != 0) return {errno, std::generic_category()};
    return {};
  }

 private:
  std::string out_;
  bool first_ = true;
};

std::string encode_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

std::error_code write_units(const registry& reg, v1::OrganisationKind kind,
                            const std::filesystem::path& path) {
  csv_writer w(unit_columns);
  for (const v1::MaintenanceUnit& u : reg.units()) {
    if (u.kind() != kind) continue;
    w.field(u.id()).field(u.name()).field(u.licence()).field(u.contact_name());
    w.field(u.contact_phone()).yes_no(u.level2_participant()).point(u.has_base(), u.base());
    w.end_row();
  }
  return w.save(path);
}

}  // namespace

std::string import_error::to_string() const {
  std::string out = file;
  if (line > 0) out.append(":").append(std::to_string(line));
  out.append(": ");
  if (!field.empty()) out.append(field).append(": ");
  out.append(message);
  return out;
}

registry_import import_registry_csv(const std::filesystem::path& dir) {
  registry_import out;
  import_units(dir, "maintenance_units.csv", v1::ORG_MAINTENANCE_UNIT, out);
  import_units(dir, "rescue_stations.csv", v1::ORG_RESCUE_STATION, out);
  import_operators(dir, out);
  import_elevators(dir, out);
  import_crews(dir, out);
  import_terminals(dir, out);
  import_rectifications(dir, out);
  return out;
}

std::error_code write_registry_csv(const registry& reg, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ec;

  if ((ec = write_units(reg, v1::ORG_MAINTENANCE_UNIT, dir / "maintenance_units.csv"))) return ec;
  if ((ec = write_units(reg, v1::ORG_RESCUE_STATION, dir / "rescue_stations.csv"))) return ec;

  {
    csv_writer w(operator_columns);
    for (const v1::BuildingOperator& op : reg.building_operators()) {
      w.field(op.id()).field(op.name()).field(op.contact_name()).field(op.contact_phone());
      w.end_row();
    }
    if ((ec = w.save(dir / "building_operators.csv"))) return ec;
  }
  {
    csv_writer w(elevator_columns);
    for (const v1::Elevator& e : reg.elevators()) {
      w.field(e.id()).field(e.registration_code()).field(e.certificate_no()).field(e.rescue_code());
      w.field(e.address()).field(e.district_code()).point(e.has_location(), e.location());
      w.field(place_word(e.place_type())).field(e.brand()).integer(e.install_year(), true);
      w.field(e.maintenance_unit_id()).field(e.building_operator_id()).field(area_word(e.area()));
      w.end_row();
    }
    if ((ec = w.save(dir / "elevators.csv"))) return ec;
  }
  {
    csv_writer w(crew_columns);
    for (const v1::CrewMember& c : reg.crews()) {
      w.field(c.id()).field(c.unit_id()).field(c.name()).field(c.certificate()).field(c.phone());
      w.yes_no(c.on_duty()).point(c.has_position(), c.position());
      w.integer(c.position_at_ms(), true);
      w.end_row();
    }
    if ((ec = w.save(dir / "crews.csv"))) return ec;
  }
  {
    csv_writer w(terminal_columns);
    for (const v1::Terminal& t : reg.terminals()) {
      w.field(t.id()).field(t.elevator_id()).field(encode_hex(t.secret()));
      w.end_row();
    }
    if ((ec = w.save(dir / "terminals.csv"))) return ec;
  }
  {
    csv_writer w(rectification_columns);
    for (const v1::Rectification& r : reg.rectifications()) {
      w.field(r.elevator_id()).field(word_of(origin_words, r.origin())).field(r.found_on());
      w.field(word_of(status_words, r.status())).field(r.status_on()).field(r.remark());
      w.end_row();
    }
    if ((ec = w.save(dir / "rectifications.csv"))) return ec;
  }
  return {};
}

}  // namespace rescue::storage
