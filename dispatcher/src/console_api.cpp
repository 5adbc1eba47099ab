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

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/geometry/algorithms/convex_hull.hpp>
#include <boost/geometry/geometries/multi_point.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>

#include "rescue/protocol/json.hpp"
#include "rescue/storage/journal_verify.hpp"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;

namespace {

// Runs `fn` on `pool` and resumes the calling coroutine on its own executor with the result.
template <class Fn>
asio::awaitable<std::invoke_result_t<Fn&>> offload(asio::thread_pool& pool, Fn fn) {
  using result = std::invoke_result_t<Fn&>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(result)>(
      [&pool](auto handler, Fn work) {
        auto ex = asio::get_associated_executor(handler);
        asio::post(pool, [handler = std::move(handler), work = std::move(work), ex]() mutable {
          result r = work();
          asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
            std::move(handler)(std::move(r));
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

std::optional<incident_id> parse_id(const request_context& ctx) {
  const auto it = ctx.path_params.find("id");
  if (it == ctx.path_params.end()) return std::nullopt;
  const std::string& s = it->second;
  incident_id id = 0;
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
  const std::string_view body = request.body();
  const bool blank = std::all_of(body.begin(), body.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  });
  const std::string reason = protocol::from_json(blank ? std::string_view("{}") : body, message);
  if (reason.empty()) return std::nullopt;
  return json_error(request, http::status::bad_request, "malformed_json",
                    "the body is not a valid " + message.GetDescriptor()->name() + ": " + reason);
}

std::string operator_of(const request_context& ctx) {
  return ctx.caller ? ctx.caller->name : std::string{};
}

// The command an operator's POST on /incidents/{id}/<action> asks for, or the error response.
std::variant<command, http_response> build_command(const http_request& request, incident_id id,
                                                   const std::string& action,
                                                   const std::string& op) {
  std::optional<http_response> error;
  command c;
  if (action == "confirm-trapped") {
    v1::ConfirmTrapped body;
    error = parse_body(request, body);
    c = cmd::confirm_trapped{id, body.injured(), op};
  } else if (action == "assign") {
    v1::AssignCrew body;
    error = parse_body(request, body);
    c = cmd::assign_crew{id, body.crew_id(), op};
  } else if (action == "escalate") {
    v1::Escalate body;
    error = parse_body(request, body);
    c = cmd::escalate{id, op, body.detail()};
  } else if (action == "cancel") {
    v1::CancelIncident body;
    error = parse_body(request, body);
    c = cmd::cancel{id, body.reason(), op, body.detail()};
  } else if (action == "close") {
    v1::CloseIncident body;
    error = parse_body(request, body);
    c = cmd::close{id, body.cause(), op};
  } else if (action == "follow-up") {
    v1::RecordFollowUp body;
    error = parse_body(request, body);
    c = cmd::record_follow_up{id, body.result(), body.remark(), op};
  } else if (action == "notes") {
    v1::AddNote body;
    error = parse_body(request, body);
    c = cmd::add_note{id, body.text(), op};
  } else {
    return json_error(request, http::status::not_found, "not_found",
                      "no incident command " + action);
  }
  if (error) return std::move(*error);
  return c;
}

// A view of an incident the core no longer holds, rebuilt by folding its journal events.
std::optional<v1::IncidentView> view_from_events(incident_id id,
                                                 const std::vector<v1::Event>& events) {
  core_state state;
  std::optional<v1::IncidentView> view;
  for (const auto& e : events) {
    apply(state, e);
    if (const incident* inc = state.find(id)) {
      view = make_view(*inc);
    } else if (view) {
      if (e.has_cancelled()) view->set_stage(v1::STAGE_CANCELLED);
      if (e.has_follow_up()) view->set_stage(v1::STAGE_FOLLOWED_UP);
    }
  }
  return view;
}

struct crew_row {
  std::string id;
  std::string unit_id;
  bool licensed = false;
  bool on_duty = false;
  std::uint64_t job = 0;
  double lat = 0;
  double lon = 0;
  std::int64_t position_at_ms = 0;
};

struct timeline_read {
  std::error_code ec;
  std::vector<v1::Event> events;
  std::uint64_t unreadable = 0;
};

}  // namespace

v1::IncidentList incidents_by_urgency(const core_state& state) {
  std::vector<const incident*> order;
  order.reserve(state.incidents.size());
  for (const auto& [id, inc] : state.incidents)
    order.push_back(&inc);
  std::stable_sort(order.begin(), order.end(), [](const incident* a, const incident* b) {
    const bool a_done = a->closed_at.has_value();
    const bool b_done = b->closed_at.has_value();
    if (a_done != b_done) return !a_done;
    if (a->target_at != b->target_at) return a->target_at < b->target_at;
    return a->id < b->id;
  });
  v1::IncidentList list;
  for (const incident* inc : order)
    *list.add_incidents() = make_view(*inc);
  return list;
}

http::status status_for(refusal r) {
  switch (r) {
    case refusal::unknown_incident:
    case refusal::unknown_elevator:
    case refusal::unknown_crew:
    case refusal::unknown_terminal:
      return http::status::not_found;
    case refusal::wrong_stage:
    case refusal::already_at_top_level:
    case refusal::not_your_job:
    case refusal::crew_unavailable:
    case refusal::deadline_not_armed:
      return http::status::conflict;
    case refusal::invalid_request:
    case refusal::none:
      break;
  }
  return http::status::bad_request;
}

namespace {

// Each district's outline is the convex hull of its elevators, computed once: the registry does
// not change while the server runs.
std::string districts_json(const storage::registry& registry) {
  namespace bg = boost::geometry;
  using point = bg::model::d2::point_xy<double>;  // x = lon, y = lat
  std::map<std::string, bg::model::multi_point<point>> by_district;
  for (const auto& e : registry.elevators())
    by_district[e.district_code()].emplace_back(e.location().lon(), e.location().lat());
  std::string body = R"({"districts":[)";
  bool first = true;
  for (const auto& [code, points] : by_district) {
    bg::model::polygon<point> hull;
    bg::convex_hull(points, hull);
    body += first ? "" : ",";
    first = false;
    body += R"({"code":)";
    append_json_string(body, code);
    body += fmt::format(R"(,"elevators":{},"outline":[)", points.size());
    const auto& ring = hull.outer();
    for (std::size_t i = 0; i < ring.size(); ++i)
      body +=
          fmt::format(R"({}{{"lat":{:.6f},"lon":{:.6f}}})", i ? "," : "", ring[i].y(), ring[i].x());
    body += "]}";
  }
  body += "]}";
  return body;
}

}  // namespace

console_api::console_api(dispatch_service& service, unsigned blocking_threads)
    : service_(service),
      blocking_(std::max(1u, blocking_threads)),
      districts_json_(districts_json(service.registry())) {}

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
  co_return json_response(ctx.request, http::status::ok, districts_json_);
}

// Who the token belongs to and what it may do, so a console can show or hide write actions.
asio::awaitable<http_response> console_api::session(request_context ctx) {
  const bool op = ctx.caller->role == api_token::role::operator_role;
  std::string body = "{\"name\":";
  append_json_string(body, ctx.caller->name);
  body += op ? R"(,"role":"operator"})" : R"(,"role":"auditor"})";
  co_return json_response(ctx.request, http::status::ok, std::move(body));
}

asio::awaitable<http_response> console_api::list_incidents(request_context ctx) {
  const v1::IncidentList list = co_await service_.async_read<v1::IncidentList>(
      [](const core_state& state, const geo::crew_index&) { return incidents_by_urgency(state); },
      asio::use_awaitable);
  // The JSON mapping leaves out empty repeated fields; an empty board is still a list.
  co_return json_response(
      ctx.request, http::status::ok,
      list.incidents_size() == 0 ? std::string(R"({"incidents":[]})") : protocol::to_json(list));
}

asio::awaitable<http_response> console_api::get_incident(request_context ctx) {
  const auto id = parse_id(ctx);
  if (!id) co_return no_such_incident(ctx);
  std::optional<v1::IncidentView> view =
      co_await service_.async_read<std::optional<v1::IncidentView>>(
          [id = *id](const core_state& state,
                     const geo::crew_index&) -> std::optional<v1::IncidentView> {
            if (const incident* inc = state.find(id)) return make_view(*inc);
            return std::nullopt;
          },
          asio::use_awaitable);

  storage::journal& journal = service_.journal();
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
  if (!view) view = view_from_events(*id, timeline.events);
  if (!view) co_return no_such_incident(ctx);
  for (auto& e : timeline.events)
    *view->add_timeline() = std::move(e);
  co_return json_response(ctx.request, http::status::ok, protocol::to_json(*view));
}

asio::awaitable<http_response> console_api::create_incident(request_context ctx) {
  v1::CreateFromCall body;
  if (auto error = parse_body(ctx.request, body)) co_return std::move(*error);
  cmd::call_alarm c;
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
  co_return co_await submit(ctx.request, std::get<command>(std::move(built)), http::status::ok);
}

asio::awaitable<http_response> console_api::submit(const http_request& request, command c,
                                                   http::status success) {
  const outcome out = co_await service_.async_submit(std::move(c), asio::use_awaitable);
  if (!out.ok())
    co_return json_error(request, status_for(out.refused), to_string(out.refused), out.reason);
  v1::CommandResult result;
  result.set_ok(true);
  result.set_incident_id(out.incident);
  // A call about an elevator that already has an open incident joins it: nothing was created.
  const bool opened = !out.events.empty() && out.events.front().has_opened();
  const auto status = success == http::status::created && !opened ? http::status::ok : success;
  auto response = json_response(request, status, protocol::to_json(result));
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
  std::string body = R"({"elevator":)" + protocol::to_json(*elevator);
  body += R"(,"maintenance_unit":)";
  const v1::MaintenanceUnit* unit = registry.unit(elevator->maintenance_unit_id());
  body += unit ? protocol::to_json(*unit) : "null";
  body += R"(,"building_operator":)";
  const v1::BuildingOperator* op = registry.building_operator(elevator->building_operator_id());
  body += op ? protocol::to_json(*op) : "null";
  body += '}';
  co_return json_response(ctx.request, http::status::ok, std::move(body));
}

asio::awaitable<http_response> console_api::list_crews(request_context ctx) {
  // Copy on the service's strand, format here: the strand decides incidents, it should not
  // spend its time printing a city's worth of crews.
  const std::vector<crew_row> rows = co_await service_.async_read<std::vector<crew_row>>(
      [](const core_state&, const geo::crew_index& index) {
        std::vector<crew_row> out;
        const geo::crew_table& table = index.table();
        out.reserve(table.size());
        for (const auto& entry : table.crews()) {
          if (!entry.live) continue;
          crew_row row;
          row.id = entry.id;
          if (entry.unit != geo::no_slot) row.unit_id = table.unit(entry.unit).id;
          row.licensed = entry.licensed;
          row.on_duty = entry.on_duty;
          row.job = entry.current_job;
          row.lat = entry.position.lat;
          row.lon = entry.position.lon;
          row.position_at_ms = entry.position_at_ms;
          out.push_back(std::move(row));
        }
        return out;
      },
      asio::use_awaitable);
  const std::int64_t now_ms = to_ms(dispatch_service::now());
  std::string body = fmt::format(R"({{"at_ms":{},"crews":[)", now_ms);
  bool first = true;
  for (const auto& row : rows) {
    if (!first) body += ',';
    first = false;
    body += R"({"id":)";
    append_json_string(body, row.id);
    body += R"(,"unit_id":)";
    append_json_string(body, row.unit_id);
    body += fmt::format(R"(,"licensed":{},"on_duty":{},"busy":{},"current_incident_id":{})",
                        row.licensed, row.on_duty, row.job != 0, row.job);
    // A crew that never reported has no position: (0, 0) at time 0 in the index.
    if (row.position_at_ms > 0)
      body += fmt::format(
          R"(,"position":{{"lat":{},"lon":{}}},"position_at_ms":{},"position_age_s":{})", row.lat,
          row.lon, row.position_at_ms,
          std::max<std::int64_t>(0, now_ms - row.position_at_ms) / 1000);
    else
      body += R"(,"position":null)";
    body += '}';
  }
  body += "]}";
  co_return json_response(ctx.request, http::status::ok, std::move(body));
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
  std::string body = fmt::format(R"({{"ok":{},"last_seq":{},"first_bad_seq":{},"reason":)",
                                 result.ok(), result.last_seq, result.first_bad_seq);
  append_json_string(body, result.reason);
  body += R"(,"failure":)";
  append_json_string(body, storage::to_string(result.failure));
  body += fmt::format(R"(,"records_checked":{},"checkpoints_checked":{}}})", result.records_checked,
                      result.checkpoints_checked);
  if (!result.ok())
    spdlog::warn("console: journal verification failed at seq {}: {}", result.first_bad_seq,
                 result.reason);
  co_return json_response(ctx.request, http::status::ok, std::move(body));
}

}  // namespace rescue::dispatcher
