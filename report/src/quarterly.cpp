#include "rescue/report/quarterly.hpp"

#include <map>

#include "rescue/protocol/json.hpp"

namespace rescue::report {
namespace v1 = rescue::v1;

namespace {

struct row_words {
  const char* code;
  const char* zh;
  const char* en;
};

constexpr row_words rows[] = {
    {"A", "问题电梯总数", "Problem elevators under supervision"},
    {"B", "其中：已整改", "of which rectified"},
    {"C", "其中：正在整改", "of which being rectified"},
    {"D", "其中：已封停", "of which sealed"},
    {"E", "其中：仍在监管", "of which still supervised"},
    {"F", "本季度排查新发现问题电梯", "Problem elevators newly found in review this quarter"},
    {"G", "其中：已整改", "of which rectified"},
    {"H", "其中：正在整改", "of which being rectified"},
    {"I", "其中：已封停", "of which sealed"},
    {"J", "已建成应急处置服务平台的城市数", "Cities with an emergency platform"},
    {"K", "平台覆盖电梯数", "Elevators the platform covers"},
};

// Each elevator's status as of `day`: its latest record dated on or before it (the later
// record of a day wins); the elevator's first record gives origin and found_on.
struct elevator_state {
  v1::RectificationOrigin origin = v1::ORIGIN_UNSPECIFIED;
  std::string found_on;
  v1::RectificationStatus status = v1::RECTIFICATION_UNSPECIFIED;
  std::string status_on;
  std::string first_status_on;
};

std::string list_of(const std::vector<std::string>& ids) {
  std::string out;
  const std::size_t shown = std::min<std::size_t>(ids.size(), 20);
  for (std::size_t i = 0; i < shown; ++i)
    out += (i ? ", " : "") + ids[i];
  if (ids.size() > shown) out += " and " + std::to_string(ids.size() - shown) + " more";
  return out;
}

}  // namespace

bool is_publish_frequency(std::string_view word) {
  return word == "monthly" || word == "quarterly" || word == "half-yearly" || word == "yearly" ||
         word == "no";
}

std::string china_date(std::int64_t ms) {
  return china_time(ms).substr(0, 10);
}

v1::QuarterlyTable quarterly_table(const storage::registry& registry, const period& quarter,
                                   const quarterly_facts& facts) {
  v1::QuarterlyTable t;
  t.set_format_version(1);
  t.set_quarter(quarter.label);
  const std::string first = china_date(quarter.from_ms);
  const std::string last = china_date(quarter.to_ms - 1);
  t.set_first_day(first);
  t.set_last_day(last);

  std::map<std::string, elevator_state> state;  // by elevator id: one order for every list
  for (const auto& r : registry.rectifications()) {
    auto [it, fresh] = state.try_emplace(r.elevator_id());
    elevator_state& s = it->second;
    if (fresh) {
      s.origin = r.origin();
      s.found_on = r.found_on();
      s.first_status_on = r.status_on();
    }
    if (r.status_on() < s.first_status_on) s.first_status_on = r.status_on();
    if (r.status_on() <= last && r.status_on() >= s.status_on) {
      s.status = r.status();
      s.status_on = r.status_on();
    }
  }

  std::uint32_t v[11] = {};
  std::vector<std::string> listed_without, review_without;
  for (const auto& [id, s] : state) {
    if (s.found_on > last) continue;  // not yet a problem elevator on the quarter's last day
    const bool listed = s.origin == v1::ORIGIN_LISTED;
    if (!listed && s.found_on < first) continue;  // found in an earlier quarter's review
    ++v[listed ? 0 : 5];
    const int base = listed ? 1 : 6;
    switch (s.status) {
      case v1::RECTIFICATION_RECTIFIED:
        ++v[base];
        break;
      case v1::RECTIFICATION_RECTIFYING:
        ++v[base + 1];
        break;
      case v1::RECTIFICATION_SEALED:
        ++v[base + 2];
        break;
      case v1::RECTIFICATION_SUPERVISED:
        if (listed) {
          ++v[4];
          break;
        }
        [[fallthrough]];
      default:
        (listed ? listed_without : review_without)
            .push_back(id + " (first status " + s.first_status_on + ")");
    }
  }
  v[9] = facts.cities_with_platform;
  v[10] = static_cast<std::uint32_t>(registry.elevators().size());
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    auto* row = t.add_rows();
    row->set_code(rows[i].code);
    row->set_zh(rows[i].zh);
    row->set_en(rows[i].en);
    row->set_value(v[i]);
  }
  t.set_emergency_number_open(facts.emergency_number_open);
  t.set_quality_published(facts.quality_published != "no");
  if (t.quality_published()) t.set_quality_publish_frequency(facts.quality_published);

  if (v[0] != v[1] + v[2] + v[3] + v[4])
    t.add_problems("A (" + std::to_string(v[0]) + ") != B + C + D + E (" +
                   std::to_string(v[1] + v[2] + v[3] + v[4]) + "): no status on or before " + last +
                   " for " + list_of(listed_without));
  if (v[5] != v[6] + v[7] + v[8])
    t.add_problems("F (" + std::to_string(v[5]) + ") != G + H + I (" +
                   std::to_string(v[6] + v[7] + v[8]) + "): no status on or before " + last +
                   " for " + list_of(review_without));
  return t;
}

std::string quarterly_title(const v1::QuarterlyTable& t, language lang) {
  return std::string(lang == language::zh ? "电梯应急处置服务平台建设情况季度统计表 "
                                          : "Elevator emergency platform quarterly statistics ") +
         t.quarter();
}

std::vector<table> quarterly_tables(const v1::QuarterlyTable& t, language lang) {
  const bool zh = lang == language::zh;
  table out{"quarterly",
            zh ? "季度统计表" : "Quarterly table",
            zh ? "问题电梯按统计期最后一天（" + t.last_day() +
                     "）的状态统计：A = B + C + D + E，F = G + H + I；F 为本季度（" +
                     t.first_day() + " 至 " + t.last_day() + "）排查新发现的。K 为登记在册电梯数。"
               : "Problem elevators by their status on the quarter's last day (" + t.last_day() +
                     "): A = B + C + D + E, F = G + H + I; F are those newly found in review in " +
                     "the quarter (" + t.first_day() + " to " + t.last_day() +
                     "). K is the elevators in the registry.",
            {zh ? "代码" : "Code", zh ? "项目" : "Item", zh ? "数值" : "Value"},
            {}};
  for (const auto& r : t.rows())
    out.rows.push_back({cell::of_text(r.code()), cell::of_text(zh ? r.zh() : r.en()),
                        cell::of_integer(r.value())});
  const auto yes_no = [&](bool b) {
    return cell::of_text(zh ? (b ? "是" : "否") : (b ? "yes" : "no"));
  };
  out.rows.push_back(
      {cell::of_text(""),
       cell::of_text(zh ? "96333 应急服务号码是否开通" : "Emergency number 96333 open"),
       yes_no(t.emergency_number_open())});
  out.rows.push_back({cell::of_text(""),
                      cell::of_text(zh ? "是否公布维保质量" : "Maintenance quality published"),
                      yes_no(t.quality_published())});
  static const std::pair<const char*, const char*> freq[] = {
      {"monthly", "每月"}, {"quarterly", "每季度"}, {"half-yearly", "每半年"}, {"yearly", "每年"}};
  std::string frequency = t.quality_publish_frequency();
  if (zh)
    for (const auto& [en, z] : freq)
      if (frequency == en) frequency = z;
  out.rows.push_back({cell::of_text(""), cell::of_text(zh ? "公布频次" : "How often"),
                      cell::of_text(frequency.empty() ? "-" : frequency)});
  return {out};
}

std::string render_quarterly_markdown(const v1::QuarterlyTable& t, language lang) {
  return render_tables_markdown(quarterly_title(t, lang), {}, quarterly_tables(t, lang), lang);
}

std::string render_quarterly_csv(const v1::QuarterlyTable& t, language lang) {
  return render_tables_csv(quarterly_title(t, lang), quarterly_tables(t, lang));
}

std::string render_quarterly_json(const v1::QuarterlyTable& t) {
  return rescue::protocol::to_json(t, rescue::protocol::json_fields::all) + "\n";
}

}  // namespace rescue::report
