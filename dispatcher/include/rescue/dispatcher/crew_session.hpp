// One crew phone's WebSocket: token check before the upgrade, then JSON CrewClientMessages in
// (translated to core commands as the authenticated crew) and sequenced CrewServerMessages out.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "rescue/crew.pb.h"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/metrics.hpp"

namespace rescue::dispatcher {

class crew_hub;

class crew_session : public std::enable_shared_from_this<crew_session> {
 public:
  // A phone that does not read its messages is closed beyond this many queued writes.
  static constexpr std::size_t max_queued_writes = 512;
  // Beast pings an idle phone at half this and drops it when nothing at all arrives for this long.
  static constexpr std::chrono::seconds idle_timeout{60};

  // `stream` is moved onto a strand of its own; `request` is the upgrade request already read.
  crew_session(boost::beast::tcp_stream stream, http_request request, crew_hub& hub);
  ~crew_session();

  void start();
  // Queues one serialized CrewServerMessage; safe from any thread.
  void deliver(std::shared_ptr<const std::string> json);
  // Closes with a WebSocket close frame; safe from any thread.
  void close(boost::beast::websocket::close_code code, std::string reason);

 private:
  using ws_stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;

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
};

}  // namespace rescue::dispatcher
