#include "rescue/dispatcher/server.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "rescue/dispatcher/auth_throttle.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/credentials.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/crew_hub.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/fire_routes.hpp"
#include "rescue/dispatcher/http_listener.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/dispatcher/live_feed.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/ops_routes.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/position_writer.hpp"
#include "rescue/dispatcher/report_routes.hpp"
#include "rescue/dispatcher/shard_link.hpp"
#include "rescue/dispatcher/spawn.hpp"
#include "rescue/dispatcher/terminal_gateway.hpp"
#include "rescue/dispatcher/upload.hpp"
#include "rescue/storage/open_storage.hpp"
#include "rescue/storage/private_files.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "rescue/storage/registry_sqlite.hpp"

namespace rescue::dispatcher {

namespace {

void create_private_parent(const std::filesystem::path& file) {
  if (!file.has_parent_path()) return;
  if (const auto ec = storage::create_private_directories(file.parent_path()))
    throw std::runtime_error("cannot create " + file.parent_path().string() + ": " + ec.message());
}

std::unique_ptr<storage::registry> load_registry(const server_config& config) {
  auto imported = storage::import_registry_csv(config.registry_dir);
  // One bad row must not keep a city's dispatch down: it is reported and skipped.
  for (const auto& error : imported.errors)
    spdlog::warn("registry: {}", error.to_string());
  if (imported.registry.elevators().empty())
    throw std::runtime_error("registry " + config.registry_dir.string() + " has no elevators");
  spdlog::info(
      "registry loaded from {}: {} elevators, {} units and stations, {} crews, {} "
      "terminals, {} rows refused",
      config.registry_dir.string(), imported.registry.elevators().size(),
      imported.registry.units().size(), imported.registry.crews().size(),
      imported.registry.terminals().size(), imported.errors.size());
  return std::make_unique<storage::registry>(std::move(imported.registry));
}

// The store this instance writes: the city's, or on a sharded city its own shard's.
std::string own_store(const server_config& config) {
  return config.shards.empty() ? config.redis_store : config.redis_store + "." + config.redis_shard;
}

// SIGINT or SIGTERM while standing by for the store's lease (before the signal set exists).
std::atomic<bool> stop_while_standing_by{false};
extern "C" void note_stop_on_standby(int) {
  stop_while_standing_by.store(true);
}

// On Redis, the store's journal as it stands, folded into `warm` before the writer opens and
// kept folded while this instance stands by for the lease: taking over then replays only what
// the owner wrote since the last look.
struct standby_follow {
  std::unique_ptr<storage::journal> reader;
  journal_follower* warm = nullptr;
  std::chrono::steady_clock::time_point last;

  void follow() {
    if (!reader) return;
    last = std::chrono::steady_clock::now();
    try {
      warm->follow(*reader);
    } catch (const std::exception& e) {
      // The recovery reads the journal itself and stops the start-up if it cannot fold it.
      spdlog::warn("standing by: cannot follow the journal ({}); replaying it on takeover",
                   e.what());
      *warm = journal_follower{};
      reader.reset();
    }
  }
};

// The store's lease as the server holds it (redis_lease_config): the wait of a standby, which
// follows the journal meanwhile and ends on SIGINT or SIGTERM, and what the log says of it.
// `standby` is used only while open_storage waits for the lease, so it outlives every call.
storage::redis_lease_config lease_settings(const server_config& config, standby_follow& standby) {
  storage::redis_lease_config lease;
  lease.enabled = true;
  lease.owner = config.redis_instance;
  lease.ttl = config.redis_lease;
  lease.give_up = [&standby] {
    if (std::chrono::steady_clock::now() - standby.last >= std::chrono::milliseconds(500))
      standby.follow();
    return stop_while_standing_by.load();
  };
  lease.on_waiting = [store = own_store(config)](const std::string& holder,
                                                 std::chrono::milliseconds left) {
    spdlog::info(
        "standing by: store {} is held by {} (its lease has {} ms left); taking over when it "
        "lapses",
        store, holder, left.count());
  };
  lease.on_acquired = [store = own_store(config)](const std::string& owner,
                                                  const std::string& fence) {
    spdlog::info("holding the lease of store {} as {} (fencing token {})", store, owner, fence);
  };
  // Another instance owns the store now: nothing more can be made durable here, so nothing more
  // may be acknowledged. Stopping at once hands the terminals and crews to the new owner.
  lease.on_lost = [](const std::string& why) {
    spdlog::critical("stopping at once: {}", why);
    spdlog::shutdown();
    std::_Exit(75);
  };
  return lease;
}

storage::storage_config storage_settings(const server_config& config) {
  storage::storage_config sc;
  sc.backend = config.storage_backend;
  sc.journal_path = config.journal_path;
  sc.outbox_path = config.outbox_path;
  sc.positions_path = config.positions_path;
  sc.signing_key_path = config.signing_key_path;
  sc.checkpoint_every_records = config.checkpoint_every_records;
  sc.checkpoint_every = config.checkpoint_every;
  sc.redis.endpoint.host = config.redis_host;
  sc.redis.endpoint.port = config.redis_port;
  sc.redis.endpoint.cluster_nodes = config.redis_cluster_nodes;
  sc.redis.store = config.redis_store;
  sc.redis.endpoint.password = config.redis_password;
  sc.redis.wait_replicas = config.redis_wait_replicas;
  sc.redis.wait_timeout = config.redis_wait_timeout;
  sc.redis.continue_without_replicas = config.redis_continue_without_replicas;
  sc.redis.store = own_store(config);
  return sc;
}

storage::opened_storage open_storage(const server_config& config, journal_follower& warm) {
  storage::storage_config sc = storage_settings(config);
  standby_follow standby{nullptr, &warm, {}};
  if (sc.backend == "redis") {
    std::error_code ignored;  // a store not created yet: nothing to fold
    standby.reader = storage::open_journal_reader(sc, ignored);
    standby.follow();
  }
  sc.redis.lease = lease_settings(config, standby);
  create_private_parent(sc.journal_path);
  create_private_parent(sc.outbox_path);
  create_private_parent(sc.positions_path);
  create_private_parent(sc.signing_key_path);
  std::error_code ec;
  struct sigaction on_stop {
  }, old_int{}, old_term{};
  on_stop.sa_handler = note_stop_on_standby;
  sigemptyset(&on_stop.sa_mask);
  ::sigaction(SIGINT, &on_stop, &old_int);
  ::sigaction(SIGTERM, &on_stop, &old_term);
  auto opened = storage::open_storage(sc, ec);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (ec == std::errc::operation_canceled)
    throw stopped_on_standby("stopped while standing by for store " + sc.redis.store);
  if (!opened.journal)
    throw std::runtime_error(
        "cannot open the " + sc.backend + " storage (" +
        (sc.backend == "redis"
             ? "redis " + sc.redis.endpoint.host + ":" + std::to_string(sc.redis.endpoint.port) +
                   " store " + sc.redis.store
             : "journal " + sc.journal_path.string() + ", outbox " + sc.outbox_path.string() +
                   ", positions " + sc.positions_path.string()) +
        "): " + ec.message());
  if (!opened.upgrade_note.empty()) spdlog::warn("storage: {}", opened.upgrade_note);
  return opened;
}

// The live index: the registry's crews, each moved to the position stored before the last stop
// when that is newer than the registry's. A store that cannot be read costs the positions, not
// the start: the phones report again within seconds.
geo::crew_index crew_index_with_stored_positions(const server_config& config,
                                                 const storage::registry& registry,
                                                 storage::crew_position_store* store) {
  auto index = build_crew_index(registry, config.ranking);
  if (!store) return index;
  std::vector<storage::crew_position> stored;
  if (const auto ec = store->load_all(stored)) {
    spdlog::warn("crew positions: cannot read {} ({}); starting from the registry's",
                 config.positions_path.string(), ec.message());
    return index;
  }
  const auto report = restore_positions(index, stored);
  spdlog::info(
      "crew positions: restored {} of {} stored ({} not newer than the registry's, {} of crews "
      "no longer registered, {} invalid)",
      report.restored, report.stored, report.older, report.unknown, report.invalid);
  return index;
}

}  // namespace

server::server(server_config config)
    : config_(std::move(config)),
      io_(static_cast<int>(config_.threads)),
      metrics_(std::make_unique<metrics>()),
      credentials_(std::make_shared<credential_store>(credentials_from(config_))),
      signals_(io_),
      reload_signals_(io_) {
  registry_ = load_registry(config_);
  create_private_parent(config_.registry_db_path);
  if (const auto why = storage::write_registry_sqlite(*registry_, config_.registry_db_path,
                                                      config_.registry_dir.string(),
                                                      core::to_ms(dispatch_service::now()));
      !why.empty())
    throw std::runtime_error(why);
  // On Redis this waits while another instance holds the store's lease (a standby); a stop
  // meanwhile ends the wait. The signal set takes over the signals only once the store is ours.
  journal_follower warm;
  auto storage = open_storage(config_, warm);
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  reload_signals_.add(SIGHUP);
  // A stop that came between the lease and the signal set: handled as soon as the loop runs.
  if (stop_while_standing_by.exchange(false)) ::raise(SIGTERM);
  journal_ = std::move(storage.journal);
  outbox_store_ = std::move(storage.outbox);
  storage_predates_outbox_ = storage.predates_transactional_outbox;
  positions_store_ = std::move(storage.positions);
  service_ = std::make_unique<dispatch_service>(
      io_, config_.policy, *registry_,
      crew_index_with_stored_positions(config_, *registry_, positions_store_.get()), *journal_,
      *metrics_);
  if (positions_store_) {
    positions_ = std::make_unique<position_writer>(*positions_store_, *metrics_,
                                                   config_.positions_flush_every);
  }
  if (!config_.shards.empty()) {
    try {
      shards_ = std::make_unique<core::shard_map>(config_.shards, *registry_);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("[[storage.shards]]: ") + e.what());
    }
    const core::shard_spec& own = *shards_->by_name(config_.redis_shard);
    std::map<std::string, std::unique_ptr<storage::journal>> journals;
    for (const auto& s : shards_->shards()) {
      if (&s == &own) continue;
      storage::storage_config sc = storage_settings(config_);
      sc.redis.store = config_.redis_store + "." + s.name;
      std::error_code ec;
      auto reader = storage::open_journal_reader(sc, ec);
      // A shard whose owner never started has no journal yet: followed from its first record.
      if (ec == std::errc::no_such_file_or_directory) {
        ec.clear();
        reader = storage::open_journal_reader(sc, ec, true);
      }
      if (!reader)
        throw std::runtime_error("cannot read the journal of shard " + s.name + ": " +
                                 ec.message());
      journals.emplace(s.name, std::move(reader));
    }
    shard_link_config lc;
    lc.redis_host = config_.redis_host;
    lc.redis_port = config_.redis_port;
    lc.redis_cluster_nodes = config_.redis_cluster_nodes;
    lc.redis_password = config_.redis_password;
    lc.city = config_.redis_store;
    lc.instance = config_.redis_instance.empty() ? own_store(config_) : config_.redis_instance;
    lc.wait_replicas = config_.redis_wait_replicas;
    lc.wait_timeout = config_.redis_wait_timeout;
    lc.continue_without_replicas = config_.redis_continue_without_replicas;
    link_ = std::make_unique<shard_link>(lc, *shards_, own, *service_, std::move(journals));
    service_->set_shards(*shards_, own, link_->forwarder());
    spdlog::info("sharded city {}: deciding shard {} (incidents from {}) of {}",
                 config_.redis_store, own.name, core::shard_map::first_incident_id(own),
                 shards_->shards().size());
  }
  // Pings taken in here: into this instance's store and, on a sharded city, onto the position
  // stream for the other instances.
  service_->set_position_listener([this](storage::crew_position p) {
    if (link_) link_->publish_position(p.crew_id, p.lat, p.lon, p.at_ms);
    if (positions_) positions_->record(std::move(p));
  });
  service_->set_fatal_handler([](std::error_code ec) {
    spdlog::critical("stopping at once: the journal failed ({}); restart recovers from it",
                     ec.message());
    spdlog::shutdown();
    std::_Exit(70);
  });
  const auto report = service_->recover(std::move(warm));
  if (report.warm_discarded)
    spdlog::warn("the journal no longer holds what this standby had folded; replayed it anew");
  else if (report.warm_events > 0)
    spdlog::info("took over with {} journal events already folded while standing by",
                 report.warm_events);
  spdlog::info("recovered {} journal events: {} incidents open, {} deadlines re-armed ({} overdue)",
               report.events, report.open_incidents, report.deadlines_rearmed,
               report.deadlines_overdue);
  inbox_after_ = report.last_inbox_entry;
  // This start dropped every terminal link the journal holds as up (only the store's owner opens
  // the terminal port): they are recorded lost before the port opens, so a terminal that never
  // comes back is not counted online. Not on a sharded city, where terminals connect to any
  // instance and an owner taking a shard over drops none of them.
  if (!shards_)
    service_->async_submit(
        core::cmd::terminal_links_lost{"server restarted"}, [](core::outcome out) {
          if (!out.ok())
            spdlog::warn("lost terminal links not recorded: {}", out.reason);
          else if (!out.events.empty())
            spdlog::info("{} terminal links recorded lost at the restart", out.events.size());
        });
  if (link_) link_->catch_up();

  outbox_config oc;
  oc.retry_initial = config_.webhook_retry_initial;
  oc.retry_max = config_.webhook_retry_max;
  oc.tls = {config_.tls.webhook_ca_path, config_.tls.allow_plain_webhooks};
  outbox_ = std::make_unique<outbox>(io_, *outbox_store_, *journal_, oc, *metrics_);
  crews_ = std::make_unique<crew_hub>(io_, config_, *service_, *outbox_, *metrics_, credentials_);
  fire_ = std::make_unique<fire_routes>(config_, *service_, *outbox_);
  console_ = std::make_unique<console_api>(*service_);
  reports_ = std::make_unique<report_routes>(*service_, config_.journal_path.parent_path());
  if (shards_) {
    reports_->set_other_journals([this] {
      std::vector<std::unique_ptr<storage::journal>> readers;
      for (const auto& s : shards_->shards()) {
        if (s.name == config_.redis_shard) continue;
        storage::storage_config sc = storage_settings(config_);
        sc.redis.store = config_.redis_store + "." + s.name;
        std::error_code ec;
        if (auto reader = storage::open_journal_reader(sc, ec))
          readers.push_back(std::move(reader));
        else if (ec != std::errc::no_such_file_or_directory)  // a shard never started: nothing
          throw std::runtime_error("cannot read the journal of shard " + s.name + ": " +
                                   ec.message());
      }
      return readers;
    });
  }
  if (link_) {
    console_->set_journal_of(
        [link = link_.get()](core::incident_id id) { return link->journal_of(id); });
    crews_->set_receipt_forwarder(
        [link = link_.get()](const std::string& crew, core::incident_id id) {
          link->forward_receipt(crew, id);
        });
    link_->set_receipt_handler([hub = crews_.get()](const std::string& crew, core::incident_id id) {
      hub->receipted_elsewhere(crew, id);
    });
  }
  live_ = std::make_shared<live_feed>(*service_, *metrics_);
  ops_ = std::make_unique<ops_routes>(*service_, *metrics_);
  // The files are open now: what is left of the open-file limit is shared out, the console port
  // getting at most its share so that terminals always find a descriptor.
  const auto plan = plan_descriptors(config_.http_max_connections, config_.terminal_max_connections,
                                     config_.terminal_descriptor_share);
  if (plan.limit != 0)
    spdlog::info(
        "descriptors: limit {}, {} in use; connection caps: terminals {} (configured {}), "
        "console port {} (configured {})",
        plan.limit, plan.in_use, plan.terminal_max, config_.terminal_max_connections, plan.http_max,
        config_.http_max_connections);
  config_.http_max_connections = plan.http_max;
  config_.terminal_max_connections = plan.terminal_max;
  throttle_ = std::make_shared<auth_throttle>(
      auth_throttle_config{config_.auth_max_failures, config_.auth_failure_window,
                           config_.auth_lockout},
      metrics_.get());
  terminals_ = std::make_unique<terminal_gateway>(io_, config_, *service_, *metrics_, throttle_);

  service_->set_channels(dispatch_channels{
      [this](const core::fx::offer_job& o) { crews_->on_offer(o); },
      [this](const core::fx::offer_job& o) { crews_->on_offer_elsewhere(o); },
      [this](const core::fx::withdraw_job& w) { crews_->on_withdraw(w); },
      [this](const core::fx::notify_fire& f, const rescue::v1::IncidentView& v) {
        fire_->on_escalation(f, v);
      },
      [this](const rescue::v1::IncidentView& v, bool removed) { live_->publish(v, removed); },
      [this](const core::fx::notify_fire& f, const rescue::v1::IncidentView& v) {
        return fire_->escalation_message(f, v);
      },
      config_.upload_url.empty()
          ? std::function<storage::outbox_message(const core::fx::upload_record&)>()
          : [this](const core::fx::upload_record& u) { return upload_message(config_, u); },
  });

  router_ = std::make_unique<http_router>();
  console_->register_routes(*router_);
  reports_->register_routes(*router_);
  live_->register_routes(*router_);
  ops_->register_routes(*router_);
  crews_->add_routes(*router_);
  fire_->add_routes(*router_);
  terminals_->add_routes(*router_);
  http_ = std::make_shared<http_listener>(io_, config_, *router_, http_limits{}, metrics_.get(),
                                          throttle_, credentials_);
}

server::~server() {
  stop();
  if (closer_.joinable())
    closer_.join();
  else
    journal_->close();  // the loop never ran the drain: nothing is in flight
  if (positions_) positions_->close();
  console_->join();
  reports_->join();
}

server_ports server::start() {
  server_ports ports;
  // A fire call is stored with its escalation; only a journal written before that may lack one.
  if (storage_predates_outbox_) {
    const auto stored = fire_->store_calls_missing_after_upgrade();
    spdlog::info("storage upgrade: stored {} fire call(s) the old outbox had lost", stored);
    storage_predates_outbox_ = false;
  }
  outbox_->start();
  // Offers that were pending when the server stopped go out again to the phones.
  crews_->reseed_from_service();
  if (link_) link_->start(inbox_after_);
  ports.http = http_->start();
  ports.terminal = terminals_->start();
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signal);
    stop();
  });
  watch_reload();
  spdlog::info(
      "rescue-dispatchd listening on {}: terminals on port {}{}, console and crews on "
      "port {}{}",
      config_.listen_address, ports.terminal, config_.tls.terminal ? " (TLS)" : "", ports.http,
      config_.tls.http ? " (TLS)" : "");
  return ports;
}

void server::watch_reload() {
  reload_signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopping_) return;
    if (config_.source_path.empty()) {
      spdlog::warn("SIGHUP: no config file to re-read; credentials unchanged");
    } else {
      const auto result = reload_credentials(*credentials_, config_.source_path);
      if (result.ok)
        spdlog::info("SIGHUP: {}", result.message);
      else
        spdlog::error("SIGHUP: {}", result.message);
    }
    watch_reload();
  });
}

void server::run() {
  // Last line of defence: a handler that throws (Beast's composed operations run outside any
  // coroutine's try) costs its own connection, never the process. The loop is resumed as Asio
  // allows; the exception is logged and counted in /metrics.
  const auto run_guarded = [this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (...) {
        report_escaped_exception("an I/O handler", std::current_exception());
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config_.threads; ++i)
    threads.emplace_back(run_guarded);
  run_guarded();
  for (auto& t : threads)
    t.join();
}

void server::stop() {
  if (stopping_.exchange(true)) return;
  draining_.emplace(io_.get_executor());
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  reload_signals_.cancel(ignored);
  // First nothing new comes in: no accepts, no more reads from the sessions.
  http_->stop();
  terminals_->stop();
  crews_->stop();
  live_->stop();
  // Then what is in flight finishes: every command already submitted becomes durable and gets
  // its effects; anything arriving from here on is refused, never acknowledged, and never
  // reaches the journal, which closes only after that.
  service_->drain_then([this] {
    outbox_->stop();
    // Closing the journal blocks until its writer thread is done, so it runs off the io threads.
    closer_ = std::thread([this] {
      // The last second of positions, so the next start finds every crew where it was.
      if (positions_) positions_->close();
      // Nothing more from the inbox: what it held and was not journalled stays there.
      if (link_) link_->stop();
      journal_->close();
      // The grace period lets the effects' own posts (a last crew push) land before the loop
      // stops; a last escalation's fire call was stored with it.
      boost::asio::post(service_->strand(), [this] {
        auto grace =
            std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(250));
        grace->async_wait([this, grace](const boost::system::error_code&) {
          spdlog::info("journal flushed at seq {}; stopped", journal_->last_seq());
          io_.stop();
        });
      });
    });
  });
}

}  // namespace rescue::dispatcher
