// The report as tables, in Chinese or English, and the legend of every figure.
#include <cstdio>

#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"

namespace rescue::report {
namespace v1 = rescue::v1;

namespace {

struct words {
  const char* zh;
  const char* en;
};

const char* pick(const words& w, language lang) {
  return lang == language::zh ? w.zh : w.en;
}

std::string source_name(v1::SourceChannel s, language lang) {
  static const words names[] = {{"未知", "unknown"},
                                {"物联网终端", "IoT terminal"},
                                {"被困人员来电", "trapped caller"},
                                {"物业来电", "property manager"},
                                {"维保单位报告", "maintenance unit"},
                                {"110转接", "police 110"},
                                {"119转接", "fire 119"},
                                {"手机应用", "mobile app"}};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(names) ? pick(names[i], lang) : std::to_string(i);
}

std::string level_name(v1::RescueLevel l, language lang) {
  static const words names[] = {{"未知", "unknown"},
                                {"一级 维保单位", "level 1: maintenance unit"},
                                {"二级 区域救援", "level 2: area rescue"},
                                {"三级 消防救援", "level 3: fire rescue"}};
  const auto i = static_cast<std::size_t>(l);
  return i < std::size(names) ? pick(names[i], lang) : std::to_string(i);
}

std::string escalation_name(v1::EscalationReason r, language lang) {
  static const words names[] = {{"未说明", "unspecified"},
                                {"无维保单位", "no maintenance unit"},
                                {"响应窗口到期无人接单", "nobody accepted within the window"},
                                {"无可派人员", "no candidates"},
                                {"预计超时", "predicted late"},
                                {"有人受伤或不适", "injured or unwell"},
                                {"值班员决定", "operator's decision"}};
  const auto i = static_cast<std::size_t>(r);
  return i < std::size(names) ? pick(names[i], lang) : std::to_string(i);
}

std::string cause_name(v1::CauseCategory c, language lang) {
  static const words names[] = {{"未定（未结案）", "not recorded (not closed)"},
                                {"外部原因", "external"},
                                {"人为原因", "human"},
                                {"门系统", "door system"},
                                {"其他", "other"}};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(names) ? pick(names[i], lang) : std::to_string(i);
}

std::string code_name(v1::TerminalEventCode c, language lang) {
  static const words names[] = {{"未知", "unspecified"},
                                {"平层困人", "trapped in door zone"},
                                {"非平层困人", "trapped between floors"},
                                {"紧急呼叫按钮", "alarm button"},
                                {"冲顶", "overrun top"},
                                {"蹲底", "overrun bottom"},
                                {"超速", "overspeed"},
                                {"运行中开门", "door open while running"},
                                {"轿厢意外移动", "unintended car movement"},
                                {"门区外停梯", "stopped outside door zone"},
                                {"停电", "power loss"},
                                {"安全回路断开", "safety circuit open"},
                                {"开门故障", "door fails to open"},
                                {"关门故障", "door fails to close"},
                                {"门锁回路故障", "door lock circuit fault"},
                                {"运行时间限制器动作", "run-time limiter"},
                                {"楼层位置丢失", "floor position lost"},
                                {"服务模式变化", "service mode change"},
                                {"困人解除", "trapped cleared"},
                                {"来电", "power restored"}};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(names) ? pick(names[i], lang) : std::to_string(i);
}

std::string dimension_name(const std::string& d, language lang) {
  static const std::pair<const char*, words> names[] = {
      {"elevator", {"电梯", "elevator"}},
      {"maintenance_unit", {"维保单位", "maintenance unit"}},
      {"building_operator", {"使用单位", "building operator"}},
      {"brand", {"品牌", "brand"}},
      {"install_year", {"安装年份", "install year"}},
      {"district", {"区县", "district"}}};
  for (const auto& [key, w] : names)
    if (d == key) return pick(w, lang);
  return d;
}

std::string yes_no(bool b, language lang) {
  return lang == language::zh ? (b ? "是" : "否") : (b ? "yes" : "no");
}

cell minutes(double seconds) {
  return cell::of_decimal(seconds / 60.0, 1);
}

// The legend: every figure, zh and en. One list, so the report and the documentation agree.
const v1::Definition& add_definition(std::vector<v1::Definition>& out, const char* figure,
                                     const char* zh, const char* en) {
  v1::Definition d;
  d.set_figure(figure);
  d.set_zh(zh);
  d.set_en(en);
  out.push_back(std::move(d));
  return out.back();
}

std::string definition_of(const v1::Report& r, const char* figure, language lang) {
  for (const auto& d : r.definitions())
    if (d.figure() == figure) return lang == language::zh ? d.zh() : d.en();
  return {};
}

}  // namespace

std::vector<v1::Definition> report_definitions() {
  std::vector<v1::Definition> d;
  add_definition(d, "period",
                 "统计期按北京时间（UTC+"
                 "8）计，含起点不含终点；事件按报警时间归入统计期，其后的处置记录全部计入。未结事件"
                 "按日志最后一条记录的时间判断。",
                 "The period is in China Standard Time (UTC+8), start included, end excluded; an "
                 "incident belongs to the period of its alarm, and everything recorded about it "
                 "afterwards counts. Open incidents are judged at the time of the journal's last "
                 "record.");
  add_definition(d, "entrapments",
                 "困人事件：统计期内受理的事件，除去以误报或重复报警撤销的；自行恢复（终端报告解除"
                 "或以自行恢复撤销）单列。需救援困人 = 困人事件 - 自行恢复。",
                 "Entrapments: incidents of the period except those cancelled as a false alarm or "
                 "a duplicate; self-recovered ones (cleared by the terminal, or cancelled as self-"
                 "recovered) are counted apart. Rescue needed = entrapments - self-recovered.");
  add_definition(d, "entrapments_per_10k",
                 "万台困人率：困人事件数 ÷ 登记在册电梯数 × 10000（按区县时分子分母均取该区县）。",
                 "Entrapment rate: entrapments / elevators in the registry x 10 000 (per district: "
                 "both of that district).");
  add_definition(
      d, "response",
      "响应：报警至首次有救援人员接单的时间（与服务器 /metrics 的 rescue_response_seconds "
      "同一定义）；1分钟、3分钟响应率的分母为需救援困人，无人接单的（包括仅由消防救援的）计为未响应"
      "。派单时间：报警至首次向人员派单。",
      "Response: alarm to the first crew accepting an offer (the definition of the "
      "server's rescue_response_seconds in /metrics); the shares within 1 and 3 minutes "
      "are of rescue-needed entrapments, those no crew accepted (fire rescue alone "
      "included) counting as not within. Dispatch: alarm to the first offer.");
  add_definition(
      d, "arrival",
      "到场：报警至首个救援人员（维保或消防）到场的时间。平均值取毫秒均值；中位数与P90按最近秩法（"
      "排序后第 ceil(p·n) "
      "个）。按时到场：到场不晚于该电梯的时限（城区30分钟，郊县60分钟）。参评数：已到场的，加上未到"
      "场且时限已过的（到日志末尾或事件结束）。",
      "Arrival: alarm to the first rescuer (crew or fire) on site. Means are of "
      "milliseconds; medians and P90 by nearest rank (the ceil(p*n)-th value sorted). On "
      "time: on site within the elevator's target (30 min urban, 60 min rural). Judged: "
      "those with an arrival, plus those without one whose target passed (by the "
      "journal's end or the incident's end).");
  add_definition(d, "late",
                 "超时事件：参评但未按时到场的；超出分钟数向上取整（超出1秒计1分钟），未到场的计到"
                 "事件结束或日志末尾。",
                 "Late incidents: judged but not on time; minutes over are rounded up (one second "
                 "late is one minute), to the incident's end or the journal's for those nobody "
                 "reached.");
  add_definition(
      d, "levels",
      "救援级别：需救援困人事件达到的最高级别；消防升级按原因统计（一个事件一个原因计一次）。",
      "Levels: the highest level a rescue-needed entrapment reached; escalations to "
      "fire rescue by reason (an incident once per reason).");
  add_definition(d, "rescue", "解救时间：首个救援人员到场至报告人员解救。",
                 "Rescue time: first rescuer on site to people reported released.");
  add_definition(d, "causes", "原因：结案时记录的两级原因（大类、细类）；未结案的计入“未定”。",
                 "Causes: the two-level cause recorded at closing (category, sub-cause); those "
                 "not closed are counted as not recorded.");
  add_definition(d, "hours", "时段：困人事件按报警时刻（北京时间）的小时分布。",
                 "Hours: entrapments by the hour (UTC+8) of their alarm.");
  add_definition(
      d, "warnings",
      "预警电梯：统计期内任一自然月困人3次及以上，或截至统计期末365天内困人4次及以上的电梯。",
      "Early warning: elevators with 3 or more entrapments in one calendar month of the "
      "period, or 4 or more in the 365 days up to the period's end.");
  add_definition(
      d, "fault_outliers",
      "故障异常电梯：统计期内故障记录不少于5次，且在同品牌、同五年安装年段电梯的平均故障数下按泊松"
      "分布出现该次数或更多的概率低于0.001的电梯；同组电梯不足20台时与全市平均比较。",
      "Fault outliers: elevators with 5 or more fault records in the period whose "
      "count, or more, has a probability below 0.001 under a Poisson law with the mean "
      "of their peers (same brand, same five-year install band); peer groups under 20 "
      "elevators are compared with the whole city.");
  add_definition(d, "faults",
                 "故障：终端上报的非困人故障记录（冲顶、蹲底、超速、运行中开门、轿厢意外移动、门区"
                 "外停梯、停电、安全回路、门系统、门锁回路、运行时间限制器、楼层位置丢失、服务模式"
                 "变化），按记录时电梯的登记分类统计。",
                 "Faults: fault records from terminals that are no entrapment (overrun, "
                 "overspeed, door open while running, unintended movement, stop outside the door "
                 "zone, power loss, safety circuit, door system, lock circuit, run-time limiter, "
                 "floor position lost, service mode change), counted by the elevator's "
                 "registration at the time of the record.");
  add_definition(
      d, "units",
      "维保单位排名：按时到场率由高到低，其次平均到场时间由短到长；无参评事件的单位列在后面。拒单、"
      "超时未应答按派给该单位人员的派单计；重复困人电梯：统计期内困人2次及以上的该单位电梯。",
      "Maintenance units: by on-time share, highest first, then by mean arrival, "
      "shortest first; units with nothing judged come last. Declines and expiries are "
      "of offers to the unit's crews; repeat elevators: its elevators with 2 or more "
      "entrapments in the period.");
  add_definition(d, "operators", "使用单位：有困人或故障的单位，按每百台困人数由高到低。",
                 "Building operators: those with an entrapment or a fault, by entrapments per 100 "
                 "elevators, highest first.");
  add_definition(d, "terminals",
                 "终端在线：日志记录的终端连接与断开。在线率：统计期末（或日志末尾，取早者）在线的"
                 "终端 ÷ 登记终端；在线时长占比：在线终端·小时 ÷ "
                 "登记终端·小时；离线最久：统计期内累计离线时长最长的20个终端。",
                 "Terminal health: from the links the journal records. Share online: terminals "
                 "connected at the period's end (or the journal's, if earlier) / terminals in the "
                 "registry; online hours share: connected terminal-hours / registry terminal-"
                 "hours; longest offline: the 20 terminals offline longest in total within the "
                 "period.");
  return d;
}

cell cell::of_text(std::string s) {
  return cell{kind::text, std::move(s), 0};
}
cell cell::of_integer(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", n);
  return cell{kind::integer, buf, n};
}
cell cell::of_decimal(double x, int places) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", places, x);
  return cell{kind::decimal, buf, x};
}
cell cell::of_percent(double share) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f%%", share * 100.0);
  return cell{kind::percent, buf, share};
}

std::optional<language> parse_language(std::string_view text) {
  if (text == "zh" || text == "zh-CN") return language::zh;
  if (text == "en") return language::en;
  return std::nullopt;
}

std::string report_title(const v1::Report& r, language lang) {
  return std::string(lang == language::zh ? "电梯应急处置统计报告 "
                                          : "Elevator emergency report ") +
         r.period().label();
}

std::vector<table> report_tables(const v1::Report& r, language lang) {
  const bool zh = lang == language::zh;
  const auto T = [&](const char* z, const char* e) { return std::string(zh ? z : e); };
  std::vector<table> out;
  const auto integer = [](std::uint64_t n) { return cell::of_integer(static_cast<double>(n)); };
  const auto text = [](std::string s) { return cell::of_text(std::move(s)); };

  {
    table t{"summary",
            T("概况", "Summary"),
            definition_of(r, "entrapments", lang),
            {T("指标", "Figure"), T("数值", "Value")},
            {}};
    const auto row = [&](const char* z, const char* e, cell c) {
      t.rows.push_back({text(T(z, e)), std::move(c)});
    };
    const auto& x = r.totals();
    row("统计期", "Period", text(r.period().from() + " .. " + r.period().to()));
    row("日志末尾", "Journal's end", text(r.period().journal_end()));
    row("受理事件", "Incidents", integer(x.incidents()));
    row("困人事件", "Entrapments", integer(x.entrapments()));
    row("误报", "False alarms", integer(x.false_alarms()));
    row("重复报警", "Duplicates", integer(x.duplicates()));
    row("自行恢复", "Self-recovered", integer(x.self_recovered()));
    row("需救援困人", "Rescue needed", integer(x.rescue_needed()));
    row("已到场", "Arrived", integer(x.arrived()));
    row("已解救", "Released", integer(x.released()));
    row("未结", "Still open", integer(x.still_open()));
    row("故障记录", "Fault records", integer(x.faults()));
    row("登记电梯", "Elevators in the registry", integer(x.elevators()));
    row("万台困人率", "Entrapments per 10 000 elevators",
        cell::of_decimal(x.entrapments_per_10k(), 2));
    const auto& rs = r.response();
    row("1分钟响应率", "Answered within 1 min", cell::of_percent(rs.share_within_1_min()));
    row("3分钟响应率", "Answered within 3 min", cell::of_percent(rs.share_within_3_min()));
    row("平均响应时间（分钟）", "Mean response (min)", minutes(rs.response().mean_s()));
    row("平均派单时间（分钟）", "Mean dispatch (min)", minutes(rs.dispatch().mean_s()));
    row("派单时间P90（分钟）", "Dispatch P90 (min)", minutes(rs.dispatch().p90_s()));
    const auto& a = r.arrival();
    row("平均到场时间（分钟）", "Mean arrival (min)", minutes(a.arrival().mean_s()));
    row("到场时间中位数（分钟）", "Median arrival (min)", minutes(a.arrival().median_s()));
    row("到场时间P90（分钟）", "Arrival P90 (min)", minutes(a.arrival().p90_s()));
    row("最长到场时间（分钟）", "Longest arrival (min)", minutes(a.arrival().max_s()));
    row("参评事件", "Judged", integer(a.judged()));
    row("按时到场", "On time", integer(a.on_time()));
    row("按时到场率", "On-time share", cell::of_percent(a.share_on_time()));
    row("超时事件", "Late", integer(a.late()));
    row("平均解救时间（分钟）", "Mean rescue time (min)", minutes(r.rescue().mean_s()));
    row("解救时间P90（分钟）", "Rescue time P90 (min)", minutes(r.rescue().p90_s()));
    row("登记终端", "Terminals in the registry", integer(r.terminals().terminals()));
    row("终端在线率", "Terminals online", cell::of_percent(r.terminals().share_online()));
    row("终端在线时长占比", "Terminal online hours share",
        cell::of_percent(r.terminals().online_hours_share()));
    out.push_back(std::move(t));
  }
  {
    table t{"districts",
            T("各区县困人", "Entrapments by district"),
            definition_of(r, "entrapments_per_10k", lang),
            {T("区县代码", "District"), T("登记电梯", "Elevators"), T("困人", "Entrapments"),
             T("万台困人率", "Per 10 000"), T("已到场", "Arrived"), T("按时到场", "On time"),
             T("平均到场（分钟）", "Mean arrival (min)"), T("故障", "Faults")},
            {}};
    for (const auto& d : r.districts())
      t.rows.push_back({text(d.district_code()), integer(d.elevators()), integer(d.entrapments()),
                        cell::of_decimal(d.entrapments_per_10k(), 2), integer(d.arrived()),
                        integer(d.on_time()), minutes(d.mean_arrival_s()), integer(d.faults())});
    out.push_back(std::move(t));
  }
  {
    table t{"sources",
            T("报警来源", "Source channels"),
            definition_of(r, "entrapments", lang),
            {T("来源", "Source"), T("受理事件", "Incidents"), T("困人", "Entrapments")},
            {}};
    for (const auto& s : r.sources())
      t.rows.push_back(
          {text(source_name(s.source(), lang)), integer(s.incidents()), integer(s.entrapments())});
    out.push_back(std::move(t));
  }
  {
    const auto& rs = r.response();
    table t{"response",
            T("响应与派单", "Response and dispatch"),
            definition_of(r, "response", lang),
            {T("指标", "Figure"), T("数量", "Count"), T("平均（分钟）", "Mean (min)"),
             T("中位数（分钟）", "Median (min)"), T("P90（分钟）", "P90 (min)"),
             T("最长（分钟）", "Max (min)")},
            {}};
    const auto stats_row = [&](const char* z, const char* e, const v1::DurationStats& s) {
      t.rows.push_back({text(T(z, e)), integer(s.count()), minutes(s.mean_s()),
                        minutes(s.median_s()), minutes(s.p90_s()), minutes(s.max_s())});
    };
    stats_row("响应（报警至接单）", "Response (alarm to accepted)", rs.response());
    stats_row("派单（报警至首次派单）", "Dispatch (alarm to first offer)", rs.dispatch());
    stats_row("到场（报警至到场）", "Arrival (alarm to on site)", r.arrival().arrival());
    stats_row("解救（到场至解救）", "Rescue (on site to released)", r.rescue());
    out.push_back(std::move(t));
  }
  {
    table t{"arrival_buckets",
            T("到场时间分布", "Arrival distribution"),
            definition_of(r, "arrival", lang),
            {T("到场（分钟）", "Arrival (min)"), T("事件", "Incidents")},
            {}};
    for (const auto& b : r.arrival_buckets()) {
      const std::string span =
          b.to_minutes() ? std::to_string(b.from_minutes()) + "-" + std::to_string(b.to_minutes())
                         : std::to_string(b.from_minutes()) + "+";
      t.rows.push_back({text(span), integer(b.incidents())});
    }
    out.push_back(std::move(t));
  }
  {
    table t{"late",
            T("超时事件", "Late incidents"),
            definition_of(r, "late", lang),
            {T("事件", "Incident"), T("报警时间", "Alarm"), T("电梯", "Elevator"),
             T("区县", "District"), T("维保单位", "Maintenance unit"),
             T("时限（分钟）", "Target (min)"), T("到场（分钟）", "Arrival (min)"),
             T("超出（分钟）", "Minutes over"), T("最高级别", "Highest level")},
            {}};
    for (const auto& l : r.late())
      t.rows.push_back({text(l.incident_id()), text(l.alarm_time()), text(l.elevator_id()),
                        text(l.district_code()), text(l.maintenance_unit_id()),
                        integer(l.target_minutes()),
                        l.arrived() ? cell::of_decimal(l.arrival_minutes(), 1)
                                    : text(T("未到场", "not reached")),
                        integer(l.minutes_over()), text(level_name(l.highest_level(), lang))});
    out.push_back(std::move(t));
  }
  {
    table t{"levels",
            T("救援级别", "Levels used"),
            definition_of(r, "levels", lang),
            {T("最高级别", "Highest level"), T("事件", "Incidents")},
            {}};
    for (const auto& l : r.levels())
      t.rows.push_back({text(level_name(l.level(), lang)), integer(l.incidents())});
    out.push_back(std::move(t));
  }
  {
    table t{"fire_escalations",
            T("消防升级原因", "Fire escalations"),
            definition_of(r, "levels", lang),
            {T("原因", "Reason"), T("事件", "Incidents")},
            {}};
    for (const auto& f : r.fire_escalations())
      t.rows.push_back({text(escalation_name(f.reason(), lang)), integer(f.incidents())});
    out.push_back(std::move(t));
  }
  {
    table t{"causes",
            T("困人原因", "Causes"),
            definition_of(r, "causes", lang),
            {T("大类", "Category"), T("细类", "Sub-cause"), T("事件", "Incidents")},
            {}};
    for (const auto& c : r.causes())
      t.rows.push_back({text(cause_name(c.category(), lang)),
                        text(c.sub_cause().empty() ? T("（小计）", "(total)") : c.sub_cause()),
                        integer(c.incidents())});
    out.push_back(std::move(t));
  }
  {
    table t{"hours",
            T("时段分布", "Hour of day"),
            definition_of(r, "hours", lang),
            {T("时段", "Hour"), T("困人", "Entrapments")},
            {}};
    for (const auto& h : r.hours()) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%02u:00", h.hour());
      t.rows.push_back({text(buf), integer(h.entrapments())});
    }
    out.push_back(std::move(t));
  }
  {
    table t{"warnings",
            T("预警电梯", "Early warning"),
            definition_of(r, "warnings", lang),
            {T("电梯", "Elevator"), T("注册代码", "Registration code"), T("地址", "Address"),
             T("区县", "District"), T("维保单位", "Maintenance unit"), T("单位名称", "Unit name"),
             T("单月最多", "Most in a month"), T("月份", "Month"), T("365天内", "In 365 days"),
             T("月规则", "Month rule"), T("年规则", "Year rule")},
            {}};
    for (const auto& w : r.warnings())
      t.rows.push_back({text(w.elevator_id()), text(w.registration_code()), text(w.address()),
                        text(w.district_code()), text(w.maintenance_unit_id()),
                        text(w.maintenance_unit_name()), integer(w.most_in_a_month()),
                        text(w.month()), integer(w.in_the_year()),
                        text(yes_no(w.month_rule(), lang)), text(yes_no(w.year_rule(), lang))});
    out.push_back(std::move(t));
  }
  {
    table t{"fault_outliers",
            T("故障异常电梯", "Fault outliers"),
            definition_of(r, "fault_outliers", lang),
            {T("电梯", "Elevator"), T("品牌", "Brand"), T("安装年份", "Install year"),
             T("对照组", "Peer group"), T("故障", "Faults"), T("对照组均值", "Peer mean"),
             T("尾概率", "Tail probability"), T("维保单位", "Maintenance unit"),
             T("单位名称", "Unit name")},
            {}};
    for (const auto& o : r.fault_outliers()) {
      char p[32];
      std::snprintf(p, sizeof p, "%.3g", o.tail_probability());
      t.rows.push_back({text(o.elevator_id()), text(o.brand()), integer(o.install_year()),
                        text(o.peer_group()), integer(o.faults()),
                        cell::of_decimal(o.peer_mean(), 3),
                        cell{cell::kind::decimal, p, o.tail_probability()},
                        text(o.maintenance_unit_id()), text(o.maintenance_unit_name())});
    }
    out.push_back(std::move(t));
  }
  {
    table t{"fault_codes",
            T("故障类型", "Faults by code"),
            definition_of(r, "faults", lang),
            {T("故障", "Fault"), T("记录", "Records"), T("涉及电梯", "Elevators")},
            {}};
    for (const auto& f : r.fault_codes())
      t.rows.push_back(
          {text(code_name(f.code(), lang)), integer(f.faults()), integer(f.elevators())});
    out.push_back(std::move(t));
  }
  {
    table t{"fault_groups",
            T("故障分布", "Faults by classification"),
            definition_of(r, "faults", lang),
            {T("分类", "Classification"), T("键", "Key"), T("名称", "Name"), T("故障", "Faults")},
            {}};
    for (const auto& g : r.fault_groups())
      t.rows.push_back({text(dimension_name(g.dimension(), lang)), text(g.key()), text(g.name()),
                        integer(g.faults())});
    out.push_back(std::move(t));
  }
  {
    table t{"units",
            T("维保单位排名", "Maintenance unit ranking"),
            definition_of(r, "units", lang),
            {T("名次", "Rank"), T("单位", "Unit"), T("名称", "Name"), T("电梯", "Elevators"),
             T("困人", "Entrapments"), T("参评", "Judged"), T("按时", "On time"),
             T("按时率", "On-time share"), T("平均到场（分钟）", "Mean arrival (min)"),
             T("派单", "Offers"), T("拒单", "Declines"), T("超时未应答", "Expiries"),
             T("重复困人电梯", "Repeat elevators"), T("故障", "Faults")},
            {}};
    for (const auto& u : r.units())
      t.rows.push_back({integer(u.rank()), text(u.unit_id()), text(u.name()),
                        integer(u.elevators()), integer(u.entrapments()), integer(u.judged()),
                        integer(u.on_time()), cell::of_percent(u.share_on_time()),
                        minutes(u.mean_arrival_s()), integer(u.offers()), integer(u.declines()),
                        integer(u.expiries()), integer(u.repeat_elevators()), integer(u.faults())});
    out.push_back(std::move(t));
  }
  {
    table t{"operators",
            T("使用单位", "Building operators"),
            definition_of(r, "operators", lang),
            {T("名次", "Rank"), T("单位", "Operator"), T("名称", "Name"), T("电梯", "Elevators"),
             T("困人", "Entrapments"), T("每百台困人", "Per 100 elevators"),
             T("重复困人电梯", "Repeat elevators"), T("故障", "Faults")},
            {}};
    for (const auto& o : r.operators())
      t.rows.push_back({integer(o.rank()), text(o.operator_id()), text(o.name()),
                        integer(o.elevators()), integer(o.entrapments()),
                        cell::of_decimal(o.entrapments_per_100(), 2), integer(o.repeat_elevators()),
                        integer(o.faults())});
    out.push_back(std::move(t));
  }
  {
    const auto& th = r.terminals();
    table t{"terminals",
            T("终端在线", "Terminal health"),
            definition_of(r, "terminals", lang),
            {T("终端", "Terminal"), T("电梯", "Elevator"), T("维保单位", "Maintenance unit"),
             T("离线（小时）", "Offline (h)"), T("期末离线", "Offline at end"),
             T("从未上线", "Never online")},
            {}};
    for (const auto& o : th.longest_offline())
      t.rows.push_back({text(o.terminal_id()), text(o.elevator_id()), text(o.maintenance_unit_id()),
                        cell::of_decimal(o.offline_hours(), 2),
                        text(yes_no(o.offline_at_end(), lang)),
                        text(yes_no(o.never_online(), lang))});
    out.push_back(std::move(t));
  }
  {
    table t{"legend",
            T("指标说明", "Definitions"),
            "",
            {T("指标", "Figure"), T("说明", "Definition")},
            {}};
    for (const auto& d : r.definitions())
      t.rows.push_back({text(d.figure()), text(zh ? d.zh() : d.en())});
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace rescue::report
