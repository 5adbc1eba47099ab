// The fire centre's edge: escalations out through the durable outbox (webhook), and the inbound
// endpoints where the fire centre acknowledges an escalation and reports arrival.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "rescue/console.pb.h"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace rescue::dispatcher {

class fire_routes {
 public:
  fire_routes(asio::io_context& io, const server_config& config, dispatch_service& service,
              outbox& box);

  // POST /api/v1/fire/incidents/{id}/ack and .../arrived, both access::fire_centre.
  void add_routes(http_router& router);

  // dispatch_channels.fire: called on the service's strand once the escalation is durable;
  // posts, then stores the webhook call in the outbox.
  void on_escalation(const fx::notify_fire& escalation, const rescue::v1::IncidentView& view);

  // After dispatch_service::recover(): an escalation the journal holds but the outbox does not
  // (the process died between the durable event and the outbox write) is stored again, so the
  // fire centre is never left uncalled. Escalations already acknowledged are left alone.
  void reseed_from_service();

  // The webhook body for an escalation (documented in docs/crew-channel.md).
  static std::string escalation_payload(const fx::notify_fire& escalation,
                                        const rescue::v1::IncidentView& view);

 private:
  const server_config& config_;
  dispatch_service& service_;
  outbox& outbox_;
  asio::strand<asio::io_context::executor_type> strand_;
};

}  // namespace rescue::dispatcher
