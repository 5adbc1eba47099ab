// The owner of incident state in the server: runs the core on one strand, makes every command's
// events durable before any of its effects happen, arms deadlines, and hands effects to the
// channels. Sessions talk to it; they hold no business rules.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "rescue/core/incident_core.hpp"
#include "rescue/core/shard_map.hpp"
#include "rescue/core/terminal_frames.hpp"
#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/geo/crew_index.hpp"
#include "rescue/storage/crew_position_store.hpp"
#include "rescue/storage/journal.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;

// Where effects go once durable. Each is called on the service's strand and must not block:
// post to your own strand.
struct dispatch_channels {
  std::function<void(const core::fx::offer_job&)> offer;
  // An offer another shard's owner made, as this instance read it in that shard's journal: for
  // the crew if it is connected here (the owner keeps the receipt timer and the SMS fallback).
  std::function<void(const core::fx::offer_job&)> offer_elsewhere;
  std::function<void(const core::fx::withdraw_job&)> withdraw;
  std::function<void(const core::fx::notify_fire&, const rescue::v1::IncidentView&)> fire;
  // `removed` when the incident left memory (cancelled, or followed up).
  std::function<void(const rescue::v1::IncidentView&, bool removed)> incident_changed;
  // The outbox message of an escalation, built before its events are appended so that the
  // journal stores the fire call in the escalation's own transaction (transactional outbox).
  std::function<storage::outbox_message(const core::fx::notify_fire&,
                                        const rescue::v1::IncidentView&)>
      fire_message;
  // The outbox message of an upload record (an incident ended, a fault), stored the same way;
  // unset: uploads are off and nothing is stored.
  std::function<storage::outbox_message(const core::fx::upload_record&)> upload_message;
};

struct recovery_report {
  std::uint64_t events = 0;
  std::size_t open_incidents = 0;
  std::size_t deadlines_rearmed = 0;
  std::size_t deadlines_overdue = 0;  // passed while the server was down: fired at once
  std::uint64_t warm_events = 0;      // of `events`, folded before the recovery (a warm standby)
  bool warm_discarded = false;        // the warm fold no longer matched the journal: replayed anew
  std::string last_inbox_entry;       // sharded: where this shard's inbox was left
};

// What a console or crew read sees, on the service's strand: this shard's state and, on a
// sharded city, every other shard's as this instance follows their journals.
struct city_view {
  const core::core_state& own;     // unsharded: the whole city
  const core::core_state& others;  // the other shards' incidents and shift changes
  const core::crews_elsewhere& elsewhere;
  const geo::crew_index& crews;
  const storage::registry& registry;

  const core::incident* find(core::incident_id id) const {
    if (const auto* inc = own.find(id)) return inc;
    return others.find(id);
  }
  core::crew_availability availability(std::string_view crew_id) const;
  bool on_duty(std::string_view crew_id) const;
};

// Sends a command to the owner of `target` (the shard's inbox) and completes with its outcome,
// from any thread.
using shard_forwarder = std::function<void(const core::shard_spec& target, core::command c,
                                           std::function<void(core::outcome)> done)>;

class dispatch_service {
 public:
  using strand_type = asio::strand<asio::io_context::executor_type>;

  dispatch_service(asio::io_context& io, const core::escalation_policy& policy,
                   const storage::registry& registry, geo::crew_index crews,
                   storage::journal& journal, metrics& m);
  ~dispatch_service();
  dispatch_service(const dispatch_service&) = delete;
  dispatch_service& operator=(const dispatch_service&) = delete;

  void set_channels(dispatch_channels channels) { channels_ = std::move(channels); }

  // A sharded city: this service decides shard `own` of `map`; a command for another shard goes
  // to `forward`. Set before recover(); both must outlive the service.
  void set_shards(const core::shard_map& map, const core::shard_spec& own, shard_forwarder forward);
  const core::shard_map* shards() const { return shards_; }
  const core::shard_spec* own_shard() const { return own_; }
  // Null when `c` is this service's to decide.
  const core::shard_spec* shard_elsewhere(const core::command& c) const {
    if (!shards_) return nullptr;
    const core::shard_spec* target = shards_->route(c);
    return target && target != own_ ? target : nullptr;
  }

  // Folds the other shards' journals as far as they are now, before serving (like recover()):
  // no crew is told anything, no console hears of it. From the thread that runs nothing else.
  void catch_up_elsewhere(const std::string& shard, std::uint64_t last_seq,
                          const std::vector<rescue::v1::Event>& events);
  // Folds what the other shards' owners appended since (each shard's events in their order):
  // the console hears of every incident they touch, crews connected here of their offers, and
  // the ranking of the crews they hold. Thread-safe.
  // `last_seq`: where shard `shard`'s journal is folded to with these.
  void follow_elsewhere(std::string shard, std::uint64_t last_seq,
                        std::vector<rescue::v1::Event> events);
  // Runs `fn` on the strand once shard `shard` is folded up to `seq` (or after `limit`, should
  // its journal not be readable): what another shard's owner decided for a request sent from
  // here is in this instance's view before the requester hears the answer. Thread-safe.
  void when_followed(std::string shard, std::uint64_t seq, std::function<void()> fn,
                     std::chrono::milliseconds limit = std::chrono::seconds(2));

  // A fatal journal failure: the in-memory state may be ahead of the durable one, so the
  // process must stop and recover from the journal. Called on the strand.
  void set_fatal_handler(std::function<void(std::error_code)> h) { on_fatal_ = std::move(h); }

  // Folds the whole journal through the core's replayer (journal_replay.hpp) and re-arms every
  // deadline. Call once, before serving, from the thread that will run nothing else yet.
  // A standby's follower (journal_replay.hpp) already holds most of the journal folded: only
  // what it has not seen is read, unless the journal no longer has what it folded.
  recovery_report recover(journal_follower warm = {});

  // Decides `c`; completes with the outcome after its events are durable (at once when
  // refused). Outcomes complete in submission order, effects run before the completion.
  // On a sharded city a command for another shard goes to its owner (set_shards).
  template <class Token>
  auto async_submit(core::command c, Token&& token) {
    return async_submit_tagged(std::move(c), std::string(), std::forward<Token>(token));
  }

  // A command of this shard that came through its inbox as entry `entry`: decided as any other,
  // its first event naming the entry (core::environment::inbox_entry).
  template <class Token>
  auto async_submit_from_inbox(core::command c, std::string entry, Token&& token) {
    return async_submit_tagged(std::move(c), std::move(entry), std::forward<Token>(token));
  }

  // Runs `read(const city_view&)` on the strand and completes with its result: what consoles
  // and crews see of the whole city.
  template <class Result, class Read, class Token>
  auto async_read_city(Read read, Token&& token) {
    return async_read<Result>(
        [this, read = std::move(read)](const core::core_state&, const geo::crew_index&) {
          return read(view());
        },
        std::forward<Token>(token));
  }

  // Runs `read(const core_state&, const geo::crew_index&)` on the strand and completes with its
  // result: this shard's state alone.
  template <class Result, class Read, class Token>
  auto async_read(Read read, Token&& token) {
    return asio::async_initiate<Token, void(Result)>(
        [this](auto handler, Read read) {
          auto ex = asio::get_associated_executor(handler, strand_);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          asio::post(strand_, [this, read = std::move(read), shared, ex]() mutable {
            Result r = read(state_, crews_);
            asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          });
        },
        token, std::move(read));
  }

  // Graceful stop. From the moment this runs on the strand, new commands are refused ("the
  // server is stopping": never acknowledged, never appended) and deadlines are disarmed (the
  // journal keeps them; recovery re-arms them). `done` runs on the strand once every command
  // submitted before is durable and its effects have run: then the journal may close.
  // Thread-safe.
  void drain_then(std::function<void()> done);

  // A GPS ping from a crew phone: updates the crew index, no journal event. `local`: the phone
  // is connected here (the position listener hears of it); false: another instance's, from the
  // city's position stream.
  void crew_position(std::string crew_id, double lat, double lon, std::int64_t at_ms,
                     bool local = true);

  // Hears of every ping the crew index took in (known crew, valid position), on the strand; it
  // must not block (position_writer::record). Set before serving.
  void set_position_listener(std::function<void(storage::crew_position)> listener) {
    on_position_ = std::move(listener);
  }

  strand_type& strand() { return strand_; }
  const storage::registry& registry() const { return registry_; }
  const core::escalation_policy& policy() const { return policy_; }
  storage::journal& journal() { return journal_; }

  static core::time_point now();

 private:
  template <class Token>
  auto async_submit_tagged(core::command c, std::string entry, Token&& token) {
    return asio::async_initiate<Token, void(core::outcome)>(
        [this](auto handler, core::command c, std::string entry) {
          auto ex = asio::get_associated_executor(handler, strand_);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto complete = [shared, ex](core::outcome out) {
            asio::post(ex, [shared, out = std::move(out)]() mutable { (*shared)(std::move(out)); });
          };
          if (const core::shard_spec* target = shard_elsewhere(c); target && forward_) {
            forward_(*target, std::move(c), std::move(complete));
            return;
          }
          asio::post(strand_, [this, c = std::move(c), entry = std::move(entry),
                               complete = std::move(complete)]() mutable {
            submit_on_strand(std::move(c), std::move(entry), std::move(complete));
          });
        },
        token, std::move(c), std::move(entry));
  }

  city_view view() const { return {state_, others_, elsewhere_, crews_, registry_}; }
  struct pending {
    std::uint64_t ticket = 0;
    core::outcome out;
    std::function<void(core::outcome)> done;
    std::chrono::steady_clock::time_point received;
    bool durable = false;
  };

  void submit_on_strand(core::command c, std::string inbox_entry,
                        std::function<void(core::outcome)> done);
  void fold_elsewhere(const rescue::v1::Event& e, bool live, std::set<core::incident_id>& touched);
  void refresh_elsewhere();
  // The outbox messages an outcome's effects cause, stored with its events.
  std::vector<storage::outbox_message> outbox_messages(const core::outcome& out) const;
  void on_durable(std::uint64_t ticket, std::error_code ec, std::uint64_t last_seq);
  void drain();
  void finish_drain_if_idle();
  void execute(const core::outcome& out, std::chrono::steady_clock::time_point received);
  void arm_timer(core::incident_id id, rescue::v1::DeadlineKind kind, core::time_point at);
  void cancel_timer(core::incident_id id, rescue::v1::DeadlineKind kind);

  strand_type strand_;
  const core::escalation_policy& policy_;
  const storage::registry& registry_;
  geo::crew_index crews_;
  storage::journal& journal_;
  metrics& metrics_;
  dispatch_channels channels_;
  std::function<void(std::error_code)> on_fatal_;
  std::function<void(storage::crew_position)> on_position_;
  bool failed_ = false;
  bool closing_ = false;              // drain_then() ran: refuse what comes next
  std::function<void()> on_drained_;  // until the queue is empty

  core::core_state state_;
  // Sharded: the other shards, folded from their journals (their incident ids never meet ours).
  const core::shard_map* shards_ = nullptr;
  const core::shard_spec* own_ = nullptr;
  shard_forwarder forward_;
  core::core_state others_;
  core::crews_elsewhere elsewhere_;
  std::map<std::string, std::uint64_t, std::less<>> followed_seq_;  // by shard
  struct follow_waiter {
    std::string shard;
    std::uint64_t seq = 0;
    std::shared_ptr<std::function<void()>> fn;  // emptied once run
  };
  std::vector<follow_waiter> follow_waiters_;
  void run_follow_waiters();
  std::deque<pending> queue_;
  std::uint64_t next_ticket_ = 1;
  struct deadline_timer {
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t generation = 0;
  };
  std::map<std::pair<core::incident_id, rescue::v1::DeadlineKind>, deadline_timer> timers_;
  // Terminal frames already decided, to tell resends from new events; rebuilt by the replayer.
  core::terminal_frames terminal_frames_;
};

}  // namespace rescue::dispatcher
