// The incident core: a pure state machine, (state, command, now) -> (state, events, effects).
//
// No sockets, no clock reads, no randomness. Every change to the state is made by applying an
// event, and `decide` returns exactly the events it applied, so folding the journal with
// `apply` rebuilds the state the core held. Effects are what the shell must do once those events
// are durable: push an offer, call the fire centre, arm a timer, acknowledge a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "rescue/console.pb.h"
#include "rescue/core/escalation_policy.hpp"
#include "rescue/core/proto_equality.hpp"
#include "rescue/crew.pb.h"
#include "rescue/geo/crew_finder.hpp"
#include "rescue/journal.pb.h"
#include "rescue/storage/registry.hpp"
#include "rescue/upload.pb.h"

namespace rescue::core {

using time_point = std::chrono::sys_time<std::chrono::milliseconds>;
using incident_id = std::uint64_t;

inline std::int64_t to_ms(time_point t) {
  return t.time_since_epoch().count();
}
inline time_point from_ms(std::int64_t ms) {
  return time_point(std::chrono::milliseconds(ms));
}

struct pending_offer {
  std::string crew_id;
  std::string unit_id;
  rescue::v1::RescueLevel level = rescue::v1::LEVEL_UNSPECIFIED;
  std::uint32_t eta_s = 0;
  std::uint32_t distance_m = 0;
  std::uint32_t rank = 0;
  bool manual = false;
  time_point offered_at;
  time_point expires_at;
  bool operator==(const pending_offer&) const = default;
};

// The crew that accepted and is responsible for the rescue.
struct assignment {
  std::string crew_id;
  std::string unit_id;
  rescue::v1::RescueLevel level = rescue::v1::LEVEL_UNSPECIFIED;
  std::uint32_t eta_s = 0;
  bool manual = false;
  time_point accepted_at;
  std::optional<time_point> departed_at;
  std::optional<time_point> arrived_at;
  bool operator==(const assignment&) const = default;
};

struct note {
  time_point at;
  std::string operator_id;
  std::string text;
  bool operator==(const note&) const = default;
};

struct incident {
  incident_id id = 0;
  rescue::v1::ElevatorSnapshot elevator;
  // The opening alarm first, then merged ones from other sources, at most max_listed_alarms;
  // repeats from a listed source are counted in its entry.
  std::vector<rescue::v1::AlarmInfo> alarms;
  std::uint32_t alarm_count = 0;  // every alarm, repeats and unlisted ones included
  // The crew ladder level (1 or 2). Fire rescue is called on top of it, never instead of crews.
  rescue::v1::RescueLevel level = rescue::v1::LEVEL_UNSPECIFIED;
  bool people_trapped = false;
  bool injured = false;
  bool fire_notified = false;
  rescue::v1::EscalationReason fire_reason = rescue::v1::ESCALATION_UNSPECIFIED;
  bool fire_acknowledged = false;
  bool cleared_by_terminal = false;
  // An operator confirmed people trapped, or a person (caller, property manager...) reported it.
  bool confirmed_by_person = false;
  std::optional<pending_offer> offer;
  std::optional<assignment> assigned;
  std::set<std::string> tried_crews;  // declined or let an offer expire here
  rescue::v1::CandidatesRanked last_ranking;
  time_point alarm_at;
  time_point target_at;
  std::optional<time_point> first_offered_at;
  std::optional<time_point> first_accepted_at;
  std::optional<time_point> arrived_at;  // first on site, crew or fire
  std::optional<time_point> fire_arrived_at;
  std::optional<time_point> released_at;
  std::optional<time_point> closed_at;
  bool late = false;
  std::uint32_t minutes_over_target = 0;
  rescue::v1::Cause cause;
  std::vector<note> notes;
  std::map<rescue::v1::DeadlineKind, time_point> deadlines;

  bool operator==(const incident&) const = default;

  rescue::v1::IncidentStage stage() const;
  rescue::v1::RescueLevel highest_level() const {
    return fire_notified ? rescue::v1::LEVEL_3_FIRE : level;
  }
  // Derived figures; empty until the later timestamp exists.
  std::optional<std::chrono::milliseconds> response_time() const;  // alarm -> accepted
  std::optional<std::chrono::milliseconds> arrival_time() const;   // alarm -> on site
  std::optional<std::chrono::milliseconds> rescue_time() const;    // on site -> released
};

// How many alarm sources an incident lists; a flood of alarms from many sources is counted only.
inline constexpr std::size_t max_listed_alarms = 32;

// Incidents the core still works on. An incident leaves memory when it is finished: cancelled,
// or closed and followed up; the journal keeps it.
struct core_state {
  std::map<incident_id, incident> incidents;
  // The newest incident per elevator, for merging further alarms.
  std::unordered_map<std::string, incident_id> latest_by_elevator;
  incident_id next_id = 1;
  std::uint64_t finished = 0;  // incidents cancelled or followed up since the empty state
  // Shift changes, by crew: the last one journalled. A crew not listed is on duty when the
  // registry says so (crew_on_duty()).
  std::map<std::string, bool> duty;
  // The shard's inbox entry the last command from another instance came in (Event.inbox_entry):
  // where the owner resumes reading that inbox.
  std::string last_inbox_entry;
  // Terminals whose link is up, as journalled (TerminalLinkChanged): a restarted server records
  // each of them going down (cmd::terminal_links_lost), since its restart dropped them all.
  std::set<std::string> terminals_online;

  bool operator==(const core_state&) const = default;
  const incident* find(incident_id id) const;
};

// ---- commands -------------------------------------------------------------------------------
namespace cmd {

// A frame from a car terminal carrying an event code; not every code is an alarm.
struct terminal_event {
  std::string terminal_id;
  std::uint64_t seq = 0;
  rescue::v1::TerminalEventCode code = rescue::v1::EVENT_UNSPECIFIED;
  rescue::v1::CarStatus status;
  std::uint64_t boot_id = 0;
};
// A phone call typed in by an operator: by rescue code, or by registration code.
struct call_alarm {
  std::string rescue_code;
  std::string registration_code;
  rescue::v1::SourceChannel source = rescue::v1::SOURCE_PHONE;
  std::string caller_name;
  std::string caller_phone;
  bool people_trapped = true;
  bool injured = false;
  std::string operator_id;
};
struct confirm_trapped {
  incident_id incident = 0;
  bool injured = false;
  std::string operator_id;
};
struct accept_offer {
  incident_id incident = 0;
  std::string crew_id;
};
struct decline_offer {
  incident_id incident = 0;
  std::string crew_id;
  std::string reason;
};
struct crew_departed {
  incident_id incident = 0;
  std::string crew_id;
};
struct crew_arrived {
  incident_id incident = 0;
  std::string crew_id;
};
struct people_released {
  incident_id incident = 0;
  std::string crew_id;
};
struct deadline_fired {
  incident_id incident = 0;
  rescue::v1::DeadlineKind kind = rescue::v1::DEADLINE_UNSPECIFIED;
};
struct assign_crew {
  incident_id incident = 0;
  std::string crew_id;
  std::string operator_id;
};
struct escalate {
  incident_id incident = 0;
  std::string operator_id;
  std::string detail;
};
struct cancel {
  incident_id incident = 0;
  rescue::v1::CancelReason reason = rescue::v1::CANCEL_FALSE_ALARM;
  std::string operator_id;
  std::string detail;
};
struct close {
  incident_id incident = 0;
  rescue::v1::Cause cause;
  std::string operator_id;
};
struct record_follow_up {
  incident_id incident = 0;
  rescue::v1::FollowUpResult result = rescue::v1::FOLLOW_UP_UNSPECIFIED;
  std::string remark;
  std::string operator_id;
};
struct add_note {
  incident_id incident = 0;
  std::string text;
  std::string operator_id;
};
struct fire_acknowledged {
  incident_id incident = 0;
  std::string fire_unit;
};
struct fire_arrived {
  incident_id incident = 0;
  std::string fire_unit;
};
// A crew signs on or off duty (the crew page's shift switch). Off duty is refused while the crew
// holds an offer or a job.
struct set_duty {
  std::string crew_id;
  bool on_duty = true;
  std::string actor;  // the crew's own id, or the operator's
};

// A car terminal's link came up (it authenticated) or went down. Recorded only when it changes
// what the journal says of the terminal.
struct terminal_link {
  std::string terminal_id;
  bool online = true;
  std::string reason;  // why it went down
};
// Every link the journal holds as up went down (the server restarted, so none survived).
struct terminal_links_lost {
  std::string reason;
};

}  // namespace cmd

using command =
    std::variant<cmd::terminal_event, cmd::call_alarm, cmd::confirm_trapped, cmd::accept_offer,
                 cmd::decline_offer, cmd::crew_departed, cmd::crew_arrived, cmd::people_released,
                 cmd::deadline_fired, cmd::assign_crew, cmd::escalate, cmd::cancel, cmd::close,
                 cmd::record_follow_up, cmd::add_note, cmd::fire_acknowledged, cmd::fire_arrived,
                 cmd::set_duty, cmd::terminal_link, cmd::terminal_links_lost>;

// ---- effects --------------------------------------------------------------------------------
namespace fx {

struct offer_job {
  std::string crew_id;
  rescue::v1::JobOffer job;
};
struct withdraw_job {
  incident_id incident = 0;
  std::string crew_id;
  std::string reason;
};
struct notify_fire {
  incident_id incident = 0;
  rescue::v1::EscalationReason reason = rescue::v1::ESCALATION_UNSPECIFIED;
};
struct arm_deadline {
  incident_id incident = 0;
  rescue::v1::DeadlineKind kind = rescue::v1::DEADLINE_UNSPECIFIED;
  time_point at;
};
struct cancel_deadline {
  incident_id incident = 0;
  rescue::v1::DeadlineKind kind = rescue::v1::DEADLINE_UNSPECIFIED;
};
struct ack_terminal {
  std::string terminal_id;
  std::uint64_t seq = 0;
};
struct publish_incident {
  incident_id incident = 0;
};
// A record for the provincial and national platforms (upload.proto): an incident that ended, a
// fault recorded. The shell stores it in the outbox with its events when uploads are configured.
struct upload_record {
  incident_id incident = 0;  // 0 for a fault
  rescue::v1::PlatformRecord record;
};

}  // namespace fx

using effect =
    std::variant<fx::offer_job, fx::withdraw_job, fx::notify_fire, fx::arm_deadline,
                 fx::cancel_deadline, fx::ack_terminal, fx::publish_incident, fx::upload_record>;

// Why a command was refused. A refused command changes nothing and emits nothing.
enum class refusal {
  none,
  unknown_terminal,
  unknown_elevator,
  unknown_incident,
  unknown_crew,
  crew_unavailable,
  not_your_job,
  wrong_stage,
  already_at_top_level,
  deadline_not_armed,
  invalid_request,
  // Not decided: the shard's owner could not be reached, or did not answer in time (a command
  // sent through the inbox may still be decided later). Never a decision of the core.
  shard_unavailable,
};

std::string_view to_string(refusal r);

struct outcome {
  refusal refused = refusal::none;
  std::string reason;  // readable, for the operator or the log
  incident_id incident = 0;
  std::vector<rescue::v1::Event> events;
  std::vector<effect> effects;
  // Set by the shell once the events are durable: the journal sequence of the last one.
  std::uint64_t journal_seq = 0;

  bool ok() const { return refused == refusal::none; }
};

// On a sharded city: the crews that incidents of the other shards hold, and the shift changes
// journalled there, as this instance last read those journals. The ranking, an acceptance and a
// shift change respect them as they respect this shard's own state.
struct crews_elsewhere {
  std::map<std::string, incident_id, std::less<>> engaged;  // crew -> incident of another shard
  std::map<std::string, bool> duty;  // the last shift change of crews whose home is elsewhere
  bool operator==(const crews_elsewhere&) const = default;
};

// What the core may consult while deciding. All read-only; the core never changes them.
struct environment {
  const escalation_policy& policy;
  const storage::registry& registry;
  const geo::crew_finder& crews;
  // A shard's incidents are numbered from its own base (shard_map.hpp).
  incident_id first_incident_id = 1;
  const crews_elsewhere* elsewhere = nullptr;  // null: unsharded
  // The inbox entry the command came in (another instance sent it): named on the first event
  // the decision emits, so that recovery knows where the inbox was left.
  std::string_view inbox_entry = {};
};

// Decides one command at `now`: applies the resulting events to `state` and returns them with
// the effects. A refused command leaves `state` untouched.
outcome decide(core_state& state, const command& c, time_point now, const environment& env);

// Folds one journal event into the state. The only place the state changes.
void apply(core_state& state, const rescue::v1::Event& event);

// Crews offered or assigned on open incidents before release: not to be offered elsewhere.
std::set<std::string> engaged_crews(const core_state& state);

// A crew's availability, as the core holds it: the one answer the ranking, the API, the console
// map and the crew page all use. Where the crew is, and how old that is, is the geo index's.
struct crew_availability {
  bool on_duty = false;
  incident_id engaged_on = 0;  // the incident it holds an offer or a job on; 0: free
};
// Its last journalled shift change, else the registry's on_duty (false for an unknown crew).
bool crew_on_duty(const core_state& state, const storage::registry& registry,
                  std::string_view crew_id);
// Each engaged crew and the incident it is engaged on.
std::map<std::string, incident_id, std::less<>> crew_engagements(const core_state& state);
crew_availability availability_of(const core_state& state, const storage::registry& registry,
                                  std::string_view crew_id);
// The same, with the other shards' engagements and shift changes on top (none when null).
crew_availability availability_of(const core_state& state, const storage::registry& registry,
                                  const crews_elsewhere* elsewhere, std::string_view crew_id);

// What a crew's phone must hear of a journalled event, as the deciding instance's effects said
// it: an offer made (the job, from `state` with the event applied), an offer withdrawn or
// expired. An instance that only follows the shard's journal pushes these to the crews
// connected to it. Empty for every other event.
std::optional<effect> crew_effect_of(const core_state& state, const rescue::v1::Event& e);

// A terminal event code that is recorded as a fault (FaultRecorded): every code but the
// entrapment alarms, the alarm button, "trapped cleared" and "unspecified".
bool is_fault_code(rescue::v1::TerminalEventCode code);

// The job as the crew holding the pending offer sees it. Requires `inc.offer`.
rescue::v1::JobOffer job_offer_for(const incident& inc);

// The console's view of an incident (without the timeline).
rescue::v1::IncidentView make_view(const incident& inc);

}  // namespace rescue::core
