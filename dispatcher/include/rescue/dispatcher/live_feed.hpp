// The console's live board over WebSocket: each client gets a snapshot of the open incidents,
// then every change as it becomes durable; a client that cannot keep up is dropped.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/beast/core/tcp_stream.hpp>

#include "rescue/console.pb.h"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"

namespace rescue::dispatcher {

struct live_feed_options {
  // Updates queued for one client beyond its snapshot. A browser that falls this far behind is
  // disconnected rather than allowed to grow the server's memory; it reconnects and gets a fresh
  // snapshot.
  std::size_t max_queued_updates = 1024;
  std::size_t max_incoming_bytes = 4096;  // clients only send pings and close frames
};

class live_feed : public std::enable_shared_from_this<live_feed> {
 public:
  // Create with std::make_shared; `service` and `m` must outlive every client.
  live_feed(dispatch_service& service, metrics& m, live_feed_options options = {});
  ~live_feed();
  live_feed(const live_feed&) = delete;
  live_feed& operator=(const live_feed&) = delete;

  // Registers GET /api/v1/live (WebSocket, console token of either role).
  void register_routes(http_router& router);

  // The dispatch_channels.incident_changed hook. Must be called on the service's strand, which
  // is what orders every update after the snapshot a client received.
  void publish(const rescue::v1::IncidentView& view, bool removed);

  // Closes every client with "going away". Thread-safe.
  void stop();

  std::size_t clients() const;

 private:
  class client;
  friend class client;

  void accept(websocket_upgrade upgrade);
  void join(const std::shared_ptr<client>& c);
  void leave(const client* c);

  dispatch_service& service_;
  metrics& metrics_;
  const live_feed_options options_;
  mutable std::mutex mutex_;
  std::unordered_map<const client*, std::weak_ptr<client>> clients_;
  bool stopped_ = false;
};

}  // namespace rescue::dispatcher
