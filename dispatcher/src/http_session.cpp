#include "rescue/dispatcher/http_session.hpp"

#include <filesystem>
#include <system_error>

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace rescue::dispatcher {

namespace beast = boost::beast;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

constexpr auto awaitable_tuple = asio::as_tuple(asio::use_awaitable);

void fail(beast::error_code ec, const char* what, const std::string& remote) {
  if (ec == asio::error::operation_aborted) return;
  // Clients vanish all the time; that is not worth more than a debug line.
  if (ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    spdlog::debug("http {}: {}: {}", remote, what, ec.message());
  else
    spdlog::info("http {}: {}: {}", remote, what, ec.message());
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
    out.insert_or_assign(std::move(key), std::move(value));
  }
  return out;
}

std::string_view content_type(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".ico") return "image/vnd.microsoft.icon";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

bool starts_with_segment(std::string_view path, std::string_view prefix) {
  return path == prefix.substr(0, prefix.size() - 1) || path.starts_with(prefix);
}

enum class auth_outcome { allowed, unauthorized, forbidden };

auth_outcome authorize(const server_config& config, access required, const std::string& token,
                       const api_token** caller) {
  *caller = nullptr;
  switch (required) {
    case access::open:
    case access::custom:
      return auth_outcome::allowed;
    case access::fire_centre: {
      const std::string& expected = config.fire_inbound_token;
      if (expected.empty() || token.size() != expected.size() ||
          CRYPTO_memcmp(token.data(), expected.data(), token.size()) != 0)
        return auth_outcome::unauthorized;
      return auth_outcome::allowed;
    }
    case access::auditor:
    case access::operator_only: {
      const api_token* t = find_api_token(config, token);
      if (!t) return auth_outcome::unauthorized;
      if (required == access::operator_only && t->role != api_token::role::operator_role)
        return auth_outcome::forbidden;
      *caller = t;
      return auth_outcome::allowed;
    }
  }
  return auth_outcome::unauthorized;
}

http_response auth_error(const http_request& request, auth_outcome outcome) {
  if (outcome == auth_outcome::forbidden)
    return json_error(request, http::status::forbidden, "forbidden",
                      "this route needs a token with the operator role");
  auto response = json_error(request, http::status::unauthorized, "unauthorized",
                             "a valid bearer token is required");
  response.set(http::field::www_authenticate, "Bearer");
  return response;
}

}  // namespace

const api_token* find_api_token(const server_config& config, std::string_view token) {
  if (token.empty()) return nullptr;
  const api_token* found = nullptr;
  // No early exit: the time taken does not tell which token came close.
  for (const auto& t : config.tokens) {
    if (t.token.size() == token.size() &&
        CRYPTO_memcmp(t.token.data(), token.data(), token.size()) == 0)
      found = &t;
  }
  return found;
}

std::string request_token(const http_request& request, std::string_view query_token) {
  const auto it = request.find(http::field::authorization);
  if (it != request.end()) {
    const std::string_view value(it->value().data(), it->value().size());
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() > scheme.size() && beast::iequals(value.substr(0, scheme.size()), scheme)) {
      std::string_view token = value.substr(scheme.size());
      while (!token.empty() && token.front() == ' ')
        token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ')
        token.remove_suffix(1);
      return std::string(token);
    }
    return {};
  }
  return std::string(query_token);
}

http_session::http_session(tcp::socket socket, std::shared_ptr<http_shared_state> shared)
    : stream_(std::move(socket)), shared_(std::move(shared)) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  remote_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

http_session::~http_session() = default;

void http_session::start() {
  asio::co_spawn(stream_.get_executor(), run(shared_from_this()), asio::detached);
}

void http_session::stop() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->stopping_ = true;
    if (!self->busy_) self->close();
  });
}

void http_session::close() {
  if (upgraded_) return;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

template <class Response>
asio::awaitable<bool> http_session::write(Response response) {
  const bool keep_alive = response.keep_alive();
  stream_.expires_after(shared_->limits.write_timeout);
  const auto [ec, bytes] = co_await http::async_write(stream_, response, awaitable_tuple);
  (void)bytes;
  if (ec) {
    fail(ec, "write", remote_);
    co_return false;
  }
  co_return keep_alive;
}

asio::awaitable<void> http_session::run(std::shared_ptr<http_session> self) {
  (void)self;  // keeps the session alive while the coroutine runs
  const http_limits& limits = shared_->limits;
  for (;;) {
    if (stopping_ || shared_->stopping.load()) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.header_bytes);
    parser.body_limit(limits.body_bytes);
    stream_.expires_after(limits.read_timeout);
    const auto [ec, bytes] = co_await http::async_read(stream_, buffer_, parser, awaitable_tuple);
    (void)bytes;
    if (ec == http::error::end_of_stream) break;
    if (ec) {
      // Tell the client why before closing, when the request was readable enough to answer.
      http_request stub;
      stub.version(11);
      stub.keep_alive(false);
      if (ec == http::error::body_limit)
        co_await write(
            json_error(stub, http::status::payload_too_large, "too_large",
                       "the request body exceeds " + std::to_string(limits.body_bytes) + " bytes"));
      else if (ec == http::error::header_limit)
        co_await write(json_error(stub, http::status::request_header_fields_too_large, "too_large",
                                  "the request header is too large"));
      else if (ec.category() == http::make_error_code(http::error::bad_target).category())
        co_await write(
            json_error(stub, http::status::bad_request, "bad_request", "malformed HTTP request"));
      else
        fail(ec, "read", remote_);
      break;
    }
    busy_ = true;
    const bool keep_open = co_await handle(parser.release());
    busy_ = false;
    if (upgraded_) co_return;
    if (!keep_open || stopping_ || shared_->stopping.load()) break;
  }
  close();
}

asio::awaitable<bool> http_session::handle(http_request request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::size_t question = target.find('?');
  request_context ctx{request, std::string(target.substr(0, question)), {}, {}, nullptr};
  if (question != std::string_view::npos) ctx.query = parse_query(target.substr(question + 1));
  const auto query_token = ctx.query.find("token");
  const std::string token = request_token(
      request, query_token == ctx.query.end() ? std::string_view{} : query_token->second);
  const server_config& config = shared_->config;

  if (beast::websocket::is_upgrade(request)) {
    const auto ws = shared_->router.find_websocket(ctx.path);
    if (!ws.handler)
      co_return co_await write(json_error(request, http::status::not_found, "not_found",
                                          "no WebSocket route " + ctx.path));
    const api_token* caller = nullptr;
    const auto allowed = authorize(config, ws.required, token, &caller);
    if (allowed != auth_outcome::allowed) co_return co_await write(auth_error(request, allowed));
    // The handler owns the connection from here: no deadline of ours may fire on it.
    stream_.expires_never();
    upgraded_ = true;
    (*ws.handler)(std::move(stream_), std::move(request));
    co_return false;
  }

  const auto match = shared_->router.find(request.method(), ctx.path);
  if (match.handler) {
    const auto allowed = authorize(config, match.required, token, &ctx.caller);
    if (allowed != auth_outcome::allowed) co_return co_await write(auth_error(request, allowed));
    ctx.path_params = match.path_params;
    std::optional<http_response> response;
    try {
      response = co_await (*match.handler)(std::move(ctx));
    } catch (const std::exception& e) {
      spdlog::error("http {}: {} {} failed: {}", remote_, request.method_string(), target,
                    e.what());
    }
    if (!response)
      response = json_error(request, http::status::internal_server_error, "internal",
                            "the server could not complete the request");
    co_return co_await write(std::move(*response));
  }
  if (match.path_known)
    co_return co_await write(
        json_error(request, http::status::method_not_allowed, "method_not_allowed",
                   std::string(request.method_string()) + " is not allowed on " + ctx.path));
  if (starts_with_segment(ctx.path, "/api/") || starts_with_segment(ctx.path, "/ws/") ||
      request.method() != http::verb::get)
    co_return co_await write(
        json_error(request, http::status::not_found, "not_found", "no route " + ctx.path));
  co_return co_await serve_static(request, ctx.path);
}

asio::awaitable<bool> http_session::serve_static(const http_request& request,
                                                 std::string_view raw_path) {
  auto not_found = [&request] {
    return json_error(request, http::status::not_found, "not_found", "no such file");
  };
  const std::string path = percent_decode(raw_path, false);
  // Refuse anything that could step outside web_root before touching the file system.
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos ||
      path.find('\\') != std::string::npos)
    co_return co_await write(not_found());
  fs::path relative;
  for (const auto& segment : fs::path(path).relative_path()) {
    if (segment == ".." || segment == ".") co_return co_await write(not_found());
    relative /= segment;
  }
  std::error_code fec;
  const fs::path root = fs::weakly_canonical(shared_->config.web_root, fec);
  if (fec) co_return co_await write(not_found());
  fs::path file = fs::weakly_canonical(root / relative, fec);
  if (fec) co_return co_await write(not_found());
  // Symbolic links are followed by weakly_canonical: the result must still be under the root.
  const fs::path inside = file.lexically_relative(root);
  if (inside.empty() || *inside.begin() == "..") co_return co_await write(not_found());
  if (fs::is_directory(file, fec)) file /= "index.html";
  if (!fs::is_regular_file(file, fec)) co_return co_await write(not_found());

  http::response<http::file_body> response{http::status::ok, request.version()};
  beast::error_code ec;
  response.body().open(file.c_str(), beast::file_mode::scan, ec);
  if (ec) co_return co_await write(not_found());
  response.set(http::field::server, "rescue-dispatchd");
  response.set(http::field::content_type, content_type(file));
  response.set(http::field::cache_control, "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  co_return co_await write(std::move(response));
}

}  // namespace rescue::dispatcher
