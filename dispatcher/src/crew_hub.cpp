#include "rescue/dispatcher/crew_hub.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "rescue/dispatcher/crew_session.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/webhooks.pb.h"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;
namespace websocket = boost::beast::websocket;

crew_hub::crew_hub(asio::io_context& io, const server_config& config, dispatch_service& service,
                   outbox& box, metrics& m, std::shared_ptr<credential_store> creds)
    : io_(io),
      config_(config),
      credentials_(creds ? std::move(creds)
                         : std::make_shared<credential_store>(credentials_from(config))),
      service_(service),
      outbox_(box),
      metrics_(m),
      strand_(asio::make_strand(io)),
      seq_base_(static_cast<std::uint64_t>(core::to_ms(dispatch_service::now()))) {}

crew_hub::~crew_hub() = default;

void crew_hub::on_offer(const core::fx::offer_job& offer) {
  v1::CrewServerMessage message;
  *message.mutable_offer() = offer.job;
  asio::post(strand_, [this, crew = offer.crew_id, message = std::move(message)]() mutable {
    push(crew, std::move(message));
  });
}

void crew_hub::on_offer_elsewhere(const core::fx::offer_job& offer) {
  v1::CrewServerMessage message;
  *message.mutable_offer() = offer.job;
  asio::post(strand_, [this, crew = offer.crew_id, message = std::move(message)]() mutable {
    push(crew, std::move(message), false);
  });
}

void crew_hub::receipted_elsewhere(const std::string& crew_id, core::incident_id incident) {
  asio::post(strand_, [this, crew_id, incident] {
    const auto it = crews_.find(crew_id);
    if (it == crews_.end()) return;
    auto& pending = it->second.unacknowledged;
    std::erase_if(pending, [incident](const pending_message& m) {
      if (!m.offer || m.incident != incident) return false;
      if (m.receipt_timer) m.receipt_timer->cancel();
      return true;
    });
  });
}

void crew_hub::on_withdraw(const core::fx::withdraw_job& withdrawal) {
  v1::CrewServerMessage message;
  message.mutable_withdrawn()->set_incident_id(withdrawal.incident);
  message.mutable_withdrawn()->set_reason(withdrawal.reason);
  asio::post(strand_, [this, crew = withdrawal.crew_id, incident = withdrawal.incident,
                       message = std::move(message)]() mutable {
    // No SMS for a job that is no longer this crew's.
    for (auto& p : state_of(crew).unacknowledged) {
      if (p.incident == incident && p.receipt_timer) {
        p.receipt_timer->cancel();
        p.receipt_timer.reset();
      }
    }
    push(crew, std::move(message));
  });
}

void crew_hub::reseed_from_service() {
  using both = std::pair<std::vector<core::fx::offer_job>, std::vector<core::fx::offer_job>>;
  service_.async_read_city<both>(
      [](const city_view& city) {
        return both{pending_offers(city.own), pending_offers(city.others)};
      },
      [this](both pending) { reseed(std::move(pending.first), std::move(pending.second)); });
}

void crew_hub::reseed(std::vector<core::fx::offer_job> pending,
                      std::vector<core::fx::offer_job> elsewhere) {
  asio::post(strand_, [this, pending = std::move(pending),
                       elsewhere = std::move(elsewhere)]() mutable {
    if (!pending.empty())
      spdlog::info("crew channel: re-pushing {} pending offer(s) after recovery", pending.size());
    for (auto& offer : pending) {
      v1::CrewServerMessage message;
      *message.mutable_offer() = std::move(offer.job);
      push(offer.crew_id, std::move(message));
    }
    for (auto& offer : elsewhere) {
      v1::CrewServerMessage message;
      *message.mutable_offer() = std::move(offer.job);
      push(offer.crew_id, std::move(message), false);
    }
  });
}

std::vector<core::fx::offer_job> crew_hub::pending_offers(const core::core_state& state) {
  std::vector<core::fx::offer_job> out;
  for (const auto& [id, inc] : state.incidents)
    if (inc.offer) out.push_back(core::fx::offer_job{inc.offer->crew_id, core::job_offer_for(inc)});
  return out;
}

void crew_hub::accept(websocket_upgrade upgrade) {
  std::make_shared<crew_session>(std::move(upgrade), *this)->start();
}

void crew_hub::add_routes(http_router& router) {
  router.add_websocket("/ws/crew", access::custom,
                       [this](websocket_upgrade upgrade) { accept(std::move(upgrade)); });
}

void crew_hub::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    for (auto& [crew, st] : crews_) {
      for (auto& p : st.unacknowledged)
        if (p.receipt_timer) p.receipt_timer->cancel();
      if (auto session = st.session.lock())
        session->close(websocket::close_code::going_away, "server stopping");
    }
  });
}

void crew_hub::attach(const std::string& crew_id, const std::shared_ptr<crew_session>& session) {
  asio::post(strand_, [this, crew_id, session] {
    if (stopped_) {
      session->close(websocket::close_code::going_away, "server stopping");
      return;
    }
    auto& st = state_of(crew_id);
    if (auto old = st.session.lock(); old && old != session) {
      spdlog::info("crew {}: a newer connection replaces the open one", crew_id);
      old->close(websocket::close_code::normal, "replaced by a newer connection");
    }
    st.session = session;
    for (const auto& p : st.unacknowledged)
      session->deliver(p.json);
  });
}

void crew_hub::detach(const std::string& crew_id, const crew_session* session) {
  asio::post(strand_, [this, crew_id, session] {
    const auto it = crews_.find(crew_id);
    if (it == crews_.end()) return;
    const auto current = it->second.session.lock();
    if (!current || current.get() == session) it->second.session.reset();
  });
}

void crew_hub::receipt(const std::string& crew_id, std::uint64_t seq) {
  asio::post(strand_, [this, crew_id, seq] {
    const auto it = crews_.find(crew_id);
    if (it == crews_.end()) return;
    auto& pending = it->second.unacknowledged;
    const auto p = std::find_if(pending.begin(), pending.end(),
                                [seq](const pending_message& m) { return m.seq == seq; });
    if (p == pending.end()) return;  // a repeated receipt, or for a message dropped long ago
    if (p->receipt_timer) p->receipt_timer->cancel();
    // Another shard's offer: its owner holds the SMS fallback (the forwarder skips our own).
    if (p->offer && forward_receipt_) forward_receipt_(crew_id, p->incident);
    pending.erase(p);
  });
}

void crew_hub::notice(const std::string& crew_id, std::string text) {
  v1::CrewServerMessage message;
  message.mutable_notice()->set_text(std::move(text));
  asio::post(strand_, [this, crew_id, message = std::move(message)]() mutable {
    push(crew_id, std::move(message));
  });
}

void crew_hub::send_status(const std::string& crew_id) {
  service_.async_read_city<v1::CrewStatus>(
      [crew_id](const city_view& city) {
        const core::crew_availability a = city.availability(crew_id);
        v1::CrewStatus status;
        status.set_on_duty(a.on_duty);
        status.set_current_incident_id(a.engaged_on);
        return status;
      },
      asio::bind_executor(strand_, [this, crew_id](v1::CrewStatus status) {
        v1::CrewServerMessage message;
        *message.mutable_status() = std::move(status);
        push(crew_id, std::move(message));
      }));
}

crew_hub::crew_state& crew_hub::state_of(const std::string& crew_id) {
  auto [it, inserted] = crews_.try_emplace(crew_id);
  if (inserted) it->second.next_seq = seq_base_;
  return it->second;
}

void crew_hub::push(const std::string& crew_id, v1::CrewServerMessage message, bool watch_receipt) {
  if (stopped_) return;
  auto& st = state_of(crew_id);
  message.set_seq(++st.next_seq);
  pending_message p;
  p.seq = message.seq();
  p.json = std::make_shared<const std::string>(protocol::to_json(message));
  if (message.has_offer()) {
    p.incident = message.offer().incident_id();
    p.offer = std::make_shared<const v1::JobOffer>(message.offer());
    if (watch_receipt) {
      p.receipt_timer = std::make_shared<asio::steady_timer>(strand_, config_.crew_receipt_timeout);
      p.receipt_timer->async_wait([this, crew_id, seq = p.seq](boost::system::error_code ec) {
        if (!ec) receipt_overdue(crew_id, seq);
      });
    }
  } else if (message.has_withdrawn()) {
    p.incident = message.withdrawn().incident_id();
  } else if (message.has_status()) {
    // Sent fresh on every connect: an old one is never worth resending, so none is kept.
    if (auto session = st.session.lock()) session->deliver(p.json);
    return;
  }
  if (st.unacknowledged.size() >= max_unacknowledged) {
    auto& oldest = st.unacknowledged.front();
    spdlog::warn("crew {}: {} messages unreceipted, dropping seq {}", crew_id,
                 st.unacknowledged.size(), oldest.seq);
    if (oldest.receipt_timer) oldest.receipt_timer->cancel();
    st.unacknowledged.pop_front();
  }
  st.unacknowledged.push_back(p);
  if (auto session = st.session.lock()) session->deliver(p.json);
}

void crew_hub::receipt_overdue(const std::string& crew_id, std::uint64_t seq) {
  const auto it = crews_.find(crew_id);
  if (it == crews_.end() || stopped_) return;
  for (auto& p : it->second.unacknowledged) {
    if (p.seq != seq) continue;
    if (!p.receipt_timer || !p.offer) return;  // receipted, or withdrawn meanwhile
    p.receipt_timer.reset();                   // once per message, even if resent later
    send_sms(crew_id, seq, *p.offer);
    return;
  }
}

void crew_hub::send_sms(const std::string& crew_id, std::uint64_t seq, const v1::JobOffer& offer) {
  const auto* crew = service_.registry().crew(crew_id);
  const std::string phone = crew ? crew->phone() : std::string();
  if (config_.sms_webhook_url.empty()) {
    spdlog::warn("crew {}: offer for incident {} not receipted within {} s; no SMS webhook set",
                 crew_id, offer.incident_id(), config_.crew_receipt_timeout.count());
    return;
  }
  const std::string text = "96333 rescue job " + std::to_string(offer.incident_id()) + ": " +
                           offer.address() + ", rescue code " + offer.rescue_code() +
                           ". Open the crew app to accept.";
  v1::CrewSms sms;
  sms.set_kind("crew_offer_unreceipted");
  sms.set_crew_id(crew_id);
  sms.set_phone(phone);
  sms.set_incident_id(offer.incident_id());
  sms.set_seq(seq);
  sms.set_rescue_code(offer.rescue_code());
  sms.set_address(offer.address());
  sms.set_offered_at_ms(offer.offered_at_ms());
  sms.set_expires_at_ms(offer.expires_at_ms());
  sms.set_text(text);
  spdlog::warn("crew {}: offer for incident {} (seq {}) not receipted within {} s: SMS fallback",
               crew_id, offer.incident_id(), seq, config_.crew_receipt_timeout.count());
  outbox_.enqueue("crew_sms", offer.incident_id(), config_.sms_webhook_url,
                  protocol::to_json(sms, protocol::json_fields::all));
}

}  // namespace rescue::dispatcher
