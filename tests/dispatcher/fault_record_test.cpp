// Terminal faults that are no entrapment: recorded in the journal with the car's status and the
// elevator's classification, whether or not an incident is open, and recognised when resent.
#include <catch2/catch.hpp>

#include "core_fixture.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;

TEST_CASE("a terminal fault with nobody trapped is recorded with its snapshot and acknowledged",
          "[unit][core][faults]") {
  world w;
  v1::CarStatus status;
  status.set_floor(12);
  status.set_in_door_zone(false);
  status.set_service_mode(v1::SERVICE_NORMAL);
  const auto before = w.state;
  const auto out = w.run(cmd::terminal_event{"T1", 7, v1::EVENT_OVERSPEED, status, 3});
  REQUIRE(out.ok());
  CHECK(out.incident == 0);
  REQUIRE(out.events.size() == 1);
  const auto& e = out.events.front();
  CHECK(e.incident_id() == 0);
  REQUIRE(e.has_fault_recorded());
  const auto& f = e.fault_recorded();
  CHECK(f.terminal_id() == "T1");
  CHECK(f.terminal_seq() == 7);
  CHECK(f.terminal_boot_id() == 3);
  CHECK(f.code() == v1::EVENT_OVERSPEED);
  CHECK(f.car_status().floor() == 12);
  CHECK(f.elevator_id() == "E1");
  CHECK(f.maintenance_unit_id() == "U1");
  CHECK(f.district_code() == "500103");
  // The terminal hears its ack; no incident, nothing for the console or the crews.
  const auto acks = effects_of<rescue::core::fx::ack_terminal>(out);
  REQUIRE(acks.size() == 1);
  CHECK(acks.front().seq == 7);
  // ...and the record for the provincial and national platforms, the shell's to store and send.
  const auto uploads = effects_of<rescue::core::fx::upload_record>(out);
  REQUIRE(uploads.size() == 1);
  CHECK(uploads.front().incident == 0);
  const auto& record = uploads.front().record;
  CHECK(record.format_version() == 1);
  CHECK(record.record_id() == "fault-T1-3-7");
  CHECK(record.fault().elevator_id() == "E1");
  CHECK(record.fault().code() == v1::EVENT_OVERSPEED);
  CHECK(record.fault().car_status().floor() == 12);
  CHECK(record.fault().maintenance_unit_id() == "U1");
  CHECK(record.fault().time().size() == 29);  // 2026-11-03T08:15:00.123+08:00
  CHECK(out.effects.size() == 2);
  CHECK(w.state.incidents == before.incidents);
  CHECK(w.replayed() == w.state);
}

TEST_CASE("every fault code is recorded, also while an incident is open, and no alarm code is",
          "[unit][core][faults]") {
  world w;
  const auto id = w.trapped("T1", 1).incident;
  const auto incident_before = w.incident(id);
  std::uint64_t seq = 1;
  std::size_t faults = 0;
  for (int code = 0; code <= v1::TerminalEventCode_MAX; ++code) {
    const auto c = static_cast<v1::TerminalEventCode>(code);
    if (!v1::TerminalEventCode_IsValid(code)) continue;
    const auto out = w.run(cmd::terminal_event{"T2", ++seq, c, {}, 1});
    const bool recorded = has_event(out, v1::Event::kFaultRecorded);
    INFO(v1::TerminalEventCode_Name(c));
    CHECK(recorded == rescue::core::is_fault_code(c));
    if (recorded) ++faults;
  }
  // Overrun top and bottom, overspeed, door open while running, UCMP, stopped outside the door
  // zone, power loss, safety circuit, door fails to open or close, lock circuit, run-time
  // limiter, floor position lost, service mode change, power restored.
  CHECK(faults == 15);
  CHECK_FALSE(rescue::core::is_fault_code(v1::EVENT_TRAPPED_BETWEEN_FLOORS));
  CHECK_FALSE(rescue::core::is_fault_code(v1::EVENT_ALARM_BUTTON));
  CHECK_FALSE(rescue::core::is_fault_code(v1::EVENT_TRAPPED_CLEARED));
  // T1's open incident did not move for T2's faults.
  CHECK(w.incident(id) == incident_before);
  CHECK(w.replayed() == w.state);
}

TEST_CASE("a fault frame resent after a restart is recognised from the journal",
          "[unit][core][faults]") {
  world w;
  REQUIRE(w.run(cmd::terminal_event{"T1", 9, v1::EVENT_POWER_LOSS, {}, 4}).ok());
  rescue::core::replayer replay;
  for (const auto& e : w.journal)
    replay.feed(e);
  const auto rebuilt = std::move(replay).take();
  const auto again = rebuilt.frames.classify("T1", {4, 9, v1::EVENT_POWER_LOSS},
                                             [](std::uint64_t) { return false; });
  CHECK(again.resend);
  const auto next = rebuilt.frames.classify("T1", {4, 10, v1::EVENT_POWER_RESTORED},
                                            [](std::uint64_t) { return false; });
  CHECK_FALSE(next.resend);
}

TEST_CASE("a terminal's link is journalled when it changes, and a restart records every link lost",
          "[unit][core][faults]") {
  world w;
  auto up = w.run(cmd::terminal_link{"T1", true, ""});
  REQUIRE(up.ok());
  REQUIRE(up.events.size() == 1);
  CHECK(up.events[0].incident_id() == 0);
  CHECK(up.events[0].terminal_link().terminal_id() == "T1");
  CHECK(up.events[0].terminal_link().elevator_id() == "E1");
  CHECK(up.events[0].terminal_link().online());
  CHECK(up.effects.empty());
  // A second connection replacing the first changes nothing the journal says.
  CHECK(w.run(cmd::terminal_link{"T1", true, ""}).events.empty());
  REQUIRE(w.run(cmd::terminal_link{"T2", true, ""}).events.size() == 1);
  CHECK(w.state.terminals_online == std::set<std::string>{"T1", "T2"});

  const auto down = w.run(cmd::terminal_link{"T2", false, "idle for 180 s"});
  REQUIRE(down.events.size() == 1);
  CHECK_FALSE(down.events[0].terminal_link().online());
  CHECK(down.events[0].terminal_link().reason() == "idle for 180 s");
  CHECK(w.run(cmd::terminal_link{"T2", false, "closed"}).events.empty());

  const auto unknown = w.run(cmd::terminal_link{"T9", true, ""});
  CHECK(unknown.refused == rescue::core::refusal::unknown_terminal);
  CHECK(unknown.events.empty());

  // The restart: T1 was up when the journal ended, so its link is recorded lost; T2 was down.
  const auto lost = w.run(cmd::terminal_links_lost{"server restarted"});
  REQUIRE(lost.events.size() == 1);
  CHECK(lost.events[0].terminal_link().terminal_id() == "T1");
  CHECK(lost.events[0].terminal_link().reason() == "server restarted");
  CHECK(w.state.terminals_online.empty());
  CHECK(w.run(cmd::terminal_links_lost{"server restarted"}).events.empty());
  CHECK(w.replayed() == w.state);
}
