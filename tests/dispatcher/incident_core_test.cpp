#include <catch2/catch.hpp>

#include "core_fixture.hpp"
#include "rescue/protocol/china_time.hpp"

using namespace rescue::test;
namespace cmd = rescue::core::cmd;
namespace fx = rescue::core::fx;
using rescue::core::refusal;
using E = v1::Event;

TEST_CASE("a terminal entrapment opens an incident and offers the unit's nearest crew",
          "[unit][core]") {
  world w;
  const auto out = w.trapped("T1", 41);
  REQUIRE(out.ok());
  const auto& inc = w.incident(out.incident);
  CHECK(inc.level == v1::LEVEL_1_MAINTENANCE);
  CHECK(inc.people_trapped);
  CHECK(inc.stage() == v1::STAGE_OFFERED);
  CHECK(inc.offer->crew_id == "c11");
  CHECK(inc.alarms.at(0).source() == v1::SOURCE_TERMINAL);
  CHECK(inc.alarms.at(0).terminal_seq() == 41);
  CHECK(inc.target_at == w.now + 30min);
  CHECK(inc.deadlines.at(v1::DEADLINE_OFFER) == w.now + w.policy.offer_timeout);
  CHECK(inc.deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == w.now + w.policy.level1_window);
  // The ranking is kept in the journal so the choice can be explained later.
  CHECK(inc.last_ranking.candidates_size() == 3);
  CHECK(inc.last_ranking.candidates(0).crew_id() == "c11");

  const auto offers = effects_of<fx::offer_job>(out);
  REQUIRE(offers.size() == 1);
  CHECK(offers[0].crew_id == "c11");
  CHECK(offers[0].job.incident_id() == out.incident);
  CHECK(offers[0].job.rescue_code() == "10001");
  CHECK(offers[0].job.expires_at_ms() == rescue::core::to_ms(w.now + 60s));
  const auto acks = effects_of<fx::ack_terminal>(out);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].seq == 41);
  CHECK(effects_of<fx::arm_deadline>(out).size() == 2);
  CHECK(effects_of<fx::publish_incident>(out).size() == 1);
}

TEST_CASE("accept, depart, arrive, release, close and follow-up give the derived times",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  w.advance(40s);
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  CHECK(w.incident(id).stage() == v1::STAGE_ACCEPTED);
  // Somebody is coming: both timers stop.
  CHECK(w.incident(id).deadlines.empty());
  w.advance(60s);
  REQUIRE(w.run(cmd::crew_departed{id, "c11"}).ok());
  CHECK(w.incident(id).stage() == v1::STAGE_DEPARTED);
  w.advance(12min);
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  CHECK(w.incident(id).stage() == v1::STAGE_ARRIVED);
  w.advance(8min);
  REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
  const auto& inc = w.incident(id);
  CHECK(inc.stage() == v1::STAGE_RELEASED);
  CHECK(inc.response_time() == 40s);
  CHECK(inc.arrival_time() == 40s + 60s + 12min);
  CHECK(inc.rescue_time() == 8min);
  CHECK_FALSE(inc.late);
  CHECK(inc.highest_level() == v1::LEVEL_1_MAINTENANCE);

  v1::Cause cause;
  cause.set_category(v1::CAUSE_DOOR_SYSTEM);
  cause.set_sub_cause("door_lock_fault");
  const auto closed = w.run(cmd::close{id, cause, "op1"});
  REQUIRE(closed.ok());
  CHECK(w.incident(id).stage() == v1::STAGE_CLOSED);
  // The closed incident's record for the provincial and national platforms.
  const auto uploads = effects_of<fx::upload_record>(closed);
  REQUIRE(uploads.size() == 1);
  CHECK(uploads[0].incident == id);
  const auto& r = uploads[0].record;
  CHECK(r.record_id() == "incident-" + std::to_string(id));
  CHECK(r.incident().incident_id() == std::to_string(id));
  CHECK(r.incident().outcome() == v1::OUTCOME_RESCUED);
  CHECK(r.incident().elevator().elevator_id() == "E1");
  CHECK(r.incident().source() == v1::SOURCE_TERMINAL);
  CHECK(r.incident().response_s() == 40);
  CHECK(r.incident().arrival_s() == 40 + 60 + 12 * 60);
  CHECK(r.incident().rescue_s() == 8 * 60);
  CHECK(r.incident().target_minutes() == 30);
  CHECK_FALSE(r.incident().late());
  CHECK(r.incident().highest_level() == v1::LEVEL_1_MAINTENANCE);
  CHECK(r.incident().rescuer_crew_id() == "c11");
  CHECK(r.incident().rescuer_unit_id() == "U1");
  CHECK(r.incident().cause().sub_cause() == "door_lock_fault");
  CHECK_FALSE(r.incident().alarm_time().empty());
  CHECK_FALSE(r.incident().released_time().empty());
  CHECK(r.incident().ended_time() ==
        rescue::protocol::china_time(closed.events.back().at_ms(), true));
  REQUIRE(w.run(cmd::record_follow_up{id, v1::FOLLOW_UP_SATISFIED, "thanks", "op1"}).ok());
  // Finished incidents leave memory; the journal keeps them.
  CHECK(w.state.incidents.empty());
  CHECK(w.state.finished == 1);
}

TEST_CASE("a decline offers the job to the next candidate", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto out = w.run(cmd::decline_offer{id, "c11", "stuck in traffic"});
  REQUIRE(out.ok());
  CHECK(w.incident(id).offer->crew_id == "c12");
  CHECK(w.incident(id).tried_crews.contains("c11"));
  // The new ranking records why c11 was passed over.
  const auto& ranking = w.incident(id).last_ranking;
  REQUIRE(ranking.exclusions_size() == 1);
  CHECK(ranking.exclusions(0).crew_id() == "c11");
  CHECK(ranking.exclusions(0).reason() == v1::EXCLUSION_ALREADY_TRIED);
  CHECK(effects_of<fx::offer_job>(out).at(0).crew_id == "c12");
  CHECK(effects_of<fx::cancel_deadline>(out).size() == 1);
}

TEST_CASE("an expired offer moves on to the next candidate", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto out = w.fire_deadline(id, v1::DEADLINE_OFFER);
  REQUIRE(out.ok());
  CHECK(has_event(out, E::kOfferExpired));
  CHECK(effects_of<fx::withdraw_job>(out).at(0).crew_id == "c11");
  CHECK(w.incident(id).offer->crew_id == "c12");
  CHECK(w.incident(id).deadlines.at(v1::DEADLINE_OFFER) == w.now + 60s);
}

TEST_CASE("level-1 silence escalates to level 2, then level-2 silence to fire rescue",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  // Offers expire one after another inside the level-1 window.
  REQUIRE(w.fire_deadline(id, v1::DEADLINE_OFFER).ok());
  REQUIRE(w.fire_deadline(id, v1::DEADLINE_OFFER).ok());
  CHECK(w.incident(id).offer->crew_id == "c13");

  const auto window = w.fire_deadline(id, v1::DEADLINE_LEVEL_WINDOW);
  REQUIRE(window.ok());
  CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
  CHECK(effects_of<fx::withdraw_job>(window).at(0).crew_id == "c13");
  // The nearest crew of another level-2 unit; U3 does not take part in area rescue.
  CHECK(w.incident(id).offer->crew_id == "c21");
  CHECK(w.incident(id).offer->level == v1::LEVEL_2_AREA);
  CHECK(w.incident(id).deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == w.now + w.policy.level2_window);
  CHECK(effects_of<fx::notify_fire>(window).empty());

  const auto fire = w.fire_deadline(id, v1::DEADLINE_LEVEL_WINDOW);
  REQUIRE(fire.ok());
  CHECK(w.incident(id).fire_notified);
  CHECK(w.incident(id).highest_level() == v1::LEVEL_3_FIRE);
  REQUIRE(effects_of<fx::notify_fire>(fire).size() == 1);
  CHECK(effects_of<fx::notify_fire>(fire)[0].reason == v1::ESCALATION_WINDOW_EXPIRED);
  // The level-2 crew's offer still stands: fire comes on top of it.
  CHECK(w.incident(id).offer->crew_id == "c21");
  CHECK_FALSE(w.incident(id).deadlines.contains(v1::DEADLINE_LEVEL_WINDOW));
}

TEST_CASE("predictive escalation skips a level whose best crew cannot make the target",
          "[unit][core]") {
  world w;
  w.crews.set_eta("c11", 31 * 60);
  w.crews.set_eta("c12", 40 * 60);
  w.crews.set_eta("c13", 45 * 60);
  const auto out = w.trapped("T1");
  const auto& inc = w.incident(out.incident);
  CHECK(inc.level == v1::LEVEL_2_AREA);
  CHECK(inc.offer->crew_id == "c21");
  CHECK_FALSE(inc.fire_notified);
  bool predicted = false;
  for (const auto& e : out.events)
    if (e.has_level_escalated())
      predicted = e.level_escalated().reason() == v1::ESCALATION_PREDICTED_LATE;
  CHECK(predicted);
}

TEST_CASE("predictive escalation calls fire when level 2 is late too, and still sends the crew",
          "[unit][core]") {
  world w;
  for (const char* c : {"c11", "c12", "c13", "c21", "c22", "s1"})
    w.crews.set_eta(c, 50 * 60);
  const auto out = w.trapped("T1");
  const auto& inc = w.incident(out.incident);
  CHECK(inc.fire_notified);
  CHECK(effects_of<fx::notify_fire>(out).at(0).reason == v1::ESCALATION_PREDICTED_LATE);
  REQUIRE(inc.offer);
  CHECK(inc.offer->level == v1::LEVEL_2_AREA);
}

TEST_CASE("predictive escalation can be switched off", "[unit][core]") {
  world w;
  w.policy.predictive_escalation = false;
  w.crews.set_eta("c11", 31 * 60);
  w.crews.set_eta("c12", 40 * 60);
  w.crews.set_eta("c13", 45 * 60);
  const auto out = w.trapped("T1");
  CHECK(w.incident(out.incident).level == v1::LEVEL_1_MAINTENANCE);
  CHECK(w.incident(out.incident).offer->crew_id == "c11");
}

TEST_CASE("a rural elevator gets the 60-minute target", "[unit][core]") {
  world w;
  w.crews.set_eta("c11", 45 * 60);  // late for 30 minutes, in time for 60
  w.crews.set_eta("c12", 50 * 60);
  w.crews.set_eta("c13", 55 * 60);
  const auto out = w.run(cmd::call_alarm{"10003", "", v1::SOURCE_PHONE, "王", "13800000000"});
  REQUIRE(out.ok());
  CHECK(w.incident(out.incident).target_at == w.now + 60min);
  CHECK(w.incident(out.incident).offer->crew_id == "c11");
}

TEST_CASE("an elevator with no maintenance unit starts at level 2", "[unit][core]") {
  world w;
  const auto out = w.trapped("T2");
  REQUIRE(out.ok());
  const auto& inc = w.incident(out.incident);
  CHECK(inc.level == v1::LEVEL_2_AREA);
  // Every level-2 unit's crews are eligible, U1's included: E2 is bound to none.
  CHECK(inc.offer->crew_id == "c11");
  CHECK(inc.offer->level == v1::LEVEL_2_AREA);
  CHECK(inc.deadlines.at(v1::DEADLINE_LEVEL_WINDOW) == w.now + w.policy.level2_window);
  CHECK(w.crews.queries.at(0).level == v1::LEVEL_2_AREA);
}

TEST_CASE("a unit with nobody on duty falls through to level 2 at once", "[unit][core]") {
  world w;
  for (const char* c : {"c11", "c12", "c13"})
    w.crews.set_on_duty(c, false);
  const auto out = w.trapped("T1");
  CHECK(w.incident(out.incident).level == v1::LEVEL_2_AREA);
  CHECK(w.incident(out.incident).offer->crew_id == "c21");
}

TEST_CASE("nobody qualified at either level calls fire rescue", "[unit][core]") {
  world w;
  for (const char* c : {"c11", "c12", "c13", "c21", "c22", "s1"})
    w.crews.set_on_duty(c, false);
  const auto out = w.trapped("T1");
  const auto& inc = w.incident(out.incident);
  CHECK(inc.fire_notified);
  CHECK_FALSE(inc.offer);
  CHECK(effects_of<fx::notify_fire>(out).at(0).reason == v1::ESCALATION_NO_CANDIDATES);
}

TEST_CASE("injured or unwell people call fire rescue immediately", "[unit][core]") {
  SECTION("reported with the call") {
    world w;
    cmd::call_alarm call{"10001", "", v1::SOURCE_PROPERTY, "物业", "023-1234567", true, true};
    const auto out = w.run(call);
    CHECK(w.incident(out.incident).fire_notified);
    CHECK(effects_of<fx::notify_fire>(out).at(0).reason == v1::ESCALATION_INJURED);
    // The maintenance crew still comes.
    CHECK(w.incident(out.incident).offer->crew_id == "c11");
  }
  SECTION("confirmed by the operator later") {
    world w;
    const auto id = w.trapped("T1").incident;
    const auto out = w.run(cmd::confirm_trapped{id, true, "op1"});
    REQUIRE(out.ok());
    CHECK(w.incident(id).injured);
    CHECK(w.incident(id).fire_notified);
    CHECK(effects_of<fx::notify_fire>(out).size() == 1);
  }
  SECTION("unless the policy says otherwise") {
    world w;
    w.policy.fire_on_injured = false;
    cmd::call_alarm call{"10001", "", v1::SOURCE_PHONE, "", "", true, true};
    const auto out = w.run(call);
    CHECK_FALSE(w.incident(out.incident).fire_notified);
  }
}

TEST_CASE("terminal and phone alarms for one elevator merge into one incident", "[unit][core]") {
  world w;
  const auto first = w.trapped("T1");
  w.advance(90s);
  cmd::call_alarm call{"", "31105001002019000001", v1::SOURCE_PHONE, "李", "13900000000"};
  const auto second = w.run(call);
  REQUIRE(second.ok());
  CHECK(second.incident == first.incident);
  CHECK(kinds_of(second) == std::vector{E::kMerged});
  CHECK(effects_of<fx::offer_job>(second).empty());
  const auto& inc = w.incident(first.incident);
  REQUIRE(inc.alarms.size() == 2);
  CHECK(inc.alarms[0].source() == v1::SOURCE_TERMINAL);
  CHECK(inc.alarms[1].source() == v1::SOURCE_PHONE);
  CHECK(inc.alarms[1].caller_phone() == "13900000000");
  CHECK(w.state.incidents.size() == 1);
}

TEST_CASE("the merge window decides whether an alarm after release is the same entrapment",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
  w.advance(w.policy.merge_window);
  CHECK(w.trapped("T1", 2).incident == id);
  w.advance(1s);
  const auto fresh = w.trapped("T1", 3);
  CHECK(fresh.incident != id);
  CHECK(w.state.incidents.size() == 2);
  CHECK(has_event(fresh, E::kOpened));
}

TEST_CASE("a closed incident never swallows a new alarm", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
  v1::Cause cause;
  cause.set_category(v1::CAUSE_EXTERNAL);
  cause.set_sub_cause("power_cut");
  REQUIRE(w.run(cmd::close{id, cause, "op1"}).ok());
  CHECK(w.trapped("T1", 2).incident != id);
}

TEST_CASE("the terminal clearing the entrapment before anyone arrives cancels the incident",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  const auto out = w.run(cmd::terminal_event{"T1", 2, v1::EVENT_TRAPPED_CLEARED, {}});
  REQUIRE(out.ok());
  CHECK(has_event(out, E::kTrappedCleared));
  CHECK(has_event(out, E::kCancelled));
  CHECK(effects_of<fx::withdraw_job>(out).at(0).crew_id == "c11");
  CHECK(effects_of<fx::ack_terminal>(out).at(0).seq == 2);
  CHECK(w.state.incidents.empty());
  // The crew is free for the next job.
  CHECK(rescue::core::engaged_crews(w.state).empty());
  for (const auto& e : out.events)
    if (e.has_cancelled()) CHECK(e.cancelled().reason() == v1::CANCEL_SELF_RECOVERED);
  // The fold forgot the incident; its record was taken as it ended.
  const auto uploads = effects_of<fx::upload_record>(out);
  REQUIRE(uploads.size() == 1);
  CHECK(uploads[0].record.incident().outcome() == v1::OUTCOME_SELF_RECOVERED);
  CHECK(uploads[0].record.incident().accepted_time().size() == 29);
  CHECK(uploads[0].record.incident().arrived_time().empty());
  CHECK(uploads[0].record.incident().rescuer_crew_id().empty());  // stood down before the cancel
}

TEST_CASE("the terminal clearing after arrival is recorded and changes nothing else",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  const auto out = w.run(cmd::terminal_event{"T1", 2, v1::EVENT_TRAPPED_CLEARED, {}});
  CHECK(kinds_of(out) == std::vector{E::kTrappedCleared});
  CHECK(w.incident(id).stage() == v1::STAGE_ARRIVED);
  CHECK(w.incident(id).cleared_by_terminal);
}

TEST_CASE("a fault without people inside is acknowledged, recorded and opens nothing",
          "[unit][core]") {
  world w;
  const auto out = w.run(cmd::terminal_event{"T1", 9, v1::EVENT_OVERSPEED, {}});
  REQUIRE(out.ok());
  CHECK(kinds_of(out) == std::vector{E::kFaultRecorded});
  CHECK(effects_of<fx::ack_terminal>(out).at(0).seq == 9);
  CHECK(w.state.incidents.empty());
}

TEST_CASE("a false alarm is cancelled and the crew stands down", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto out = w.run(cmd::cancel{id, v1::CANCEL_FALSE_ALARM, "op1", "child pressed button"});
  REQUIRE(out.ok());
  CHECK(effects_of<fx::withdraw_job>(out).at(0).crew_id == "c11");
  CHECK(effects_of<fx::cancel_deadline>(out).size() == 2);
  CHECK(w.state.incidents.empty());
  // The elevator's next alarm opens a new incident.
  CHECK(has_event(w.trapped("T1", 2), E::kOpened));
}

TEST_CASE("arrival after the target sets the late flag and the minutes over", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  w.advance(30min + 4min + 1s);
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  CHECK(w.incident(id).late);
  CHECK(w.incident(id).minutes_over_target == 5);
}

TEST_CASE("arrival exactly at the target is on time", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  w.advance(30min);
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  CHECK_FALSE(w.incident(id).late);
  CHECK(w.incident(id).minutes_over_target == 0);
}

TEST_CASE("an operator assigns a crew by hand and the previous one stands down", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto out = w.run(cmd::assign_crew{id, "s1", "op1"});
  REQUIRE(out.ok());
  CHECK(effects_of<fx::withdraw_job>(out).at(0).crew_id == "c11");
  CHECK(effects_of<fx::offer_job>(out).at(0).crew_id == "s1");
  CHECK(w.incident(id).offer->manual);
  CHECK(w.incident(id).offer->crew_id == "s1");
  REQUIRE(w.run(cmd::accept_offer{id, "s1"}).ok());
  CHECK(w.incident(id).assigned->manual);

  // Reassigning after acceptance takes the job back from the accepted crew.
  const auto again = w.run(cmd::assign_crew{id, "c12", "op1"});
  REQUIRE(again.ok());
  CHECK(effects_of<fx::withdraw_job>(again).at(0).crew_id == "s1");
  CHECK_FALSE(w.incident(id).assigned);
  CHECK(w.incident(id).stage() == v1::STAGE_OFFERED);
}

TEST_CASE("an operator cannot assign an unknown or unavailable crew", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  const auto before = w.state;
  auto out = w.run(cmd::assign_crew{id, "nobody", "op1"});
  CHECK(out.refused == refusal::unknown_crew);
  w.crews.set_on_duty("c21", false);
  out = w.run(cmd::assign_crew{id, "c21", "op1"});
  CHECK(out.refused == refusal::crew_unavailable);
  CHECK(out.reason == "crew c21 is off duty");
  // c11 holds the offer here; a second incident cannot take it.
  const auto other = w.trapped("T2").incident;
  out = w.run(cmd::assign_crew{other, "c11", "op1"});
  CHECK(out.refused == refusal::crew_unavailable);
  CHECK(w.state.incidents.at(id) == before.incidents.at(id));
}

TEST_CASE("a crew engaged on one incident is not offered another", "[unit][core]") {
  world w;
  const auto first = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{first, "c11"}).ok());
  const auto second = w.run(cmd::call_alarm{"10003", "", v1::SOURCE_PHONE});
  CHECK(w.incident(second.incident).offer->crew_id == "c12");
  CHECK(w.crews.queries.back().engaged.contains("c11"));
}

TEST_CASE("a crew that signs off duty is not offered, and is again once it signs back on",
          "[unit][core]") {
  world w;
  const auto off = w.run(cmd::set_duty{"c11", false, "c11"});
  REQUIRE(off.ok());
  REQUIRE(off.events.size() == 1);
  const auto& changed = off.events[0];
  CHECK(changed.incident_id() == 0);
  CHECK(changed.crew_duty_changed().crew_id() == "c11");
  CHECK_FALSE(changed.crew_duty_changed().on_duty());
  CHECK(changed.crew_duty_changed().actor() == "c11");
  CHECK(off.effects.empty());  // no incident touched, nothing published
  CHECK_FALSE(rescue::core::crew_on_duty(w.state, w.registry, "c11"));

  const auto first = w.trapped("T1");
  CHECK(w.incident(first.incident).offer->crew_id == "c12");
  const auto& ranked = w.incident(first.incident).last_ranking;
  const bool excluded_off_duty = std::any_of(
      ranked.exclusions().begin(), ranked.exclusions().end(),
      [](const auto& x) { return x.crew_id() == "c11" && x.reason() == v1::EXCLUSION_OFF_DUTY; });
  CHECK(excluded_off_duty);
  // An operator cannot hand the job to a crew off duty either.
  CHECK(w.run(cmd::assign_crew{first.incident, "c11", "op-1"}).refused ==
        refusal::crew_unavailable);

  REQUIRE(w.run(cmd::set_duty{"c11", true, "c11"}).ok());
  CHECK(rescue::core::crew_on_duty(w.state, w.registry, "c11"));
  const auto second = w.run(cmd::call_alarm{"10003", "", v1::SOURCE_PHONE});
  CHECK(w.incident(second.incident).offer->crew_id == "c11");
  // Shift changes survive a restart: the journal folds back to the same duty table.
  CHECK(w.replayed() == w.state);
}

TEST_CASE("signing off is refused while the crew holds an offer or a job, and for an unknown crew",
          "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.incident(id).offer->crew_id == "c11");
  const auto offered = w.run(cmd::set_duty{"c11", false, "c11"});
  CHECK(offered.refused == refusal::crew_unavailable);
  CHECK(offered.reason.find("incident " + std::to_string(id)) != std::string::npos);
  CHECK(offered.events.empty());
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  CHECK(rescue::core::availability_of(w.state, w.registry, "c11").engaged_on == id);
  CHECK(w.run(cmd::set_duty{"c11", false, "c11"}).refused == refusal::crew_unavailable);
  REQUIRE(w.run(cmd::crew_arrived{id, "c11"}).ok());
  REQUIRE(w.run(cmd::people_released{id, "c11"}).ok());
  // Released: free again, and may go home.
  CHECK(rescue::core::availability_of(w.state, w.registry, "c11").engaged_on == 0);
  CHECK(w.run(cmd::set_duty{"c11", false, "c11"}).ok());

  CHECK(w.run(cmd::set_duty{"nobody", false, "nobody"}).refused == refusal::unknown_crew);
  // Signing on when on duty already records nothing.
  const auto again = w.run(cmd::set_duty{"c12", true, "c12"});
  CHECK(again.ok());
  CHECK(again.events.empty());
}

TEST_CASE("operator escalation climbs one level at a time and stops at fire", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  auto out = w.run(cmd::escalate{id, "op1", "caller reports smoke"});
  REQUIRE(out.ok());
  CHECK(w.incident(id).level == v1::LEVEL_2_AREA);
  CHECK(w.incident(id).offer->crew_id == "c21");
  out = w.run(cmd::escalate{id, "op1", "no answer"});
  REQUIRE(out.ok());
  CHECK(w.incident(id).fire_notified);
  CHECK(effects_of<fx::notify_fire>(out).at(0).reason == v1::ESCALATION_OPERATOR);
  out = w.run(cmd::escalate{id, "op1", "again"});
  CHECK(out.refused == refusal::already_at_top_level);
}

TEST_CASE("operator escalation with a crew already coming calls fire", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::accept_offer{id, "c11"}).ok());
  const auto out = w.run(cmd::escalate{id, "op1", "passenger unwell"});
  REQUIRE(out.ok());
  CHECK(w.incident(id).fire_notified);
  CHECK(w.incident(id).assigned->crew_id == "c11");
  CHECK(effects_of<fx::withdraw_job>(out).empty());
}

TEST_CASE("fire rescue acknowledges, arrives first and the operator closes", "[unit][core]") {
  world w;
  const auto id = w.trapped("T1").incident;
  REQUIRE(w.run(cmd::escalate{id, "op1", ""}).ok());
  REQUIRE(w.run(cmd::escalate{id, "op1", ""}).ok());
  REQUIRE(w.run(cmd::fire_acknowledged{id, "119-yuzhong"}).ok());
  CHECK(w.incident(id).fire_acknowledged);
  CHECK(w.run(cmd::fire_acknowledged{id, "119-yuzhong"}).refused == refusal::wrong_stage);
  w.advance(9min);
  REQUIRE(w.run(cmd::fire_arrived{id, "119-yuzhong"}).ok());
  CHECK(w.incident(id).arrival_time() == 9min);
  CHECK(w.incident(id).stage() == v1::STAGE_ARRIVED);
  v1::Cause cause;
  cause.set_category(v1::CAUSE_OTHER);
  cause.set_sub_cause("controller_fault");
  const auto out = w.run(cmd::close{id, cause, "op1"});
  REQUIRE(out.ok());
  // The level-2 crew that never accepted is told it is no longer needed.
  CHECK(effects_of<fx::withdraw_job>(out).at(0).crew_id == "c21");
  CHECK_FALSE(w.incident(id).offer);
  CHECK(w.incident(id).stage() == v1::STAGE_CLOSED);
}
