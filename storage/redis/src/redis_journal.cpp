// The journal backend over Redis: appends as one Lua script, reads through a connection pool.
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "redis_common.hpp"
#include "redis_lease.hpp"
#include "redis_pool.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::storage {

namespace {

using namespace redis_detail;

// KEYS: meta journal checkpoints by_incident outbox outbox_due outbox_by_incident.
// ARGV: expected_last_seq token n_records n_outbox has_checkpoint fence, then 7 values per record
// (seq at inc type payload prev hash), 7 per call (kind inc url body created next error) and
// 5 for the checkpoint (upto hash at sig pub).
// Everything is checked before the first write: a script that fails half way keeps its writes.
constexpr const char* append_script_body = R"lua(
local meta = KEYS[1]
local fence = redis.call('HGET', meta, 'fence') or ''
if fence ~= ARGV[6] then
  return redis.error_reply('FENCED the store is held under token ' .. fence .. ', not ' .. ARGV[6])
end
local last = redis.call('HGET', meta, 'last_seq') or '0'
if last ~= ARGV[1] then return redis.error_reply('STALE the store ends at ' .. last) end
local nrec, nout, ncp = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 7
local nextseq = tonumber(last) + 1
for r = 0, nrec - 1 do
  if tonumber(ARGV[i + 7 * r]) ~= nextseq + r then
    return redis.error_reply('STALE record ' .. ARGV[i + 7 * r] .. ' does not follow ' .. last)
  end
end
local cpi = i + 7 * nrec + 7 * nout
if ncp == 1 then
  local lastcp = tonumber(redis.call('HGET', meta, 'last_checkpoint') or '0')
  if tonumber(ARGV[cpi]) <= lastcp then return redis.error_reply('STALE checkpoint') end
end
local lastseq, lasthash
for r = 1, nrec do
  redis.call('XADD', KEYS[2], '0-' .. ARGV[i], 'at', ARGV[i + 1], 'inc', ARGV[i + 2],
             'type', ARGV[i + 3], 'payload', ARGV[i + 4], 'prev', ARGV[i + 5], 'hash', ARGV[i + 6])
  redis.call('ZADD', KEYS[4], ARGV[i + 2], padded(ARGV[i]))
  lastseq, lasthash = ARGV[i], ARGV[i + 6]
  i = i + 7
end
for r = 1, nout do
  local id = redis.call('HINCRBY', meta, 'outbox_id', 1)
  local f = tostring(id) .. ':'
  redis.call('HSET', KEYS[5], f .. 'kind', ARGV[i], f .. 'inc', ARGV[i + 1], f .. 'url', ARGV[i + 2],
             f .. 'body', ARGV[i + 3], f .. 'created', ARGV[i + 4], f .. 'attempts', '0',
             f .. 'next', ARGV[i + 5], f .. 'error', ARGV[i + 6])
  if ARGV[i + 2] ~= '' then redis.call('ZADD', KEYS[6], ARGV[i + 5], padded(id)) end
  redis.call('ZADD', KEYS[7], ARGV[i + 1], padded(id))
  redis.call('HINCRBY', meta, 'outbox_pending', 1)
  i = i + 7
end
if ncp == 1 then
  redis.call('XADD', KEYS[3], '0-' .. ARGV[i], 'hash', ARGV[i + 1], 'at', ARGV[i + 2],
             'sig', ARGV[i + 3], 'pub', ARGV[i + 4])
  redis.call('HSET', meta, 'last_checkpoint', ARGV[i])
end
if lastseq then redis.call('HSET', meta, 'last_seq', lastseq, 'last_hash', lasthash) end
redis.call('HSET', meta, 'last_write', ARGV[2])
return 1
)lua";

const std::string& append_script() {
  static const std::string s = std::string(lua_padded) + append_script_body;
  return s;
}

// An entry of XRANGE: [id, [field, value, ...]] with the id "0-<seq>".
bool entry_seq(const redis_reply& entry, std::uint64_t& seq) {
  if (entry.type != redis_reply::kind::array || entry.elements.size() != 2) return false;
  std::string_view id = entry.elements[0].str;
  if (id.substr(0, 2) != "0-") return false;
  return parse_number(id.substr(2), seq);
}

// The values of an entry's fields, in the order `names` gives; false when one is missing.
template <std::size_t N>
bool entry_fields(const redis_reply& entry, const std::array<std::string_view, N>& names,
                  std::array<const std::string*, N>& out) {
  out.fill(nullptr);
  const auto& kv = entry.elements[1].elements;
  for (std::size_t k = 0; k + 1 < kv.size(); k += 2)
    for (std::size_t n = 0; n < N; ++n)
      if (kv[k].str == names[n]) out[n] = &kv[k + 1].str;
  for (auto* p : out)
    if (!p) return false;
  return true;
}

constexpr std::array<std::string_view, 6> record_fields{"at",      "inc",  "type",
                                                        "payload", "prev", "hash"};
constexpr std::array<std::string_view, 4> checkpoint_fields{"hash", "at", "sig", "pub"};

bool parse_record(const redis_reply& entry, journal_record& r) {
  std::array<const std::string*, 6> f{};
  if (!entry_seq(entry, r.seq) || !entry_fields(entry, record_fields, f)) return false;
  if (!parse_number(*f[0], r.at_ms) || !parse_number(*f[1], r.incident_id)) return false;
  r.event_type = *f[2];
  r.payload = *f[3];
  r.prev_hash = *f[4];
  r.hash = *f[5];
  return true;
}

bool parse_checkpoint(const redis_reply& entry, journal_checkpoint& cp) {
  std::array<const std::string*, 4> f{};
  if (!entry_seq(entry, cp.upto_seq) || !entry_fields(entry, checkpoint_fields, f)) return false;
  if (!parse_number(*f[1], cp.at_ms)) return false;
  cp.hash = *f[0];
  cp.signature = *f[2];
  cp.public_key = *f[3];
  return true;
}

std::string stream_id(std::uint64_t seq) {
  return "0-" + std::to_string(seq);
}

std::string random_token() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> d;
  const std::uint64_t a = d(rd), b = d(rd);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

class redis_journal_backend final : public journal_backend {
 public:
  redis_journal_backend(const redis_store_config& config, bool read_only, bool create_missing)
      : config_(config),
        keys_(config.store),
        read_only_(read_only),
        create_missing_(create_missing),
        writer_(config.endpoint, keys_.slot),
        readers_(config.endpoint, keys_.slot),
        token_prefix_(random_token()) {}

  // Creates the store (a writer) or checks that it is there (a reader), and its layout.
  std::error_code prepare() {
    auto c = readers_.take();
    redis_reply r;
    if (!read_only_ || create_missing_) {
      if (auto ec = c->query({"HSETNX", keys_.meta, "layout", "1"}, r)) return note(ec, *c);
    }
    if (auto ec = c->query({"HGET", keys_.meta, "layout"}, r)) return note(ec, *c);
    int layout = 0;
    if (r.is_nil()) return std::make_error_code(std::errc::no_such_file_or_directory);
    if (!reply_number(r, layout)) return redis_errc::unexpected_reply;
    if (layout > redis_layout_version) return journal_errc::unsupported_schema;
    if (!read_only_ && config_.lease.enabled) {
      lease_ = std::make_unique<redis_lease>(config_, keys_);
      if (auto ec = lease_->acquire()) return ec;
    }
    return {};
  }

  std::error_code read_tail(journal_tail& out) override {
    auto c = readers_.take();
    return read_tail_on(*c, out);
  }

  std::error_code append(std::uint64_t expected_last_seq, const backend_batch& batch) override;

  std::error_code scan(std::uint64_t from, std::uint64_t to, const record_visitor& visit) override {
    auto c = readers_.take();
    redis_reply r;
    std::uint64_t next = from;
    constexpr std::size_t page = 512;
    while (next <= to) {
      if (auto ec = c->query({"XRANGE", keys_.journal, stream_id(next), stream_id(to), "COUNT",
                              std::to_string(page)},
                             r))
        return note(ec, *c);
      if (r.type != redis_reply::kind::array) return redis_errc::unexpected_reply;
      journal_record rec;
      for (const auto& e : r.elements) {
        if (!parse_record(e, rec)) return journal_errc::corrupt_record;
        if (!visit(rec)) return {};
        next = rec.seq + 1;
      }
      if (r.elements.size() < page || rec.seq == std::numeric_limits<std::uint64_t>::max())
        return {};
    }
    return {};
  }

  std::error_code read_incident(std::uint64_t incident_id,
                                std::vector<journal_record>& out) override {
    auto c = readers_.take();
    redis_reply r;
    const std::string score = std::to_string(incident_id);
    if (auto ec = c->query({"ZRANGE", keys_.by_incident, score, score, "BYSCORE"}, r))
      return note(ec, *c);
    if (r.type != redis_reply::kind::array) return redis_errc::unexpected_reply;
    std::vector<redis_args> reads;
    reads.reserve(r.elements.size());
    for (const auto& m : r.elements) {
      std::uint64_t seq = 0;
      if (!parse_number(m.str, seq)) return journal_errc::corrupt_record;
      redis_args read{"XRANGE", keys_.journal};
      read.add_owned(stream_id(seq)).add_owned(stream_id(seq));
      reads.push_back(std::move(read));
    }
    std::vector<redis_reply> replies;
    if (auto ec = c->pipeline(reads, replies)) return note(ec, *c);
    for (const auto& one : replies) {
      if (one.is_error()) return redis_errc::error_reply;
      if (one.elements.size() != 1) return journal_errc::corrupt_record;
      journal_record rec;
      if (!parse_record(one.elements[0], rec)) return journal_errc::corrupt_record;
      out.push_back(std::move(rec));
    }
    return {};
  }

  std::error_code read_checkpoints(std::vector<journal_checkpoint>& out) override {
    auto c = readers_.take();
    redis_reply r;
    if (auto ec = c->query({"XRANGE", keys_.checkpoints, "-", "+"}, r)) return note(ec, *c);
    if (r.type != redis_reply::kind::array) return redis_errc::unexpected_reply;
    for (const auto& e : r.elements) {
      journal_checkpoint cp;
      if (!parse_checkpoint(e, cp)) return journal_errc::corrupt_record;
      out.push_back(std::move(cp));
    }
    return {};
  }

  void check() override {
    redis_reply r;
    if (auto ec = writer_.query({"PING"}, r)) {
      note(ec, writer_);
      if (ec == redis_errc::error_reply) set_problem("redis answers PING with " + r.str);
      return;
    }
    // Reachable again; a WAIT still short of replicas is the append's to report.
    set_problem({});
  }

  void interrupt() override {
    {
      std::lock_guard lock(pause_mu_);
      interrupted_ = true;
    }
    pause_cv_.notify_all();
  }

  std::string problem() const override {
    if (lease_ && lease_->lost()) return lease_->lost_reason();
    std::lock_guard lock(problem_mu_);
    return problem_;
  }

  void release() override {
    if (lease_) lease_->release();
  }

 private:
  std::error_code read_tail_on(redis_connection& c, journal_tail& out) {
    redis_reply r;
    if (auto ec =
            c.query({"HMGET", keys_.meta, "last_seq", "last_hash", "last_checkpoint", "layout"}, r))
      return note(ec, c);
    if (r.type != redis_reply::kind::array || r.elements.size() != 4)
      return redis_errc::unexpected_reply;
    if (r.elements[3].is_nil()) return std::make_error_code(std::errc::no_such_file_or_directory);
    if (!reply_number(r.elements[0], out.last_seq) ||
        !reply_number(r.elements[2], out.last_checkpoint))
      return journal_errc::corrupt_record;
    out.last_hash = r.elements[1].str;
    return {};
  }

  // Logs nothing (the storage layer has no logger): keeps the reason for problem().
  std::error_code note(std::error_code ec, const redis_connection& c) {
    if (ec == redis_errc::unreachable || ec == redis_errc::connection_lost) {
      std::lock_guard lock(problem_mu_);
      problem_ = c.last_error();
    }
    return ec;
  }

  void set_problem(std::string p) {
    std::lock_guard lock(problem_mu_);
    problem_ = std::move(p);
  }

  std::string degraded() const override {
    std::lock_guard lock(problem_mu_);
    return degraded_;
  }

  // How many replicas an append waits for: as configured, or, while the master has fewer and
  // continue_without_replicas allows it, the ones it has (counted again about once a second).
  int wanted_replicas() {
    if (config_.wait_replicas <= 0) return 0;
    if (!config_.continue_without_replicas) return config_.wait_replicas;
    if (replicas_short_ &&
        std::chrono::steady_clock::now() - replicas_counted_at_ >= std::chrono::seconds(1))
      count_replicas();
    return replicas_short_ ? replicas_online_ : config_.wait_replicas;
  }

  // The master's replicas that are online (INFO replication), and what that means for
  // degraded(); the configured count when the master cannot be asked.
  int count_replicas() {
    replicas_counted_at_ = std::chrono::steady_clock::now();
    redis_reply r;
    int online = config_.wait_replicas;
    if (!writer_.query({"INFO", "replication"}, r) &&
        (r.type == redis_reply::kind::string || r.type == redis_reply::kind::status))
      online = redis_detail::online_replicas(r.str);
    replicas_online_ = online;
    replicas_short_ = online < config_.wait_replicas;
    std::lock_guard lock(problem_mu_);
    degraded_ = !replicas_short_
                    ? std::string()
                    : "the redis master " + writer_.target() + " has " + std::to_string(online) +
                          " of the " + std::to_string(config_.wait_replicas) +
                          " replica(s) redis_wait_replicas asks for: appends are durable " +
                          (online == 0 ? std::string("on its own disk (AOF) only")
                                       : "on " + std::to_string(online) + " replica(s)");
    return online;
  }

  // Waits before the next try; true when interrupted instead.
  bool pause(int attempt) {
    const auto step = std::chrono::milliseconds(25) * (1 << std::min(attempt, 8));
    std::unique_lock lock(pause_mu_);
    pause_cv_.wait_for(lock, std::min<std::chrono::milliseconds>(step, config_.retry_pause_limit),
                       [this] { return interrupted_; });
    return interrupted_;
  }

  redis_args script_args(std::uint64_t expected, const std::string& token,
                         const backend_batch& batch) const {
    redis_args a{"EVAL"};
    a.add(std::string_view(append_script())).add("7");
    for (const auto* k : {&keys_.meta, &keys_.journal, &keys_.checkpoints, &keys_.by_incident,
                          &keys_.outbox, &keys_.outbox_due, &keys_.outbox_by_incident})
      a.add(std::string_view(*k));
    a.add(expected).add(std::string_view(token));
    a.add(static_cast<std::uint64_t>(batch.records.size()))
        .add(static_cast<std::uint64_t>(batch.outbox.size()))
        .add(batch.checkpoint ? 1 : 0)
        .add(std::string_view(lease_ ? lease_->fence() : std::string_view()));
    for (const auto& r : batch.records)
      a.add(r.seq)
          .add(r.at_ms)
          .add(r.incident_id)
          .add(r.event_type)
          .add(r.payload)
          .add(r.prev_hash)
          .add(r.hash);
    for (const auto& m : batch.outbox)
      a.add(std::string_view(m.kind))
          .add(m.incident_id)
          .add(std::string_view(m.url))
          .add(std::string_view(m.body))
          .add(m.created_ms)
          .add(m.next_attempt_ms)
          .add(std::string_view(m.last_error));
    if (batch.checkpoint) {
      const auto& cp = *batch.checkpoint;
      a.add(cp.upto_seq)
          .add(std::string_view(cp.hash))
          .add(cp.at_ms)
          .add(std::string_view(cp.signature))
          .add(std::string_view(cp.public_key));
    }
    return a;
  }

  redis_store_config config_;
  redis_keys keys_;
  bool read_only_;
  bool create_missing_;
  redis_connection writer_;  // the writer thread's own
  redis_pool readers_;
  std::string token_prefix_;
  std::uint64_t writes_ = 0;
  std::unique_ptr<redis_lease> lease_;  // a writer that must hold the store's lease

  std::mutex pause_mu_;
  std::condition_variable pause_cv_;
  bool interrupted_ = false;

  mutable std::mutex problem_mu_;
  std::string problem_;
  std::string degraded_;
  // The writer thread's own: whether the master is short of replicas, as last counted.
  bool replicas_short_ = false;
  int replicas_online_ = 0;
  std::chrono::steady_clock::time_point replicas_counted_at_;
};

// An append either completes with its outcome known or is interrupted by close(). A lost
// connection leaves the outcome unknown: the store's last_write token says whether the script
// ran. With replicas, the append is durable only once WAIT counts enough of them; a reconnect
// (a failover, perhaps to a replica that never got the write) checks the token again.
std::error_code redis_journal_backend::append(std::uint64_t expected_last_seq,
                                              const backend_batch& batch) {
  if (read_only_) return journal_errc::closed;
  const std::string token = token_prefix_ + ":" + std::to_string(++writes_);
  const redis_args script = script_args(expected_last_seq, token, batch);
  bool maybe_stored = false;  // sent, outcome unknown
  bool ever_unknown = false;  // some try's outcome was unknown: it may still run, late
  bool stored = false;
  bool wrote_on_this_connection = false;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0 && pause(attempt)) return journal_errc::closed;
    // Taken over: whatever this batch was, the new owner decides it again.
    if (lease_ && lease_->lost()) return journal_errc::fenced;
    redis_reply r;
    if (maybe_stored) {
      if (auto ec = writer_.query({"HGET", keys_.meta, "last_write"}, r)) {
        note(ec, writer_);
        continue;
      }
      if (!r.is_nil() && r.str == token) {
        stored = true;
      } else {
        journal_tail tail;
        if (auto ec = read_tail_on(writer_, tail)) {
          if (ec == redis_errc::unreachable || ec == redis_errc::connection_lost) continue;
          return ec;
        }
        if (tail.last_seq != expected_last_seq) return journal_errc::stale_writer;
      }
      maybe_stored = false;
      wrote_on_this_connection = false;
    }
    if (!stored) {
      const auto ec = writer_.command(script, r);
      if (ec == redis_errc::error_reply && r.error_is("STALE")) {
        // A try whose outcome was unknown (sent to a server that froze, say) may have run after
        // the check that found it missing: the token says whether this STALE is our own write.
        if (!ever_unknown) return journal_errc::stale_writer;
        maybe_stored = true;
        continue;
      }
      if (ec == redis_errc::error_reply && r.error_is("FENCED")) {
        if (lease_) lease_->mark_lost("the store was taken over: " + r.str);
        return journal_errc::fenced;
      }
      if (ec == redis_errc::unreachable) {
        note(ec, writer_);
        continue;
      }
      if (ec == redis_errc::error_reply && r.error_is("ERR")) {
        // A refusal that asking again will not change (the script checks before it writes).
        set_problem("redis refused the append: " + r.str);
        return ec;
      }
      if (ec) {
        // Lost, or refused for now (LOADING, READONLY after a failover, MISCONF...): ask again.
        if (ec == redis_errc::error_reply)
          set_problem("redis refused the append: " + r.str);
        else
          note(ec, writer_);
        maybe_stored = true;
        ever_unknown = true;
        continue;
      }
      stored = true;
      wrote_on_this_connection = true;
    }
    if (const int want = wanted_replicas(); want > 0) {
      std::vector<redis_args> wait;
      // WAIT counts replicas that have this connection's writes: after a reconnect there are
      // none yet, so a small write first makes WAIT cover everything before it.
      if (!wrote_on_this_connection) wait.push_back({"HINCRBY", keys_.meta, "wait_probe", "1"});
      redis_args wait_cmd{"WAIT"};
      wait_cmd.add(want).add(static_cast<std::int64_t>(config_.wait_timeout.count()));
      wait.push_back(std::move(wait_cmd));
      std::vector<redis_reply> replies;
      if (auto ec = writer_.pipeline(wait, replies)) {
        note(ec, writer_);
        stored = false;
        maybe_stored = true;  // the master may have changed: is the write still there?
        ever_unknown = true;
        continue;
      }
      wrote_on_this_connection = true;
      const auto& w = replies.back();
      if (w.type != redis_reply::kind::integer || w.integer < want) {
        // Short because the master has fewer replicas than that at all (a failover took one):
        // the next round waits for those it has, when allowed to.
        if (!w.is_error() && config_.continue_without_replicas && count_replicas() < want) continue;
        set_problem("waiting for " + std::to_string(config_.wait_replicas) +
                    " replica(s) to confirm an append; " +
                    (w.is_error() ? w.str : std::to_string(w.integer) + " did"));
        continue;
      }
    }
    set_problem({});
    return {};
  }
}

}  // namespace

redis_keys::redis_keys(std::string_view store) {
  const std::string p = "rescue:{" + std::string(store) + "}:";
  meta = p + "meta";
  journal = p + "journal";
  checkpoints = p + "checkpoints";
  by_incident = p + "by_incident";
  outbox = p + "outbox";
  outbox_due = p + "outbox_due";
  outbox_by_incident = p + "outbox_by_incident";
  positions = p + "positions";
  lease = p + "lease";
  slot = redis_key_slot(meta);
}

std::vector<std::string> redis_keys::all() const {
  return {meta,      journal, checkpoints, by_incident, outbox, outbox_due, outbox_by_incident,
          positions, lease};
}

bool valid_redis_store_name(std::string_view store) {
  if (store.empty() || store.size() > 64) return false;
  for (char ch : store)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      return false;
  return true;
}

bool parse_redis_location(std::string_view location, redis_store_config& out) {
  constexpr std::string_view scheme = "redis://";
  constexpr std::string_view cluster_scheme = "redis-cluster://";
  const bool cluster = location.starts_with(cluster_scheme);
  if (!cluster && !location.starts_with(scheme)) return false;
  location.remove_prefix(cluster ? cluster_scheme.size() : scheme.size());
  std::string_view store = "city";
  if (const auto slash = location.find('/'); slash != std::string_view::npos) {
    store = location.substr(slash + 1);
    location = location.substr(0, slash);
  }
  if (cluster) {
    out.endpoint.cluster_nodes.clear();
    while (!location.empty()) {
      const auto comma = location.find(',');
      const auto node = location.substr(0, comma);
      std::string host;
      int port = 0;
      if (!parse_host_port(node, host, port) || host.empty()) return false;
      out.endpoint.cluster_nodes.emplace_back(node);
      location = comma == std::string_view::npos ? std::string_view{} : location.substr(comma + 1);
    }
    if (out.endpoint.cluster_nodes.empty() || !valid_redis_store_name(store)) return false;
    out.store = std::string(store);
    return true;
  }
  int port = 6379;
  if (const auto colon = location.rfind(':'); colon != std::string_view::npos) {
    if (!parse_number(location.substr(colon + 1), port) || port < 1 || port > 65535) return false;
    location = location.substr(0, colon);
  }
  if (location.empty() || !valid_redis_store_name(store)) return false;
  out.endpoint.host = std::string(location);
  out.endpoint.port = port;
  out.store = std::string(store);
  return true;
}

std::unique_ptr<journal_writer> open_redis_journal(const redis_store_config& config,
                                                   const journal_writer_config& writer,
                                                   std::error_code& ec) {
  if (!valid_redis_store_name(config.store)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  auto backend =
      std::make_unique<redis_journal_backend>(config, writer.read_only, writer.create_missing);
  if ((ec = backend->prepare())) return nullptr;
  return journal_writer::open(std::move(backend), writer, ec);
}

}  // namespace rescue::storage
