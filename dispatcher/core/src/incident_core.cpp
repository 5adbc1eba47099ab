// The incident core's decisions. Each command either is refused (nothing changes) or emits
// events through `step::emit`, which applies them at once so later rules see their effect.
#include "rescue/core/incident_core.hpp"
#include "rescue/core/platform_record.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace rescue::core {
namespace v1 = rescue::v1;

std::string_view to_string(refusal r) {
  switch (r) {
    case refusal::none:
      return "none";
    case refusal::unknown_terminal:
      return "unknown_terminal";
    case refusal::unknown_elevator:
      return "unknown_elevator";
    case refusal::unknown_incident:
      return "unknown_incident";
    case refusal::unknown_crew:
      return "unknown_crew";
    case refusal::crew_unavailable:
      return "crew_unavailable";
    case refusal::not_your_job:
      return "not_your_job";
    case refusal::wrong_stage:
      return "wrong_stage";
    case refusal::already_at_top_level:
      return "already_at_top_level";
    case refusal::deadline_not_armed:
      return "deadline_not_armed";
    case refusal::invalid_request:
      return "invalid_request";
    case refusal::shard_unavailable:
      return "shard_unavailable";
  }
  return "unknown";
}

namespace {

constexpr std::size_t max_note_bytes = 4000;

std::string_view exclusion_words(v1::ExclusionReason reason) {
  switch (reason) {
    case v1::EXCLUSION_BUSY:
      return "busy on another job";
    case v1::EXCLUSION_OFF_DUTY:
      return "off duty";
    case v1::EXCLUSION_STALE_POSITION:
      return "position too old";
    case v1::EXCLUSION_WRONG_LEVEL:
      return "not at this rescue level";
    case v1::EXCLUSION_UNLICENSED:
      return "no elevator worker licence";
    case v1::EXCLUSION_ALREADY_TRIED:
      return "already declined this job";
    case v1::EXCLUSION_OUT_OF_RANGE:
      return "out of range";
    default:
      return "not available";
  }
}

// One decision in progress: the state, the outcome being built and the clock reading.
class step {
 public:
  step(core_state& state, outcome& out, time_point now, const environment& env)
      : state_(state), out_(out), now_(now), env_(env) {}

  outcome& refuse(refusal r, std::string reason) {
    out_.refused = r;
    out_.reason = std::move(reason);
    return out_;
  }

  // Looks up an incident the command names, refusing the command when it is not in memory.
  incident* open_incident(incident_id id) {
    const auto it = state_.incidents.find(id);
    if (it == state_.incidents.end()) {
      refuse(refusal::unknown_incident, "no open incident " + std::to_string(id));
      return nullptr;
    }
    out_.incident = id;
    return &it->second;
  }

  template <class Fill>
  void emit(incident_id id, Fill fill) {
    v1::Event event;
    event.set_incident_id(id);
    event.set_at_ms(to_ms(now_));
    fill(event);
    if (out_.events.empty() && !env_.inbox_entry.empty())
      event.set_inbox_entry(std::string(env_.inbox_entry));
    apply(state_, event);
    out_.events.push_back(std::move(event));
    if (id != 0) touched_.insert(id);  // 0: about a crew, no incident to publish
  }

  void effect(effect e) { out_.effects.push_back(std::move(e)); }
  const v1::Event& last_event() const { return out_.events.back(); }

  // Publishes one update per incident the decision touched, after every other effect.
  void publish_touched() {
    for (const incident_id id : touched_)
      out_.effects.push_back(fx::publish_incident{id});
  }

  time_point now() const { return now_; }
  const escalation_policy& policy() const { return env_.policy; }
  const environment& env() const { return env_; }
  core_state& state() { return state_; }

  // ---- building blocks shared by several commands ----

  void arm(incident& inc, v1::DeadlineKind kind, time_point at) {
    emit(inc.id, [&](v1::Event& e) {
      e.mutable_deadline_armed()->set_kind(kind);
      e.mutable_deadline_armed()->set_at_ms(to_ms(at));
    });
    effect(fx::arm_deadline{inc.id, kind, at});
  }

  void disarm(incident& inc, v1::DeadlineKind kind) {
    if (!inc.deadlines.contains(kind)) return;
    emit(inc.id, [&](v1::Event& e) { e.mutable_deadline_cleared()->set_kind(kind); });
    effect(fx::cancel_deadline{inc.id, kind});
  }

  void disarm_all(incident& inc) {
    disarm(inc, v1::DEADLINE_OFFER);
    disarm(inc, v1::DEADLINE_LEVEL_WINDOW);
  }

  void withdraw_offer(incident& inc, const std::string& reason) {
    if (!inc.offer) return;
    const std::string crew = inc.offer->crew_id;
    disarm(inc, v1::DEADLINE_OFFER);
    emit(inc.id, [&](v1::Event& e) {
      e.mutable_offer_withdrawn()->set_crew_id(crew);
      e.mutable_offer_withdrawn()->set_reason(reason);
    });
    effect(fx::withdraw_job{inc.id, crew, reason});
  }

  // Takes the job back from whoever holds the pending offer or the assignment.
  void withdraw_crews(incident& inc, const std::string& reason) {
    withdraw_offer(inc, reason);
    if (inc.assigned) {
      const std::string crew = inc.assigned->crew_id;
      emit(inc.id, [&](v1::Event& e) {
        e.mutable_offer_withdrawn()->set_crew_id(crew);
        e.mutable_offer_withdrawn()->set_reason(reason);
      });
      effect(fx::withdraw_job{inc.id, crew, reason});
    }
  }

  void escalate_to_level2(incident& inc, v1::EscalationReason reason, std::string detail,
                          const std::string& operator_id = {}) {
    disarm(inc, v1::DEADLINE_LEVEL_WINDOW);
    emit(inc.id, [&](v1::Event& e) {
      auto* x = e.mutable_level_escalated();
      x->set_from(inc.level);
      x->set_to(v1::LEVEL_2_AREA);
      x->set_reason(reason);
      x->set_detail(detail);
      x->set_operator_id(operator_id);
    });
    arm(inc, v1::DEADLINE_LEVEL_WINDOW, now_ + policy().level2_window);
  }

  // Fire rescue comes on top of the crews; the ladder has no window left after it.
  void call_fire(incident& inc, v1::EscalationReason reason, std::string detail,
                 const std::string& operator_id = {}) {
    if (inc.fire_notified) return;
    disarm(inc, v1::DEADLINE_LEVEL_WINDOW);
    emit(inc.id, [&](v1::Event& e) {
      auto* x = e.mutable_level_escalated();
      x->set_from(inc.level);
      x->set_to(v1::LEVEL_3_FIRE);
      x->set_reason(reason);
      x->set_detail(detail);
      x->set_operator_id(operator_id);
    });
    effect(fx::notify_fire{inc.id, reason});
  }

  geo::crew_query query_for(const incident& inc) const {
    geo::crew_query q;
    q.level = inc.level;
    q.elevator_id = inc.elevator.elevator_id();
    q.maintenance_unit_id = inc.elevator.maintenance_unit_id();
    q.district_code = inc.elevator.district_code();
    q.location = inc.elevator.location();
    q.now_ms = to_ms(now_);
    q.max_candidates = policy().max_candidates;
    for (const auto& crew : engaged_crews(state_))
      q.engaged.insert(crew);
    q.already_tried.insert(inc.tried_crews.begin(), inc.tried_crews.end());
    q.duty = &state_.duty;
    if (const crews_elsewhere* other = env_.elsewhere) {
      for (const auto& [crew, id] : other->engaged)
        q.engaged.insert(crew);
      if (!other->duty.empty()) {
        // A crew's shift changes are journalled on its home shard only.
        if (duty_view_.empty()) {
          duty_view_ = state_.duty;
          for (const auto& [crew, on] : other->duty)
            duty_view_[crew] = on;
        }
        q.duty = &duty_view_;
      }
    }
    return q;
  }

  void offer(incident& inc, const v1::Candidate& c, bool manual, const std::string& operator_id) {
    const time_point expires = now_ + policy().offer_timeout;
    emit(inc.id, [&](v1::Event& e) {
      auto* o = e.mutable_offer_made();
      o->set_crew_id(c.crew_id());
      o->set_unit_id(c.unit_id());
      o->set_level(manual ? inc.level : c.level());
      o->set_eta_s(c.eta_s());
      o->set_distance_m(c.distance_m());
      o->set_rank(c.rank());
      o->set_manual(manual);
      o->set_operator_id(operator_id);
      o->set_expires_at_ms(to_ms(expires));
    });
    arm(inc, v1::DEADLINE_OFFER, expires);

    effect(fx::offer_job{c.crew_id(), job_offer_for(inc)});
  }

  // Finds the next crew on the ladder and offers the job, escalating while the current level
  // has nobody suitable. Called when the incident has neither a pending offer nor a crew.
  void dispatch(incident& inc) {
    for (;;) {
      const geo::crew_ranking ranking = env_.crews.rank(query_for(inc));
      emit(inc.id, [&](v1::Event& e) {
        auto* r = e.mutable_candidates_ranked();
        r->set_level(inc.level);
        for (const auto& c : ranking.candidates)
          *r->add_candidates() = c;
        for (const auto& x : ranking.exclusions)
          *r->add_exclusions() = x;
      });
      const bool at_level1 = inc.level == v1::LEVEL_1_MAINTENANCE;
      if (ranking.candidates.empty()) {
        if (at_level1) {
          escalate_to_level2(inc, v1::ESCALATION_NO_CANDIDATES,
                             "no qualified crew of the maintenance unit");
          continue;
        }
        call_fire(inc, v1::ESCALATION_NO_CANDIDATES, "no qualified crew within range");
        return;
      }
      const v1::Candidate& best = ranking.candidates.front();
      // Compared exactly (milliseconds): rounding to whole seconds would round a target already
      // passed by a fraction of a second up to "0 s left", and an ETA of 0 s would then not be
      // late.
      const auto left = inc.target_at - now_;
      const auto time_left = std::chrono::duration_cast<std::chrono::seconds>(left);
      if (policy().predictive_escalation && std::chrono::seconds(best.eta_s()) > left) {
        const std::string detail = "best ETA " + std::to_string(best.eta_s()) + " s, " +
                                   std::to_string(std::max<long long>(0, time_left.count())) +
                                   " s left to the target";
        if (at_level1) {
          escalate_to_level2(inc, v1::ESCALATION_PREDICTED_LATE, detail);
          continue;
        }
        // Fire is called, and the best area crew still goes: it knows the machine.
        call_fire(inc, v1::ESCALATION_PREDICTED_LATE, detail);
      }
      offer(inc, best, false, {});
      return;
    }
  }

  // A new alarm for `elevator`: joins the incident that is still about the same entrapment, or
  // opens a new one and starts the ladder.
  outcome& alarm(const v1::Elevator& elevator, v1::AlarmInfo info) {
    if (incident* inc = mergeable(elevator.id())) {
      out_.incident = inc->id;
      emit(inc->id, [&](v1::Event& e) { *e.mutable_merged()->mutable_alarm() = info; });
      if (info.injured() && policy().fire_on_injured)
        call_fire(*inc, v1::ESCALATION_INJURED, "merged alarm reports injured or unwell people");
      return out_;
    }

    const incident_id id = std::max(state_.next_id, env_.first_incident_id);
    out_.incident = id;
    const bool has_unit = !elevator.maintenance_unit_id().empty();
    const auto target =
        elevator.area() == v1::AREA_RURAL ? policy().rural_target : policy().urban_target;
    emit(id, [&](v1::Event& e) {
      auto* o = e.mutable_opened();
      auto* s = o->mutable_elevator();
      s->set_elevator_id(elevator.id());
      s->set_registration_code(elevator.registration_code().empty() ? elevator.certificate_no()
                                                                    : elevator.registration_code());
      s->set_rescue_code(elevator.rescue_code());
      s->set_address(elevator.address());
      s->set_district_code(elevator.district_code());
      *s->mutable_location() = elevator.location();
      s->set_maintenance_unit_id(elevator.maintenance_unit_id());
      s->set_building_operator_id(elevator.building_operator_id());
      s->set_target_minutes(static_cast<std::uint32_t>(target.count()));
      *o->mutable_alarm() = info;
      // An elevator with no maintenance unit has no level 1: it starts at level 2.
      o->set_start_level(has_unit ? v1::LEVEL_1_MAINTENANCE : v1::LEVEL_2_AREA);
    });
    incident& inc = state_.incidents.at(id);
    arm(inc, v1::DEADLINE_LEVEL_WINDOW,
        now_ + (has_unit ? policy().level1_window : policy().level2_window));
    if (inc.injured && policy().fire_on_injured)
      call_fire(inc, v1::ESCALATION_INJURED, "injured or unwell people reported with the alarm");
    dispatch(inc);
    return out_;
  }

  incident* mergeable(const std::string& elevator_id) {
    const auto latest = state_.latest_by_elevator.find(elevator_id);
    if (latest == state_.latest_by_elevator.end()) return nullptr;
    incident& inc = state_.incidents.at(latest->second);
    if (inc.closed_at) return nullptr;
    if (inc.released_at && now_ - *inc.released_at > policy().merge_window) return nullptr;
    return &inc;
  }

  // Ends an incident before anyone released people: crews stand down, timers stop.
  void cancel(incident& inc, v1::CancelReason reason, const std::string& operator_id,
              const std::string& detail) {
    const std::string why =
        reason == v1::CANCEL_SELF_RECOVERED ? "terminal reports recovery" : "incident cancelled";
    withdraw_crews(inc, why);
    disarm_all(inc);
    const incident_id id = inc.id;
    // The fold forgets a cancelled incident: its record is taken just before the cancel, as
    // `rescuectl upload-export` takes it from the journal.
    const incident ending = inc;
    emit(id, [&](v1::Event& e) {
      e.mutable_cancelled()->set_reason(reason);
      e.mutable_cancelled()->set_operator_id(operator_id);
      e.mutable_cancelled()->set_detail(detail);
    });
    effect(fx::upload_record{id, incident_record(ending, out_.events.back())});
  }

 private:
  core_state& state_;
  outcome& out_;
  time_point now_;
  const environment& env_;
  // This shard's shift changes with the other shards' on top, built once per decision.
  mutable std::map<std::string, bool> duty_view_;
  std::set<incident_id> touched_;
};

// ---- one handler per command ----------------------------------------------------------------

void handle(step& s, const cmd::terminal_event& c) {
  const auto* terminal = s.env().registry.terminal(c.terminal_id);
  if (!terminal) {
    s.refuse(refusal::unknown_terminal, "unknown terminal " + c.terminal_id);
    return;
  }
  const auto* elevator = s.env().registry.elevator(terminal->elevator_id());
  if (!elevator) {
    s.refuse(
        refusal::unknown_elevator,
        "terminal " + c.terminal_id + " is bound to unknown elevator " + terminal->elevator_id());
    return;
  }
  switch (c.code) {
    case v1::EVENT_TRAPPED_IN_DOOR_ZONE:
    case v1::EVENT_TRAPPED_BETWEEN_FLOORS:
    case v1::EVENT_ALARM_BUTTON: {
      v1::AlarmInfo info;
      info.set_source(v1::SOURCE_TERMINAL);
      info.set_terminal_event(c.code);
      info.set_terminal_id(c.terminal_id);
      info.set_terminal_seq(c.seq);
      info.set_terminal_boot_id(c.boot_id);
      *info.mutable_car_status() = c.status;
      // A pressed button may be a test or a child; the entrapment codes are the car's own sensing.
      info.set_people_trapped(c.code != v1::EVENT_ALARM_BUTTON);
      s.alarm(*elevator, std::move(info));
      break;
    }
    case v1::EVENT_TRAPPED_CLEARED: {
      const auto latest = s.state().latest_by_elevator.find(elevator->id());
      if (latest == s.state().latest_by_elevator.end()) break;
      incident& inc = s.state().incidents.at(latest->second);
      if (inc.released_at || inc.closed_at || inc.cleared_by_terminal) break;
      s.open_incident(inc.id);
      // A machine's word may end only what no person has vouched for: once someone confirmed
      // the entrapment, is hurt, fire is coming or a crew is on site, people decide.
      const char* keep_open = inc.injured               ? "injured or unwell people reported"
                              : inc.fire_notified       ? "fire rescue has been called"
                              : inc.confirmed_by_person ? "a person confirmed people trapped"
                              : inc.arrived_at          ? "a crew is on site"
                                                        : nullptr;
      s.emit(inc.id, [&](v1::Event& e) {
        auto* x = e.mutable_trapped_cleared();
        x->set_terminal_id(c.terminal_id);
        x->set_terminal_seq(c.seq);
        x->set_terminal_boot_id(c.boot_id);
        if (keep_open) x->set_kept_open_because(keep_open);
      });
      if (!keep_open) s.cancel(inc, v1::CANCEL_SELF_RECOVERED, {}, "trapped cleared by terminal");
      break;
    }
    default:
      // Faults without people inside are the maintenance unit's business, not a rescue; they
      // are recorded all the same, for the fault database and the early warning.
      if (!is_fault_code(c.code)) break;
      s.emit(0, [&](v1::Event& e) {
        auto* f = e.mutable_fault_recorded();
        f->set_terminal_id(c.terminal_id);
        f->set_terminal_seq(c.seq);
        f->set_terminal_boot_id(c.boot_id);
        f->set_code(c.code);
        *f->mutable_car_status() = c.status;
        f->set_elevator_id(elevator->id());
        f->set_maintenance_unit_id(elevator->maintenance_unit_id());
        f->set_building_operator_id(elevator->building_operator_id());
        f->set_brand(elevator->brand());
        f->set_install_year(elevator->install_year());
        f->set_district_code(elevator->district_code());
      });
      s.effect(fx::upload_record{0, fault_record(s.last_event())});
      break;
  }
  s.effect(fx::ack_terminal{c.terminal_id, c.seq});
}

void handle(step& s, const cmd::call_alarm& c) {
  const v1::Elevator* elevator = nullptr;
  if (!c.rescue_code.empty()) {
    elevator = s.env().registry.elevator_by_rescue_code(c.rescue_code);
    if (!elevator) {
      s.refuse(refusal::unknown_elevator, "no elevator with rescue code " + c.rescue_code);
      return;
    }
  } else if (!c.registration_code.empty()) {
    elevator = s.env().registry.elevator_by_registration_code(c.registration_code);
    if (!elevator) {
      s.refuse(refusal::unknown_elevator,
               "no elevator with registration code " + c.registration_code);
      return;
    }
  } else {
    s.refuse(refusal::invalid_request, "a rescue code or a registration code is required");
    return;
  }
  if (c.source == v1::SOURCE_TERMINAL || c.source == v1::SOURCE_UNSPECIFIED) {
    s.refuse(refusal::invalid_request, "a call needs a caller source other than terminal");
    return;
  }
  v1::AlarmInfo info;
  info.set_source(c.source);
  info.set_caller_name(c.caller_name);
  info.set_caller_phone(c.caller_phone);
  info.set_people_trapped(c.people_trapped);
  info.set_injured(c.injured);
  info.set_operator_id(c.operator_id);
  s.alarm(*elevator, std::move(info));
}

void handle(step& s, const cmd::confirm_trapped& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (inc->released_at || inc->closed_at) {
    s.refuse(refusal::wrong_stage, "people are already released");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) {
    e.mutable_trapped_confirmed()->set_injured(c.injured);
    e.mutable_trapped_confirmed()->set_operator_id(c.operator_id);
  });
  if (c.injured && s.policy().fire_on_injured)
    s.call_fire(*inc, v1::ESCALATION_INJURED, "operator confirmed injured or unwell people",
                c.operator_id);
}

// The crew must hold the pending offer; anything else is somebody else's job or too late.
bool holds_offer(step& s, const incident& inc, const std::string& crew) {
  if (inc.offer && inc.offer->crew_id == crew) return true;
  if (inc.assigned && inc.assigned->crew_id == crew)
    s.refuse(refusal::wrong_stage, "crew " + crew + " has already accepted");
  else
    s.refuse(refusal::not_your_job,
             "incident " + std::to_string(inc.id) + " is not offered to crew " + crew);
  return false;
}

bool holds_job(step& s, const incident& inc, const std::string& crew) {
  if (inc.assigned && inc.assigned->crew_id == crew) return true;
  if (inc.offer && inc.offer->crew_id == crew)
    s.refuse(refusal::wrong_stage, "crew " + crew + " has not accepted the job yet");
  else
    s.refuse(refusal::not_your_job,
             "incident " + std::to_string(inc.id) + " is not assigned to crew " + crew);
  return false;
}

void handle(step& s, const cmd::accept_offer& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc || !holds_offer(s, *inc, c.crew_id)) return;
  // Offered here and, in the same instant, on another shard: the first acceptance wins.
  if (s.env().elsewhere)
    if (const auto it = s.env().elsewhere->engaged.find(c.crew_id);
        it != s.env().elsewhere->engaged.end()) {
      s.refuse(refusal::crew_unavailable, "crew " + c.crew_id + " is on incident " +
                                              std::to_string(it->second) +
                                              ": finish or decline it first");
      return;
    }
  s.disarm(*inc, v1::DEADLINE_OFFER);
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_offer_accepted()->set_crew_id(c.crew_id); });
  // Somebody is coming: the ladder stops climbing.
  s.disarm(*inc, v1::DEADLINE_LEVEL_WINDOW);
}

void handle(step& s, const cmd::decline_offer& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc || !holds_offer(s, *inc, c.crew_id)) return;
  s.disarm(*inc, v1::DEADLINE_OFFER);
  s.emit(inc->id, [&](v1::Event& e) {
    e.mutable_offer_declined()->set_crew_id(c.crew_id);
    e.mutable_offer_declined()->set_reason(c.reason);
  });
  s.dispatch(*inc);
}

void handle(step& s, const cmd::crew_departed& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc || !holds_job(s, *inc, c.crew_id)) return;
  if (inc->assigned->departed_at || inc->assigned->arrived_at) {
    s.refuse(refusal::wrong_stage, "crew " + c.crew_id + " has already departed");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_crew_departed()->set_crew_id(c.crew_id); });
}

void handle(step& s, const cmd::crew_arrived& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc || !holds_job(s, *inc, c.crew_id)) return;
  if (inc->assigned->arrived_at) {
    s.refuse(refusal::wrong_stage, "crew " + c.crew_id + " has already arrived");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_crew_arrived()->set_crew_id(c.crew_id); });
}

void handle(step& s, const cmd::people_released& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc || !holds_job(s, *inc, c.crew_id)) return;
  if (!inc->assigned->arrived_at) {
    s.refuse(refusal::wrong_stage, "crew " + c.crew_id + " has not arrived");
    return;
  }
  if (inc->released_at) {
    s.refuse(refusal::wrong_stage, "people are already released");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_people_released()->set_crew_id(c.crew_id); });
}

void handle(step& s, const cmd::deadline_fired& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  const auto armed = inc->deadlines.find(c.kind);
  if (armed == inc->deadlines.end()) {
    s.refuse(refusal::deadline_not_armed, "no such deadline is armed");
    return;
  }
  if (armed->second > s.now()) {
    s.refuse(refusal::deadline_not_armed, "deadline is not due yet");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_deadline_cleared()->set_kind(c.kind); });

  if (c.kind == v1::DEADLINE_OFFER) {
    if (!inc->offer) return;
    const std::string crew = inc->offer->crew_id;
    s.emit(inc->id, [&](v1::Event& e) { e.mutable_offer_expired()->set_crew_id(crew); });
    s.effect(fx::withdraw_job{inc->id, crew, "offer expired"});
    s.dispatch(*inc);
    return;
  }

  // The level window closed with nobody accepted.
  if (inc->level == v1::LEVEL_1_MAINTENANCE) {
    s.withdraw_offer(*inc, "level 1 window expired");
    s.escalate_to_level2(*inc, v1::ESCALATION_WINDOW_EXPIRED,
                         "nobody of the maintenance unit accepted in time");
    s.dispatch(*inc);
    return;
  }
  s.call_fire(*inc, v1::ESCALATION_WINDOW_EXPIRED, "nobody accepted within the level 2 window");
  if (!inc->offer && !inc->assigned) s.dispatch(*inc);
}

void handle(step& s, const cmd::assign_crew& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (inc->arrived_at || inc->closed_at) {
    s.refuse(refusal::wrong_stage, "someone is already on site");
    return;
  }
  if ((inc->offer && inc->offer->crew_id == c.crew_id) ||
      (inc->assigned && inc->assigned->crew_id == c.crew_id)) {
    s.refuse(refusal::wrong_stage, "crew " + c.crew_id + " already has this job");
    return;
  }
  auto query = s.query_for(*inc);
  const geo::crew_assessment assessment = s.env().crews.assess(c.crew_id, query);
  if (!assessment.known) {
    s.refuse(refusal::unknown_crew, "unknown crew " + c.crew_id);
    return;
  }
  if (!assessment.candidate) {
    s.refuse(refusal::crew_unavailable,
             "crew " + c.crew_id + " is " + std::string(exclusion_words(assessment.reason)));
    return;
  }
  s.withdraw_crews(*inc, "reassigned by operator");
  s.offer(*inc, *assessment.candidate, true, c.operator_id);
}

void handle(step& s, const cmd::escalate& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (inc->released_at || inc->closed_at) {
    s.refuse(refusal::wrong_stage, "people are already released");
    return;
  }
  if (inc->fire_notified) {
    s.refuse(refusal::already_at_top_level, "fire rescue is already called");
    return;
  }
  // With a crew already coming, another maintenance level would only replace it: call fire.
  if (inc->level == v1::LEVEL_1_MAINTENANCE && !inc->assigned) {
    s.withdraw_offer(*inc, "escalated by operator");
    s.escalate_to_level2(*inc, v1::ESCALATION_OPERATOR, c.detail, c.operator_id);
    s.dispatch(*inc);
    return;
  }
  s.call_fire(*inc, v1::ESCALATION_OPERATOR, c.detail, c.operator_id);
}

void handle(step& s, const cmd::cancel& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (inc->released_at || inc->closed_at) {
    s.refuse(refusal::wrong_stage, "people were released: close the incident with a cause");
    return;
  }
  if (c.reason == v1::CANCEL_UNSPECIFIED) {
    s.refuse(refusal::invalid_request, "a cancel reason is required");
    return;
  }
  s.cancel(*inc, c.reason, c.operator_id, c.detail);
}

void handle(step& s, const cmd::close& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (inc->closed_at) {
    s.refuse(refusal::wrong_stage, "incident is already closed");
    return;
  }
  if (!inc->released_at && !inc->fire_arrived_at) {
    s.refuse(refusal::wrong_stage,
             "people are not reported released and fire rescue has not arrived");
    return;
  }
  if (c.cause.category() == v1::CAUSE_UNSPECIFIED || c.cause.sub_cause().empty()) {
    s.refuse(refusal::invalid_request, "a cause category and a sub-cause are required");
    return;
  }
  s.withdraw_offer(*inc, "incident closed");
  s.disarm_all(*inc);
  const incident ending = *inc;
  s.emit(inc->id, [&](v1::Event& e) {
    *e.mutable_closed()->mutable_cause() = c.cause;
    e.mutable_closed()->set_operator_id(c.operator_id);
  });
  s.effect(fx::upload_record{ending.id, incident_record(ending, s.last_event())});
}

void handle(step& s, const cmd::record_follow_up& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (!inc->closed_at) {
    s.refuse(refusal::wrong_stage, "the follow-up call comes after the incident is closed");
    return;
  }
  if (c.result == v1::FOLLOW_UP_UNSPECIFIED) {
    s.refuse(refusal::invalid_request, "a follow-up result is required");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) {
    e.mutable_follow_up()->set_result(c.result);
    e.mutable_follow_up()->set_remark(c.remark);
    e.mutable_follow_up()->set_operator_id(c.operator_id);
  });
}

void handle(step& s, const cmd::add_note& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (c.text.empty() || c.text.size() > max_note_bytes) {
    s.refuse(refusal::invalid_request,
             "a note needs between 1 and " + std::to_string(max_note_bytes) + " bytes of text");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) {
    e.mutable_note()->set_operator_id(c.operator_id);
    e.mutable_note()->set_text(c.text);
  });
}

void handle(step& s, const cmd::fire_acknowledged& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (!inc->fire_notified || inc->fire_acknowledged) {
    s.refuse(refusal::wrong_stage, inc->fire_notified ? "fire rescue already acknowledged"
                                                      : "fire rescue was not called");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_fire_acknowledged()->set_fire_unit(c.fire_unit); });
}

void handle(step& s, const cmd::fire_arrived& c) {
  incident* inc = s.open_incident(c.incident);
  if (!inc) return;
  if (!inc->fire_notified || inc->fire_arrived_at) {
    s.refuse(refusal::wrong_stage,
             inc->fire_notified ? "fire rescue already arrived" : "fire rescue was not called");
    return;
  }
  s.emit(inc->id, [&](v1::Event& e) { e.mutable_fire_arrived()->set_fire_unit(c.fire_unit); });
}

void handle(step& s, const cmd::set_duty& c) {
  if (!s.env().registry.crew(c.crew_id)) {
    s.refuse(refusal::unknown_crew, "no crew " + c.crew_id);
    return;
  }
  const crew_availability now =
      availability_of(s.state(), s.env().registry, s.env().elsewhere, c.crew_id);
  if (!c.on_duty && now.engaged_on != 0) {
    s.refuse(refusal::crew_unavailable,
             "crew " + c.crew_id + " holds an offer or a job on incident " +
                 std::to_string(now.engaged_on) + ": decline it or finish it first");
    return;
  }
  if (now.on_duty == c.on_duty) return;  // already so: nothing to record
  s.emit(0, [&](v1::Event& e) {
    auto* d = e.mutable_crew_duty_changed();
    d->set_crew_id(c.crew_id);
    d->set_on_duty(c.on_duty);
    d->set_actor(c.actor);
  });
}

void handle(step& s, const cmd::terminal_link& c) {
  const v1::Terminal* terminal = s.env().registry.terminal(c.terminal_id);
  if (!terminal) {
    s.refuse(refusal::unknown_terminal, "no terminal " + c.terminal_id);
    return;
  }
  if (s.state().terminals_online.contains(c.terminal_id) == c.online) return;  // no change
  s.emit(0, [&](v1::Event& e) {
    auto* x = e.mutable_terminal_link();
    x->set_terminal_id(c.terminal_id);
    x->set_elevator_id(terminal->elevator_id());
    x->set_online(c.online);
    if (!c.online) x->set_reason(c.reason);
  });
}

void handle(step& s, const cmd::terminal_links_lost& c) {
  // A copy: each emit folds into the state and erases from the set.
  const std::vector<std::string> online(s.state().terminals_online.begin(),
                                        s.state().terminals_online.end());
  for (const auto& id : online) {
    const v1::Terminal* terminal = s.env().registry.terminal(id);
    s.emit(0, [&](v1::Event& e) {
      auto* x = e.mutable_terminal_link();
      x->set_terminal_id(id);
      x->set_elevator_id(terminal ? terminal->elevator_id() : std::string());
      x->set_online(false);
      x->set_reason(c.reason);
    });
  }
}

// Free text comes from callers, crews' phones and the fire centre: it is bounded before it
// reaches the journal, every console and the logs. Empty: within limits.
std::string oversized_text(const command& c) {
  return std::visit(
      [](const auto& x) -> std::string {
        std::string why;
        const auto limit = [&why](const std::string& value, std::size_t max, const char* name) {
          if (why.empty() && value.size() > max)
            why = std::string(name) + " is longer than " + std::to_string(max) + " bytes";
        };
        if constexpr (requires { x.caller_name; }) limit(x.caller_name, 128, "caller_name");
        if constexpr (requires { x.caller_phone; }) {
          limit(x.caller_phone, 32, "caller_phone");
          const bool dialable =
              std::all_of(x.caller_phone.begin(), x.caller_phone.end(), [](char ch) {
                return (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == ' ' ||
                       ch == '(' || ch == ')';
              });
          if (why.empty() && !dialable)
            why = "caller_phone may hold only digits, spaces and + - ( )";
        }
        if constexpr (requires { x.rescue_code; }) limit(x.rescue_code, 32, "rescue_code");
        if constexpr (requires { x.registration_code; })
          limit(x.registration_code, 32, "registration_code");
        if constexpr (requires { x.terminal_id; }) limit(x.terminal_id, 64, "terminal_id");
        if constexpr (requires { x.crew_id; }) limit(x.crew_id, 64, "crew_id");
        if constexpr (requires { x.operator_id; }) limit(x.operator_id, 64, "operator_id");
        if constexpr (requires { x.actor; }) limit(x.actor, 64, "actor");
        if constexpr (requires { x.fire_unit; }) limit(x.fire_unit, 128, "fire_unit");
        if constexpr (requires { x.detail; }) limit(x.detail, 1000, "detail");
        if constexpr (requires { x.remark; }) limit(x.remark, 1000, "remark");
        if constexpr (requires { x.cause; }) limit(x.cause.sub_cause(), 64, "sub_cause");
        if constexpr (requires { x.reason; }) {
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(x.reason)>, std::string>)
            limit(x.reason, 500, "reason");
        }
        return why;
      },
      c);
}

}  // namespace

outcome decide(core_state& state, const command& c, time_point now, const environment& env) {
  outcome out;
  step s(state, out, now, env);
  if (std::string why = oversized_text(c); !why.empty()) {
    s.refuse(refusal::invalid_request, std::move(why));
    return out;
  }
  std::visit([&](const auto& command) { handle(s, command); }, c);
  if (!out.ok()) {
    // Every handler checks its rules before its first event, so a refusal changed nothing.
    if (!out.events.empty()) throw std::logic_error("incident core refused after emitting events");
    out.effects.clear();
    return out;
  }
  s.publish_touched();
  return out;
}

}  // namespace rescue::core
