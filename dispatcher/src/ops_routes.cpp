#include "rescue/dispatcher/ops_routes.hpp"

#include <algorithm>

#include "rescue/console.pb.h"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;

void ops_routes::register_routes(http_router& router) {
  router.add(http::verb::get, "/healthz", access::open,
             [this](request_context ctx) { return health(std::move(ctx)); });
  router.add(http::verb::get, "/metrics", access::open,
             [this](request_context ctx) { return render_metrics(std::move(ctx)); });
}

asio::awaitable<http_response> ops_routes::health(request_context ctx) {
  // Both figures are read without the service's strand: a probe must answer even when the
  // strand is busy, and a stuck strand shows as a journal sequence that stops moving.
  v1::Health health;
  auto problem = service_.journal().problem();
  const bool ready = problem.empty();
  if (ready) problem = service_.journal().degraded();
  health.set_status(!ready ? "not_ready" : problem.empty() ? "ok" : "degraded");
  health.set_reason(std::move(problem));
  health.set_journal_last_seq(service_.journal().last_seq());
  health.set_open_incidents(
      static_cast<std::uint32_t>(std::max<std::int64_t>(0, metrics_.open_incidents.load())));
  co_return json_response(ctx.request, ready ? http::status::ok : http::status::service_unavailable,
                          health);
}

asio::awaitable<http_response> ops_routes::render_metrics(request_context ctx) {
  http_response response{http::status::ok, ctx.request.version()};
  response.set(http::field::server, "rescue-dispatchd");
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(ctx.request.keep_alive());
  response.body() = metrics_.render();
  response.prepare_payload();
  co_return response;
}

}  // namespace rescue::dispatcher
