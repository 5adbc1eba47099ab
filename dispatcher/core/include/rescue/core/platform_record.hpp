// The upload records for the provincial and national platforms (upload.proto): an incident as
// it ends, a terminal fault as recorded. Pure functions of the core's incident and the journal
// event, so that the record the server pushes and the one `rescuectl upload-export` writes from
// the journal are the same bytes.
#pragma once

#include "rescue/core/incident_core.hpp"
#include "rescue/upload.pb.h"

namespace rescue::core {

// `inc` as it stands just before `ending` (its IncidentClosed or IncidentCancelled) is folded.
// The record's `platform` is left for the sender to fill.
rescue::v1::PlatformRecord incident_record(const incident& inc, const rescue::v1::Event& ending);

// A FaultRecorded event.
rescue::v1::PlatformRecord fault_record(const rescue::v1::Event& fault);

}  // namespace rescue::core
