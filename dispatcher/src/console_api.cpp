#include "rescue/dispatcher/console_api.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/geometry/algorithms/convex_hull.hpp>
#include <boost/geometry/geometries/multi_point.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "rescue/core/replayer.hpp"
#include "rescue/dispatcher/offload.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/storage/journal_verify.hpp"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;

namespace {

std::optional<core::incident_id> parse_id(const request_context& ctx) {
  const auto it = ctx.path_params.find("id");
  if (it == ctx.path_params.end()) return std::nullopt;
  const std::string& s = it->second;
  core::incident_id id = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc{} || end != s.data() + s.size() || id == 0) return std::nullopt;
  return id;
}

http_response no_such_incident(const request_context& ctx) {
  const auto it = ctx.path_params.find("id");
  return json_error(ctx.request, http::status::not_found, "unknown_incident",
                    "no incident " + (it == ctx.path_params.end() ? std::string{} : it->second));
}

// Parses the request body as `message`; an empty body is the empty message (every field at its
// default). Returns the error response when the body is not that message.
std::optional<http_response> parse_body(const http_request& request,
                                        google::protobuf::Message& message) {
  const std::string reason = parse_json_body(request.body(), message);
  if (reason.empty()) return std::nullopt;
  return json_error(request, http::status::bad_request, "malformed_json",
                    "the body is not a valid " + message.GetDescriptor()->name() + ": " + reason);
}

std::string operator_of(const request_context& ctx) {
  return ctx.caller ? ctx.caller->name : std::string{};
}

// The command an operator's POST on /incidents/{id}/<action> asks for, or the error response.
std::variant<core::command, http_response> build_command(const http_request& request,
                                                         core::incident_id id,
                                                         const std::string& action,
                                                         const std::string& op) {
  std::optional<http_response> error;
  core::command c;
  if (action == "confirm-trapped") {
    v1::ConfirmTrapped body;
    error = parse_body(request, body);
    c = core::cmd::confirm_trapped{id, body.injured(), op};
  } else if (action == "assign") {
    v1::AssignCrew body;
    error = parse_body(request, body);
    c = core::cmd::assign_crew{id, body.crew_id(), op};
  } else if (action == "escalate") {
    v1::Escalate body;
    error = parse_body(request, body);
    c = core::cmd::escalate{id, op, body.detail()};
  } else if (action == "cancel") {
    v1::CancelIncident body;
    error = parse_body(request, body);
    c = core::cmd::cancel{id, body.reason(), op, body.detail()};
  } else if (action == "close") {
    v1::CloseIncident body;
    error = parse_body(request, body);
    c = core::cmd::close{id, body.cause(), op};
  } else if (action == "follow-up") {
    v1::RecordFollowUp body;
    error = parse_body(request, body);
    c = core::cmd::record_follow_up{id, body.result(), body.remark(), op};
  } else if (action == "notes") {
    v1::AddNote body;
    error = parse_body(request, body);
    c = core::cmd::add_note{id, body.text(), op};
  } else {
    return json_error(request, http::status::not_found, "not_found",
                      "no incident command " + action);
  }
  if (error) return std::move(*error);
  return c;
}

struct timeline_read {
  std::error_code ec;
  std::vector<v1::Event> events;
  std::uint64_t unreadable = 0;
};

}  // namespace

v1::IncidentList incidents_by_urgency(const core::core_state& state,
                                      const core::core_state* others) {
  std::vector<const core::incident*> order;
  order.reserve(state.incidents.size() + (others ? others->incidents.size() : 0));
  for (const auto& [id, inc] : state.incidents)
    order.push_back(&inc);
  if (others)
    for (const auto& [id, inc] : others->incidents)
      order.push_back(&inc);
  std::stable_sort(order.begin(), order.end(),
                   [](const core::incident* a, const core::incident* b) {
                     const bool a_done = a->closed_at.has_value();
                     const bool b_done = b->closed_at.has_value();
                     if (a_done != b_done) return !a_done;
                     if (a->target_at != b->target_at) return a->target_at < b->target_at;
                     return a->id < b->id;
                   });
  v1::IncidentList list;
  for (const core::incident* inc : order)
    *list.add_incidents() = core::make_view(*inc);
  return list;
}

http::status status_for(core::refusal r) {
  switch (r) {
    case core::refusal::unknown_incident:
    case core::refusal::unknown_elevator:
    case core::refusal::unknown_crew:
    case core::refusal::unknown_terminal:
      return http::status::not_found;
    case core::refusal::wrong_stage:
    case core::refusal::already_at_top_level:
    case core::refusal::not_your_job:
    case core::refusal::crew_unavailable:
    case core::refusal::deadline_not_armed:
      return http::status::conflict;
    case core::refusal::shard_unavailable:
      return http::status::service_unavailable;
    case core::refusal::invalid_request:
    case core::refusal::none:
      break;
  }
  return http::status::bad_request;
}

namespace {

// Each district's outline is the convex hull of its elevators, computed once: the registry does
// not change while the server runs.
v1::DistrictList district_outlines(const storage::registry& registry) {
  namespace bg = boost::geometry;
  using point = bg::model::d2::point_xy<double>;  // x = lon, y = lat
  std::map<std::string, bg::model::multi_point<point>> by_district;
  for (const auto& e : registry.elevators())
    by_district[e.district_code()].emplace_back(e.location().lon(), e.location().lat());
  v1::DistrictList list;
  for (const auto& [code, points] : by_district) {
    bg::model::polygon<point> hull;
    bg::convex_hull(points, hull);
    v1::District& district = *list.add_districts();
    district.set_code(code);
    district.set_elevators(static_cast<std::uint32_t>(points.size()));
    for (const auto& corner : hull.outer()) {
      v1::GeoPoint& p = *district.add_outline();
      p.set_lat(corner.y());
      p.set_lon(corner.x());
    }
  }
  return list;
}

}  // namespace

console_api::console_api(dispatch_service& service, unsigned blocking_threads)
    : service_(service),
      blocking_(std::max(1u, blocking_threads)),
      districts_(district_outlines(service.registry())) {}

console_api::~console_api() {
  blocking_.stop();
  blocking_.join();
}

void console_api::join() {
  blocking_.join();
}

void console_api::register_routes(http_router& router) {
  using verb = http::verb;
  router.add(verb::get, "/api/v1/incidents", access::auditor,
             [this](request_context ctx) { return list_incidents(std::move(ctx)); });
  router.add(verb::post, "/api/v1/incidents", access::operator_only,
             [this](request_context ctx) { return create_incident(std::move(ctx)); });
  router.add(verb::get, "/api/v1/incidents/{id}", access::auditor,
             [this](request_context ctx) { return get_incident(std::move(ctx)); });
  for (const char* action :
       {"confirm-trapped", "assign", "escalate", "cancel", "close", "follow-up", "notes"}) {
    router.add(verb::post, std::string("/api/v1/incidents/{id}/") + action, access::operator_only,
               [this, action = std::string(action)](request_context ctx) {
                 return incident_command(std::move(ctx), action);
               });
  }
  router.add(verb::get, "/api/v1/elevators/{code}", access::auditor,
             [this](request_context ctx) { return get_elevator(std::move(ctx)); });
  router.add(verb::get, "/api/v1/crews", access::auditor,
             [this](request_context ctx) { return list_crews(std::move(ctx)); });
  router.add(verb::get, "/api/v1/journal/verify", access::auditor,
             [this](request_context ctx) { return verify(std::move(ctx)); });
  router.add(verb::get, "/api/v1/session", access::auditor, session);
  router.add(verb::get, "/api/v1/districts", access::auditor,
             [this](request_context ctx) { return districts(std::move(ctx)); });
}

asio::awaitable<http_response> console_api::districts(request_context ctx) {
  co_return json_list_response(ctx.request, districts_, districts_.districts().empty());
}

// Who the token belongs to and what it may do, so a console can show or hide write actions.
asio::awaitable<http_response> console_api::session(request_context ctx) {
  v1::SessionInfo info;
  info.set_name(ctx.caller->name);
  info.set_role(ctx.caller->role == api_token::role::operator_role ? "operator" : "auditor");
  co_return json_response(ctx.request, http::status::ok, info);
}

asio::awaitable<http_response> console_api::list_incidents(request_context ctx) {
  const v1::IncidentList list = co_await service_.async_read_city<v1::IncidentList>(
      [](const city_view& city) { return incidents_by_urgency(city.own, &city.others); },
      asio::use_awaitable);
  co_return json_list_response(ctx.request, list, list.incidents().empty());
}

asio::awaitable<http_response> console_api::get_incident(request_context ctx) {
  const auto id = parse_id(ctx);
  if (!id) co_return no_such_incident(ctx);
  std::optional<v1::IncidentView> view =
      co_await service_.async_read_city<std::optional<v1::IncidentView>>(
          [id = *id](const city_view& city) -> std::optional<v1::IncidentView> {
            if (const core::incident* inc = city.find(id)) return core::make_view(*inc);
            return std::nullopt;
          },
          asio::use_awaitable);

  // Another shard's incident: its timeline is in that shard's journal.
  storage::journal& journal = journal_of(*id);
  timeline_read timeline = co_await offload(blocking_, [&journal, id = *id] {
    timeline_read out;
    std::vector<storage::journal_record> records;
    out.ec = journal.read_incident(id, records);
    out.events.reserve(records.size());
    for (const auto& r : records) {
      v1::Event e;
      if (r.parse(e))
        out.events.push_back(std::move(e));
      else
        ++out.unreadable;
    }
    return out;
  });
  if (timeline.ec) {
    spdlog::error("console: reading the timeline of incident {}: {}", *id, timeline.ec.message());
    co_return json_error(ctx.request, http::status::service_unavailable, "journal_unavailable",
                         "the journal could not be read: " + timeline.ec.message());
  }
  if (timeline.unreadable > 0)
    spdlog::warn("console: incident {}: {} journal records do not parse", *id, timeline.unreadable);
  // An incident the core no longer holds: its view as its own events leave it.
  if (!view) view = core::replay_view(*id, timeline.events);
  if (!view) co_return no_such_incident(ctx);
  for (auto& e : timeline.events)
    *view->add_timeline() = std::move(e);
  co_return json_response(ctx.request, http::status::ok, *view);
}

asio::awaitable<http_response> console_api::create_incident(request_context ctx) {
  v1::CreateFromCall body;
  if (auto error = parse_body(ctx.request, body)) co_return std::move(*error);
  core::cmd::call_alarm c;
  c.rescue_code = body.rescue_code();
  c.registration_code = body.registration_code();
  // The console is a phone desk: a call with no stated source is a call from the public.
  c.source = body.source() == v1::SOURCE_UNSPECIFIED ? v1::SOURCE_PHONE : body.source();
  c.caller_name = body.caller_name();
  c.caller_phone = body.caller_phone();
  c.people_trapped = body.people_trapped();
  c.injured = body.injured();
  c.operator_id = operator_of(ctx);
  co_return co_await submit(ctx.request, std::move(c), http::status::created);
}

asio::awaitable<http_response> console_api::incident_command(request_context ctx,
                                                             std::string action) {
  const auto id = parse_id(ctx);
  if (!id) co_return no_such_incident(ctx);
  auto built = build_command(ctx.request, *id, action, operator_of(ctx));
  if (auto* error = std::get_if<http_response>(&built)) co_return std::move(*error);
  co_return co_await submit(ctx.request, std::get<core::command>(std::move(built)),
                            http::status::ok);
}

asio::awaitable<http_response> console_api::submit(const http_request& request, core::command c,
                                                   http::status success) {
  const core::outcome out = co_await service_.async_submit(std::move(c), asio::use_awaitable);
  if (!out.ok())
    co_return json_error(request, status_for(out.refused), to_string(out.refused), out.reason);
  v1::CommandResult result;
  result.set_ok(true);
  result.set_incident_id(out.incident);
  // A call about an elevator that already has an open incident joins it: nothing was created.
  const bool opened = !out.events.empty() && out.events.front().has_opened();
  const auto status = success == http::status::created && !opened ? http::status::ok : success;
  auto response = json_response(request, status, result);
  if (status == http::status::created)
    response.set(http::field::location, "/api/v1/incidents/" + std::to_string(out.incident));
  co_return response;
}

asio::awaitable<http_response> console_api::get_elevator(request_context ctx) {
  const std::string& code = ctx.path_params["code"];
  // The registry does not change while the server runs: it is read here without the strand.
  const storage::registry& registry = service_.registry();
  const v1::Elevator* elevator = registry.elevator_by_rescue_code(code);
  if (!elevator) elevator = registry.elevator_by_registration_code(code);
  if (!elevator) elevator = registry.elevator(code);
  if (!elevator)
    co_return json_error(ctx.request, http::status::not_found, "unknown_elevator",
                         "no elevator with rescue code, registration code or id " + code);
  v1::ElevatorLookup lookup;
  *lookup.mutable_elevator() = *elevator;
  if (const v1::MaintenanceUnit* unit = registry.unit(elevator->maintenance_unit_id()))
    *lookup.mutable_maintenance_unit() = *unit;
  if (const v1::BuildingOperator* op = registry.building_operator(elevator->building_operator_id()))
    *lookup.mutable_building_operator() = *op;
  co_return json_response(ctx.request, http::status::ok, lookup);
}

asio::awaitable<http_response> console_api::list_crews(request_context ctx) {
  // Copied on the service's strand, rendered here: the strand decides incidents, it should not
  // spend its time printing a city's worth of crews.
  // Duty and jobs are the core's, positions the index's: both read in one pass on the strand.
  v1::CrewList list = co_await service_.async_read_city<v1::CrewList>(
      [](const city_view& city) {
        v1::CrewList out;
        // One pass over the incidents, not one per crew.
        auto engaged = core::crew_engagements(city.own);
        engaged.insert(city.elsewhere.engaged.begin(), city.elsewhere.engaged.end());
        const geo::crew_table& table = city.crews.table();
        out.mutable_crews()->Reserve(static_cast<int>(table.size()));
        for (const auto& entry : table.crews()) {
          if (!entry.live) continue;
          v1::CrewOnMap& crew = *out.add_crews();
          crew.set_id(entry.id);
          if (entry.unit != geo::no_slot) crew.set_unit_id(table.unit(entry.unit).id);
          crew.set_licensed(entry.licensed);
          crew.set_on_duty(city.on_duty(entry.id));
          if (const auto job = engaged.find(entry.id); job != engaged.end()) {
            crew.set_busy(true);
            crew.set_current_incident_id(job->second);
          }
          // A crew that never reported has no position: (0, 0) at time 0 in the index.
          if (entry.position_at_ms > 0) {
            crew.mutable_position()->set_lat(entry.position.lat);
            crew.mutable_position()->set_lon(entry.position.lon);
            crew.set_position_at_ms(entry.position_at_ms);
          }
        }
        return out;
      },
      asio::use_awaitable);
  // Ages at one instant, taken off the strand.
  const std::int64_t now_ms = core::to_ms(dispatch_service::now());
  list.set_at_ms(now_ms);
  for (auto& crew : *list.mutable_crews())
    if (crew.position_at_ms() > 0)
      crew.set_position_age_s(static_cast<std::uint32_t>(
          std::max<std::int64_t>(0, now_ms - crew.position_at_ms()) / 1000));
  co_return json_list_response(ctx.request, list, list.crews().empty());
}

asio::awaitable<http_response> console_api::verify(request_context ctx) {
  // A verification reads the whole journal: one at a time is plenty.
  if (verifying_.exchange(true))
    co_return json_error(ctx.request, http::status::too_many_requests, "verify_in_progress",
                         "a journal verification is already running; try again when it ends");
  storage::journal& journal = service_.journal();
  const storage::verify_result result = co_await offload(blocking_, [this, &journal] {
    storage::verify_result r;
    try {
      r = storage::verify_journal(journal);
    } catch (const std::exception& e) {
      r.failure = storage::verify_failure::read_error;
      r.reason = e.what();
    }
    verifying_ = false;
    return r;
  });
  v1::JournalVerification body;
  body.set_ok(result.ok());
  body.set_last_seq(result.last_seq);
  body.set_first_bad_seq(result.first_bad_seq);
  body.set_reason(result.reason);
  body.set_failure(storage::to_string(result.failure));
  body.set_records_checked(result.records_checked);
  body.set_checkpoints_checked(result.checkpoints_checked);
  if (!result.ok())
    spdlog::warn("console: journal verification failed at seq {}: {}", result.first_bad_seq,
                 result.reason);
  co_return json_response(ctx.request, http::status::ok, body);
}

}  // namespace rescue::dispatcher
