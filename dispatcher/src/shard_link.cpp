#include "rescue/dispatcher/shard_link.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "rescue/core/command_codec.hpp"
#include "rescue/dispatcher/log_text.hpp"
#include "rescue/inbox.pb.h"
#include "rescue/storage/redis_inbox.hpp"

namespace rescue::dispatcher {

namespace v1 = rescue::v1;
namespace asio = boost::asio;

namespace {

core::outcome unavailable(std::string reason) {
  core::outcome out;
  out.refused = core::refusal::shard_unavailable;
  out.reason = std::move(reason);
  return out;
}

// Reply streams keep the last answers only: a sender waits seconds for its own.
constexpr std::size_t reply_stream_length = 10'000;

}  // namespace

struct shard_link::impl {
  // One stream and its connection, for one thread at a time.
  struct outlet {
    std::mutex mu;
    storage::redis_stream stream;
    outlet(storage::redis_endpoint ep, std::string key, storage::redis_stream::durability d,
           std::size_t max_len = 0)
        : stream(std::move(ep), std::move(key), d, max_len) {}
  };
  struct waiting {
    std::function<void(core::outcome)> done;
    std::chrono::steady_clock::time_point deadline;
    std::string shard;
  };

  shard_link_config config;
  const core::shard_map& map;
  const core::shard_spec& own;
  dispatch_service& service;
  std::map<std::string, std::unique_ptr<storage::journal>> journals;
  storage::redis_endpoint endpoint;
  storage::redis_stream::durability durability;
  std::string reply_key;

  std::map<std::string, std::unique_ptr<outlet>> inboxes;  // of the other shards, by name
  std::mutex replies_mu;
  std::unordered_map<std::string, std::unique_ptr<outlet>> reply_outlets;  // by key

  std::mutex waiting_mu;
  std::unordered_map<std::string, waiting> waiting_for;
  std::atomic<std::uint64_t> next_request{1};

  std::function<void(const std::string&, core::incident_id)> on_receipt;
  std::map<std::string, std::uint64_t> followed_seq;  // by shard: the last record folded

  std::mutex positions_mu;
  std::condition_variable positions_cv;
  v1::PositionBatch positions;  // not yet published
  std::string positions_key;

  asio::thread_pool senders{2};
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::thread inbox_thread, reply_thread, follow_thread, positions_thread;

  impl(shard_link_config c, const core::shard_map& m, const core::shard_spec& o,
       dispatch_service& s, std::map<std::string, std::unique_ptr<storage::journal>> j)
      : config(std::move(c)), map(m), own(o), service(s), journals(std::move(j)) {
    endpoint.host = config.redis_host;
    endpoint.port = config.redis_port;
    endpoint.cluster_nodes = config.redis_cluster_nodes;
    endpoint.password = config.redis_password;
    durability = {config.wait_replicas, config.wait_timeout, config.continue_without_replicas};
    reply_key = storage::redis_reply_key(config.city, config.instance);
    positions_key = "rescue:{" + config.city + ".positions}:stream";
    positions.set_instance(config.instance);
    for (const auto& s : map.shards())
      if (&s != &own)
        inboxes.emplace(s.name, std::make_unique<outlet>(
                                    endpoint, storage::redis_inbox_key(store_of(s)), durability));
  }

  std::string store_of(const core::shard_spec& s) const { return config.city + "." + s.name; }

  bool pause(std::chrono::milliseconds d) {
    std::unique_lock lock(stop_mu);
    return stop_cv.wait_for(lock, d, [this] { return stopping.load(); });
  }

  // ---- sending to another shard's owner ----

  void forward(const core::shard_spec& target, core::command c,
               std::function<void(core::outcome)> done) {
    asio::post(senders, [this, &target, c = std::move(c), done = std::move(done)]() mutable {
      send(target, std::move(c), std::move(done));
    });
  }

  void send(const core::shard_spec& target, core::command c,
            std::function<void(core::outcome)> done) {
    const auto* terminal = std::get_if<core::cmd::terminal_event>(&c);
    v1::InboxEntry entry;
    *entry.mutable_command() = core::to_inbox(c);
    entry.set_sent_at_ms(core::to_ms(dispatch_service::now()));
    std::string request;
    if (!terminal) {
      request = config.instance + "#" + std::to_string(next_request.fetch_add(1));
      entry.set_reply_to(reply_key);
      entry.set_request_id(request);
      std::lock_guard lock(waiting_mu);
      waiting_for.emplace(
          request, waiting{std::move(done), std::chrono::steady_clock::now() + config.reply_timeout,
                           target.name});
    }
    outlet& out = *inboxes.at(target.name);
    std::string id;
    std::error_code ec;
    std::string why;
    {
      std::lock_guard lock(out.mu);
      ec = out.stream.append(entry.SerializeAsString(), true, id);
      if (ec) why = out.stream.last_error();
    }
    if (ec) {
      auto answer = unavailable("cannot leave the command in the inbox of shard " + target.name +
                                ": " + ec.message() + (why.empty() ? "" : " (" + why + ")"));
      if (terminal) {
        done(std::move(answer));
        return;
      }
      std::function<void(core::outcome)> waiter;
      {
        std::lock_guard lock(waiting_mu);
        if (auto it = waiting_for.find(request); it != waiting_for.end()) {
          waiter = std::move(it->second.done);
          waiting_for.erase(it);
        }
      }
      if (waiter) waiter(std::move(answer));
      return;
    }
    if (terminal) {
      // Durable in the owner's inbox: the owner decides it, so the terminal may stop resending.
      core::outcome out_ok;
      out_ok.effects.push_back(core::fx::ack_terminal{terminal->terminal_id, terminal->seq});
      done(std::move(out_ok));
    }
  }

  void forward_receipt(const std::string& crew_id, core::incident_id incident) {
    const core::shard_spec* target = map.of_incident(incident);
    if (!target || target == &own) return;
    asio::post(senders, [this, target, crew_id, incident] {
      v1::InboxEntry entry;
      entry.mutable_receipt()->set_crew_id(crew_id);
      entry.mutable_receipt()->set_incident_id(incident);
      outlet& out = *inboxes.at(target->name);
      std::string id;
      std::lock_guard lock(out.mu);
      // Not durable: a lost receipt costs an SMS, never an alarm.
      if (const auto ec = out.stream.append(entry.SerializeAsString(), false, id))
        spdlog::warn("crew {}: cannot pass the receipt of incident {} to shard {}: {}", crew_id,
                     incident, target->name, ec.message());
    });
  }

  // ---- the answers to what this instance sent ----

  void read_replies() {
    storage::redis_stream stream(endpoint, reply_key, {}, reply_stream_length);
    std::string after = "0-0";
    std::vector<storage::redis_stream_entry> entries;
    while (!stopping) {
      if (const auto ec = stream.read_after(after, 512, std::chrono::milliseconds(500), entries)) {
        spdlog::warn("shards: reading the reply stream {}: {} ({})", reply_key, ec.message(),
                     stream.last_error());
        if (pause(std::chrono::milliseconds(500))) break;
      }
      for (const auto& e : entries) {
        after = e.id;
        v1::InboxReply reply;
        if (!reply.ParseFromString(e.payload)) continue;
        std::function<void(core::outcome)> done;
        std::string shard;
        {
          std::lock_guard lock(waiting_mu);
          const auto it = waiting_for.find(reply.request_id());
          if (it == waiting_for.end()) continue;  // an earlier run's, or given up on
          done = std::move(it->second.done);
          shard = it->second.shard;
          waiting_for.erase(it);
        }
        core::outcome out;
        out.refused = static_cast<core::refusal>(reply.refused());
        out.reason = reply.reason();
        out.incident = reply.incident_id();
        out.events.assign(reply.events().begin(), reply.events().end());
        out.journal_seq = reply.journal_seq();
        if (out.journal_seq == 0) {
          done(std::move(out));
          continue;
        }
        // Read your writes: the answer comes once this instance's view has the decision.
        service.when_followed(
            shard, out.journal_seq,
            [done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
      }
      expire_waiting(false);
    }
    expire_waiting(true);
  }

  void expire_waiting(bool all) {
    std::vector<std::pair<std::string, std::function<void(core::outcome)>>> expired;
    {
      std::lock_guard lock(waiting_mu);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = waiting_for.begin(); it != waiting_for.end();) {
        if (all || it->second.deadline <= now) {
          expired.emplace_back(it->second.shard, std::move(it->second.done));
          it = waiting_for.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [shard, done] : expired)
      done(unavailable("the owner of shard " + shard + " did not answer within " +
                       std::to_string(config.reply_timeout.count()) +
                       " ms; the command waits in its inbox and is decided when an owner "
                       "takes it: look at the incident before sending it again"));
  }

  // ---- this shard's inbox ----

  void reply(const v1::InboxEntry& entry, const core::outcome& out) {
    if (entry.reply_to().empty()) return;
    v1::InboxReply r;
    r.set_request_id(entry.request_id());
    r.set_refused(static_cast<std::uint32_t>(out.refused));
    r.set_reason(out.reason);
    r.set_incident_id(out.incident);
    r.set_journal_seq(out.journal_seq);
    for (const auto& e : out.events)
      *r.add_events() = e;
    outlet* target = nullptr;
    {
      std::lock_guard lock(replies_mu);
      auto& slot = reply_outlets[entry.reply_to()];
      if (!slot)
        slot = std::make_unique<outlet>(endpoint, entry.reply_to(),
                                        storage::redis_stream::durability{}, reply_stream_length);
      target = slot.get();
    }
    std::string id;
    std::lock_guard lock(target->mu);
    if (const auto ec = target->stream.append(r.SerializeAsString(), false, id))
      spdlog::warn("shards: cannot answer request {} on {}: {}", log_safe(entry.request_id(), 64),
                   log_safe(entry.reply_to(), 128), ec.message());
  }

  void read_inbox(std::string after) {
    storage::redis_stream stream(endpoint, storage::redis_inbox_key(store_of(own)), durability);
    std::vector<storage::redis_stream_entry> entries;
    if (after.empty()) after = "0-0";
    while (!stopping) {
      if (const auto ec = stream.read_after(after, 256, std::chrono::milliseconds(500), entries)) {
        spdlog::warn("shards: reading the inbox of shard {}: {} ({})", own.name, ec.message(),
                     stream.last_error());
        if (pause(std::chrono::milliseconds(500))) break;
        continue;
      }
      if (entries.empty()) continue;
      // The batch is decided as one group (one journal commit for many), then the inbox is
      // trimmed behind it: what is trimmed is journalled or was refused.
      struct batch {
        std::mutex mu;
        std::condition_variable cv;
        std::size_t left = 0;
      };
      auto b = std::make_shared<batch>();
      for (const auto& e : entries) {
        auto entry = std::make_shared<v1::InboxEntry>();
        if (!entry->ParseFromString(e.payload)) {
          spdlog::warn("shards: inbox entry {} of shard {} does not parse; skipped", e.id,
                       own.name);
          continue;
        }
        if (entry->has_receipt()) {
          if (on_receipt) on_receipt(entry->receipt().crew_id(), entry->receipt().incident_id());
          continue;
        }
        auto c = core::from_inbox(entry->command());
        if (!c) {
          spdlog::warn("shards: inbox entry {} of shard {} holds no command this version knows",
                       e.id, own.name);
          continue;
        }
        {
          std::lock_guard lock(b->mu);
          ++b->left;
        }
        // Completed on the service's strand: the answer is written from the senders' pool.
        service.async_submit_from_inbox(std::move(*c), e.id, [this, entry, b](core::outcome out) {
          asio::post(senders, [this, entry, b, out = std::move(out)] {
            reply(*entry, out);
            std::lock_guard lock(b->mu);
            if (--b->left == 0) b->cv.notify_all();
          });
        });
      }
      bool decided = false;
      {
        std::unique_lock lock(b->mu);
        // A stop while the batch is decided: what was journalled names its entry, the rest is
        // read again by whoever owns the shard next.
        while (!(decided = b->left == 0) && !stopping)
          b->cv.wait_for(lock, std::chrono::milliseconds(200));
      }
      if (!decided) break;
      after = entries.back().id;
      if (const auto ec = stream.trim_through(after))
        spdlog::warn("shards: trimming the inbox of shard {}: {}", own.name, ec.message());
    }
  }

  // ---- the city's position stream ----

  void publish_position(const std::string& crew_id, double lat, double lon, std::int64_t at_ms) {
    std::lock_guard lock(positions_mu);
    // A phone that reports faster than the stream is written keeps only its newest fix.
    constexpr int max_batch = 20'000;
    if (positions.fixes_size() >= max_batch) return;
    auto* fix = positions.add_fixes();
    fix->set_crew_id(crew_id);
    fix->set_lat(lat);
    fix->set_lon(lon);
    fix->set_at_ms(at_ms);
  }

  void write_positions() {
    // Positions are not acknowledged to anyone: a lost batch is the next ping's to repair.
    storage::redis_stream stream(endpoint, positions_key, {}, 10'000);
    while (!pause(std::chrono::milliseconds(100))) {
      v1::PositionBatch batch;
      {
        std::lock_guard lock(positions_mu);
        if (positions.fixes_size() == 0) continue;
        batch.Swap(&positions);
        positions.set_instance(config.instance);
      }
      std::string id;
      if (const auto ec = stream.append(batch.SerializeAsString(), false, id))
        spdlog::warn("shards: cannot publish {} crew position(s): {}", batch.fixes_size(),
                     ec.message());
    }
  }

  // Positions the other instances took in, into this one's crew index.
  bool read_positions(storage::redis_stream& stream, std::string& after) {
    std::vector<storage::redis_stream_entry> entries;
    if (stream.read_after(after, 64, std::chrono::milliseconds(0), entries)) return false;
    for (const auto& e : entries) {
      after = e.id;
      v1::PositionBatch batch;
      if (!batch.ParseFromString(e.payload) || batch.instance() == config.instance) continue;
      for (const auto& f : batch.fixes())
        service.crew_position(f.crew_id(), f.lat(), f.lon(), f.at_ms(), false);
    }
    return !entries.empty();
  }

  // ---- the other shards' journals ----

  static bool read_events(storage::journal& j, std::uint64_t after, std::uint64_t& last,
                          std::vector<v1::Event>& events, std::string& error) {
    std::vector<storage::journal_record> records;
    if (const auto ec = j.read_after(after, 2000, records)) {
      error = ec.message();
      return false;
    }
    for (const auto& r : records) {
      v1::Event e;
      if (!r.parse(e)) {
        error = "record " + std::to_string(r.seq) + " does not parse";
        return false;
      }
      events.push_back(std::move(e));
      last = r.seq;
    }
    return true;
  }

  void catch_up() {
    for (auto& [name, j] : journals) {
      std::uint64_t last = 0;
      std::vector<v1::Event> events;
      for (;;) {
        const auto before = events.size();
        std::string error;
        if (!read_events(*j, last, last, events, error))
          throw std::runtime_error("cannot read the journal of shard " + name + ": " + error);
        if (events.size() == before) break;
      }
      service.catch_up_elsewhere(name, last, events);
      followed_seq[name] = last;
      spdlog::info("shards: followed shard {} to seq {} ({} events)", name, last, events.size());
    }
  }

  void follow() {
    std::map<std::string, std::string> failing;
    storage::redis_stream position_stream(endpoint, positions_key);
    std::string positions_after = "0-0";
    while (!stopping) {
      bool any = read_positions(position_stream, positions_after);
      for (auto& [name, j] : journals) {
        std::vector<v1::Event> events;
        std::string error;
        auto& last = followed_seq[name];
        if (!read_events(*j, last, last, events, error)) {
          if (failing[name] != error)
            spdlog::warn("shards: cannot follow shard {}: {}", name, error);
          failing[name] = error;
          continue;
        }
        failing.erase(name);
        if (events.empty()) continue;
        any = true;
        service.follow_elsewhere(name, last, std::move(events));
      }
      if (!any && pause(config.follow_interval)) break;
    }
  }
};

shard_link::shard_link(shard_link_config config, const core::shard_map& map,
                       const core::shard_spec& own, dispatch_service& service,
                       std::map<std::string, std::unique_ptr<storage::journal>> journals)
    : impl_(std::make_unique<impl>(std::move(config), map, own, service, std::move(journals))) {}

shard_link::~shard_link() {
  stop();
}

void shard_link::catch_up() {
  impl_->catch_up();
}

shard_forwarder shard_link::forwarder() {
  return [this](const core::shard_spec& target, core::command c,
                std::function<void(core::outcome)> done) {
    impl_->forward(target, std::move(c), std::move(done));
  };
}

void shard_link::forward_receipt(const std::string& crew_id, core::incident_id incident) {
  impl_->forward_receipt(crew_id, incident);
}

void shard_link::set_receipt_handler(
    std::function<void(const std::string& crew_id, core::incident_id)> h) {
  impl_->on_receipt = std::move(h);
}

storage::journal* shard_link::journal_of(core::incident_id id) {
  const core::shard_spec* s = impl_->map.of_incident(id);
  if (!s || s == &impl_->own) return nullptr;
  const auto it = impl_->journals.find(s->name);
  return it == impl_->journals.end() ? nullptr : it->second.get();
}

void shard_link::start(std::string after) {
  impl_->inbox_thread = std::thread([this, after = std::move(after)] { impl_->read_inbox(after); });
  impl_->reply_thread = std::thread([this] { impl_->read_replies(); });
  impl_->follow_thread = std::thread([this] { impl_->follow(); });
  impl_->positions_thread = std::thread([this] { impl_->write_positions(); });
}

void shard_link::publish_position(const std::string& crew_id, double lat, double lon,
                                  std::int64_t at_ms) {
  impl_->publish_position(crew_id, lat, lon, at_ms);
}

void shard_link::stop() {
  {
    std::lock_guard lock(impl_->stop_mu);
    if (impl_->stopping.exchange(true)) return;
  }
  impl_->stop_cv.notify_all();
  for (auto* t : {&impl_->inbox_thread, &impl_->reply_thread, &impl_->follow_thread,
                  &impl_->positions_thread})
    if (t->joinable()) t->join();
  impl_->senders.join();
}

}  // namespace rescue::dispatcher
