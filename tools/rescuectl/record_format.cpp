#include "record_format.hpp"

#include <google/protobuf/text_format.h>

#include <sstream>

#include "rescue/protocol/china_time.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/storage/journal_hash.hpp"

namespace rescue::rescuectl {

namespace {

std::string body_text(const rescue::v1::Event& event) {
  if (event.body_case() == rescue::v1::Event::BODY_NOT_SET) return {};
  const auto* field = event.GetDescriptor()->FindFieldByNumber(event.body_case());
  const auto& body = event.GetReflection()->GetMessage(event, field);
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  std::string out;
  printer.PrintToString(body, &out);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

std::string minutes_seconds(std::uint32_t s) {
  return std::to_string(s / 60) + "m" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60) + "s";
}

}  // namespace

std::string iso_time_cst(std::int64_t at_ms) {
  return protocol::china_time(at_ms, true);
}

std::string timeline_text(const storage::journal_record& record, const rescue::v1::Event& event) {
  std::ostringstream out;
  out << "seq " << record.seq << "  " << iso_time_cst(record.at_ms) << "  " << record.event_type;
  if (event.has_candidates_ranked()) {
    const auto& ranked = event.candidates_ranked();
    out << "  level " << rescue::v1::RescueLevel_Name(ranked.level());
    if (ranked.candidates().empty()) out << "\n    no candidates";
    for (const auto& c : ranked.candidates()) {
      out << "\n    #" << c.rank() << " crew " << c.crew_id() << " (unit " << c.unit_id()
          << ")  ETA " << minutes_seconds(c.eta_s()) << "  " << c.distance_m() << " m  "
          << rescue::v1::RescueLevel_Name(c.level());
    }
    for (const auto& x : ranked.exclusions()) {
      out << "\n    excluded crew " << x.crew_id() << " (unit " << x.unit_id() << ")  "
          << x.distance_m() << " m  " << rescue::v1::ExclusionReason_Name(x.reason());
    }
  } else {
    const std::string details = body_text(event);
    if (!details.empty()) out << "  " << details;
  }
  return out.str();
}

std::string json_line(const storage::journal_record& record, const rescue::v1::Event& event) {
  rescue::v1::JournalRecordLine line;
  line.set_seq(record.seq);
  line.set_at_ms(record.at_ms);
  line.set_time(iso_time_cst(record.at_ms));
  line.set_incident_id(record.incident_id);
  line.set_event_type(record.event_type);
  line.set_prev_hash(storage::to_hex(record.prev_hash));
  line.set_hash(storage::to_hex(record.hash));
  *line.mutable_event() = event;
  return protocol::to_json(line);
}

}  // namespace rescue::rescuectl
