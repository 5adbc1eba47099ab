// Shared pieces for the crew-channel tests: a temp dir, a small city, an io thread, and an HTTP
// receiver on 127.0.0.1 port 0 that answers with scripted statuses and records every request.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/storage/registry.hpp"
#include "small_city.hpp"

namespace crew_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace v1 = rescue::v1;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Named for the folder it makes, so a leftover points at its test.
struct temp_dir : rescue::test_support::temp_dir {
  temp_dir() : rescue::test_support::temp_dir("rescue-crew-") {}
};

using rescue::test_support::now_ms;
using rescue::test_support::small_city;

// Runs an io_context on a thread; declare it after everything that posts to the io_context, so
// it stops (and joins) before they are destroyed.
class io_thread {
 public:
  explicit io_thread(asio::io_context& io)
      : io_(io), guard_(asio::make_work_guard(io)), thread_([this] { io_.run(); }) {}
  ~io_thread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Waits (polling) until `done()` or the timeout; returns done().
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 5s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  return done();
}

class http_receiver {
 public:
  struct request {
    std::string target;
    std::string body;
  };

  explicit http_receiver(asio::io_context& io)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(this), asio::detached);
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }
  // Statuses answered in order; 200 once the script is used up.
  void script(std::vector<unsigned> statuses) {
    std::lock_guard lock(mutex_);
    script_.assign(statuses.begin(), statuses.end());
  }
  std::vector<request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  static asio::awaitable<void> accept_loop(http_receiver* self) {
    for (;;) {
      auto [ec, socket] =
          co_await self->acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(self->acceptor_.get_executor(), serve(self, std::move(socket)),
                     asio::detached);
    }
  }
  static asio::awaitable<void> serve(http_receiver* self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(5s);
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [ec, n] =
        co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    unsigned status = 200;
    {
      std::lock_guard lock(self->mutex_);
      self->requests_.push_back({std::string(req.target()), req.body()});
      if (!self->script_.empty()) {
        status = self->script_.front();
        self->script_.pop_front();
      }
    }
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = "{}";
    res.keep_alive(false);
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  tcp::acceptor acceptor_;
  mutable std::mutex mutex_;
  std::deque<unsigned> script_;
  std::vector<request> requests_;
};

}  // namespace crew_test

#include "rescue/dispatcher/outbox.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/geo/crew_index.hpp"
#include "rescue/storage/sqlite_journal.hpp"
#include "rescue/storage/sqlite_outbox_store.hpp"

namespace crew_test {

// Every unit and crew of the registry at its registered position (what the server builds at
// start-up; built here so the tests need nothing beyond the crew channel).
inline rescue::geo::crew_index index_of(const rescue::storage::registry& registry) {
  rescue::geo::crew_index index;
  for (const auto& unit : registry.units())
    index.register_unit(unit);
  for (const auto& crew : registry.crews())
    REQUIRE(index.upsert(crew) == rescue::geo::crew_update::applied);
  return index;
}

// A real dispatch service over a real SQLite journal in a temp dir, and its outbox.
// The folder is shared: a restart destroys the parts and builds new ones on the same files.
struct service_parts {
  std::shared_ptr<temp_dir> dir;
  rescue::storage::registry registry = small_city();
  rescue::core::escalation_policy policy;
  rescue::dispatcher::metrics stats;
  rescue::dispatcher::server_config config;
  asio::io_context io;
  std::unique_ptr<rescue::storage::sqlite_journal> journal;
  std::unique_ptr<rescue::storage::sqlite_outbox_store> store;
  std::unique_ptr<rescue::dispatcher::dispatch_service> service;
  std::unique_ptr<rescue::dispatcher::outbox> box;

  explicit service_parts(std::shared_ptr<temp_dir> files = std::make_shared<temp_dir>())
      : dir(std::move(files)) {
    rescue::storage::sqlite_journal_config jc;
    jc.path = dir->path / "journal.db";
    // As the server opens it: an outbox file of layout 1 hands its calls to the journal.
    jc.legacy_outbox_path = dir->path / "outbox.db";
    std::error_code ec;
    journal = rescue::storage::sqlite_journal::open(jc, ec);
    REQUIRE_FALSE(ec);
    service = std::make_unique<rescue::dispatcher::dispatch_service>(
        io, policy, registry, index_of(registry), *journal, stats);
    service->recover();
    store = rescue::storage::sqlite_outbox_store::open({jc.path, dir->path / "outbox.db"}, ec);
    REQUIRE_FALSE(ec);
    rescue::dispatcher::outbox_config oc;
    oc.retry_initial = 100ms;
    oc.retry_max = 400ms;
    box = std::make_unique<rescue::dispatcher::outbox>(io, *store, *journal, oc, stats);
  }

  // Submits from the test thread while the io_context runs on its own thread.
  rescue::core::outcome submit(rescue::core::command c) {
    auto done = std::make_shared<std::promise<rescue::core::outcome>>();
    auto result = done->get_future();
    service->async_submit(std::move(c),
                          [done](rescue::core::outcome out) { done->set_value(std::move(out)); });
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    return result.get();
  }
};

}  // namespace crew_test
