#include "rescue/core/replayer.hpp"

#include <utility>

namespace rescue::core {
namespace v1 = rescue::v1;

namespace {

// Alarms, merges and recoveries carry the identity of the terminal frame that caused them.
void remember_frames(terminal_frames& frames, const v1::Event& e) {
  const v1::AlarmInfo* alarm = nullptr;
  if (e.has_opened()) alarm = &e.opened().alarm();
  if (e.has_merged()) alarm = &e.merged().alarm();
  if (alarm && !alarm->terminal_id().empty())
    frames.remember(alarm->terminal_id(),
                    {alarm->terminal_boot_id(), alarm->terminal_seq(), alarm->terminal_event()},
                    e.incident_id());
  if (e.has_fault_recorded()) {
    const auto& f = e.fault_recorded();
    frames.remember(f.terminal_id(), {f.terminal_boot_id(), f.terminal_seq(), f.code()}, 0);
  }
  if (e.has_trapped_cleared()) {
    const auto& x = e.trapped_cleared();
    frames.remember(x.terminal_id(),
                    {x.terminal_boot_id(), x.terminal_seq(), v1::EVENT_TRAPPED_CLEARED}, 0);
  }
}

}  // namespace

replayer& replayer::operator=(replayer&& other) noexcept {
  if (this == &other) return *this;
  arena_.reset();  // before the block it was given
  block_.reset();
  result_ = std::move(other.result_);
  block_ = std::move(other.block_);
  arena_ = std::move(other.arena_);
  scratch_ = std::exchange(other.scratch_, nullptr);
  parsed_ = std::exchange(other.parsed_, 0);
  return *this;
}

v1::Event& replayer::fresh_scratch() {
  if (arena_ && parsed_ < records_per_arena) {
    ++parsed_;
    return *scratch_;
  }
  if (!arena_) {
    block_ = std::make_unique_for_overwrite<char[]>(arena_block_bytes);
    google::protobuf::ArenaOptions options;
    options.initial_block = block_.get();
    options.initial_block_size = arena_block_bytes;
    arena_ = std::make_unique<google::protobuf::Arena>(options);
  } else {
    // Everything parsed so far is garbage now: the state holds copies.
    arena_->Reset();
  }
  scratch_ = google::protobuf::Arena::CreateMessage<v1::Event>(arena_.get());
  parsed_ = 1;
  return *scratch_;
}

std::optional<std::string> replayer::feed(std::uint64_t seq, std::string_view payload) {
  if (seq <= result_.last_seq)
    return "journal record " + std::to_string(seq) + " comes after record " +
           std::to_string(result_.last_seq);
  v1::Event& e = fresh_scratch();
  if (!e.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    return "journal record " + std::to_string(seq) + " does not parse";
  feed(e);
  result_.last_seq = seq;
  return std::nullopt;
}

void replayer::feed(const v1::Event& event) {
  apply(result_.state, event);
  remember_frames(result_.frames, event);
  ++result_.events;
}

std::optional<v1::IncidentView> replay_view(incident_id id, const std::vector<v1::Event>& events) {
  replayer replay;
  std::optional<v1::IncidentView> view;
  for (const auto& e : events) {
    // The fold forgets a finished incident: keep its last view, with the stage that ended it.
    if (e.incident_id() == id && (e.has_cancelled() || e.has_follow_up())) {
      if (const incident* inc = replay.state().find(id)) view = make_view(*inc);
      if (view) view->set_stage(e.has_cancelled() ? v1::STAGE_CANCELLED : v1::STAGE_FOLLOWED_UP);
    }
    replay.feed(e);
  }
  if (const incident* inc = replay.state().find(id)) view = make_view(*inc);
  return view;
}

}  // namespace rescue::core
