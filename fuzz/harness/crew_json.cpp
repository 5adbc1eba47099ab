// What a crew phone sends over its WebSocket: each text message parsed by protobuf's JSON mapping
// exactly as crew_session does (unknown fields refused), then translated to a core command for the
// authenticated crew and decided against a small city with two open incidents; locations go to
// the crew index after the same range check.
//
// Input: one or more messages separated by 0x1E (record separator). The session is crew c11, the
// nearest crew of the unit bound to E1, which holds the offer of incident 1 at the start; incident
// 2 (E2, no unit) is offered at level 2. Each message moves the clock 20 s and fires due deadlines.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_city.hpp"
#include "quiet.hpp"
#include "rescue/crew.pb.h"
#include "rescue/dispatcher/crew_session.hpp"
#include "rescue/protocol/json.hpp"

namespace {

using namespace rescue;
namespace v1 = rescue::v1;

constexpr std::int64_t start_ms = 1'700'000'000'000;
const std::string crew = "c11";

// What the hub pushes to a crew for the core's offers and withdrawals.
void push_to_crews(const core::outcome& out, std::uint64_t& seq) {
  for (const auto& effect : out.effects) {
    v1::CrewServerMessage m;
    m.set_seq(++seq);
    if (const auto* o = std::get_if<core::fx::offer_job>(&effect))
      *m.mutable_offer() = o->job;
    else if (const auto* w = std::get_if<core::fx::withdraw_job>(&effect))
      m.mutable_withdrawn()->set_reason(w->reason);
    else
      continue;
    (void)protocol::to_json(m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const storage::registry city = fuzz::small_city(start_ms);
  fuzz::core_driver driver(city, core::from_ms(start_ms));
  std::uint64_t pushed = 0;
  for (const char* terminal : {"T1", "T2"}) {
    auto out =
        driver.run(core::cmd::terminal_event{terminal, 1, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}, 7});
    if (!out.ok()) __builtin_trap();
    push_to_crews(out, pushed);
  }

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find('\x1e'), rest.size());
    const std::string_view text = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));

    v1::CrewClientMessage message;
    if (!protocol::from_json(text, message).empty()) break;  // policy violation: closed
    if (message.body_case() == v1::CrewClientMessage::BODY_NOT_SET) break;
    driver.now += std::chrono::seconds(20);
    if (message.has_location()) {
      const auto& l = message.location();
      if (const auto fix = dispatcher::location_fix(l, core::to_ms(driver.now));
          fix.refused.empty())
        driver.crews.move(crew, geo::lat_lon{l.position().lat(), l.position().lon()}, fix.at_ms);
    } else if (auto action = dispatcher::crew_command(message, crew)) {
      push_to_crews(driver.run(action->c), pushed);
    }
    driver.fire_due_deadlines();
  }

  driver.check_replay();
  return 0;
}
