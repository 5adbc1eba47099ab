#include "rescue/dispatcher/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/crew_hub.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/fire_routes.hpp"
#include "rescue/dispatcher/http_listener.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/live_feed.hpp"
#include "rescue/dispatcher/metrics.hpp"
#include "rescue/dispatcher/ops_routes.hpp"
#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/terminal_gateway.hpp"
#include "rescue/storage/registry_csv.hpp"
#include "rescue/storage/registry_sqlite.hpp"
#include "rescue/storage/sqlite_journal.hpp"

namespace rescue::dispatcher {

namespace {

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

std::unique_ptr<storage::sqlite_journal> open_journal(const server_config& config) {
  storage::sqlite_journal_config jc;
  jc.path = config.journal_path;
  jc.signing_key_path = config.signing_key_path;
  jc.checkpoint_every_records = config.checkpoint_every_records;
  jc.checkpoint_every = config.checkpoint_every;
  if (jc.path.has_parent_path()) std::filesystem::create_directories(jc.path.parent_path());
  if (jc.signing_key_path.has_parent_path())
    std::filesystem::create_directories(jc.signing_key_path.parent_path());
  std::error_code ec;
  auto journal = storage::sqlite_journal::open(jc, ec);
  if (!journal)
    throw std::runtime_error("cannot open journal " + jc.path.string() + ": " + ec.message());
  return journal;
}

}  // namespace

server::server(server_config config)
    : config_(std::move(config)),
      io_(static_cast<int>(config_.threads)),
      metrics_(std::make_unique<metrics>()),
      signals_(io_, SIGINT, SIGTERM) {
  registry_ = load_registry(config_);
  if (config_.registry_db_path.has_parent_path())
    std::filesystem::create_directories(config_.registry_db_path.parent_path());
  if (const auto why = storage::write_registry_sqlite(*registry_, config_.registry_db_path,
                                                      config_.registry_dir.string(),
                                                      to_ms(dispatch_service::now()));
      !why.empty())
    throw std::runtime_error(why);
  journal_ = open_journal(config_);
  service_ = std::make_unique<dispatch_service>(io_, config_.policy, *registry_,
                                                build_crew_index(*registry_, config_.ranking),
                                                *journal_, *metrics_);
  service_->set_fatal_handler([](std::error_code ec) {
    spdlog::critical("stopping at once: the journal failed ({}); restart recovers from it",
                     ec.message());
    spdlog::shutdown();
    std::_Exit(70);
  });
  const auto report = service_->recover();
  spdlog::info("recovered {} journal events: {} incidents open, {} deadlines re-armed ({} overdue)",
               report.events, report.open_incidents, report.deadlines_rearmed,
               report.deadlines_overdue);

  outbox_config oc;
  oc.path = config_.outbox_path;
  oc.retry_initial = config_.webhook_retry_initial;
  oc.retry_max = config_.webhook_retry_max;
  if (oc.path.has_parent_path()) std::filesystem::create_directories(oc.path.parent_path());
  outbox_ = std::make_unique<outbox>(io_, oc, *metrics_);
  crews_ = std::make_unique<crew_hub>(io_, config_, *service_, *outbox_, *metrics_);
  fire_ = std::make_unique<fire_routes>(io_, config_, *service_, *outbox_);
  console_ = std::make_unique<console_api>(*service_);
  live_ = std::make_shared<live_feed>(*service_, *metrics_);
  ops_ = std::make_unique<ops_routes>(*service_, *metrics_);
  terminals_ = std::make_unique<terminal_gateway>(io_, config_, *service_, *metrics_);

  service_->set_channels(dispatch_channels{
      [this](const fx::offer_job& o) { crews_->on_offer(o); },
      [this](const fx::withdraw_job& w) { crews_->on_withdraw(w); },
      [this](const fx::notify_fire& f, const rescue::v1::IncidentView& v) {
        fire_->on_escalation(f, v);
      },
      [this](const rescue::v1::IncidentView& v, bool removed) { live_->publish(v, removed); },
  });

  router_ = std::make_unique<http_router>();
  console_->register_routes(*router_);
  live_->register_routes(*router_);
  ops_->register_routes(*router_);
  crews_->add_routes(*router_);
  fire_->add_routes(*router_);
  terminals_->add_routes(*router_);
  http_ = std::make_shared<http_listener>(io_, config_, *router_);
}

server::~server() {
  stop();
  if (closer_.joinable()) closer_.join();
  console_->join();
}

server_ports server::start() {
  server_ports ports;
  outbox_->start();
  // Offers that were pending when the server stopped go out again to the phones.
  crews_->reseed_from_service();
  fire_->reseed_from_service();
  ports.http = http_->start();
  ports.terminal = terminals_->start();
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signal);
    stop();
  });
  spdlog::info(
      "rescue-dispatchd listening on {}: terminals on port {}, console and crews on "
      "port {}",
      config_.listen_address, ports.terminal, ports.http);
  return ports;
}

void server::run() {
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config_.threads; ++i)
    threads.emplace_back([this] { io_.run(); });
  io_.run();
  for (auto& t : threads)
    t.join();
}

void server::stop() {
  if (stopping_.exchange(true)) return;
  draining_.emplace(io_.get_executor());
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  http_->stop();
  terminals_->stop();
  crews_->stop();
  live_->stop();
  outbox_->stop();
  // Closing the journal blocks until everything queued is durable, so it runs off the io
  // threads; its completions still reach the dispatch service, which runs their effects.
  closer_ = std::thread([this] {
    journal_->close();
    // The journal's last completions are queued on the service's strand before close()
    // returns, so a hop through that strand runs after their effects; the grace period lets
    // the effects' own posts (outbox writes of a last escalation) land before the loop stops.
    boost::asio::post(service_->strand(), [this] {
      auto grace = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(250));
      grace->async_wait([this, grace](const boost::system::error_code&) {
        spdlog::info("journal flushed at seq {}; stopped", journal_->last_seq());
        io_.stop();
      });
    });
  });
}

}  // namespace rescue::dispatcher
