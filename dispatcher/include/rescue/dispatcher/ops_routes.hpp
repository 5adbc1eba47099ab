// Routes for the people who run the platform: /healthz for probes, /metrics for Prometheus.
#pragma once

#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"

namespace rescue::dispatcher {

class ops_routes {
 public:
  // Both must outlive the routes.
  ops_routes(dispatch_service& service, const metrics& m) : service_(service), metrics_(m) {}

  // GET /healthz and GET /metrics, both open: probes and scrapers carry no token, and neither
  // route says anything about an incident.
  void register_routes(http_router& router);

 private:
  asio::awaitable<http_response> health(request_context ctx);
  asio::awaitable<http_response> render_metrics(request_context ctx);

  dispatch_service& service_;
  const metrics& metrics_;
};

}  // namespace rescue::dispatcher
