// Core commands as inbox messages (inbox.proto) and back: how a command for a shard owned by
// another instance travels through that shard's inbox stream.
#pragma once

#include <optional>

#include "rescue/core/incident_core.hpp"
#include "rescue/inbox.pb.h"

namespace rescue::core {

// Every command but deadline_fired, which only the owner's own timers raise, and
// terminal_links_lost, which each owner records for its own shard (an empty message).
rescue::v1::InboxCommand to_inbox(const command& c);

// Empty when the message carries no command this version knows: the owner skips the entry.
std::optional<command> from_inbox(const rescue::v1::InboxCommand& m);

}  // namespace rescue::core
