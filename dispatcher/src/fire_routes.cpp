#include "rescue/dispatcher/fire_routes.hpp"

#include <charconv>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/core/replayer.hpp"
#include "rescue/dispatcher/log_text.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;

namespace {

constexpr std::size_t max_fire_unit_length = 128;

// The optional body: empty, or a FireReport. Returns a reason when malformed.
std::string parse_fire_unit(std::string_view body, std::string& fire_unit) {
  v1::FireReport report;
  if (const std::string reason = parse_json_body(body, report); !reason.empty())
    return "the body is not a FireReport: " + reason;
  if (report.fire_unit().size() > max_fire_unit_length) return "fire_unit is too long";
  fire_unit = report.fire_unit();
  return {};
}

// A plain coroutine (parameters by value) behind a non-coroutine lambda in the router.
asio::awaitable<http_response> fire_command(dispatch_service* service, bool arrived,
                                            request_context ctx) {
  const std::string& raw_id = ctx.path_params.at("id");
  core::incident_id id = 0;
  const auto [end, ec] = std::from_chars(raw_id.data(), raw_id.data() + raw_id.size(), id);
  if (ec != std::errc() || end != raw_id.data() + raw_id.size() || id == 0)
    co_return json_error(ctx.request, http::status::bad_request, "invalid_request",
                         "incident id must be a positive integer");
  std::string fire_unit;
  if (auto reason = parse_fire_unit(ctx.request.body(), fire_unit); !reason.empty())
    co_return json_error(ctx.request, http::status::bad_request, "invalid_request", reason);
  core::command c = arrived ? core::command(core::cmd::fire_arrived{id, fire_unit})
                            : core::command(core::cmd::fire_acknowledged{id, fire_unit});
  const core::outcome out = co_await service->async_submit(std::move(c), asio::use_awaitable);
  if (!out.ok()) {
    const auto status = out.refused == core::refusal::unknown_incident  ? http::status::not_found
                        : out.refused == core::refusal::invalid_request ? http::status::bad_request
                        : out.refused == core::refusal::shard_unavailable
                            ? http::status::service_unavailable
                            : http::status::conflict;
    co_return json_error(ctx.request, status, to_string(out.refused), out.reason);
  }
  spdlog::info("fire centre: incident {} {}{}{}", id, arrived ? "arrived" : "acknowledged",
               fire_unit.empty() ? "" : " by ", log_safe(fire_unit));
  v1::FireReportResult result;
  result.set_incident_id(id);
  result.set_status(arrived ? "arrived" : "acknowledged");
  co_return json_response(ctx.request, http::status::ok, result);
}

route_handler fire_handler(dispatch_service& service, bool arrived) {
  return [service = &service, arrived](request_context ctx) {
    return fire_command(service, arrived, std::move(ctx));
  };
}

}  // namespace

fire_routes::fire_routes(const server_config& config, dispatch_service& service, outbox& box)
    : config_(config), service_(service), outbox_(box) {}

void fire_routes::add_routes(http_router& router) {
  router.add(http::verb::post, "/api/v1/fire/incidents/{id}/ack", access::fire_centre,
             fire_handler(service_, false));
  router.add(http::verb::post, "/api/v1/fire/incidents/{id}/arrived", access::fire_centre,
             fire_handler(service_, true));
}

storage::outbox_message fire_routes::escalation_message(const core::fx::notify_fire& escalation,
                                                        const v1::IncidentView& view) const {
  return {"fire_escalation", escalation.incident, config_.fire_webhook_url,
          protocol::to_json(escalation_payload(escalation, view), protocol::json_fields::all)};
}

void fire_routes::on_escalation(const core::fx::notify_fire& escalation, const v1::IncidentView&) {
  spdlog::warn("incident {}: fire centre escalation stored in the outbox with the escalation",
               escalation.incident);
}

std::size_t fire_routes::store_calls_missing_after_upgrade() {
  storage::journal& journal = service_.journal();
  // Fire escalations the fire centre never answered: incident -> seq of the escalation. The
  // event type column picks the few records worth parsing.
  std::map<core::incident_id, std::uint64_t> unanswered;
  v1::Event e;
  auto ec = journal.scan(1, journal.last_seq(), [&](const storage::journal_record& r) {
    const bool escalated = r.event_type == "level_escalated";
    if (!escalated && r.event_type != "fire_acknowledged" && r.event_type != "fire_arrived")
      return true;
    if (!r.parse(e)) return true;
    if (!escalated)
      unanswered.erase(r.incident_id);
    else if (e.level_escalated().to() == v1::LEVEL_3_FIRE)
      unanswered.emplace(r.incident_id, r.seq);
    return true;
  });
  if (ec) throw std::runtime_error("reading the journal for fire calls: " + ec.message());

  std::vector<storage::outbox_message> missing;
  for (const auto& [id, escalated_at] : unanswered) {
    bool found = false;
    for (const auto& row : outbox_.rows_about(id))
      found = found || row.kind == "fire_escalation";
    if (found) continue;
    // The incident as it was escalated, so a cancelled one is rebuilt too.
    std::vector<storage::journal_record> records;
    if ((ec = journal.read_incident(id, records)))
      throw std::runtime_error("reading incident " + std::to_string(id) + ": " + ec.message());
    core::replayer replay;
    for (const auto& r : records) {
      if (r.seq > escalated_at) break;
      replay.feed(r.seq, r.payload);
    }
    if (const core::incident* inc = replay.state().find(id)) {
      spdlog::warn("incident {}: fire call of an earlier version missing from its outbox; stored",
                   id);
      missing.push_back(escalation_message({id, inc->fire_reason}, core::make_view(*inc)));
    }
  }
  if (missing.empty()) return 0;
  // One append, waited for: the calls are durable before the server serves.
  auto stored = std::make_shared<std::promise<std::error_code>>();
  auto done = stored->get_future();
  const std::size_t count = missing.size();
  journal.append({}, std::move(missing), [stored](std::error_code ec, std::vector<std::uint64_t>) {
    stored->set_value(ec);
  });
  if ((ec = done.get())) throw std::runtime_error("storing fire calls: " + ec.message());
  return count;
}

v1::FireEscalation fire_routes::escalation_payload(const core::fx::notify_fire& escalation,
                                                   const v1::IncidentView& view) {
  v1::FireEscalation out;
  out.set_kind("fire_escalation");
  out.set_incident_id(escalation.incident);
  out.set_reason(escalation.reason);
  const auto& e = view.elevator();
  auto& elevator = *out.mutable_elevator();
  elevator.set_elevator_id(e.elevator_id());
  elevator.set_registration_code(e.registration_code());
  elevator.set_rescue_code(e.rescue_code());
  elevator.set_address(e.address());
  elevator.set_district_code(e.district_code());
  *elevator.mutable_location() = e.location();
  out.set_people_trapped(view.people_trapped());
  out.set_injured(view.injured());
  out.set_alarm_at_ms(view.alarm_at_ms());
  out.set_target_at_ms(view.target_at_ms());
  out.set_crew_level(view.level());
  out.set_assigned_crew_id(view.assigned_crew_id());
  if (view.alarms_size() > 0) out.set_caller_phone(view.alarms(0).caller_phone());
  const std::string base = "/api/v1/fire/incidents/" + std::to_string(escalation.incident);
  out.set_ack_path(base + "/ack");
  out.set_arrived_path(base + "/arrived");
  return out;
}

}  // namespace rescue::dispatcher
