// GET /api/v1/reports: the KPI report of a period (docs/reports.md) computed from this server's
// journal and registry, as JSON for the console's reports page, or as the CSV, Markdown or Excel
// file to download. One report at a time, on a thread of its own: it reads the whole journal.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/http_router.hpp"

namespace rescue::dispatcher {

class report_routes {
 public:
  // `scratch` is a folder for the Excel file while it is written (the journal's folder).
  report_routes(dispatch_service& service, std::filesystem::path scratch);
  ~report_routes();
  report_routes(const report_routes&) = delete;
  report_routes& operator=(const report_routes&) = delete;

  // A sharded city: opens a read-only reader of every other shard's journal, on the report's
  // thread, for one report (its own readers: the followers' are not shared); with the service's
  // own journal they make the city's report. Unset: the service's journal alone.
  using journal_opener = std::function<std::vector<std::unique_ptr<storage::journal>>()>;
  void set_other_journals(journal_opener open) { open_others_ = std::move(open); }

  void register_routes(http_router& router);
  // Waits for a report in flight; call after the io_context stopped.
  void join();

 private:
  boost::asio::awaitable<http_response> report(request_context ctx);

  dispatch_service& service_;
  std::filesystem::path scratch_;
  journal_opener open_others_;
  std::atomic<bool> busy_{false};
  boost::asio::thread_pool pool_{1};
};

}  // namespace rescue::dispatcher
