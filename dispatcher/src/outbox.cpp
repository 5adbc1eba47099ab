#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/upload.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/offload.hpp"
#include "rescue/dispatcher/spawn.hpp"

namespace rescue::dispatcher {

namespace {

// How many undelivered rows one pass of the loop looks at; more wait for the next pass.
constexpr std::size_t rows_per_pass = 256;
// The loop looks again at least this often, so a clock step never strands a row.
constexpr auto max_sleep = std::chrono::seconds(30);

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

outbox::outbox(asio::io_context& io, storage::outbox_store& store, storage::journal& journal,
               outbox_config config, metrics& m)
    : store_(store),
      journal_(journal),
      config_(std::move(config)),
      metrics_(m),
      strand_(asio::make_strand(io)),
      wake_timer_(strand_),
      client_(config_.request_timeout, config_.tls) {
  refresh_gauge();
  // Called on the journal's writer thread: wake() only posts.
  journal_.set_outbox_listener([this] { wake(); });
}

outbox::~outbox() {
  // Returns once a call in progress has returned: no wake-up reaches a destroyed outbox.
  journal_.set_outbox_listener({});
  store_thread_.join();
}

void outbox::start() {
  started_ = true;
  asio::post(strand_, [this] {
    if (running_) return;
    running_ = true;
    stopped_ = false;
    asio::co_spawn(strand_, run(), log_if_thrown("outbox run"));
  });
}

void outbox::stop() {
  asio::post(strand_, [this] {
    stopped_ = true;
    wake_timer_.cancel();
  });
}

void outbox::enqueue(std::string_view kind, std::uint64_t incident_id, std::string_view url,
                     std::string_view body, std::function<void(std::error_code)> done) {
  if (url.empty())
    spdlog::warn("outbox: {} call for incident {} kept undelivered: no webhook URL configured",
                 kind, incident_id);
  journal_.append({}, {{std::string(kind), incident_id, std::string(url), std::string(body)}},
                  // Not `this`: a journal closing later may still complete it.
                  [&m = metrics_, kind = std::string(kind), done = std::move(done)](
                      std::error_code ec, std::vector<std::uint64_t>) {
                    if (ec) {
                      spdlog::error("outbox: cannot store a {} call: {}", kind, ec.message());
                      m.webhook_failures_total.fetch_add(1, std::memory_order_relaxed);
                    }
                    if (done) done(ec);
                  });
}

std::vector<outbox_row> outbox::rows_about(std::uint64_t incident_id) const {
  std::vector<outbox_row> out;
  if (const auto ec = store_.by_incident(incident_id, out))
    spdlog::error("outbox: cannot read rows of incident {}: {}", incident_id, ec.message());
  return out;
}

std::vector<outbox_row> outbox::rows() const {
  std::vector<outbox_row> out;
  if (const auto ec = store_.rows(out)) spdlog::error("outbox: cannot read rows: {}", ec.message());
  return out;
}

std::size_t outbox::pending() const {
  std::size_t count = 0;
  if (const auto ec = store_.pending(count))
    spdlog::error("outbox: cannot count pending rows: {}", ec.message());
  return count;
}

std::chrono::milliseconds outbox::backoff(std::int64_t failures) const {
  auto wait = config_.retry_initial;
  for (std::int64_t i = 1; i < failures && wait < config_.retry_max; ++i)
    wait *= 2;
  return std::min(wait, config_.retry_max);
}

void outbox::refresh_gauge() const {
  std::size_t count = 0;
  if (!store_.pending(count)) metrics_.outbox_pending = static_cast<std::int64_t>(count);
}

void outbox::wake() {
  // Before start() there is no loop to wake: start() reads every pending row anyway, and an
  // outbox that is never started must not leave handlers behind that outlive it.
  if (!started_) return;
  asio::post(strand_, [this] {
    dirty_ = true;
    wake_timer_.cancel();
  });
}

asio::awaitable<void> outbox::run() {
  while (!stopped_) {
    dirty_ = false;
    const std::int64_t now = wall_ms();
    std::int64_t next_due = now + std::chrono::milliseconds(max_sleep).count();
    std::vector<outbox_row> due;
    // Rows the journal stored with its events count as soon as the loop sees them.
    std::vector<outbox_row> listed = co_await offload(store_thread_, [this] {
      std::vector<outbox_row> rows;
      if (const auto ec = store_.due(rows_per_pass, rows))
        spdlog::error("outbox: cannot read due rows: {}", ec.message());
      refresh_gauge();
      return rows;
    });
    for (auto& r : listed) {
      if (in_flight_.count(r.id)) continue;
      if (r.next_attempt_ms > now) {
        next_due = std::min(next_due, r.next_attempt_ms);
        break;  // ordered by due time: the rest are later still
      }
      due.push_back(std::move(r));
    }
    for (auto& r : due) {
      if (in_flight_.size() >= config_.max_in_flight) break;  // a finished delivery wakes us
      in_flight_.insert(r.id);
      asio::co_spawn(strand_, deliver(std::move(r)), log_if_thrown("outbox deliver"));
    }
    if (dirty_) continue;
    wake_timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, next_due - now)));
    co_await wake_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  running_ = false;
}

asio::awaitable<void> outbox::deliver(outbox_row row) {
  const webhook_result result =
      co_await client_.post_json(row.url, row.body, idempotency_key(row.kind, row.body));
  storage::outbox_attempt attempt;
  attempt.id = row.id;
  attempt.attempts = row.attempts + 1;
  if (result.delivered()) {
    attempt.delivered_ms = wall_ms();
    attempt.next_attempt_ms = row.next_attempt_ms;
  } else {
    attempt.next_attempt_ms = wall_ms() + backoff(attempt.attempts).count();
    attempt.last_error = result.describe();
  }
  co_await offload(store_thread_, [this, &attempt] {
    if (const auto ec = store_.record_attempt(attempt))
      spdlog::error("outbox: cannot record delivery of {}: {}", attempt.id, ec.message());
    refresh_gauge();
    return true;
  });
  if (result.delivered()) {
    spdlog::info("outbox: {} message {} delivered to {} after {} attempt(s)", row.kind, row.id,
                 row.url, attempt.attempts);
  } else {
    metrics_.webhook_failures_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("outbox: {} message {} to {} failed (attempt {}): {}; next in {} ms", row.kind,
                 row.id, row.url, attempt.attempts, log_safe(result.describe(), 256),
                 backoff(attempt.attempts).count());
  }
  in_flight_.erase(row.id);
  dirty_ = true;
  wake_timer_.cancel();
}

}  // namespace rescue::dispatcher
