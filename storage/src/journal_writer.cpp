#include "rescue/storage/journal_writer.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "rescue/storage/journal_hash.hpp"
#include "rescue/storage/signing.hpp"

namespace rescue::storage {

namespace {

// How often an idle writer lets its backend check the store (journal_backend::check).
constexpr auto health_check_every = std::chrono::seconds(1);

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An event serialized on the caller's thread, so the writer thread only chains and stores it.
struct prepared_event {
  std::uint64_t incident_id = 0;
  std::int64_t at_ms = 0;
  std::string event_type;
  std::string payload;
};

struct pending_append {
  std::vector<prepared_event> events;
  std::vector<outbox_message> outbox;
  append_handler done;
};

}  // namespace

struct journal_writer::impl {
  journal_writer_config config;
  std::unique_ptr<journal_backend> backend;
  std::unique_ptr<signing_key> key;

  // Writer side: touched only by the writer thread once it runs.
  std::uint64_t next_seq = 1;
  std::string last_hash = genesis_hash();
  std::uint64_t checkpoint_seq = 0;  // last signed seq
  std::optional<std::chrono::steady_clock::time_point> oldest_unsigned;
  record_hasher hasher;
  // Reused: the vectors keep their capacity between commits.
  backend_batch write;
  std::vector<std::string> hashes;  // what write.records' hash views point at

  // The queue between callers and the writer thread.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<pending_append> queue;
  bool stopping = false;
  bool closed = false;
  std::thread writer;

  std::mutex listener_mu;
  tail_listener tail;
  outbox_listener outbox;

  std::atomic<std::uint64_t> durable_seq{0};
  std::atomic<std::uint64_t> transactions{0}, events{0}, checkpoints{0}, largest{0};

  void run();
  std::error_code commit(std::vector<pending_append>& batch,
                         std::vector<std::vector<std::uint64_t>>& seqs, bool force_checkpoint,
                         bool& stored_outbox);
  bool checkpoint_due(std::chrono::steady_clock::time_point now) const;
  bool unsigned_records() const { return key && checkpoint_seq + 1 < next_seq; }
};

bool journal_writer::impl::checkpoint_due(std::chrono::steady_clock::time_point now) const {
  if (!unsigned_records()) return false;
  if (next_seq - 1 - checkpoint_seq >= config.checkpoint_every_records) return true;
  return oldest_unsigned && now - *oldest_unsigned >= config.checkpoint_every;
}

std::error_code journal_writer::impl::commit(std::vector<pending_append>& batch,
                                             std::vector<std::vector<std::uint64_t>>& seqs,
                                             bool force_checkpoint, bool& stored_outbox) {
  const std::uint64_t start_seq = next_seq;
  const std::int64_t now_ms = wall_ms();
  write.clear();
  std::size_t total = 0;
  for (const auto& b : batch)
    total += b.events.size();
  // Sized first, so the views into `hashes` stay valid.
  hashes.resize(total);

  std::string_view prev = last_hash;
  std::size_t n = 0;
  seqs.resize(batch.size());
  for (std::size_t b = 0; b < batch.size(); ++b) {
    seqs[b].clear();
    seqs[b].reserve(batch[b].events.size());
    for (const prepared_event& e : batch[b].events) {
      const std::uint64_t seq = next_seq++;
      std::string& h = hashes[n++];
      h = hasher.hash(seq, e.at_ms, e.incident_id, e.event_type, e.payload, prev);
      write.records.push_back({seq, e.at_ms, e.incident_id, e.event_type, e.payload, prev, h});
      seqs[b].push_back(seq);
      prev = h;
    }
    for (const outbox_message& m : batch[b].outbox)
      write.outbox.push_back(make_outbox_row(m, now_ms));
  }
  const std::uint64_t count = write.records.size();

  const auto now = std::chrono::steady_clock::now();
  if (count > 0 && key && !oldest_unsigned) oldest_unsigned = now;
  if (checkpoint_due(now) || (force_checkpoint && unsigned_records())) {
    journal_checkpoint cp;
    cp.upto_seq = next_seq - 1;
    cp.hash = prev;
    cp.at_ms = now_ms;
    cp.signature = key->sign(checkpoint_message(cp.upto_seq, cp.hash, cp.at_ms));
    cp.public_key = key->public_pem();
    write.checkpoint = std::move(cp);
  }

  if (!write.empty()) {
    if (auto ec = backend->append(start_seq - 1, write)) {
      next_seq = start_seq;
      return ec;
    }
    transactions.fetch_add(1, std::memory_order_relaxed);
  }
  if (count > 0) last_hash = prev;

  if (write.checkpoint) {
    checkpoint_seq = next_seq - 1;
    oldest_unsigned.reset();
    checkpoints.fetch_add(1, std::memory_order_relaxed);
  }
  stored_outbox = !write.outbox.empty();
  events.fetch_add(count, std::memory_order_relaxed);
  if (count > largest.load(std::memory_order_relaxed))
    largest.store(count, std::memory_order_relaxed);
  durable_seq.store(next_seq - 1, std::memory_order_release);
  return {};
}

void journal_writer::impl::run() {
  std::vector<pending_append> batch;
  std::vector<std::vector<std::uint64_t>> seqs;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(queue_mu);
      for (;;) {
        if (!queue.empty() || stopping) break;
        const auto now = std::chrono::steady_clock::now();
        auto wake = now + health_check_every;
        if (key && oldest_unsigned) {
          const auto deadline = *oldest_unsigned + config.checkpoint_every;
          if (now >= deadline) break;
          wake = std::min(wake, deadline);
        }
        if (queue_cv.wait_until(lock, wake) == std::cv_status::timeout && queue.empty() &&
            !stopping && std::chrono::steady_clock::now() >= now + health_check_every) {
          // Idle: let the backend look at its store, so /healthz knows before an append fails.
          lock.unlock();
          backend->check();
          lock.lock();
        }
      }
      // Group commit: everything that queued up while the last commit was in flight goes into
      // this transaction, up to the cap; a single batch is never split.
      std::size_t taken = 0;
      while (!queue.empty() && (batch.empty() || taken + queue.front().events.size() <=
                                                     config.max_transaction_events)) {
        taken += queue.front().events.size();
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      stop = stopping && queue.empty();
    }

    // A stop drains the queue and then signs whatever is unsigned, so a clean shutdown leaves
    // the whole store under a checkpoint.
    std::error_code ec;
    bool stored_outbox = false;
    if (!batch.empty() || checkpoint_due(std::chrono::steady_clock::now()) || stop)
      ec = commit(batch, seqs, stop, stored_outbox);
    // The delivery loop is woken before the completions run: a fire call leaves as soon as the
    // escalation that causes it is durable.
    if (!ec && stored_outbox) {
      std::lock_guard lock(listener_mu);
      if (outbox) outbox();
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].done) continue;
      if (ec)
        batch[i].done(ec, {});
      else
        batch[i].done({}, std::move(seqs[i]));
    }
    if (!ec && !batch.empty()) {
      std::lock_guard lock(listener_mu);
      if (tail) tail(durable_seq.load(std::memory_order_acquire));
    }
    batch.clear();
    if (stop) return;
  }
}

journal_writer::journal_writer(std::unique_ptr<journal_backend> backend,
                               const journal_writer_config& config)
    : impl_(std::make_unique<impl>()) {
  impl_->config = config;
  impl_->backend = std::move(backend);
}

journal_writer::~journal_writer() {
  close();
}

std::error_code journal_writer::start() {
  impl& p = *impl_;
  if (p.config.read_only) {
    p.closed = true;
    journal_tail tail;
    return p.backend->read_tail(tail);  // a store that cannot be read fails here
  }
  if (!p.config.signing_key_path.empty()) {
    std::error_code ec;
    p.key = signing_key::load_or_create(p.config.signing_key_path, ec);
    if (!p.key) return ec ? ec : journal_errc::key_unavailable;
  }
  // Resume the chain where the store ends.
  journal_tail tail;
  if (auto ec = p.backend->read_tail(tail)) return ec;
  if (tail.last_seq > 0 && tail.last_hash.size() != 32) return journal_errc::corrupt_record;
  p.next_seq = tail.last_seq + 1;
  if (tail.last_seq > 0) p.last_hash = tail.last_hash;
  p.checkpoint_seq = tail.last_checkpoint;
  if (p.unsigned_records()) p.oldest_unsigned = std::chrono::steady_clock::now();
  p.durable_seq = tail.last_seq;
  p.writer = std::thread([raw = impl_.get()] { raw->run(); });
  return {};
}

std::unique_ptr<journal_writer> journal_writer::open(std::unique_ptr<journal_backend> backend,
                                                     const journal_writer_config& config,
                                                     std::error_code& ec) {
  std::unique_ptr<journal_writer> j(new journal_writer(std::move(backend), config));
  if ((ec = j->start())) return nullptr;
  return j;
}

void journal_writer::append_batch(journal_batch batch, append_handler done) {
  pending_append item;
  item.done = std::move(done);
  item.outbox = std::move(batch.outbox);
  item.events.reserve(batch.events.size());
  const std::int64_t now = wall_ms();
  for (const auto& e : batch.events) {
    prepared_event p;
    p.incident_id = e.incident_id();
    // The core stamps server time; an unstamped event gets the time it was handed over.
    p.at_ms = e.at_ms() != 0 ? e.at_ms() : now;
    p.event_type = event_type_name(e);
    if (e.body_case() == rescue::v1::Event::BODY_NOT_SET || !e.SerializeToString(&p.payload)) {
      if (item.done) item.done(journal_errc::invalid_event, {});
      return;
    }
    item.events.push_back(std::move(p));
  }
  {
    std::unique_lock lock(impl_->queue_mu);
    if (!impl_->closed) {
      impl_->queue.push_back(std::move(item));
      lock.unlock();
      impl_->queue_cv.notify_one();
      return;
    }
  }
  if (item.done) item.done(journal_errc::closed, {});
}

std::error_code journal_writer::read_incident(std::uint64_t incident_id,
                                              std::vector<journal_record>& out) {
  return impl_->backend->read_incident(incident_id, out);
}

std::error_code journal_writer::scan(std::uint64_t from, std::uint64_t to,
                                     const record_visitor& visit) {
  return impl_->backend->scan(from, to, visit);
}

std::error_code journal_writer::read_after(std::uint64_t after, std::size_t max,
                                           std::vector<journal_record>& out) {
  if (max == 0 || after == std::numeric_limits<std::uint64_t>::max()) return {};
  return impl_->backend->scan(after + 1, std::numeric_limits<std::uint64_t>::max(),
                              [&](const journal_record& r) {
                                out.push_back(r);
                                return out.size() < max;
                              });
}

void journal_writer::set_tail_listener(tail_listener listener) {
  std::lock_guard lock(impl_->listener_mu);
  impl_->tail = std::move(listener);
}

void journal_writer::set_outbox_listener(outbox_listener listener) {
  std::lock_guard lock(impl_->listener_mu);
  impl_->outbox = std::move(listener);
}

std::uint64_t journal_writer::last_seq() const {
  if (impl_->config.read_only) {
    // Someone else may be writing the store: ask it.
    journal_tail tail;
    if (impl_->backend->read_tail(tail)) return 0;
    return tail.last_seq;
  }
  return impl_->durable_seq.load(std::memory_order_acquire);
}

std::error_code journal_writer::read_checkpoints(std::vector<journal_checkpoint>& out) {
  return impl_->backend->read_checkpoints(out);
}

std::string journal_writer::problem() const {
  return impl_->backend->problem();
}

std::string journal_writer::degraded() const {
  return impl_->backend->degraded();
}

journal_stats journal_writer::stats() const {
  journal_stats s;
  s.transactions = impl_->transactions.load(std::memory_order_relaxed);
  s.events = impl_->events.load(std::memory_order_relaxed);
  s.checkpoints = impl_->checkpoints.load(std::memory_order_relaxed);
  s.largest_transaction = impl_->largest.load(std::memory_order_relaxed);
  return s;
}

void journal_writer::close() {
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->stopping = true;
    impl_->closed = true;
  }
  impl_->queue_cv.notify_one();
  // An append stuck retrying an unreachable store fails now instead of holding the close.
  if (impl_->backend) impl_->backend->interrupt();
  // Called from a completion handler (the writer thread itself): the writer stops after this
  // round; joining here would deadlock.
  if (impl_->writer.joinable() && impl_->writer.get_id() != std::this_thread::get_id()) {
    impl_->writer.join();
    if (impl_->backend) impl_->backend->release();
  }
}

}  // namespace rescue::storage
