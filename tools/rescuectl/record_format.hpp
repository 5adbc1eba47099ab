// How rescuectl prints journal records: readable timeline lines and JSON lines.
#pragma once

#include <cstdint>
#include <string>

#include "rescue/storage/journal.hpp"

namespace rescue::rescuectl {

// "2024-05-01T10:23:45.123+08:00": China Standard Time, the platforms' local time, no DST.
std::string iso_time_cst(std::int64_t at_ms);

// One timeline entry: seq, time, event type and the event's details; CandidatesRanked lists the
// ranked crews with ETAs and the exclusions with reasons on the following lines.
std::string timeline_text(const storage::journal_record& record, const rescue::v1::Event& event);

// One JSON object per record: seq, at_ms, time, incident_id, event_type, hashes in hex, and the
// event in protobuf's JSON mapping under "event".
std::string json_line(const storage::journal_record& record, const rescue::v1::Event& event);

}  // namespace rescue::rescuectl
