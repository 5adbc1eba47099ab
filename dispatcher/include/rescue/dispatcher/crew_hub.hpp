// The crew channel's shared state: per-crew sequence numbers, the messages each crew has not yet
// receipted, the one live session per crew, and the SMS fallback when a job offer goes unreceipted.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "rescue/core/incident_core.hpp"
#include "rescue/crew.pb.h"
#include "rescue/dispatcher/credentials.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/server_config.hpp"

namespace rescue::dispatcher {

class crew_session;

class crew_hub {
 public:
  // A crew that never reads must not grow the server: beyond this many unreceipted messages the
  // oldest is dropped (and logged).
  static constexpr std::size_t max_unacknowledged = 256;

  // `box` carries the SMS fallback; `config` supplies the [crews] keys. All must outlive the hub.
  // Crew tokens are checked against `creds` (made from `config` when null), so they can rotate.
  crew_hub(asio::io_context& io, const server_config& config, dispatch_service& service,
           outbox& box, metrics& m, std::shared_ptr<credential_store> creds = {});
  ~crew_hub();
  crew_hub(const crew_hub&) = delete;
  crew_hub& operator=(const crew_hub&) = delete;

  // dispatch_channels.offer and .withdraw: called on the service's strand after the events are
  // durable; they only post to the hub's strand.
  void on_offer(const core::fx::offer_job& offer);
  void on_withdraw(const core::fx::withdraw_job& withdrawal);
  // dispatch_channels.offer_elsewhere: another shard's offer, for the crew if it is connected
  // here. No receipt timer: the SMS fallback is the owner's, told of the receipt (below).
  void on_offer_elsewhere(const core::fx::offer_job& offer);

  // A sharded city: a receipt of another shard's offer is passed to its owner through this.
  void set_receipt_forwarder(std::function<void(const std::string&, core::incident_id)> f) {
    forward_receipt_ = std::move(f);
  }
  // The crew receipted this shard's offer on another instance: no SMS, nothing to resend.
  void receipted_elsewhere(const std::string& crew_id, core::incident_id incident);

  // After dispatch_service::recover(): reads the offers still pending in the core and pushes
  // them again (new sequence numbers, receipt timers re-armed). Sequence numbers start at the
  // hub's start time in milliseconds, so they keep increasing across restarts.
  void reseed_from_service();
  // `elsewhere`: offers of the other shards, pushed without a receipt timer.
  void reseed(std::vector<core::fx::offer_job> pending,
              std::vector<core::fx::offer_job> elsewhere = {});
  // The JobOffer of every incident whose offer is still open, as the core made it.
  static std::vector<core::fx::offer_job> pending_offers(const core::core_state& state);

  // The websocket_handler for "/ws/crew" (access::custom): authenticates, then upgrades.
  void accept(websocket_upgrade upgrade);
  // Registers accept() as the "/ws/crew" route.
  void add_routes(http_router& router);

  // Closes every session ("server stopping") and disarms the receipt timers.
  void stop();

  // ---- used by sessions (any thread) ----
  const server_config& config() const { return config_; }
  const credential_store& credentials() const { return *credentials_; }
  dispatch_service& service() { return service_; }
  metrics& stats() { return metrics_; }
  // The session is the crew's one live connection from now on; an older one is closed. Every
  // unreceipted message is sent to it again, in order.
  void attach(const std::string& crew_id, const std::shared_ptr<crew_session>& session);
  void detach(const std::string& crew_id, const crew_session* session);
  void receipt(const std::string& crew_id, std::uint64_t seq);
  // A sequenced notice (answers to the crew's own actions).
  void notice(const std::string& crew_id, std::string text);
  // The crew's duty and job as the core holds them (CrewStatus): on connect, after a shift.
  void send_status(const std::string& crew_id);

 private:
  struct pending_message {
    std::uint64_t seq = 0;
    std::shared_ptr<const std::string> json;
    core::incident_id incident = 0;                     // offers and withdrawals
    std::shared_ptr<const rescue::v1::JobOffer> offer;  // offers only, for the SMS text
    std::shared_ptr<asio::steady_timer> receipt_timer;  // offers only, until SMS or receipt
  };
  struct crew_state {
    std::uint64_t next_seq = 0;
    std::deque<pending_message> unacknowledged;
    std::weak_ptr<crew_session> session;
  };

  // On the strand.
  crew_state& state_of(const std::string& crew_id);
  // An offer gets a receipt timer (the SMS fallback) unless `watch_receipt` is false.
  void push(const std::string& crew_id, rescue::v1::CrewServerMessage message,
            bool watch_receipt = true);
  void receipt_overdue(const std::string& crew_id, std::uint64_t seq);
  void send_sms(const std::string& crew_id, std::uint64_t seq, const rescue::v1::JobOffer& offer);

  asio::io_context& io_;
  const server_config& config_;
  std::shared_ptr<credential_store> credentials_;
  dispatch_service& service_;
  outbox& outbox_;
  metrics& metrics_;
  asio::strand<asio::io_context::executor_type> strand_;
  const std::uint64_t seq_base_;
  std::unordered_map<std::string, crew_state> crews_;  // on the strand
  std::function<void(const std::string&, core::incident_id)> forward_receipt_;
  bool stopped_ = false;
};

}  // namespace rescue::dispatcher
