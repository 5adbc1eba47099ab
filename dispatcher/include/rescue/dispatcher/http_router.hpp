// Routes of the HTTP listener: JSON API handlers by method and path pattern, WebSocket upgrades
// by path, with the access each route requires checked before the handler runs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include "rescue/dispatcher/auth_throttle.hpp"
#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/server_config.hpp"
#include "rescue/dispatcher/tls.hpp"

namespace rescue::dispatcher {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

// Who may call a route.
enum class access {
  open,           // no token: health, metrics, static assets, sign-in pages
  auditor,        // a console token of either role (read-only routes)
  operator_only,  // a console token with the operator role
  fire_centre,    // the fire centre's inbound token
  custom,         // the handler authenticates itself (crew WebSocket: per-crew token)
};

struct request_context {
  const http_request& request;
  std::string path;                                // without the query string
  std::map<std::string, std::string> path_params;  // from "{name}" segments of the pattern
  std::map<std::string, std::string> query;        // decoded query parameters
  const api_token* caller = nullptr;               // the console token, when the route needs one
};

using route_handler = std::function<boost::asio::awaitable<http_response>(request_context)>;

// An upgrade request handed to a WebSocket route, which owns the connection (plain or TLS) from
// then on. The slot keeps counting the connection against the listener's caps for as long as it
// lives.
struct websocket_upgrade {
  http_stream stream;
  http_request request;
  connection_slot slot;
  boost::asio::ip::address remote;
  std::shared_ptr<auth_throttle> throttle;  // for routes that authenticate themselves
};

using websocket_handler = std::function<void(websocket_upgrade upgrade)>;

class http_router {
 public:
  // `pattern` is a path whose segments are literal or "{name}", e.g. "/api/v1/incidents/{id}".
  void add(http::verb method, std::string pattern, access required, route_handler handler);
  void add_websocket(std::string path, access required, websocket_handler handler);

  struct match {
    const route_handler* handler = nullptr;
    access required = access::open;
    std::map<std::string, std::string> path_params;
    bool path_known = false;  // some route has this path, perhaps with another method (405)
  };
  match find(http::verb method, std::string_view path) const;

  struct ws_match {
    const websocket_handler* handler = nullptr;
    access required = access::open;
  };
  ws_match find_websocket(std::string_view path) const;

 private:
  struct route {
    http::verb method;
    std::vector<std::string> segments;
    access required;
    route_handler handler;
  };
  std::vector<route> routes_;
  std::map<std::string, std::pair<access, websocket_handler>, std::less<>> websockets_;
};

// Decodes %XX escapes (malformed ones are kept as they are); in query strings '+' is a space.
std::string percent_decode(std::string_view s, bool plus_is_space);
// The parameters of a query string (without the '?'), decoded; the last of a repeated key wins.
std::map<std::string, std::string> parse_query(std::string_view query);

// Parses a request body as `message` by the JSON mapping; an empty or blank body is the empty
// message (every field at its default). Returns an empty string, or why the body is not that
// message.
std::string parse_json_body(std::string_view body, google::protobuf::Message& message);

// A response whose body is `message` in the JSON mapping (defaults left out), with the right
// headers; `keep_alive` and `version` copied from the request.
http_response json_response(const http_request& request, http::status status,
                            const google::protobuf::Message& message);
// A list response (200): like json_response, except that when `empty` the list is written as
// `[]` rather than left out, so that an empty board reads {"incidents":[]}.
http_response json_list_response(const http_request& request, const google::protobuf::Message& list,
                                 bool empty);
// An ApiError {"code": code, "message": message}: every error the API returns has this shape.
// Bytes of `message` that are not UTF-8 (untrusted text quoted in it) become U+FFFD.
http_response json_error(const http_request& request, http::status status, std::string_view code,
                         std::string_view message);

}  // namespace rescue::dispatcher
