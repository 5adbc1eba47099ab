// Routes of the HTTP listener: JSON API handlers by method and path pattern, WebSocket upgrades
// by path, with the access each route requires checked before the handler runs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include "rescue/dispatcher/server_config.hpp"

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

// Takes over an upgraded connection; the handler owns the stream from then on.
using websocket_handler =
    std::function<void(boost::beast::tcp_stream stream, http_request request)>;

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

// A JSON response with the right headers; `keep_alive` and `version` copied from the request.
http_response json_response(const http_request& request, http::status status, std::string body);
// {"code": code, "message": message}: every error the API returns has this shape.
http_response json_error(const http_request& request, http::status status, std::string_view code,
                         std::string_view message);

}  // namespace rescue::dispatcher
