// Which terminal frames the server has already decided: the rule that tells a true resend from a
// new event whatever a terminal's numbering does (dispatcher/core/README.md, "Terminal sequence
// numbers"). Pure: no clock, no I/O; the dispatch service owns one, the replayer rebuilds it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "rescue/common.pb.h"

namespace rescue::core {

class terminal_frames {
 public:
  // A frame's identity as the terminal gives it.
  struct frame {
    std::uint64_t boot_id = 0;
    std::uint64_t seq = 0;
    rescue::v1::TerminalEventCode code = rescue::v1::EVENT_UNSPECIFIED;
    bool operator==(const frame&) const = default;
  };

  // What the terminal's numbering did, against the newest frame of the same boot. Only counted:
  // no ordering ever makes the server ignore a frame.
  enum class numbering { first, next, gap, repeat, backwards, new_boot };

  struct verdict {
    bool resend = false;  // the same frame again: acknowledge once the original is durable
    numbering order = numbering::first;
  };

  // How many decided frames are remembered per terminal. A terminal resends only what it has
  // not seen acknowledged, a handful of frames at most.
  static constexpr std::size_t remembered_per_terminal = 64;

  // `open(incident)` says whether an incident an earlier alarm went to is still open. A frame is a
  // resend only when the same terminal sent the same boot id, sequence number and event code
  // before, and, for an alarm, the incident that original opened or joined is still open:
  // anything else is decided as new, so an alarm is never ignored.
  verdict classify(const std::string& terminal_id, const frame& f,
                   const std::function<bool(std::uint64_t)>& open) const;

  // Records a decided frame; `incident` is the one an alarm opened or joined, else 0.
  void remember(const std::string& terminal_id, const frame& f, std::uint64_t incident);

  std::size_t terminals() const { return by_terminal_.size(); }

 private:
  struct entry {
    frame f;
    std::uint64_t incident = 0;
  };
  struct history {
    std::deque<entry> recent;  // newest last
    std::uint64_t boot_id = 0;
    std::uint64_t highest_seq = 0;  // of boot_id
  };
  std::unordered_map<std::string, history> by_terminal_;
};

// Event codes that raise an alarm (open or join an incident).
bool is_alarm_code(rescue::v1::TerminalEventCode code);

}  // namespace rescue::core
