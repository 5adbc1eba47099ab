#include "rescue/dispatcher/http_router.hpp"

#include <algorithm>

#include <boost/beast/http/field.hpp>

#include "rescue/console.pb.h"
#include "rescue/protocol/json.hpp"
#include "rescue/protocol/utf8.hpp"

namespace rescue::dispatcher {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) segments.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

bool is_param(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Fills `params` when every segment matches.
bool matches(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path,
             std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) continue;
    if (pattern[i] != path[i]) return false;
  }
  if (params) {
    for (std::size_t i = 0; i < pattern.size(); ++i)
      if (is_param(pattern[i]))
        (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = percent_decode(path[i], false);
  }
  return true;
}

}  // namespace

void http_router::add(http::verb method, std::string pattern, access required,
                      route_handler handler) {
  route r;
  r.method = method;
  for (const auto segment : split_path(pattern))
    r.segments.emplace_back(segment);
  r.required = required;
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

void http_router::add_websocket(std::string path, access required, websocket_handler handler) {
  websockets_.insert_or_assign(std::move(path), std::make_pair(required, std::move(handler)));
}

http_router::match http_router::find(http::verb method, std::string_view path) const {
  match found;
  const auto segments = split_path(path);
  // Literal routes win over patterns: "/incidents/open" before "/incidents/{id}".
  const route* best = nullptr;
  std::size_t best_literals = 0;
  for (const auto& r : routes_) {
    if (!matches(r.segments, segments, nullptr)) continue;
    found.path_known = true;
    if (r.method != method) continue;
    std::size_t literals = 0;
    for (const auto& s : r.segments)
      literals += is_param(s) ? 0 : 1;
    if (!best || literals > best_literals) {
      best = &r;
      best_literals = literals;
    }
  }
  if (best) {
    matches(best->segments, segments, &found.path_params);
    found.handler = &best->handler;
    found.required = best->required;
  }
  return found;
}

http_router::ws_match http_router::find_websocket(std::string_view path) const {
  const auto it = websockets_.find(path);
  if (it == websockets_.end()) return {};
  return ws_match{&it->second.second, it->second.first};
}

namespace {

http_response json_body(const http_request& request, http::status status, std::string body) {
  http_response response{status, request.version()};
  response.set(http::field::server, "rescue-dispatchd");
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace

http_response json_response(const http_request& request, http::status status,
                            const google::protobuf::Message& message) {
  return json_body(request, status, protocol::to_json(message));
}

http_response json_list_response(const http_request& request, const google::protobuf::Message& list,
                                 bool empty) {
  // A list message with no entries has nothing else worth leaving out: printing every field
  // keeps its list as [].
  return json_body(
      request, http::status::ok,
      protocol::to_json(list, empty ? protocol::json_fields::all : protocol::json_fields::set));
}

http_response json_error(const http_request& request, http::status status, std::string_view code,
                         std::string_view message) {
  rescue::v1::ApiError error;
  error.set_code(std::string(code));
  error.set_message(protocol::valid_utf8(message));
  return json_response(request, status, error);
}

std::string parse_json_body(std::string_view body, google::protobuf::Message& message) {
  const bool blank = std::all_of(body.begin(), body.end(), [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  });
  return protocol::from_json(blank ? std::string_view("{}") : body, message);
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  const auto hex_value = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    out.insert_or_assign(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace rescue::dispatcher
