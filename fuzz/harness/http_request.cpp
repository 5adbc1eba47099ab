// Bytes on the console's HTTP port: Beast's request_parser with the limits http_session uses
// (header 8 KiB, body 64 KiB, chunked bodies and trailers included), reading requests one after
// another from one kept-alive connection in reads of every size, then what the session does with
// a request before any handler runs: bearer token, query string, route and WebSocket lookup.
//
// Input: the raw byte stream of one connection. Read sizes come from a generator seeded by the
// input, so a seed file stays a real capture.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "fuzz_city.hpp"
#include "memory_journal.hpp"
#include "quiet.hpp"
#include "rescue/dispatcher/console_api.hpp"
#include "rescue/dispatcher/crew_directory.hpp"
#include "rescue/dispatcher/http_router.hpp"
#include "rescue/dispatcher/http_session.hpp"

namespace {

using namespace rescue;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A connection's bytes, handed out in reads whose sizes the generator picks.
class memory_stream {
 public:
  using executor_type = asio::io_context::executor_type;

  memory_stream(std::string_view bytes, std::uint64_t seed) : bytes_(bytes), sizes_{seed} {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    ec = {};
    if (bytes_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    const std::size_t want = 1 + sizes_.next() % 1500;
    const std::size_t n =
        asio::buffer_copy(buffers, asio::buffer(bytes_.data(), std::min(want, bytes_.size())));
    bytes_.remove_prefix(n);
    return n;
  }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::string_view bytes_;
  fuzz::split_mix sizes_;
};

// The console's routes, for lookups only: no handler runs here.
struct routes {
  storage::registry city = fuzz::small_city(0);
  fuzz::memory_journal journal;
  dispatcher::metrics metrics;
  core::escalation_policy policy;
  asio::io_context io;
  dispatcher::dispatch_service service{
      io, policy, city, dispatcher::build_crew_index(city, {}), journal, metrics};
  dispatcher::console_api api{service, 1};
  dispatcher::http_router router;
  routes() {
    api.register_routes(router);
    router.add_websocket("/ws/crew", dispatcher::access::custom, {});
    router.add_websocket("/ws/live", dispatcher::access::auditor, {});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static routes* const known = new routes;  // never destroyed: no teardown race at exit
  const dispatcher::http_limits limits;
  memory_stream stream(std::string_view(reinterpret_cast<const char*>(data), size), size);
  beast::flat_buffer buffer;
  for (int requests = 0; requests < 64; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.header_bytes);
    parser.body_limit(limits.body_bytes);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) break;  // the session answers or closes
    const dispatcher::http_request request = parser.release();

    const std::string_view target(request.target().data(), request.target().size());
    const std::size_t question = target.find('?');
    const std::string path(target.substr(0, question));
    std::string query_token;
    if (question != std::string_view::npos)
      query_token = dispatcher::percent_decode(target.substr(question + 1), true);
    (void)dispatcher::request_token(request, query_token);
    if (beast::websocket::is_upgrade(request)) {
      (void)known->router.find_websocket(path);
      continue;
    }
    (void)known->router.find(request.method(), path);
    (void)dispatcher::percent_decode(path, false);
    if (!request.keep_alive()) break;
  }
  return 0;
}
