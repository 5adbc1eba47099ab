#include "rescue/core/terminal_frames.hpp"

#include <algorithm>

namespace rescue::core {
namespace v1 = rescue::v1;

bool is_alarm_code(v1::TerminalEventCode code) {
  return code == v1::EVENT_TRAPPED_IN_DOOR_ZONE || code == v1::EVENT_TRAPPED_BETWEEN_FLOORS ||
         code == v1::EVENT_ALARM_BUTTON;
}

terminal_frames::verdict terminal_frames::classify(
    const std::string& terminal_id, const frame& f,
    const std::function<bool(std::uint64_t)>& open) const {
  verdict v;
  const auto it = by_terminal_.find(terminal_id);
  if (it == by_terminal_.end()) return v;
  const history& h = it->second;
  if (h.boot_id != f.boot_id)
    v.order = numbering::new_boot;
  else if (f.seq == h.highest_seq + 1)
    v.order = numbering::next;
  else if (f.seq > h.highest_seq)
    v.order = numbering::gap;
  else if (f.seq == h.highest_seq)
    v.order = numbering::repeat;
  else
    v.order = numbering::backwards;
  // Newest first: a resend is almost always of the latest frames.
  for (auto e = h.recent.rbegin(); e != h.recent.rend(); ++e) {
    if (e->f != f) continue;
    v.resend = !is_alarm_code(f.code) || (e->incident != 0 && open(e->incident));
    break;
  }
  return v;
}

void terminal_frames::remember(const std::string& terminal_id, const frame& f,
                               std::uint64_t incident) {
  history& h = by_terminal_[terminal_id];
  if (h.recent.empty() || h.boot_id != f.boot_id) {
    h.boot_id = f.boot_id;
    h.highest_seq = f.seq;
  } else {
    h.highest_seq = std::max(h.highest_seq, f.seq);
  }
  // The same identity decided twice (a resend of an alarm whose incident had ended): keep the
  // newer decision only.
  std::erase_if(h.recent, [&](const entry& e) { return e.f == f; });
  h.recent.push_back(entry{f, incident});
  if (h.recent.size() > remembered_per_terminal) h.recent.pop_front();
}

}  // namespace rescue::core
