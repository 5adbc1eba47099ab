// The name of a journal event's kind: the journal's event_type column, and the word logs and
// tools use for it.
#pragma once

#include <string_view>

#include "rescue/journal.pb.h"

namespace rescue::protocol {

// The name of the event's body field ("offer_made"), or "unset" for an event without a body
// (one the journal refuses to store). The view stays valid for the life of the program.
std::string_view event_type_name(const rescue::v1::Event& event);

}  // namespace rescue::protocol
