// The bytes an authenticated car terminal sends: the frame decoder fed in chunks of every size,
// each frame handled as terminal_session does after authentication, and each event frame decided
// by the incident core against a small city, its deadlines fired as the shell's timers would.
//
// Input: the raw byte stream (4-byte big-endian length + TerminalFrame, repeated). Chunk sizes
// and the terminal (T1 or T2) come from a generator seeded by the input, so a seed file stays a
// real capture. Heartbeats move the clock forward by their sent_at_ms (mod two hours), which lets
// the fuzzer reach offer expiries and escalations.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_city.hpp"
#include "quiet.hpp"
#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/terminal_session.hpp"
#include "rescue/protocol/framing.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/terminal.pb.h"

namespace {

using namespace rescue;
namespace v1 = rescue::v1;

constexpr std::int64_t start_ms = 1'700'000'000'000;
constexpr std::int64_t two_hours_ms = 2 * 3600 * 1000;

// Handles one frame; false when the session would close the connection.
bool handle(fuzz::core_driver& core, const v1::TerminalFrame& frame, const std::string& terminal) {
  core.now += std::chrono::seconds(1);
  switch (frame.body_case()) {
    case v1::TerminalFrame::kHeartbeat: {
      const auto sent = static_cast<std::uint64_t>(frame.heartbeat().sent_at_ms());
      core.now += std::chrono::milliseconds(sent % two_hours_ms);
      break;
    }
    case v1::TerminalFrame::kPong:
      break;
    case v1::TerminalFrame::kStatus:
      // The gateway keeps the snapshot; the console prints it.
      (void)protocol::to_json(frame.status().status());
      break;
    case v1::TerminalFrame::kEvent: {
      const auto out = core.run(dispatcher::terminal_command(frame.event(), terminal, 7));
      // Every accepted terminal event is acknowledged, or the terminal resends for ever.
      if (out.ok() && std::none_of(out.effects.begin(), out.effects.end(), [](const auto& e) {
            return std::holds_alternative<core::fx::ack_terminal>(e);
          }))
        __builtin_trap();
      break;
    }
    default:
      return false;  // "unexpected frame after authentication"
  }
  core.fire_due_deadlines();
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const storage::registry city = fuzz::small_city(start_ms);
  fuzz::core_driver core(city, core::from_ms(start_ms));
  fuzz::split_mix chunks{size};
  const std::string terminal = chunks.next() % 4 == 0 ? "T2" : "T1";

  // The server's default maximum frame size (server_config::max_frame_bytes).
  protocol::frame_decoder decoder(16 * 1024);
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  bool open = true;
  while (open && pos < stream.size()) {
    const std::size_t n = std::min<std::size_t>(1 + chunks.next() % 97, stream.size() - pos);
    decoder.feed(stream.substr(pos, n));
    pos += n;
    v1::TerminalFrame frame;
    std::error_code ec;
    while (open && decoder.next(frame, ec))
      open = handle(core, frame, terminal);
    if (ec) open = false;
    if (decoder.buffered_bytes() > 16 * 1024 + protocol::frame_header_bytes) __builtin_trap();
  }

  core.check_replay();
  // What the console's board shows of it.
  (void)protocol::to_json(dispatcher::incidents_by_urgency(core.state));
  return 0;
}
