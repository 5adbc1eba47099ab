// Writes the generated seed corpora: real terminal frame streams and real journals, produced by
// the same codec and core the server uses. Run after a change to the schema or the core:
//   build-fuzz/bin/fuzz_make_seeds fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "byte_reader.hpp"
#include "fuzz_city.hpp"
#include "rescue/protocol/framing.hpp"
#include "rescue/storage/journal.hpp"
#include "rescue/terminal.pb.h"

namespace {

using namespace rescue;
namespace fs = std::filesystem;

void save(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

struct stream {
  std::string bytes;
  std::uint64_t seq = 0;

  stream& frame(const v1::TerminalFrame& f) {
    if (protocol::append_frame(f, bytes)) __builtin_trap();
    return *this;
  }
  stream& event(v1::TerminalEventCode code, bool with_status = true) {
    v1::TerminalFrame f;
    auto* e = f.mutable_event();
    e->set_seq(++seq);
    e->set_code(code);
    e->set_occurred_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq) * 1000);
    if (with_status) {
      auto* s = e->mutable_status();
      s->set_floor(7);
      s->set_in_door_zone(code != v1::EVENT_TRAPPED_BETWEEN_FLOORS);
      s->set_occupied(true);
    }
    if (code == v1::EVENT_SERVICE_MODE_CHANGE) e->set_new_mode(v1::SERVICE_INSPECTION);
    return frame(f);
  }
  stream& status() {
    v1::TerminalFrame f;
    f.mutable_status()->set_seq(++seq);
    f.mutable_status()->mutable_status()->set_floor(3);
    return frame(f);
  }
  // A heartbeat whose sent_at_ms the harness reads as "this much time passed".
  stream& wait(std::int64_t ms) {
    v1::TerminalFrame f;
    f.mutable_heartbeat()->set_sent_at_ms(ms);
    return frame(f);
  }
  stream& pong() {
    v1::TerminalFrame f;
    f.mutable_pong()->set_nonce(1);
    return frame(f);
  }
};

void terminal_seeds(const fs::path& dir) {
  save(dir, "trapped", stream{}.event(v1::EVENT_TRAPPED_BETWEEN_FLOORS).bytes);
  save(dir, "status-then-alarm",
       stream{}.status().pong().event(v1::EVENT_ALARM_BUTTON).wait(1000).bytes);
  save(dir, "trapped-then-cleared",
       stream{}
           .event(v1::EVENT_TRAPPED_IN_DOOR_ZONE)
           .wait(30'000)
           .event(v1::EVENT_TRAPPED_CLEARED)
           .bytes);
  save(dir, "offer-expires",
       stream{}
           .event(v1::EVENT_TRAPPED_BETWEEN_FLOORS)
           .wait(61'000)
           .wait(61'000)
           .wait(61'000)
           .bytes);
  save(dir, "escalates-to-fire",
       stream{}
           .event(v1::EVENT_TRAPPED_BETWEEN_FLOORS)
           .wait(200'000)
           .wait(310'000)
           .wait(1'900'000)
           .bytes);
  save(dir, "resend-same-seq", [] {
    stream s;
    s.event(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
    s.seq = 0;
    s.event(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
    return s.bytes;
  }());
  save(dir, "faults",
       stream{}
           .event(v1::EVENT_POWER_LOSS)
           .event(v1::EVENT_OVERSPEED)
           .event(v1::EVENT_DOOR_OPEN_WHILE_RUNNING)
           .event(v1::EVENT_SERVICE_MODE_CHANGE)
           .event(v1::EVENT_POWER_RESTORED, false)
           .bytes);
  save(dir, "second-alarm-merges",
       stream{}
           .event(v1::EVENT_ALARM_BUTTON)
           .wait(5000)
           .event(v1::EVENT_TRAPPED_BETWEEN_FLOORS)
           .bytes);
  save(dir, "cleared-after-release-window",
       stream{}
           .event(v1::EVENT_TRAPPED_BETWEEN_FLOORS)
           .wait(700'000)
           .event(v1::EVENT_TRAPPED_CLEARED)
           .event(v1::EVENT_ALARM_BUTTON)
           .bytes);
  // A ping is a server frame: the session closes on it.
  save(dir, "unexpected-ping", [] {
    stream s;
    s.event(v1::EVENT_ALARM_BUTTON);
    v1::TerminalFrame f;
    f.mutable_ping()->set_nonce(9);
    return s.frame(f).event(v1::EVENT_TRAPPED_BETWEEN_FLOORS).bytes;
  }());
}

// The journal of a rescue that went through the ladder, as the core wrote it.
std::vector<v1::Event> rescue_journal(bool accept) {
  const auto city = fuzz::small_city(1'700'000'000'000);
  fuzz::core_driver driver(city, core::from_ms(1'700'000'000'000));
  driver.run(core::cmd::terminal_event{"T1", 1, v1::EVENT_TRAPPED_BETWEEN_FLOORS, {}, 7});
  if (accept) {
    driver.now += std::chrono::seconds(30);
    driver.run(core::cmd::accept_offer{1, "c11"});
    driver.run(core::cmd::crew_departed{1, "c11"});
    driver.now += std::chrono::minutes(12);
    driver.run(core::cmd::crew_arrived{1, "c11"});
    driver.now += std::chrono::minutes(8);
    driver.run(core::cmd::people_released{1, "c11"});
    v1::Cause cause;
    cause.set_category(v1::CAUSE_DOOR_SYSTEM);
    driver.run(core::cmd::close{1, cause, "op"});
    driver.run(core::cmd::record_follow_up{1, v1::FOLLOW_UP_SATISFIED, "ok", "op"});
  } else {
    driver.now += std::chrono::minutes(4);
    driver.fire_due_deadlines();
    driver.now += std::chrono::minutes(6);
    driver.fire_due_deadlines();
    driver.run(core::cmd::add_note{1, "caller says two people inside", "op"});
    driver.run(core::cmd::fire_acknowledged{1, "渝中消防救援站"});
  }
  return driver.journal;
}

// Flags as in harness/journal_records.cpp.
std::string journal_seed(const std::vector<v1::Event>& events, std::uint8_t flags,
                         bool checkpoint) {
  fuzz::byte_writer w;
  w.integer<std::uint8_t>(flags);
  w.integer<std::uint8_t>(static_cast<std::uint8_t>(std::min<std::size_t>(events.size(), 24)));
  for (std::size_t i = 0; i < events.size() && i < 24; ++i) {
    const auto& e = events[i];
    if (!(flags & 2)) w.integer<std::uint64_t>(i + 1);
    w.integer<std::int64_t>(e.at_ms());
    w.integer<std::uint8_t>(static_cast<std::uint8_t>(e.incident_id()));
    w.bytes(storage::event_type_name(e));
    w.bytes(e.SerializeAsString());
    if (!(flags & 1)) w.bytes(std::string(32, 'h')).bytes(std::string(32, 'h'));
  }
  w.integer<std::uint8_t>(checkpoint ? 1 : 0);
  if (checkpoint) {
    w.integer<std::uint8_t>(static_cast<std::uint8_t>(std::min<std::size_t>(events.size(), 24)));
    w.flag(true);  // the record's own hash
    w.integer<std::int64_t>(1'700'000'100'000);
    w.flag(true).flag(true);  // the harness's key, a real signature
  }
  return w.str();
}

void journal_seeds(const fs::path& dir) {
  const auto rescued = rescue_journal(true);
  const auto escalated = rescue_journal(false);
  save(dir, "rescued-chained", journal_seed(rescued, 1 | 2 | 4 | 32, false));
  save(dir, "rescued-signed", journal_seed(rescued, 1 | 2 | 4 | 8 | 32, true));
  save(dir, "escalated-chained", journal_seed(escalated, 1 | 2 | 4 | 32, true));
  save(dir, "escalated-two-threads", journal_seed(escalated, 1 | 2 | 4 | 16 | 32, false));
  save(dir, "rescued-forged-hashes", journal_seed(rescued, 4, false));
  save(dir, "empty", std::string(1, '\x05'));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  terminal_seeds(root / "terminal_frames");
  journal_seeds(root / "journal_records");
  return 0;
}
