// One crew phone's WebSocket: token check before the upgrade, then JSON CrewClientMessages in
// (translated to core commands as the authenticated crew) and sequenced CrewServerMessages out.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "rescue/core/incident_core.hpp"
#include "rescue/crew.pb.h"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/geo/position_fix.hpp"

namespace rescue::dispatcher {

class crew_hub;

// What a crew's accept, decline, departed, arrived, released or shift message asks the core to
// do.
struct crew_action {
  core::command c;
  std::string_view name;  // "accept", ... for the notice the crew gets back
  core::incident_id incident = 0;
  std::string_view object;  // what the notice names when no incident: "on" / "off" for a shift
};

// The command `message` asks for on behalf of the authenticated crew `crew_id`; empty for the
// messages that are not commands (receipt, location, no body). Pure, so the translation can be
// tested and fuzzed without a socket.
std::optional<crew_action> crew_command(const rescue::v1::CrewClientMessage& message,
                                        const std::string& crew_id);

// Whether the crew index may take a GPS fix received at `received_at_ms`, and the time it keeps
// (geo/position_fix.hpp): impossible coordinates and clocks far ahead are refused.
geo::position_fix location_fix(const rescue::v1::Location& location, std::int64_t received_at_ms);

class crew_session : public std::enable_shared_from_this<crew_session> {
 public:
  // A phone that does not read its messages is closed beyond this many queued writes.
  static constexpr std::size_t max_queued_writes = 512;
  // Beast pings an idle phone at half this and drops it when nothing at all arrives for this long.
  static constexpr std::chrono::seconds idle_timeout{60};

  // The stream is moved onto a strand of its own; the request is the upgrade already read.
  crew_session(websocket_upgrade upgrade, crew_hub& hub);
  ~crew_session();

  void start();
  // Queues one serialized CrewServerMessage; safe from any thread.
  void deliver(std::shared_ptr<const std::string> json);
  // Closes with a WebSocket close frame; safe from any thread.
  void close(boost::beast::websocket::close_code code, std::string reason);

 private:
  using ws_stream = boost::beast::websocket::stream<http_stream>;

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> authenticate();
  boost::asio::awaitable<bool> read_message(std::string& text);
  boost::asio::awaitable<void> act(rescue::v1::CrewClientMessage message);
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> close_now(boost::beast::websocket::close_reason reason);
  void policy_violation(std::string reason);
  void fail(boost::beast::error_code ec, std::string_view what);

  ws_stream ws_;
  http_request request_;
  connection_slot slot_;
  boost::asio::ip::address remote_;
  std::shared_ptr<auth_throttle> throttle_;
  crew_hub& hub_;
  metrics& metrics_;  // outlives the io_context, so the destructor may count down safely
  std::string crew_id_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool writing_ = false;
  bool upgraded_ = false;
  bool closing_ = false;
  bool counted_ = false;
  std::string close_reason_;
  std::string last_position_refusal_;  // the last refused fix, told to the crew once a while
  std::chrono::steady_clock::time_point last_position_refusal_at_{};
};

}  // namespace rescue::dispatcher
