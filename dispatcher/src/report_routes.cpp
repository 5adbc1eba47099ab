#include "rescue/dispatcher/report_routes.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "rescue/dispatcher/journal_replay.hpp"
#include "rescue/dispatcher/offload.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/report/render.hpp"
#include "rescue/report/report.hpp"
#include "rescue/report/xlsx.hpp"

namespace rescue::dispatcher {

namespace asio = boost::asio;

namespace {

struct rendered {
  std::string error;  // a journal that could not be read
  std::string body;
};

}  // namespace

report_routes::report_routes(dispatch_service& service, std::filesystem::path scratch)
    : service_(service), scratch_(std::move(scratch)) {}

report_routes::~report_routes() {
  join();
}

void report_routes::join() {
  pool_.join();
}

void report_routes::register_routes(http_router& router) {
  router.add(http::verb::get, "/api/v1/reports", access::auditor,
             [this](request_context ctx) { return report(std::move(ctx)); });
}

asio::awaitable<http_response> report_routes::report(request_context ctx) {
  const auto& q = ctx.query;
  const auto get = [&](const char* key) {
    const auto it = q.find(key);
    return it == q.end() ? std::string() : it->second;
  };
  std::string error;
  const auto period = report::period_of(get("period"), get("from"), get("to"), error);
  if (!period)
    co_return json_error(ctx.request, http::status::bad_request, "invalid_period", error);
  const std::string format = get("format").empty() ? "json" : get("format");
  if (format != "json" && format != "csv" && format != "md" && format != "xlsx")
    co_return json_error(ctx.request, http::status::bad_request, "invalid_format",
                         "format must be json, csv, md or xlsx");
  const auto lang = report::parse_language(get("lang").empty() ? "zh" : get("lang"));
  if (!lang)
    co_return json_error(ctx.request, http::status::bad_request, "invalid_lang",
                         "lang must be zh or en");
  if (busy_.exchange(true))
    co_return json_error(ctx.request, http::status::too_many_requests, "report_in_progress",
                         "a report is being computed; try again when it is done");

  storage::journal& own = service_.journal();
  const storage::registry& registry = service_.registry();
  const std::filesystem::path scratch =
      scratch_ / (".report-" + std::to_string(::getpid()) + ".xlsx");
  rendered out = co_await offload(pool_, [&]() -> rendered {
    // The next report may start once this one is rendered, whichever way it ends.
    struct release {
      std::atomic<bool>& busy;
      ~release() { busy = false; }
    } done{busy_};
    rendered r;
    try {
      std::vector<std::unique_ptr<storage::journal>> others;
      if (open_others_) others = open_others_();
      std::vector<storage::journal*> journals{&own};
      for (auto& j : others)
        journals.push_back(j.get());
      std::vector<rescue::v1::Event> events;
      if (r.error = read_events(journals, events); !r.error.empty()) return r;
      report::builder b(registry, *period);
      std::int64_t last_ms = 0;
      for (const auto& e : events) {
        b.add(e);
        last_ms = std::max(last_ms, e.at_ms());
      }
      const auto result = b.finish();
      if (format == "json")
        r.body = report::render_json(result);
      else if (format == "csv")
        r.body = report::render_csv(result, *lang);
      else if (format == "md")
        r.body = report::render_markdown(result, *lang);
      else if (const auto failure = report::write_xlsx(result, *lang, scratch, last_ms);
               !failure.empty()) {
        r.error = failure;
      } else {
        std::ifstream in(scratch, std::ios::binary);
        std::ostringstream bytes;
        bytes << in.rdbuf();
        r.body = bytes.str();
      }
      std::error_code ignored;
      std::filesystem::remove(scratch, ignored);
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    return r;
  });
  if (!out.error.empty())
    co_return json_error(ctx.request, http::status::internal_server_error, "report_failed",
                         out.error);

  http_response response{http::status::ok, ctx.request.version()};
  response.keep_alive(ctx.request.keep_alive());
  const std::string name = "report-" + period->label;
  if (format == "json") {
    response.set(http::field::content_type, "application/json");
  } else if (format == "csv") {
    response.set(http::field::content_type, "text/csv; charset=utf-8");
    response.set(http::field::content_disposition, "attachment; filename=\"" + name + ".csv\"");
  } else if (format == "md") {
    response.set(http::field::content_type, "text/markdown; charset=utf-8");
    response.set(http::field::content_disposition, "attachment; filename=\"" + name + ".md\"");
  } else {
    response.set(http::field::content_type,
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    response.set(http::field::content_disposition, "attachment; filename=\"" + name + ".xlsx\"");
  }
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(out.body);
  response.prepare_payload();
  co_return response;
}

}  // namespace rescue::dispatcher
