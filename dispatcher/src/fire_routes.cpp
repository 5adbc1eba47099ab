#include "rescue/dispatcher/fire_routes.hpp"

#include <charconv>
#include <cstdio>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/dispatcher/webhook_client.hpp"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;

namespace {

constexpr std::size_t max_fire_unit_length = 128;

// The optional body: empty, or exactly {"fire_unit": "..."}. Returns a reason when malformed.
std::string parse_fire_unit(std::string_view body, std::string& fire_unit) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!body.empty() && blank(body.front()))
    body.remove_prefix(1);
  while (!body.empty() && blank(body.back()))
    body.remove_suffix(1);
  if (body.empty()) return {};
  // A Struct parse keeps this strict (one known key, a string) without a JSON library.
  google::protobuf::Struct parsed;
  google::protobuf::util::JsonParseOptions options;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &parsed, options);
  if (!status.ok()) return "body is not a JSON object";
  for (const auto& [key, value] : parsed.fields()) {
    if (key != "fire_unit") return "unknown field \"" + key + "\"";
    if (value.kind_case() != google::protobuf::Value::kStringValue)
      return "fire_unit must be a string";
    if (value.string_value().size() > max_fire_unit_length) return "fire_unit is too long";
    fire_unit = value.string_value();
  }
  return {};
}

// A plain coroutine (parameters by value) behind a non-coroutine lambda in the router.
asio::awaitable<http_response> fire_command(dispatch_service* service, bool arrived,
                                            request_context ctx) {
  const std::string& raw_id = ctx.path_params.at("id");
  incident_id id = 0;
  const auto [end, ec] = std::from_chars(raw_id.data(), raw_id.data() + raw_id.size(), id);
  if (ec != std::errc() || end != raw_id.data() + raw_id.size() || id == 0)
    co_return json_error(ctx.request, http::status::bad_request, "invalid_request",
                         "incident id must be a positive integer");
  std::string fire_unit;
  if (auto reason = parse_fire_unit(ctx.request.body(), fire_unit); !reason.empty())
    co_return json_error(ctx.request, http::status::bad_request, "invalid_request", reason);
  command c = arrived ? command(cmd::fire_arrived{id, fire_unit})
                      : command(cmd::fire_acknowledged{id, fire_unit});
  const outcome out = co_await service->async_submit(std::move(c), asio::use_awaitable);
  if (!out.ok()) {
    const auto status = out.refused == refusal::unknown_incident  ? http::status::not_found
                        : out.refused == refusal::invalid_request ? http::status::bad_request
                                                                  : http::status::conflict;
    co_return json_error(ctx.request, status, to_string(out.refused), out.reason);
  }
  spdlog::info("fire centre: incident {} {}{}{}", id, arrived ? "arrived" : "acknowledged",
               fire_unit.empty() ? "" : " by ", fire_unit);
  co_return json_response(ctx.request, http::status::ok,
                          "{\"incident_id\":" + std::to_string(id) + ",\"status\":" +
                              json_quote(arrived ? "arrived" : "acknowledged") + "}");
}

route_handler fire_handler(dispatch_service& service, bool arrived) {
  return [service = &service, arrived](request_context ctx) {
    return fire_command(service, arrived, std::move(ctx));
  };
}

}  // namespace

fire_routes::fire_routes(asio::io_context& io, const server_config& config,
                         dispatch_service& service, outbox& box)
    : config_(config), service_(service), outbox_(box), strand_(asio::make_strand(io)) {}

void fire_routes::add_routes(http_router& router) {
  router.add(http::verb::post, "/api/v1/fire/incidents/{id}/ack", access::fire_centre,
             fire_handler(service_, false));
  router.add(http::verb::post, "/api/v1/fire/incidents/{id}/arrived", access::fire_centre,
             fire_handler(service_, true));
}

void fire_routes::on_escalation(const fx::notify_fire& escalation, const v1::IncidentView& view) {
  // Built here, stored off the service's strand: the outbox write waits for fsync.
  asio::post(strand_, [this, body = escalation_payload(escalation, view),
                       incident = escalation.incident] {
    const auto id = outbox_.enqueue("fire_escalation", config_.fire_webhook_url, body);
    spdlog::warn("incident {}: fire centre escalation stored as outbox message {}", incident, id);
  });
}

void fire_routes::reseed_from_service() {
  using escalations = std::vector<std::pair<fx::notify_fire, v1::IncidentView>>;
  service_.async_read<escalations>(
      [](const core_state& state, const geo::crew_index&) {
        escalations out;
        for (const auto& [id, inc] : state.incidents)
          if (inc.fire_notified && !inc.fire_acknowledged && !inc.fire_arrived_at)
            out.emplace_back(fx::notify_fire{id, inc.fire_reason}, make_view(inc));
        return out;
      },
      [this](escalations open) {
        asio::post(strand_, [this, open = std::move(open)] {
          std::string stored;
          for (const auto& row : outbox_.rows())
            if (row.kind == "fire_escalation") stored += row.body;
          for (const auto& [escalation, view] : open) {
            const std::string key = "\"incident_id\":" + std::to_string(escalation.incident) + ",";
            if (stored.find(key) != std::string::npos) continue;
            const auto id = outbox_.enqueue("fire_escalation", config_.fire_webhook_url,
                                            escalation_payload(escalation, view));
            spdlog::warn(
                "incident {}: fire escalation missing from the outbox after restart, "
                "stored as message {}",
                escalation.incident, id);
          }
        });
      });
}

std::string fire_routes::escalation_payload(const fx::notify_fire& escalation,
                                            const v1::IncidentView& view) {
  const auto& e = view.elevator();
  std::string body = "{\"kind\":\"fire_escalation\"";
  body += ",\"incident_id\":" + std::to_string(escalation.incident);
  body += ",\"reason\":" + json_quote(v1::EscalationReason_Name(escalation.reason));
  body += ",\"elevator\":{\"elevator_id\":" + json_quote(e.elevator_id());
  body += ",\"registration_code\":" + json_quote(e.registration_code());
  body += ",\"rescue_code\":" + json_quote(e.rescue_code());
  body += ",\"address\":" + json_quote(e.address());
  body += ",\"district_code\":" + json_quote(e.district_code());
  char coords[96];
  std::snprintf(coords, sizeof coords, "{\"lat\":%.6f,\"lon\":%.6f}", e.location().lat(),
                e.location().lon());
  body += ",\"location\":" + std::string(coords) + "}";
  body += ",\"people_trapped\":" + std::string(view.people_trapped() ? "true" : "false");
  body += ",\"injured\":" + std::string(view.injured() ? "true" : "false");
  body += ",\"alarm_at_ms\":" + std::to_string(view.alarm_at_ms());
  body += ",\"target_at_ms\":" + std::to_string(view.target_at_ms());
  body += ",\"crew_level\":" + json_quote(v1::RescueLevel_Name(view.level()));
  body += ",\"assigned_crew_id\":" + json_quote(view.assigned_crew_id());
  const auto& first = view.alarms_size() > 0 ? view.alarms(0) : v1::AlarmInfo::default_instance();
  body += ",\"caller_phone\":" + json_quote(first.caller_phone());
  const std::string base = "/api/v1/fire/incidents/" + std::to_string(escalation.incident);
  body += ",\"ack_path\":" + json_quote(base + "/ack");
  body += ",\"arrived_path\":" + json_quote(base + "/arrived");
  body += "}";
  return body;
}

}  // namespace rescue::dispatcher
