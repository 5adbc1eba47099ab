// The fire centre's edge: escalations out through the durable outbox (webhook), and the inbound
// endpoints where the fire centre acknowledges an escalation and reports arrival.
#pragma once

#include <cstddef>
#include <string>

#include "rescue/console.pb.h"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/webhooks.pb.h"

namespace rescue::dispatcher {

class fire_routes {
 public:
  fire_routes(const server_config& config, dispatch_service& service, outbox& box);

  // POST /api/v1/fire/incidents/{id}/ack and .../arrived, both access::fire_centre.
  void add_routes(http_router& router);

  // dispatch_channels.fire_message: the outbox message of an escalation, which the journal
  // stores in the escalation's own transaction.
  storage::outbox_message escalation_message(const core::fx::notify_fire& escalation,
                                             const rescue::v1::IncidentView& view) const;

  // dispatch_channels.fire: called on the service's strand once the escalation, and with it the
  // fire call, is durable; the journal has woken the outbox already. Logs it.
  void on_escalation(const core::fx::notify_fire& escalation, const rescue::v1::IncidentView& view);

  // Once, at the start that upgraded a journal written before the transactional outbox, when a
  // fire call could be lost between the escalation's commit and the outbox write: stores the call
  // of every fire escalation in the journal that the fire centre never answered and the outbox
  // has no row for, whether the incident is open, closed or cancelled. Returns the rows stored.
  // Call before serving; reads the whole journal.
  std::size_t store_calls_missing_after_upgrade();

  // The webhook message for an escalation (documented in docs/crew-channel.md), sent with
  // every field printed (protocol::json_fields::all).
  static rescue::v1::FireEscalation escalation_payload(const core::fx::notify_fire& escalation,
                                                       const rescue::v1::IncidentView& view);

 private:
  const server_config& config_;
  dispatch_service& service_;
  outbox& outbox_;
};

}  // namespace rescue::dispatcher
