#include "crew_sim.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "rescue/dispatcher/crew_token.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/protocol/json.hpp"

namespace rescue::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace v1 = rescue::v1;
using std::chrono::milliseconds;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);

double distance_m(const v1::GeoPoint& a, const v1::GeoPoint& b) {
  constexpr double earth_m = 6'371'000.0;
  constexpr double rad = 3.14159265358979323846 / 180.0;
  const double dlat = (b.lat() - a.lat()) * rad;
  const double dlon = (b.lon() - a.lon()) * rad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(a.lat() * rad) * std::cos(b.lat() * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * earth_m * std::asin(std::min(1.0, std::sqrt(h)));
}

}  // namespace

crew_sim::crew_sim(asio::io_context& io, const crew_settings& settings, const v1::CrewMember& crew,
                   stats& st, std::uint64_t seed, released_fn on_released)
    : io_(io),
      settings_(settings),
      crew_id_(crew.id()),
      stats_(st),
      random_(seed),
      on_released_(std::move(on_released)),
      location_timer_(io),
      job_timer_(io),
      position_(crew.position()) {}

double crew_sim::uniform() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

void crew_sim::start(milliseconds delay) {
  asio::co_spawn(io_, run(delay), rescue::dispatcher::log_if_thrown("crew sim run"));
}

void crew_sim::stop() {
  stopped_ = true;
  location_timer_.cancel();
  job_timer_.cancel();
  boost::system::error_code ignored;
  if (ws_) beast::get_lowest_layer(*ws_).socket().close(ignored);
}

asio::awaitable<void> crew_sim::run(milliseconds delay) {
  asio::steady_timer wait(io_);
  wait.expires_after(delay);
  co_await wait.async_wait(tuple);
  milliseconds backoff{1000};
  while (!stopped_) {
    if (co_await connect()) {
      backoff = milliseconds{1000};
      connected_ = true;
      ++stats_.crews_connected;
      asio::co_spawn(io_, location_loop(generation_),
                     rescue::dispatcher::log_if_thrown("crew sim location loop"));
      send_location();
      beast::flat_buffer buffer;
      for (;;) {
        // The read deadline is the WebSocket idle timeout set in connect().
        auto [ec, n] = co_await ws_->async_read(buffer, tuple);
        if (ec) {
          if (!stopped_)
            std::fprintf(stderr, "crew %s: read: %s\n", crew_id_.c_str(), ec.message().c_str());
          break;
        }
        v1::CrewServerMessage message;
        const std::string text = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (const std::string error = protocol::from_json(text, message); !error.empty()) {
          std::fprintf(stderr, "crew %s: unreadable message: %s\n", crew_id_.c_str(),
                       error.c_str());
          continue;
        }
        on_message(message);
      }
      connected_ = false;
      --stats_.crews_connected;
    } else {
      ++stats_.crew_connect_failures;
    }
    ++generation_;
    location_timer_.cancel();
    boost::system::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    if (stopped_) break;
    wait.expires_after(backoff);
    co_await wait.async_wait(tuple);
    backoff = std::min(backoff * 2, milliseconds{30'000});
  }
}

asio::awaitable<bool> crew_sim::connect() {
  ws_.emplace(io_);
  queue_.clear();
  writing_ = false;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(settings_.host, ec);
  if (ec) co_return false;
  auto& tcp = beast::get_lowest_layer(*ws_);
  tcp.expires_after(std::chrono::seconds(15));
  if (auto [c_ec] =
          co_await tcp.async_connect(asio::ip::tcp::endpoint(address, settings_.http_port), tuple);
      c_ec)
    co_return false;
  tcp.expires_never();  // the WebSocket timeouts below take over
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(15);
  timeouts.idle_timeout = settings_.idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_->set_option(timeouts);
  const std::string target = "/ws/crew?crew=" + crew_id_ + "&token=" +
                             rescue::dispatcher::crew_token(settings_.token_secret, crew_id_);
  const std::string host = settings_.host + ":" + std::to_string(settings_.http_port);
  if (auto [h_ec] = co_await ws_->async_handshake(host, target, tuple); h_ec) {
    std::fprintf(stderr, "crew %s: handshake: %s\n", crew_id_.c_str(), h_ec.message().c_str());
    co_return false;
  }
  ws_->text(true);
  co_return true;
}

asio::awaitable<void> crew_sim::location_loop(std::uint64_t generation) {
  while (!stopped_ && generation == generation_) {
    location_timer_.expires_after(settings_.location_every);
    co_await location_timer_.async_wait(tuple);
    if (stopped_ || generation != generation_) co_return;
    send_location();
  }
}

v1::GeoPoint crew_sim::position_now() const {
  if (!travelling_) return position_;
  const double f =
      std::clamp(std::chrono::duration<double>(stats::clock::now() - trip_start_).count() /
                     std::max(1e-9, std::chrono::duration<double>(trip_real_).count()),
                 0.0, 1.0);
  v1::GeoPoint p;
  p.set_lat(trip_from_.lat() + (job_.target.lat() - trip_from_.lat()) * f);
  p.set_lon(trip_from_.lon() + (job_.target.lon() - trip_from_.lon()) * f);
  return p;
}

void crew_sim::send_location() {
  v1::CrewClientMessage m;
  *m.mutable_location()->mutable_position() = position_now();
  m.mutable_location()->set_at_ms(wall_ms());
  m.mutable_location()->set_accuracy_m(10);
  send(m);
}

void crew_sim::on_message(const v1::CrewServerMessage& message) {
  v1::CrewClientMessage receipt;
  receipt.mutable_receipt()->set_seq(message.seq());
  send(receipt);
  if (message.seq() <= highest_seq_) return;  // a resend after reconnecting: already handled
  highest_seq_ = message.seq();
  switch (message.body_case()) {
    case v1::CrewServerMessage::kOffer: {
      const auto& offer = message.offer();
      ++stats_.offers_received;
      stats_.offer_received(offer.incident_id(), offer.elevator_id(), offer.level(),
                            stats::clock::now());
      open_offers_.insert(offer.incident_id());
      asio::co_spawn(io_, decide(offer), rescue::dispatcher::log_if_thrown("crew sim decide"));
      break;
    }
    case v1::CrewServerMessage::kWithdrawn: {
      ++stats_.withdrawals;
      const std::uint64_t id = message.withdrawn().incident_id();
      open_offers_.erase(id);
      if (job_.incident_id == id) {
        // Cancelled or taken elsewhere: stop where we are.
        position_ = position_now();
        travelling_ = false;
        job_ = job{};
        job_timer_.cancel();
      }
      break;
    }
    case v1::CrewServerMessage::kNotice:
      on_notice(message.notice().text());
      break;
    default:
      break;
  }
}

asio::awaitable<void> crew_sim::decide(v1::JobOffer offer) {
  asio::steady_timer wait(io_);
  const auto span = (settings_.decide_max - settings_.decide_min).count();
  wait.expires_after(settings_.decide_min + milliseconds(static_cast<std::int64_t>(
                                                uniform() * static_cast<double>(span))));
  const double roll = uniform();
  co_await wait.async_wait(tuple);
  if (stopped_ || !open_offers_.contains(offer.incident_id())) co_return;  // withdrawn meanwhile
  open_offers_.erase(offer.incident_id());
  v1::CrewClientMessage m;
  if (roll < settings_.accept_prob && job_.incident_id == 0) {
    job_ = job{};
    job_.incident_id = offer.incident_id();
    job_.elevator_id = offer.elevator_id();
    job_.target = offer.location();
    job_.alarm_at_ms = offer.alarm_at_ms();
    m.mutable_accept()->set_incident_id(offer.incident_id());
    ++stats_.accepts_sent;
  } else if (roll < settings_.accept_prob + settings_.decline_prob || job_.incident_id != 0) {
    m.mutable_decline()->set_incident_id(offer.incident_id());
    m.mutable_decline()->set_reason(job_.incident_id != 0 ? "on another job" : "simulated decline");
    ++stats_.declines_sent;
  } else {
    ++stats_.offers_ignored;  // silence: the offer expires on the server
    co_return;
  }
  send(m);
}

void crew_sim::on_notice(const std::string& text) {
  // "<result> <action> <incident_id>[: reason]" (docs/crew-channel.md).
  const auto first = text.find(' ');
  const auto second = first == std::string::npos ? first : text.find(' ', first + 1);
  if (second == std::string::npos) return;
  const std::string result = text.substr(0, first);
  const std::string action = text.substr(first + 1, second - first - 1);
  const std::uint64_t id = std::strtoull(text.c_str() + second + 1, nullptr, 10);
  if (action != "accept" || id != job_.incident_id || job_.accepted) return;
  if (result != "ok") {
    ++stats_.accepts_refused;
    job_ = job{};
    return;
  }
  job_.accepted = true;
  asio::co_spawn(io_, work(id), rescue::dispatcher::log_if_thrown("crew sim work"));
}

asio::awaitable<void> crew_sim::work(std::uint64_t incident_id) {
  const auto still_mine = [this, incident_id] {
    return !stopped_ && job_.incident_id == incident_id;
  };
  v1::CrewClientMessage m;
  m.mutable_departed()->set_incident_id(incident_id);
  send(m);
  const std::int64_t departed_ms = wall_ms();
  const double travel_sim_s =
      distance_m(position_, job_.target) * settings_.road_factor / (settings_.speed_kmh / 3.6);
  trip_from_ = position_;
  trip_start_ = stats::clock::now();
  trip_real_ = std::chrono::duration_cast<stats::clock::duration>(
      std::chrono::duration<double>(travel_sim_s / settings_.time_scale));
  travelling_ = true;
  job_timer_.expires_after(trip_real_);
  co_await job_timer_.async_wait(tuple);
  if (!still_mine()) co_return;
  travelling_ = false;
  position_ = job_.target;
  send_location();
  m.mutable_arrived()->set_incident_id(incident_id);
  send(m);
  // Real time up to departure, simulated time on the road.
  const double arrival_s =
      static_cast<double>(departed_ms - job_.alarm_at_ms) / 1000.0 + travel_sim_s;
  stats_.crew_arrived(incident_id, arrival_s);

  job_timer_.expires_after(std::chrono::duration_cast<stats::clock::duration>(
      std::chrono::duration<double>(settings_.release_after_s / settings_.time_scale)));
  co_await job_timer_.async_wait(tuple);
  if (!still_mine()) co_return;
  m.mutable_released()->set_incident_id(incident_id);
  send(m);
  ++stats_.releases;
  const std::string elevator = job_.elevator_id;
  job_ = job{};
  if (on_released_) on_released_(incident_id, elevator);
}

void crew_sim::send(const v1::CrewClientMessage& message) {
  if (!connected_) return;  // positions are re-sent on connect; actions are best effort
  queue_.push_back(protocol::to_json(message));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(io_, write_loop(generation_),
                   rescue::dispatcher::log_if_thrown("crew sim write loop"));
  }
}

asio::awaitable<void> crew_sim::write_loop(std::uint64_t generation) {
  while (!queue_.empty() && generation == generation_ && !stopped_) {
    auto [ec, n] = co_await ws_->async_write(asio::buffer(queue_.front()), tuple);
    if (ec) break;  // the reader sees the failure and reconnects
    queue_.pop_front();
  }
  if (generation == generation_) writing_ = false;
}

}  // namespace rescue::sim
