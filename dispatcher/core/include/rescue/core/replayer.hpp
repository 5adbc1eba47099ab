// The one fold from the journal back to what the server holds: the incident state and the
// terminal frames already decided. Server recovery, `rescuectl replay` and the console's view of
// a finished incident all go through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/arena.h>

#include "rescue/console.pb.h"
#include "rescue/core/incident_core.hpp"
#include "rescue/core/terminal_frames.hpp"
#include "rescue/journal.pb.h"

namespace rescue::core {

// What a replay rebuilt.
struct replayed {
  core_state state;
  // The terminal frames the journal shows as decided (alarms, merges, recoveries carry the
  // frame's identity): a resend after a restart is still recognised.
  terminal_frames frames;
  std::uint64_t events = 0;    // events folded
  std::uint64_t last_seq = 0;  // of the last record folded, 0 before the first
};

// Feed it the journal's records in sequence order. Not thread-safe; one replay per object.
class replayer {
 public:
  replayer() = default;
  replayer(replayer&&) noexcept = default;
  // Not the default: that would free the arena's first block before the arena that uses it.
  replayer& operator=(replayer&& other) noexcept;

  // Folds one stored record: `seq` its global sequence number, `payload` the serialized Event.
  // Returns why nothing was folded: a payload that is not an Event, or a seq not after the
  // previous one (the records of one incident may skip seqs, never go back).
  std::optional<std::string> feed(std::uint64_t seq, std::string_view payload);
  // Folds one event already parsed, in journal order.
  void feed(const rescue::v1::Event& event);

  const replayed& result() const { return result_; }
  const core_state& state() const { return result_.state; }
  replayed take() && { return std::move(result_); }

 private:
  // A stored record is parsed on an arena whose first block the replayer owns, reset every
  // `records_per_arena` records: parsing costs no allocation, and the state keeps its own copies.
  static constexpr std::size_t arena_block_bytes = 256 * 1024;
  static constexpr std::size_t records_per_arena = 512;
  rescue::v1::Event& fresh_scratch();

  replayed result_;
  std::unique_ptr<char[]> block_;                   // outlives the arena that uses it
  std::unique_ptr<google::protobuf::Arena> arena_;  // made for the first stored record
  rescue::v1::Event* scratch_ = nullptr;            // on the arena
  std::size_t parsed_ = 0;                          // records parsed since the last reset
};

// An incident's view as its own events leave it, also after it left memory (cancelled, or
// followed up: the stage then says which). Empty when the events never opened it. `events` are
// the incident's own, in journal order.
std::optional<rescue::v1::IncidentView> replay_view(incident_id id,
                                                    const std::vector<rescue::v1::Event>& events);

}  // namespace rescue::core
