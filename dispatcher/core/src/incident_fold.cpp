// Folding events into the core state, and what can be read off an incident.
#include <algorithm>

#include "rescue/core/incident_core.hpp"

namespace rescue::core {
namespace v1 = rescue::v1;

namespace {

void mark_on_site(incident& inc, time_point at) {
  if (inc.arrived_at) return;
  inc.arrived_at = at;
  if (at > inc.target_at) {
    inc.late = true;
    const auto over = at - inc.target_at;
    // Whole minutes, rounded up: a crew one second late is one minute over.
    inc.minutes_over_target = static_cast<std::uint32_t>((over.count() + 59'999) / 60'000);
  }
}

void finish(core_state& state, incident_id id) {
  const auto it = state.incidents.find(id);
  if (it == state.incidents.end()) return;
  const auto latest = state.latest_by_elevator.find(it->second.elevator.elevator_id());
  if (latest != state.latest_by_elevator.end() && latest->second == id)
    state.latest_by_elevator.erase(latest);
  state.incidents.erase(it);
  ++state.finished;
}

}  // namespace

v1::IncidentStage incident::stage() const {
  if (closed_at) return v1::STAGE_CLOSED;
  if (released_at) return v1::STAGE_RELEASED;
  if (arrived_at) return v1::STAGE_ARRIVED;
  if (assigned) return assigned->departed_at ? v1::STAGE_DEPARTED : v1::STAGE_ACCEPTED;
  if (offer) return v1::STAGE_OFFERED;
  return v1::STAGE_REPORTED;
}

std::optional<std::chrono::milliseconds> incident::response_time() const {
  if (!first_accepted_at) return std::nullopt;
  return *first_accepted_at - alarm_at;
}

std::optional<std::chrono::milliseconds> incident::arrival_time() const {
  if (!arrived_at) return std::nullopt;
  return *arrived_at - alarm_at;
}

std::optional<std::chrono::milliseconds> incident::rescue_time() const {
  if (!arrived_at || !released_at) return std::nullopt;
  return *released_at - *arrived_at;
}

const incident* core_state::find(incident_id id) const {
  const auto it = incidents.find(id);
  return it == incidents.end() ? nullptr : &it->second;
}

namespace {

// Alarms from one source repeat (a terminal resending its alarm with new numbers, a caller who
// rings again); they add nothing an operator must read twice.
bool same_source(const v1::AlarmInfo& a, const v1::AlarmInfo& b) {
  if (a.source() != b.source()) return false;
  if (a.source() == v1::SOURCE_TERMINAL)
    return a.terminal_id() == b.terminal_id() && a.terminal_event() == b.terminal_event();
  if (!a.caller_phone().empty() || !b.caller_phone().empty())
    return a.caller_phone() == b.caller_phone();
  return a.caller_name() == b.caller_name() && a.operator_id() == b.operator_id();
}

void add_alarm(incident& inc, const v1::AlarmInfo& alarm, time_point at) {
  ++inc.alarm_count;
  inc.people_trapped = inc.people_trapped || alarm.people_trapped();
  inc.injured = inc.injured || alarm.injured();
  if (alarm.people_trapped() && alarm.source() != v1::SOURCE_TERMINAL)
    inc.confirmed_by_person = true;
  for (auto& listed : inc.alarms) {
    if (same_source(listed, alarm)) {
      listed.set_repeats(listed.repeats() + 1);
      listed.set_last_repeat_at_ms(to_ms(at));
      return;
    }
  }
  if (inc.alarms.size() < max_listed_alarms) inc.alarms.push_back(alarm);
}

}  // namespace

void apply(core_state& state, const v1::Event& e) {
  const time_point at = from_ms(e.at_ms());
  if (!e.inbox_entry().empty()) state.last_inbox_entry = e.inbox_entry();
  if (e.body_case() == v1::Event::kOpened) {
    incident inc;
    inc.id = e.incident_id();
    inc.elevator = e.opened().elevator();
    add_alarm(inc, e.opened().alarm(), at);
    inc.level = e.opened().start_level();
    inc.alarm_at = at;
    inc.target_at = at + std::chrono::minutes(inc.elevator.target_minutes());
    state.latest_by_elevator[inc.elevator.elevator_id()] = inc.id;
    state.next_id = std::max(state.next_id, inc.id + 1);
    state.incidents.insert_or_assign(inc.id, std::move(inc));
    return;
  }
  if (e.body_case() == v1::Event::kCrewDutyChanged) {
    state.duty[e.crew_duty_changed().crew_id()] = e.crew_duty_changed().on_duty();
    return;
  }
  if (e.body_case() == v1::Event::kTerminalLink) {
    if (e.terminal_link().online())
      state.terminals_online.insert(e.terminal_link().terminal_id());
    else
      state.terminals_online.erase(e.terminal_link().terminal_id());
    return;
  }

  const auto it = state.incidents.find(e.incident_id());
  if (it == state.incidents.end()) return;  // an incident already finished: nothing in memory
  incident& inc = it->second;

  switch (e.body_case()) {
    case v1::Event::kMerged:
      add_alarm(inc, e.merged().alarm(), at);
      break;
    case v1::Event::kTrappedConfirmed:
      inc.people_trapped = true;
      inc.confirmed_by_person = true;
      inc.injured = inc.injured || e.trapped_confirmed().injured();
      break;
    case v1::Event::kCandidatesRanked:
      inc.last_ranking = e.candidates_ranked();
      break;
    case v1::Event::kOfferMade: {
      const auto& o = e.offer_made();
      inc.offer = pending_offer{o.crew_id(),
                                o.unit_id(),
                                o.level(),
                                o.eta_s(),
                                o.distance_m(),
                                o.rank(),
                                o.manual(),
                                at,
                                from_ms(o.expires_at_ms())};
      if (!inc.first_offered_at) inc.first_offered_at = at;
      break;
    }
    case v1::Event::kOfferAccepted:
      if (inc.offer && inc.offer->crew_id == e.offer_accepted().crew_id()) {
        inc.assigned = assignment{inc.offer->crew_id, inc.offer->unit_id, inc.offer->level,
                                  inc.offer->eta_s,   inc.offer->manual,  at,
                                  std::nullopt,       std::nullopt};
        inc.offer.reset();
        if (!inc.first_accepted_at) inc.first_accepted_at = at;
      }
      break;
    case v1::Event::kOfferDeclined:
      inc.tried_crews.insert(e.offer_declined().crew_id());
      if (inc.offer && inc.offer->crew_id == e.offer_declined().crew_id()) inc.offer.reset();
      break;
    case v1::Event::kOfferExpired:
      inc.tried_crews.insert(e.offer_expired().crew_id());
      if (inc.offer && inc.offer->crew_id == e.offer_expired().crew_id()) inc.offer.reset();
      break;
    case v1::Event::kOfferWithdrawn: {
      const auto& crew = e.offer_withdrawn().crew_id();
      if (inc.offer && inc.offer->crew_id == crew) inc.offer.reset();
      if (inc.assigned && inc.assigned->crew_id == crew) inc.assigned.reset();
      break;
    }
    case v1::Event::kCrewDeparted:
      if (inc.assigned) inc.assigned->departed_at = at;
      break;
    case v1::Event::kCrewArrived:
      if (inc.assigned) inc.assigned->arrived_at = at;
      mark_on_site(inc, at);
      break;
    case v1::Event::kPeopleReleased:
      inc.released_at = at;
      break;
    case v1::Event::kLevelEscalated:
      if (e.level_escalated().to() == v1::LEVEL_3_FIRE) {
        inc.fire_notified = true;
        inc.fire_reason = e.level_escalated().reason();
      } else
        inc.level = e.level_escalated().to();
      break;
    case v1::Event::kFireAcknowledged:
      inc.fire_acknowledged = true;
      break;
    case v1::Event::kFireArrived:
      inc.fire_arrived_at = at;
      mark_on_site(inc, at);
      break;
    case v1::Event::kTrappedCleared:
      inc.cleared_by_terminal = true;
      break;
    case v1::Event::kCancelled:
      finish(state, inc.id);
      break;
    case v1::Event::kClosed:
      inc.closed_at = at;
      inc.cause = e.closed().cause();
      break;
    case v1::Event::kFollowUp:
      finish(state, inc.id);
      break;
    case v1::Event::kNote:
      inc.notes.push_back(note{at, e.note().operator_id(), e.note().text()});
      break;
    case v1::Event::kDeadlineArmed:
      inc.deadlines[e.deadline_armed().kind()] = from_ms(e.deadline_armed().at_ms());
      break;
    case v1::Event::kDeadlineCleared:
      inc.deadlines.erase(e.deadline_cleared().kind());
      break;
    case v1::Event::kOpened:
    case v1::Event::kCrewDutyChanged:
    case v1::Event::kFaultRecorded:
    case v1::Event::kTerminalLink:
    case v1::Event::BODY_NOT_SET:
      break;
  }
}

std::set<std::string> engaged_crews(const core_state& state) {
  std::set<std::string> engaged;
  for (const auto& [crew, id] : crew_engagements(state))
    engaged.insert(crew);
  return engaged;
}

bool crew_on_duty(const core_state& state, const storage::registry& registry,
                  std::string_view crew_id) {
  if (const auto it = state.duty.find(std::string(crew_id)); it != state.duty.end())
    return it->second;
  const v1::CrewMember* crew = registry.crew(crew_id);
  return crew && crew->on_duty();
}

std::map<std::string, incident_id, std::less<>> crew_engagements(const core_state& state) {
  std::map<std::string, incident_id, std::less<>> engaged;
  for (const auto& [id, inc] : state.incidents) {
    if (inc.released_at || inc.closed_at) continue;
    if (inc.offer) engaged.emplace(inc.offer->crew_id, id);
    if (inc.assigned) engaged.emplace(inc.assigned->crew_id, id);
  }
  return engaged;
}

crew_availability availability_of(const core_state& state, const storage::registry& registry,
                                  std::string_view crew_id) {
  crew_availability a;
  a.on_duty = crew_on_duty(state, registry, crew_id);
  const auto engaged = crew_engagements(state);
  if (const auto it = engaged.find(crew_id); it != engaged.end()) a.engaged_on = it->second;
  return a;
}

crew_availability availability_of(const core_state& state, const storage::registry& registry,
                                  const crews_elsewhere* elsewhere, std::string_view crew_id) {
  crew_availability a = availability_of(state, registry, crew_id);
  if (!elsewhere) return a;
  if (const auto it = elsewhere->duty.find(std::string(crew_id)); it != elsewhere->duty.end())
    a.on_duty = it->second;
  if (a.engaged_on == 0)
    if (const auto it = elsewhere->engaged.find(crew_id); it != elsewhere->engaged.end())
      a.engaged_on = it->second;
  return a;
}

bool is_fault_code(v1::TerminalEventCode code) {
  switch (code) {
    case v1::EVENT_UNSPECIFIED:
    case v1::EVENT_TRAPPED_IN_DOOR_ZONE:
    case v1::EVENT_TRAPPED_BETWEEN_FLOORS:
    case v1::EVENT_ALARM_BUTTON:
    case v1::EVENT_TRAPPED_CLEARED:
      return false;
    default:
      return v1::TerminalEventCode_IsValid(code);
  }
}

std::optional<effect> crew_effect_of(const core_state& state, const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kOfferMade: {
      const incident* inc = state.find(e.incident_id());
      if (!inc || !inc->offer || inc->offer->crew_id != e.offer_made().crew_id()) return {};
      return fx::offer_job{inc->offer->crew_id, job_offer_for(*inc)};
    }
    case v1::Event::kOfferWithdrawn:
      return fx::withdraw_job{e.incident_id(), e.offer_withdrawn().crew_id(),
                              e.offer_withdrawn().reason()};
    case v1::Event::kOfferExpired:
      return fx::withdraw_job{e.incident_id(), e.offer_expired().crew_id(), "offer expired"};
    default:
      return {};
  }
}

v1::JobOffer job_offer_for(const incident& inc) {
  v1::JobOffer j;
  j.set_incident_id(inc.id);
  j.set_elevator_id(inc.elevator.elevator_id());
  j.set_rescue_code(inc.elevator.rescue_code());
  j.set_registration_code(inc.elevator.registration_code());
  j.set_address(inc.elevator.address());
  *j.mutable_location() = inc.elevator.location();
  for (const auto& alarm : inc.alarms) {
    if (!alarm.caller_phone().empty()) {
      j.set_caller_name(alarm.caller_name());
      j.set_caller_phone(alarm.caller_phone());
      break;
    }
  }
  j.set_level(inc.offer->level);
  j.set_eta_s(inc.offer->eta_s);
  j.set_distance_m(inc.offer->distance_m);
  j.set_offered_at_ms(to_ms(inc.offer->offered_at));
  j.set_expires_at_ms(to_ms(inc.offer->expires_at));
  j.set_alarm_at_ms(to_ms(inc.alarm_at));
  j.set_target_minutes(inc.elevator.target_minutes());
  j.set_people_trapped(inc.people_trapped);
  j.set_injured(inc.injured);
  return j;
}

v1::IncidentView make_view(const incident& inc) {
  v1::IncidentView view;
  view.set_id(inc.id);
  view.set_stage(inc.stage());
  *view.mutable_elevator() = inc.elevator;
  for (const auto& alarm : inc.alarms)
    *view.add_alarms() = alarm;
  view.set_level(inc.highest_level());
  view.set_people_trapped(inc.people_trapped);
  view.set_injured(inc.injured);
  if (inc.offer) view.set_offered_crew_id(inc.offer->crew_id);
  if (inc.assigned) {
    view.set_assigned_crew_id(inc.assigned->crew_id);
    view.set_assigned_eta_s(inc.assigned->eta_s);
    if (inc.assigned->departed_at) view.set_departed_at_ms(to_ms(*inc.assigned->departed_at));
  }
  view.set_alarm_at_ms(to_ms(inc.alarm_at));
  view.set_target_at_ms(to_ms(inc.target_at));
  if (inc.first_offered_at) view.set_offered_at_ms(to_ms(*inc.first_offered_at));
  if (inc.first_accepted_at) view.set_accepted_at_ms(to_ms(*inc.first_accepted_at));
  if (inc.arrived_at) view.set_arrived_at_ms(to_ms(*inc.arrived_at));
  if (inc.released_at) view.set_released_at_ms(to_ms(*inc.released_at));
  if (inc.closed_at) view.set_closed_at_ms(to_ms(*inc.closed_at));
  view.set_late(inc.late);
  view.set_minutes_over_target(inc.minutes_over_target);
  view.set_fire_notified(inc.fire_notified);
  view.set_fire_acknowledged(inc.fire_acknowledged);
  view.set_alarm_count(inc.alarm_count);
  view.set_cleared_by_terminal(inc.cleared_by_terminal);
  view.set_confirmed_by_person(inc.confirmed_by_person);
  *view.mutable_cause() = inc.cause;
  *view.mutable_last_ranking() = inc.last_ranking;
  return view;
}

}  // namespace rescue::core
