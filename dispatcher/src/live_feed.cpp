#include "rescue/dispatcher/live_feed.hpp"

#include <deque>
#include <string>

#include <spdlog/spdlog.h>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "rescue/dispatcher/console_api.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::dispatcher {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace v1 = rescue::v1;
using message_ptr = std::shared_ptr<const std::string>;

namespace {

message_ptr encode(const v1::IncidentView& view, bool removed) {
  v1::LiveUpdate update;
  *update.mutable_incident() = view;
  update.set_removed(removed);
  return std::make_shared<const std::string>(protocol::to_json(update));
}

}  // namespace

// One WebSocket client of the feed. Everything but send() and stop() runs on the connection's
// strand (the executor of the stream handed over by the HTTP session).
class live_feed::client : public std::enable_shared_from_this<client> {
 public:
  client(http_stream stream, connection_slot slot, std::shared_ptr<live_feed> feed)
      : ws_(std::move(stream)), slot_(std::move(slot)), feed_(std::move(feed)) {
    beast::error_code ec;
    const auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    feed_->metrics_.console_connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~client() {
    feed_->leave(this);
    feed_->metrics_.console_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  const std::string& remote() const { return remote_; }

  void start(http_request request) {
    // Browsers answer pings but never send any, and a feed client has nothing else to say: the
    // server pings, and a client that stops answering is dropped after the idle timeout.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "rescue-dispatchd"); }));
    ws_.read_message_max(feed_->options_.max_incoming_bytes);
    ws_.text(true);
    ws_.async_accept(request, beast::bind_front_handler(&client::on_accept, shared_from_this()));
  }

  // Thread-safe. The snapshot is queued with a limit that makes room for all of it.
  void send(message_ptr message) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), message = std::move(message)] {
      self->on_send(message);
    });
  }

  void allow_snapshot(std::size_t messages) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), messages] {
      self->limit_ = self->feed_->options_.max_queued_updates + messages;
    });
  }

  void stop() {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_) return;
      self->closing_ = true;
      if (self->queue_.empty()) self->close_gracefully();
    });
  }

 private:
  void fail(beast::error_code ec, const char* what) {
    closed_ = true;
    if (ec == asio::error::operation_aborted || ec == websocket::error::closed) return;
    spdlog::debug("live feed {}: {}: {}", remote_, what, ec.message());
  }

  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "accept");
    spdlog::info("live feed {}: connected", remote_);
    feed_->join(shared_from_this());
    do_read();
  }

  // Clients send nothing we act on, but reading is what answers pings and close frames.
  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&client::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read");
    buffer_.consume(buffer_.size());
    do_read();
  }

  void on_send(message_ptr message) {
    if (closed_ || closing_) return;
    if (queue_.size() >= limit_) {
      spdlog::warn("live feed {}: dropped: {} updates queued, the client is not reading", remote_,
                   queue_.size());
      closed_ = true;
      // A close frame would wait behind the same stalled writes: cut the connection.
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(ws_).socket().close(ignored);
      feed_->leave(this);
      return;
    }
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) do_write();
  }

  void do_write() {
    ws_.async_write(asio::buffer(*queue_.front()),
                    beast::bind_front_handler(&client::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) {
      queue_.clear();
      return fail(ec, "write");
    }
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (closing_) close_gracefully();
  }

  void close_gracefully() {
    closed_ = true;
    ws_.async_close(websocket::close_code::going_away,
                    [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<http_stream> ws_;
  connection_slot slot_;
  std::shared_ptr<live_feed> feed_;
  beast::flat_buffer buffer_;
  std::deque<message_ptr> queue_;
  std::size_t limit_ = 0;  // set with the snapshot; nothing is sent before it
  std::string remote_;
  bool closing_ = false;
  bool closed_ = false;
};

live_feed::live_feed(dispatch_service& service, metrics& m, live_feed_options options)
    : service_(service), metrics_(m), options_(options) {}

live_feed::~live_feed() = default;

void live_feed::register_routes(http_router& router) {
  router.add_websocket(
      "/api/v1/live", access::auditor,
      [self = shared_from_this()](websocket_upgrade upgrade) { self->accept(std::move(upgrade)); });
}

void live_feed::accept(websocket_upgrade upgrade) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;  // the stream closes as it goes out of scope
  }
  auto c = std::make_shared<client>(std::move(upgrade.stream), std::move(upgrade.slot),
                                    shared_from_this());
  c->start(std::move(upgrade.request));
}

void live_feed::join(const std::shared_ptr<client>& c) {
  // The snapshot is taken and the client added in one step on the service's strand, where
  // publish() also runs: no change can fall between the snapshot and the first update.
  service_.async_read_city<bool>(
      [self = shared_from_this(), c](const city_view& city) {
        const v1::IncidentList list = incidents_by_urgency(city.own, &city.others);
        c->allow_snapshot(static_cast<std::size_t>(list.incidents_size()));
        for (const auto& view : list.incidents())
          c->send(encode(view, false));
        std::lock_guard lock(self->mutex_);
        if (self->stopped_)
          c->stop();
        else
          self->clients_.insert_or_assign(c.get(), c);
        return true;
      },
      asio::detached);
}

void live_feed::leave(const client* c) {
  std::lock_guard lock(mutex_);
  clients_.erase(c);
}

void live_feed::publish(const v1::IncidentView& view, bool removed) {
  std::vector<std::shared_ptr<client>> targets;
  {
    std::lock_guard lock(mutex_);
    if (clients_.empty()) return;
    targets.reserve(clients_.size());
    for (const auto& [key, weak] : clients_)
      if (auto c = weak.lock()) targets.push_back(std::move(c));
  }
  const message_ptr message = encode(view, removed);
  for (const auto& c : targets)
    c->send(message);
}

void live_feed::stop() {
  std::vector<std::shared_ptr<client>> targets;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (const auto& [key, weak] : clients_)
      if (auto c = weak.lock()) targets.push_back(std::move(c));
    clients_.clear();
  }
  for (const auto& c : targets)
    c->stop();
}

std::size_t live_feed::clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

}  // namespace rescue::dispatcher
