#include "rescue/dispatcher/http_session.hpp"

#include <filesystem>
#include <system_error>

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "rescue/dispatcher/log_text.hpp"
#include "rescue/dispatcher/spawn.hpp"

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

auth_outcome authorize(const credentials& creds, access required, const std::string& token,
                       const api_token** caller) {
  *caller = nullptr;
  switch (required) {
    case access::open:
    case access::custom:
      return auth_outcome::allowed;
    case access::fire_centre: {
      const std::string& expected = creds.fire_inbound_token;
      if (expected.empty() || token.size() != expected.size() ||
          CRYPTO_memcmp(token.data(), expected.data(), token.size()) != 0)
        return auth_outcome::unauthorized;
      return auth_outcome::allowed;
    }
    case access::auditor:
    case access::operator_only: {
      const api_token* t = find_api_token(creds, token);
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

const api_token* find_api_token(const credentials& creds, std::string_view token) {
  if (token.empty()) return nullptr;
  const api_token* found = nullptr;
  // No early exit: the time taken does not tell which token came close.
  for (const auto& t : creds.console_tokens) {
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

bool websocket_origin_allowed(const http_request& request,
                              const std::vector<std::string>& allowed) {
  const auto origin_it = request.find(http::field::origin);
  if (origin_it == request.end()) return true;
  const std::string_view origin(origin_it->value().data(), origin_it->value().size());
  for (const auto& a : allowed)
    if (beast::iequals(origin, a)) return true;
  // Same host: the Origin's authority equals the Host the browser sent (both carry the port
  // when it is not the scheme's default).
  const std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view authority = origin.substr(scheme_end + 3);
  const std::string_view host(request[http::field::host].data(), request[http::field::host].size());
  return !host.empty() && authority.find('/') == std::string_view::npos &&
         beast::iequals(authority, host);
}

http_session::http_session(tcp::socket socket, std::shared_ptr<http_shared_state> shared,
                           connection_slot slot)
    : stream_(http_stream::make(beast::tcp_stream(std::move(socket)), shared->tls.get())),
      shared_(std::move(shared)),
      slot_(std::move(slot)) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_address_ = ep.address();
  remote_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  buffer_.max_size(
      std::max<std::size_t>(shared_->limits.buffer_bytes, shared_->limits.header_bytes + 1024));
}

http_session::~http_session() = default;

void http_session::start() {
  asio::co_spawn(stream_.get_executor(), run(shared_from_this()), log_if_thrown("http session"));
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

asio::awaitable<void> http_session::answer_read_error(beast::error_code ec) {
  // Tell the client why before closing, when the request was readable enough to answer.
  http_request stub;
  stub.version(11);
  stub.keep_alive(false);
  const http_limits& limits = shared_->limits;
  if (ec == http::error::body_limit)
    co_await write(
        json_error(stub, http::status::payload_too_large, "too_large",
                   "the request body exceeds " + std::to_string(limits.body_bytes) + " bytes"));
  else if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    co_await write(json_error(stub, http::status::request_header_fields_too_large, "too_large",
                              "the request header or trailer is too large"));
  else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message)
    co_await write(
        json_error(stub, http::status::bad_request, "bad_request", "malformed HTTP request"));
  else
    fail(ec, "read", remote_);
}

asio::awaitable<void> http_session::run(std::shared_ptr<http_session> self) {
  (void)self;  // keeps the session alive while the coroutine runs
  const http_limits& limits = shared_->limits;
  if (const auto ec = co_await stream_.server_handshake(shared_->config.tls.handshake_timeout)) {
    note_tls_handshake_failure("http", remote_, ec);
    close();
    co_return;
  }
  const server_config& config = shared_->config;
  for (;;) {
    if (stopping_ || shared_->stopping.load()) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.header_bytes);
    parser.body_limit(limits.body_bytes);
    // Three deadlines: for the first byte of a request (idle), from there to the end of the
    // header (a client sending its header a byte at a time is dropped here), then the body.
    if (buffer_.size() == 0) {
      stream_.expires_after(config.http_idle_timeout);
      const auto [ec, n] = co_await stream_.async_read_some(
          buffer_.prepare(std::min<std::size_t>(4096, buffer_.max_size())), awaitable_tuple);
      if (ec) {
        fail(ec, "idle", remote_);
        break;
      }
      buffer_.commit(n);
    }
    stream_.expires_after(config.http_header_timeout);
    {
      const auto [ec, bytes] =
          co_await http::async_read_header(stream_, buffer_, parser, awaitable_tuple);
      (void)bytes;
      if (ec == http::error::end_of_stream) break;
      if (ec) {
        co_await answer_read_error(ec);
        break;
      }
    }
    if (!parser.is_done()) {
      stream_.expires_after(config.http_request_timeout);
      const auto [ec, bytes] = co_await http::async_read(stream_, buffer_, parser, awaitable_tuple);
      (void)bytes;
      if (ec) {
        co_await answer_read_error(ec);
        break;
      }
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
  const bool has_header_token = request.find(http::field::authorization) != request.end();
  const std::string token = request_token(
      request, query_token == ctx.query.end() ? std::string_view{} : query_token->second);
  // A snapshot for the whole request: ctx.caller points into it while the handler runs.
  const std::shared_ptr<const credentials> creds = shared_->credentials->current();
  const server_config& config = shared_->config;
  const bool upgrade = beast::websocket::is_upgrade(request);

  // A token in a URL ends up in proxy logs and browser history: only where a browser has no
  // other way (WebSocket upgrades) and on reads.
  if (query_token != ctx.query.end() && !has_header_token && !upgrade &&
      request.method() != http::verb::get)
    co_return co_await write(json_error(
        request, http::status::bad_request, "token_in_query",
        "a token in the query string is accepted only on GET requests and WebSocket upgrades; "
        "send it in an \"Authorization: Bearer\" header"));

  // Checks the token for a route that needs one; an answer to send when it is refused.
  auto check = [&](access required, const api_token** caller) -> std::optional<http_response> {
    if (required == access::open) return std::nullopt;
    if (shared_->throttle->locked(remote_address_)) {
      auto response = json_error(request, http::status::too_many_requests, "throttled",
                                 "too many failed authentications from this address; try later");
      response.set(http::field::retry_after, std::to_string(config.auth_lockout.count()));
      response.keep_alive(false);
      return response;
    }
    const auto allowed = authorize(*creds, required, token, caller);
    if (allowed == auth_outcome::allowed) return std::nullopt;
    // Without a token it is a browser that has not signed in yet, not a guess.
    if (allowed == auth_outcome::unauthorized && !token.empty())
      shared_->throttle->failed(remote_address_,
                                required == access::fire_centre ? "fire centre" : "console",
                                ctx.path, "token not recognised");
    return auth_error(request, allowed);
  };

  if (upgrade) {
    const auto ws = shared_->router.find_websocket(ctx.path);
    if (!ws.handler)
      co_return co_await write(json_error(request, http::status::not_found, "not_found",
                                          "no WebSocket route " + ctx.path));
    // Another site's page must not ride on a console's or a phone's credentials.
    if (!websocket_origin_allowed(request, config.allowed_origins))
      co_return co_await write(json_error(request, http::status::forbidden, "bad_origin",
                                          "WebSocket connections from this Origin are refused"));
    const api_token* caller = nullptr;
    const access required = ws.required == access::custom ? access::open : ws.required;
    if (ws.required == access::custom && shared_->throttle->locked(remote_address_)) {
      auto response = json_error(request, http::status::too_many_requests, "throttled",
                                 "too many failed authentications from this address; try later");
      response.set(http::field::retry_after, std::to_string(config.auth_lockout.count()));
      response.keep_alive(false);
      co_return co_await write(std::move(response));
    }
    if (auto refused = check(required, &caller)) co_return co_await write(std::move(*refused));
    // The handler owns the connection from here: no deadline of ours may fire on it.
    stream_.expires_never();
    upgraded_ = true;
    (*ws.handler)(websocket_upgrade{std::move(stream_), std::move(request), std::move(slot_),
                                    remote_address_, shared_->throttle});
    co_return false;
  }

  const auto match = shared_->router.find(request.method(), ctx.path);
  if (match.handler) {
    if (auto refused = check(match.required, &ctx.caller))
      co_return co_await write(std::move(*refused));
    ctx.path_params = match.path_params;
    std::optional<http_response> response;
    try {
      response = co_await (*match.handler)(std::move(ctx));
    } catch (const std::exception& e) {
      spdlog::error("http {}: {} {} failed: {}", remote_, log_safe(request.method_string()),
                    log_safe(target), log_safe(e.what(), 256));
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
