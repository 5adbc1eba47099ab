// The operators' and auditors' HTTP/JSON API under /api/v1: incidents, commands, elevators,
// crews and journal verification, translated to and from the dispatch service.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "rescue/console.pb.h"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"

namespace rescue::dispatcher {

// Every incident in memory, most urgent first: the active ones by their arrival target (least
// time left first), then those already closed and waiting for the follow-up call.
rescue::v1::IncidentList incidents_by_urgency(const core::core_state& state,
                                              const core::core_state* others = nullptr);

// HTTP status for a refused command: 404 for unknown things, 409 for a conflict with the
// incident's state, 400 for an invalid request.
http::status status_for(core::refusal r);

class console_api {
 public:
  // `service` must outlive the API. Blocking work (journal reads, verification) runs on a small
  // pool of its own, never on the io threads.
  explicit console_api(dispatch_service& service, unsigned blocking_threads = 2);
  ~console_api();
  console_api(const console_api&) = delete;
  console_api& operator=(const console_api&) = delete;

  // Adds every /api/v1 route except the live feed (live_feed::register_routes).
  void register_routes(http_router& router);

  // Waits for blocking work in flight; call after the io_context stopped.
  void join();

  // A sharded city: the journal that holds an incident's timeline (another shard's, read-only).
  // Null answers mean the service's own. Set before serving; the journals outlive the API.
  void set_journal_of(std::function<storage::journal*(core::incident_id)> journal_of) {
    journal_of_ = std::move(journal_of);
  }

 private:
  asio::awaitable<http_response> list_incidents(request_context ctx);
  asio::awaitable<http_response> get_incident(request_context ctx);
  asio::awaitable<http_response> create_incident(request_context ctx);
  asio::awaitable<http_response> incident_command(request_context ctx, std::string action);
  asio::awaitable<http_response> get_elevator(request_context ctx);
  asio::awaitable<http_response> list_crews(request_context ctx);
  asio::awaitable<http_response> verify(request_context ctx);
  static asio::awaitable<http_response> session(request_context ctx);
  asio::awaitable<http_response> districts(request_context ctx);

  asio::awaitable<http_response> submit(const http_request& request, core::command c,
                                        http::status success);

  storage::journal& journal_of(core::incident_id id) {
    storage::journal* j = journal_of_ ? journal_of_(id) : nullptr;
    return j ? *j : service_.journal();
  }

  dispatch_service& service_;
  std::function<storage::journal*(core::incident_id)> journal_of_;
  asio::thread_pool blocking_;
  std::atomic<bool> verifying_{false};
  const rescue::v1::DistrictList districts_;
};

}  // namespace rescue::dispatcher
