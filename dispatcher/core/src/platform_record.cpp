#include "rescue/core/platform_record.hpp"

#include "rescue/protocol/china_time.hpp"

namespace rescue::core {
namespace v1 = rescue::v1;

namespace {

std::string time_of(const std::optional<time_point>& t) {
  return t ? protocol::china_time(to_ms(*t), true) : std::string();
}

std::uint32_t seconds(std::optional<std::chrono::milliseconds> d) {
  if (!d || d->count() < 0) return 0;
  return static_cast<std::uint32_t>((d->count() + 500) / 1000);
}

v1::IncidentOutcome outcome_of(const v1::Event& ending) {
  if (!ending.has_cancelled()) return v1::OUTCOME_RESCUED;
  switch (ending.cancelled().reason()) {
    case v1::CANCEL_SELF_RECOVERED:
      return v1::OUTCOME_SELF_RECOVERED;
    case v1::CANCEL_DUPLICATE:
      return v1::OUTCOME_DUPLICATE;
    default:
      return v1::OUTCOME_FALSE_ALARM;
  }
}

}  // namespace

v1::PlatformRecord incident_record(const incident& inc, const v1::Event& ending) {
  v1::PlatformRecord r;
  r.set_format_version(1);
  r.set_record_id("incident-" + std::to_string(inc.id));
  auto* x = r.mutable_incident();
  x->set_incident_id(std::to_string(inc.id));
  *x->mutable_elevator() = inc.elevator;
  if (!inc.alarms.empty()) x->set_source(inc.alarms.front().source());
  x->set_alarms(inc.alarm_count);
  x->set_people_trapped(inc.people_trapped);
  x->set_injured(inc.injured);
  x->set_outcome(outcome_of(ending));
  x->set_alarm_time(protocol::china_time(to_ms(inc.alarm_at), true));
  x->set_first_offer_time(time_of(inc.first_offered_at));
  x->set_accepted_time(time_of(inc.first_accepted_at));
  x->set_arrived_time(time_of(inc.arrived_at));
  x->set_released_time(time_of(inc.released_at));
  x->set_ended_time(protocol::china_time(ending.at_ms(), true));
  x->set_response_s(seconds(inc.response_time()));
  x->set_arrival_s(seconds(inc.arrival_time()));
  x->set_rescue_s(seconds(inc.rescue_time()));
  x->set_target_minutes(inc.elevator.target_minutes());
  x->set_late(inc.late);
  x->set_minutes_over_target(inc.minutes_over_target);
  x->set_highest_level(inc.highest_level());
  x->set_fire_called(inc.fire_notified);
  x->set_fire_reason(inc.fire_reason);
  if (inc.assigned) {
    x->set_rescuer_crew_id(inc.assigned->crew_id);
    x->set_rescuer_unit_id(inc.assigned->unit_id);
  }
  if (ending.has_closed()) *x->mutable_cause() = ending.closed().cause();
  return r;
}

v1::PlatformRecord fault_record(const v1::Event& fault) {
  const auto& f = fault.fault_recorded();
  v1::PlatformRecord r;
  r.set_format_version(1);
  r.set_record_id("fault-" + f.terminal_id() + "-" + std::to_string(f.terminal_boot_id()) + "-" +
                  std::to_string(f.terminal_seq()));
  auto* x = r.mutable_fault();
  x->set_elevator_id(f.elevator_id());
  x->set_terminal_id(f.terminal_id());
  x->set_time(protocol::china_time(fault.at_ms(), true));
  x->set_code(f.code());
  *x->mutable_car_status() = f.car_status();
  x->set_maintenance_unit_id(f.maintenance_unit_id());
  x->set_building_operator_id(f.building_operator_id());
  x->set_brand(f.brand());
  x->set_install_year(f.install_year());
  x->set_district_code(f.district_code());
  return r;
}

}  // namespace rescue::core
