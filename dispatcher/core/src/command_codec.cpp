#include "rescue/core/command_codec.hpp"

#include <type_traits>

namespace rescue::core {
namespace v1 = rescue::v1;

namespace {

using kind = v1::IncidentCommand;

template <class T>
constexpr v1::IncidentCommand::Kind incident_kind() {
  if constexpr (std::is_same_v<T, cmd::confirm_trapped>) return kind::CONFIRM_TRAPPED;
  if constexpr (std::is_same_v<T, cmd::accept_offer>) return kind::ACCEPT_OFFER;
  if constexpr (std::is_same_v<T, cmd::decline_offer>) return kind::DECLINE_OFFER;
  if constexpr (std::is_same_v<T, cmd::crew_departed>) return kind::CREW_DEPARTED;
  if constexpr (std::is_same_v<T, cmd::crew_arrived>) return kind::CREW_ARRIVED;
  if constexpr (std::is_same_v<T, cmd::people_released>) return kind::PEOPLE_RELEASED;
  if constexpr (std::is_same_v<T, cmd::assign_crew>) return kind::ASSIGN_CREW;
  if constexpr (std::is_same_v<T, cmd::escalate>) return kind::ESCALATE;
  if constexpr (std::is_same_v<T, cmd::cancel>) return kind::CANCEL;
  if constexpr (std::is_same_v<T, cmd::close>) return kind::CLOSE;
  if constexpr (std::is_same_v<T, cmd::record_follow_up>) return kind::RECORD_FOLLOW_UP;
  if constexpr (std::is_same_v<T, cmd::add_note>) return kind::ADD_NOTE;
  if constexpr (std::is_same_v<T, cmd::fire_acknowledged>) return kind::FIRE_ACKNOWLEDGED;
  if constexpr (std::is_same_v<T, cmd::fire_arrived>) return kind::FIRE_ARRIVED;
  return kind::KIND_UNSPECIFIED;
}

// The fields an incident command has, each into its place in IncidentCommand.
template <class T>
void fill(v1::IncidentCommand& m, const T& x) {
  m.set_kind(incident_kind<T>());
  m.set_incident_id(x.incident);
  if constexpr (requires { x.crew_id; }) m.set_crew_id(x.crew_id);
  if constexpr (requires { x.operator_id; }) m.set_operator_id(x.operator_id);
  if constexpr (requires { x.fire_unit; }) m.set_fire_unit(x.fire_unit);
  if constexpr (requires { x.injured; }) m.set_injured(x.injured);
  if constexpr (std::is_same_v<T, cmd::decline_offer>) m.set_text(x.reason);
  if constexpr (requires { x.detail; }) m.set_text(x.detail);
  if constexpr (requires { x.remark; }) m.set_text(x.remark);
  if constexpr (requires { x.text; }) m.set_text(x.text);
  if constexpr (std::is_same_v<T, cmd::cancel>) m.set_cancel_reason(x.reason);
  if constexpr (requires { x.cause; }) *m.mutable_cause() = x.cause;
  if constexpr (requires { x.result; }) m.set_follow_up(x.result);
}

template <class T>
command read(const v1::IncidentCommand& m) {
  T x;
  x.incident = m.incident_id();
  if constexpr (requires { x.crew_id; }) x.crew_id = m.crew_id();
  if constexpr (requires { x.operator_id; }) x.operator_id = m.operator_id();
  if constexpr (requires { x.fire_unit; }) x.fire_unit = m.fire_unit();
  if constexpr (requires { x.injured; }) x.injured = m.injured();
  if constexpr (std::is_same_v<T, cmd::decline_offer>) x.reason = m.text();
  if constexpr (requires { x.detail; }) x.detail = m.text();
  if constexpr (requires { x.remark; }) x.remark = m.text();
  if constexpr (requires { x.text; }) x.text = m.text();
  if constexpr (std::is_same_v<T, cmd::cancel>) x.reason = m.cancel_reason();
  if constexpr (requires { x.cause; }) x.cause = m.cause();
  if constexpr (requires { x.result; }) x.result = m.follow_up();
  return x;
}

}  // namespace

v1::InboxCommand to_inbox(const command& c) {
  v1::InboxCommand m;
  std::visit(
      [&m](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, cmd::terminal_event>) {
          auto* t = m.mutable_terminal_event();
          t->set_terminal_id(x.terminal_id);
          t->set_seq(x.seq);
          t->set_code(x.code);
          *t->mutable_status() = x.status;
          t->set_boot_id(x.boot_id);
        } else if constexpr (std::is_same_v<T, cmd::call_alarm>) {
          auto* a = m.mutable_call_alarm();
          a->set_rescue_code(x.rescue_code);
          a->set_registration_code(x.registration_code);
          a->set_source(x.source);
          a->set_caller_name(x.caller_name);
          a->set_caller_phone(x.caller_phone);
          a->set_people_trapped(x.people_trapped);
          a->set_injured(x.injured);
          a->set_operator_id(x.operator_id);
        } else if constexpr (std::is_same_v<T, cmd::set_duty>) {
          auto* d = m.mutable_set_duty();
          d->set_crew_id(x.crew_id);
          d->set_on_duty(x.on_duty);
          d->set_actor(x.actor);
        } else if constexpr (std::is_same_v<T, cmd::terminal_link>) {
          auto* l = m.mutable_terminal_link();
          l->set_terminal_id(x.terminal_id);
          l->set_online(x.online);
          l->set_reason(x.reason);
        } else if constexpr (!std::is_same_v<T, cmd::deadline_fired> &&
                             !std::is_same_v<T, cmd::terminal_links_lost>) {
          fill(*m.mutable_incident(), x);
        }
      },
      c);
  return m;
}

std::optional<command> from_inbox(const v1::InboxCommand& m) {
  switch (m.command_case()) {
    case v1::InboxCommand::kTerminalEvent: {
      const auto& t = m.terminal_event();
      return cmd::terminal_event{t.terminal_id(), t.seq(), t.code(), t.status(), t.boot_id()};
    }
    case v1::InboxCommand::kCallAlarm: {
      const auto& a = m.call_alarm();
      return cmd::call_alarm{a.rescue_code(),  a.registration_code(), a.source(),  a.caller_name(),
                             a.caller_phone(), a.people_trapped(),    a.injured(), a.operator_id()};
    }
    case v1::InboxCommand::kSetDuty: {
      const auto& d = m.set_duty();
      return cmd::set_duty{d.crew_id(), d.on_duty(), d.actor()};
    }
    case v1::InboxCommand::kTerminalLink: {
      const auto& l = m.terminal_link();
      return cmd::terminal_link{l.terminal_id(), l.online(), l.reason()};
    }
    case v1::InboxCommand::kIncident: {
      const auto& i = m.incident();
      switch (i.kind()) {
        case kind::CONFIRM_TRAPPED:
          return read<cmd::confirm_trapped>(i);
        case kind::ACCEPT_OFFER:
          return read<cmd::accept_offer>(i);
        case kind::DECLINE_OFFER:
          return read<cmd::decline_offer>(i);
        case kind::CREW_DEPARTED:
          return read<cmd::crew_departed>(i);
        case kind::CREW_ARRIVED:
          return read<cmd::crew_arrived>(i);
        case kind::PEOPLE_RELEASED:
          return read<cmd::people_released>(i);
        case kind::ASSIGN_CREW:
          return read<cmd::assign_crew>(i);
        case kind::ESCALATE:
          return read<cmd::escalate>(i);
        case kind::CANCEL:
          return read<cmd::cancel>(i);
        case kind::CLOSE:
          return read<cmd::close>(i);
        case kind::RECORD_FOLLOW_UP:
          return read<cmd::record_follow_up>(i);
        case kind::ADD_NOTE:
          return read<cmd::add_note>(i);
        case kind::FIRE_ACKNOWLEDGED:
          return read<cmd::fire_acknowledged>(i);
        case kind::FIRE_ARRIVED:
          return read<cmd::fire_arrived>(i);
        default:
          return std::nullopt;
      }
    }
    case v1::InboxCommand::COMMAND_NOT_SET:
      break;
  }
  return std::nullopt;
}

}  // namespace rescue::core
