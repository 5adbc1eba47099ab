#include "rescue/dispatcher/dispatch_service.hpp"

#include <spdlog/spdlog.h>

#include "rescue/dispatcher/journal_replay.hpp"

namespace rescue::dispatcher {
namespace v1 = rescue::v1;

namespace {

// The crew finder the core sees: the live index, read on the service's strand.
const geo::crew_finder& finder(const geo::crew_index& index) {
  return index;
}

}  // namespace

dispatch_service::dispatch_service(asio::io_context& io, const core::escalation_policy& policy,
                                   const storage::registry& registry, geo::crew_index crews,
                                   storage::journal& journal, metrics& m)
    : strand_(asio::make_strand(io)),
      policy_(policy),
      registry_(registry),
      crews_(std::move(crews)),
      journal_(journal),
      metrics_(m) {}

dispatch_service::~dispatch_service() = default;

core::time_point dispatch_service::now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

recovery_report dispatch_service::recover(journal_follower warm) {
  recovery_report report;
  report.warm_events = warm.events();
  if (!warm.still_matches(journal_)) {
    report.warm_discarded = true;
    report.warm_events = 0;
    warm = journal_follower{};
  }
  core::replayed rebuilt = std::move(warm).finish(journal_);
  report.events = rebuilt.events;
  state_ = std::move(rebuilt.state);
  terminal_frames_ = std::move(rebuilt.frames);
  report.open_incidents = state_.incidents.size();
  report.last_inbox_entry = state_.last_inbox_entry;
  metrics_.open_incidents = static_cast<std::int64_t>(state_.incidents.size());
  const core::time_point t = now();
  for (const auto& [id, inc] : state_.incidents) {
    for (const auto& [kind, at] : inc.deadlines) {
      ++report.deadlines_rearmed;
      if (at <= t) ++report.deadlines_overdue;
      arm_timer(id, kind, at);
    }
  }
  return report;
}

void dispatch_service::crew_position(std::string crew_id, double lat, double lon,
                                     std::int64_t at_ms, bool local) {
  asio::post(strand_, [this, crew_id = std::move(crew_id), lat, lon, at_ms, local]() mutable {
    if (crews_.move(crew_id, geo::lat_lon{lat, lon}, at_ms) == geo::crew_update::applied && local &&
        on_position_)
      on_position_(storage::crew_position{std::move(crew_id), lat, lon, at_ms});
  });
}

core::crew_availability city_view::availability(std::string_view crew_id) const {
  return core::availability_of(own, registry, &elsewhere, crew_id);
}

bool city_view::on_duty(std::string_view crew_id) const {
  if (const auto it = elsewhere.duty.find(std::string(crew_id)); it != elsewhere.duty.end())
    return it->second;
  return core::crew_on_duty(own, registry, crew_id);
}

void dispatch_service::set_shards(const core::shard_map& map, const core::shard_spec& own,
                                  shard_forwarder forward) {
  shards_ = &map;
  own_ = &own;
  forward_ = std::move(forward);
}

void dispatch_service::catch_up_elsewhere(const std::string& shard, std::uint64_t last_seq,
                                          const std::vector<v1::Event>& events) {
  followed_seq_[shard] = last_seq;
  std::set<core::incident_id> touched;
  for (const auto& e : events)
    fold_elsewhere(e, false, touched);
  refresh_elsewhere();
}

void dispatch_service::follow_elsewhere(std::string shard, std::uint64_t last_seq,
                                        std::vector<v1::Event> events) {
  asio::post(strand_, [this, shard = std::move(shard), last_seq, events = std::move(events)] {
    std::set<core::incident_id> touched;
    for (const auto& e : events)
      fold_elsewhere(e, true, touched);
    refresh_elsewhere();
    followed_seq_[shard] = last_seq;
    run_follow_waiters();
    if (!channels_.incident_changed) return;
    for (const core::incident_id id : touched) {
      if (const core::incident* inc = others_.find(id)) {
        channels_.incident_changed(core::make_view(*inc), false);
      } else {
        v1::IncidentView gone;
        gone.set_id(id);
        channels_.incident_changed(gone, true);
      }
    }
  });
}

void dispatch_service::when_followed(std::string shard, std::uint64_t seq, std::function<void()> fn,
                                     std::chrono::milliseconds limit) {
  asio::post(strand_, [this, shard = std::move(shard), seq, fn = std::move(fn), limit]() mutable {
    if (const auto it = followed_seq_.find(shard); it != followed_seq_.end() && it->second >= seq) {
      fn();
      return;
    }
    auto shared = std::make_shared<std::function<void()>>(std::move(fn));
    follow_waiters_.push_back({std::move(shard), seq, shared});
    auto timer = std::make_shared<asio::steady_timer>(strand_, limit);
    timer->async_wait([timer, shared](std::error_code) {
      if (*shared) std::exchange(*shared, nullptr)();
    });
  });
}

void dispatch_service::run_follow_waiters() {
  std::erase_if(follow_waiters_, [this](follow_waiter& w) {
    if (!*w.fn) return true;  // ran when its limit passed
    const auto it = followed_seq_.find(w.shard);
    if (it == followed_seq_.end() || it->second < w.seq) return false;
    std::exchange(*w.fn, nullptr)();
    return true;
  });
}

void dispatch_service::fold_elsewhere(const v1::Event& e, bool live,
                                      std::set<core::incident_id>& touched) {
  core::apply(others_, e);
  if (e.incident_id() != 0) touched.insert(e.incident_id());
  if (!live) return;
  const auto fx = core::crew_effect_of(others_, e);
  if (!fx) return;
  if (const auto* o = std::get_if<core::fx::offer_job>(&*fx)) {
    if (channels_.offer_elsewhere) channels_.offer_elsewhere(*o);
  } else if (const auto* w = std::get_if<core::fx::withdraw_job>(&*fx)) {
    if (channels_.withdraw) channels_.withdraw(*w);
  }
}

void dispatch_service::refresh_elsewhere() {
  elsewhere_.engaged = core::crew_engagements(others_);
  elsewhere_.duty = others_.duty;
}

void dispatch_service::submit_on_strand(core::command c, std::string inbox_entry,
                                        std::function<void(core::outcome)> done) {
  pending p;
  p.ticket = next_ticket_++;
  p.received = std::chrono::steady_clock::now();
  p.done = std::move(done);

  if (failed_) {
    p.out.refused = core::refusal::invalid_request;
    p.out.reason = "the journal failed; the server is stopping";
    p.durable = true;
    queue_.push_back(std::move(p));
    drain();
    return;
  }
  if (closing_) {
    // The journal closes once the queue drains: nothing new may be appended, so nothing new is
    // acknowledged. Terminals resend to the next server; callers see the refusal.
    p.out.refused = core::refusal::invalid_request;
    p.out.reason = "the server is stopping";
    p.durable = true;
    queue_.push_back(std::move(p));
    drain();
    return;
  }

  const auto* t = std::get_if<core::cmd::terminal_event>(&c);
  if (t) {
    const auto verdict = terminal_frames_.classify(t->terminal_id, {t->boot_id, t->seq, t->code},
                                                   [this](std::uint64_t id) {
                                                     const core::incident* inc = state_.find(id);
                                                     return inc && !inc->closed_at;
                                                   });
    using numbering = core::terminal_frames::numbering;
    if (verdict.resend) {
      // A resend of a frame already decided: acknowledge it once the original is durable,
      // which the FIFO queue guarantees.
      metrics_.terminal_duplicates_total.fetch_add(1, std::memory_order_relaxed);
      p.out.effects.push_back(core::fx::ack_terminal{t->terminal_id, t->seq});
      p.durable = true;
      queue_.push_back(std::move(p));
      drain();
      return;
    }
    if (verdict.order == numbering::gap)
      metrics_.terminal_seq_gaps_total.fetch_add(1, std::memory_order_relaxed);
    else if (verdict.order == numbering::backwards || verdict.order == numbering::repeat)
      metrics_.terminal_seq_backwards_total.fetch_add(1, std::memory_order_relaxed);
  }

  const core::environment env{policy_,
                              registry_,
                              finder(crews_),
                              own_ ? core::shard_map::first_incident_id(*own_) : 1,
                              own_ ? &elsewhere_ : nullptr,
                              inbox_entry};
  p.out = core::decide(state_, c, now(), env);
  if (!p.out.ok()) metrics_.commands_refused_total.fetch_add(1, std::memory_order_relaxed);
  // Only a decided frame counts as seen: a refused one is decided again when resent.
  if (t && p.out.ok())
    terminal_frames_.remember(t->terminal_id, {t->boot_id, t->seq, t->code}, p.out.incident);

  if (p.out.events.empty()) {
    p.durable = true;
    queue_.push_back(std::move(p));
    drain();
    return;
  }

  const std::uint64_t ticket = p.ticket;
  std::vector<v1::Event> events = p.out.events;
  std::vector<storage::outbox_message> messages = outbox_messages(p.out);
  queue_.push_back(std::move(p));
  const auto appended = std::chrono::steady_clock::now();
  journal_.append(
      std::move(events), std::move(messages),
      [this, ticket, appended](std::error_code ec, std::vector<std::uint64_t> seqs) {
        metrics_.journal_commit_seconds.observe(std::chrono::steady_clock::now() - appended);
        const std::uint64_t last = seqs.empty() ? 0 : seqs.back();
        asio::post(strand_, [this, ticket, ec, last] { on_durable(ticket, ec, last); });
      });
}

std::vector<storage::outbox_message> dispatch_service::outbox_messages(
    const core::outcome& out) const {
  std::vector<storage::outbox_message> messages;
  // The state already holds the decision: the view is the incident as escalated.
  for (const auto& effect : out.effects) {
    if (const auto* f = std::get_if<core::fx::notify_fire>(&effect)) {
      if (!channels_.fire_message) continue;
      if (const core::incident* inc = state_.find(f->incident))
        messages.push_back(channels_.fire_message(*f, core::make_view(*inc)));
    } else if (const auto* u = std::get_if<core::fx::upload_record>(&effect)) {
      if (channels_.upload_message) messages.push_back(channels_.upload_message(*u));
    }
  }
  return messages;
}

void dispatch_service::on_durable(std::uint64_t ticket, std::error_code ec,
                                  std::uint64_t last_seq) {
  if (ec) {
    spdlog::critical("journal append failed: {}; stopping so that recovery rebuilds the state",
                     ec.message());
    failed_ = true;
    // Nothing of this or any later command is acknowledged.
    for (auto& p : queue_) {
      p.out = core::outcome{};
      p.out.refused = core::refusal::invalid_request;
      p.out.reason = "the journal failed; the server is stopping";
      p.durable = true;
    }
    drain();
    if (on_fatal_) on_fatal_(ec);
    return;
  }
  for (auto& p : queue_) {
    if (p.ticket == ticket) {
      p.durable = true;
      p.out.journal_seq = last_seq;
      break;
    }
  }
  drain();
}

void dispatch_service::drain() {
  while (!queue_.empty() && queue_.front().durable) {
    pending p = std::move(queue_.front());
    queue_.pop_front();
    if (p.out.ok()) execute(p.out, p.received);
    p.done(std::move(p.out));
  }
  finish_drain_if_idle();
}

void dispatch_service::drain_then(std::function<void()> done) {
  asio::post(strand_, [this, done = std::move(done)]() mutable {
    closing_ = true;
    for (auto& [key, slot] : timers_)
      slot.timer->cancel();
    timers_.clear();
    on_drained_ = std::move(done);
    finish_drain_if_idle();
  });
}

void dispatch_service::finish_drain_if_idle() {
  if (!closing_ || !queue_.empty() || !on_drained_) return;
  auto done = std::move(on_drained_);
  on_drained_ = nullptr;
  done();
}

void dispatch_service::execute(const core::outcome& out,
                               std::chrono::steady_clock::time_point received) {
  for (const auto& e : out.events) {
    switch (e.body_case()) {
      case v1::Event::kOpened:
        metrics_.alarms_total.fetch_add(1, std::memory_order_relaxed);
        metrics_.incidents_opened_total.fetch_add(1, std::memory_order_relaxed);
        break;
      case v1::Event::kMerged:
        metrics_.alarms_total.fetch_add(1, std::memory_order_relaxed);
        break;
      case v1::Event::kFaultRecorded:
        if (const auto code = static_cast<std::size_t>(e.fault_recorded().code());
            code < metrics_.terminal_faults_total.size())
          metrics_.terminal_faults_total[code].fetch_add(1, std::memory_order_relaxed);
        break;
      case v1::Event::kLevelEscalated:
        metrics_.escalations_total.fetch_add(1, std::memory_order_relaxed);
        if (e.level_escalated().to() == v1::LEVEL_3_FIRE)
          metrics_.fire_escalations_total.fetch_add(1, std::memory_order_relaxed);
        break;
      case v1::Event::kOfferAccepted:
        if (const core::incident* inc = state_.find(e.incident_id());
            inc && inc->first_accepted_at == core::from_ms(e.at_ms()))
          metrics_.response_seconds.observe(*inc->first_accepted_at - inc->alarm_at);
        break;
      case v1::Event::kCrewArrived:
      case v1::Event::kFireArrived:
        if (const core::incident* inc = state_.find(e.incident_id());
            inc && inc->arrived_at == core::from_ms(e.at_ms())) {
          metrics_.arrival_seconds.observe(*inc->arrived_at - inc->alarm_at);
          if (inc->late) metrics_.late_arrivals_total.fetch_add(1, std::memory_order_relaxed);
        }
        break;
      default:
        break;
    }
  }
  const bool opened = !out.events.empty() && out.events.front().has_opened();
  for (const auto& effect : out.effects) {
    if (const auto* o = std::get_if<core::fx::offer_job>(&effect)) {
      metrics_.offers_total.fetch_add(1, std::memory_order_relaxed);
      if (opened)
        metrics_.alarm_to_offer_seconds.observe(std::chrono::steady_clock::now() - received);
      if (channels_.offer) channels_.offer(*o);
    } else if (const auto* w = std::get_if<core::fx::withdraw_job>(&effect)) {
      if (channels_.withdraw) channels_.withdraw(*w);
    } else if (const auto* f = std::get_if<core::fx::notify_fire>(&effect)) {
      const core::incident* inc = state_.find(f->incident);
      if (channels_.fire && inc) channels_.fire(*f, core::make_view(*inc));
    } else if (const auto* a = std::get_if<core::fx::arm_deadline>(&effect)) {
      arm_timer(a->incident, a->kind, a->at);
    } else if (const auto* c = std::get_if<core::fx::cancel_deadline>(&effect)) {
      cancel_timer(c->incident, c->kind);
    } else if (const auto* p = std::get_if<core::fx::publish_incident>(&effect)) {
      const core::incident* inc = state_.find(p->incident);
      if (!inc) {
        // Gone from memory: tell the console which incident left.
        v1::IncidentView gone;
        gone.set_id(p->incident);
        if (channels_.incident_changed) channels_.incident_changed(gone, true);
      } else if (channels_.incident_changed) {
        channels_.incident_changed(core::make_view(*inc), false);
      }
    }
    // ack_terminal is for the caller: it reads it from the outcome.
  }
  metrics_.open_incidents = static_cast<std::int64_t>(state_.incidents.size());
}

void dispatch_service::arm_timer(core::incident_id id, v1::DeadlineKind kind, core::time_point at) {
  if (closing_) return;  // stopping: the journal has the deadline, recovery re-arms it
  deadline_timer& slot = timers_[{id, kind}];
  if (!slot.timer) slot.timer = std::make_unique<asio::steady_timer>(strand_);
  const std::uint64_t generation = ++slot.generation;
  const auto delay = at - now();
  slot.timer->expires_after(delay.count() > 0 ? std::chrono::steady_clock::duration(delay)
                                              : std::chrono::steady_clock::duration::zero());
  slot.timer->async_wait([this, id, kind, generation](std::error_code ec) {
    if (ec) return;  // cancelled
    const auto it = timers_.find({id, kind});
    // Re-armed after this wait completed but before it ran: the newer wait owns the slot.
    if (it == timers_.end() || it->second.generation != generation) return;
    timers_.erase(it);
    submit_on_strand(core::cmd::deadline_fired{id, kind}, {}, [id, kind](core::outcome out) {
      // A deadline cleared in the meantime is refused: nothing to do.
      if (!out.ok() && out.refused != core::refusal::deadline_not_armed)
        spdlog::warn("deadline {} of incident {} refused: {}", v1::DeadlineKind_Name(kind), id,
                     out.reason);
    });
  });
}

void dispatch_service::cancel_timer(core::incident_id id, v1::DeadlineKind kind) {
  const auto it = timers_.find({id, kind});
  if (it == timers_.end()) return;
  it->second.timer->cancel();
  timers_.erase(it);
}

}  // namespace rescue::dispatcher
