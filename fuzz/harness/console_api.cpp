// Requests to the console's JSON API, run through the real router and console_api handlers on a
// dispatch service with an in-memory journal: POST bodies go through the same parse_body (JSON
// mapping, unknown fields refused) and the same commands as in the server; the fire centre's
// inbound ack and arrival bodies likewise. No sockets.
//
// Input: one or more requests separated by 0x1E. Each is "METHOD /target" on the first line and
// the body after it, e.g. "POST /api/v1/incidents/1/assign\n{\"crew_id\":\"c12\"}". Incident 1
// (E1, rescue code 10001) is open before the first request; the caller is an operator.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string_view>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz_city.hpp"
#include "memory_journal.hpp"
#include "quiet.hpp"
#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/dispatch_service.hpp"
#include "rescue/dispatcher/fire_routes.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/outbox.hpp"

namespace {

using namespace rescue;
namespace asio = boost::asio;
namespace http = boost::beast::http;

// Runs the io_context until `done`; a request that never completes is a hang worth a crash.
void run_until(asio::io_context& io, const bool& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done) {
    io.restart();
    if (io.poll() == 0) std::this_thread::yield();
    if (std::chrono::steady_clock::now() > give_up) __builtin_trap();
  }
}

// The server answers an exception from a handler with a 500 and goes on; say which, once each.
void note_exception(std::exception_ptr e) {
  static std::set<std::string> seen;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    if (seen.insert(x.what()).second) std::fprintf(stderr, "handler threw: %s\n", x.what());
  }
}

// The fire routes need an outbox to exist; nothing is escalated into it here.
class no_calls final : public storage::outbox_store {
 public:
  std::error_code due(std::size_t, std::vector<storage::outbox_row>&) override { return {}; }
  std::error_code record_attempt(const storage::outbox_attempt&) override { return {}; }
  std::error_code by_incident(std::uint64_t, std::vector<storage::outbox_row>&) override {
    return {};
  }
  std::error_code rows(std::vector<storage::outbox_row>&) override { return {}; }
  std::error_code pending(std::size_t& count) override {
    count = 0;
    return {};
  }
};

dispatcher::outbox& unused_outbox() {
  static asio::io_context io;
  static dispatcher::metrics metrics;
  static fuzz::memory_journal journal;
  static no_calls store;
  static dispatcher::outbox box(io, store, journal, {}, metrics);
  return box;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const dispatcher::api_token caller{"fuzz-token", "operator fuzz",
                                            dispatcher::api_token::role::operator_role};
  const storage::registry city = fuzz::small_city(core::to_ms(dispatcher::dispatch_service::now()));
  fuzz::memory_journal journal;
  dispatcher::metrics metrics;
  core::escalation_policy policy;
  asio::io_context io;
  dispatcher::dispatch_service service(io, policy, city, dispatcher::build_crew_index(city, {}),
                                       journal, metrics);
  dispatcher::console_api api(service, 1);
  static const dispatcher::server_config config;
  dispatcher::fire_routes fire(config, service, unused_outbox());
  dispatcher::http_router router;
  api.register_routes(router);
  fire.add_routes(router);

  bool opened = false;
  core::cmd::call_alarm call;
  call.rescue_code = "10001";
  service.async_submit(call, [&opened](core::outcome out) {
    if (!out.ok()) __builtin_trap();
    opened = true;
  });
  run_until(io, opened);

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; !rest.empty() && requests < 64; ++requests) {
    const std::size_t end = std::min(rest.find('\x1e'), rest.size());
    const std::string_view text = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));

    const std::size_t line_end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, line_end);
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    const http::verb method = http::string_to_verb(line.substr(0, space));
    if (method == http::verb::unknown) continue;
    const std::string_view target = line.substr(space + 1);

    dispatcher::http_request request{method, target, 11};
    request.body() = std::string(text.substr(std::min(line_end + 1, text.size())));
    request.prepare_payload();

    // As http_session::handle: the path without the query string picks the route.
    const std::string path(target.substr(0, target.find('?')));
    const auto match = router.find(method, path);
    if (!match.handler) continue;
    dispatcher::request_context ctx{request, path, match.path_params, {}, &caller};

    bool done = false;
    asio::co_spawn(io, (*match.handler)(std::move(ctx)),
                   [&done](std::exception_ptr e, dispatcher::http_response) {
                     if (e) note_exception(e);
                     done = true;
                   });
    run_until(io, done);
  }
  api.join();
  return 0;
}
