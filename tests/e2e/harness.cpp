#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <catch2/catch.hpp>

#include "rescue/dispatcher/tls.hpp"
#include "rescue/protocol/json.hpp"

extern char** environ;

namespace rescue::e2e {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;
using dispatcher::http_stream;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<millis>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

using steady = std::chrono::steady_clock;

millis left_until(steady::time_point deadline) {
  return std::max(millis(0), std::chrono::duration_cast<millis>(deadline - steady::now()));
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

city::terminal make_terminal(std::string id, std::string elevator, std::string rescue_code,
                             std::string secret_hex) {
  return {std::move(id), std::move(elevator), std::move(rescue_code), from_hex(secret_hex)};
}

// A client context trusting `tls.ca`, with the client certificate when one is set.
std::shared_ptr<ssl::context> client_context(const client_tls& tls) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_verify_mode(ssl::verify_peer);
  context->load_verify_file(tls.ca.string());
  if (!tls.cert.empty()) {
    context->use_certificate_chain_file(tls.cert.string());
    context->use_private_key_file(tls.key.string(), ssl::context::pem);
  }
  return context;
}

}  // namespace

// ---- city ---------------------------------------------------------------------------------------

const city::terminal& city::t1() {
  static const terminal t = make_terminal("T1", "E1", "10001", "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  return t;
}
const city::terminal& city::t2() {
  static const terminal t = make_terminal("T2", "E2", "10002", "a1a2a3a4a5a6a7a8a9aaabacadaeafb0");
  return t;
}
const city::terminal& city::t3() {
  static const terminal t = make_terminal("T3", "E3", "10003", "00112233445566778899aabbccddeeff");
  return t;
}
const city::terminal& city::t4() {
  static const terminal t = make_terminal("T4", "E4", "10004", "deadbeefcafebabe0123456789abcdef");
  return t;
}

void city::write(const fs::path& dir) {
  write_file(dir / "maintenance_units.csv",
             "id,name,licence,contact_name,contact_phone,level2,base_lat,base_lon\n"
             "U1,渝中电梯维保有限公司,TS3150001-2027,王伟,023-63000001,no,29.55,106.57\n"
             "U2,江北电梯应急救援有限公司,TS3150002-2027,李娜,023-67000002,yes,29.606,106.574\n"
             "UF,远郊电梯维保有限公司,TS3150003-2027,张强,023-40000003,no,30.556,106.568\n");
  write_file(dir / "rescue_stations.csv",
             "id,name,licence,contact_name,contact_phone,level2,base_lat,base_lon\n");
  write_file(dir / "building_operators.csv",
             "id,name,contact_name,contact_phone\n"
             "B1,重庆解放碑物业管理有限公司,刘洋,023-63000009\n");
  std::string elevators =
      "id,registration_code,certificate_no,rescue_code,address,district_code,lat,lon,place_type,"
      "brand,install_year,maintenance_unit_id,building_operator_id,area\n";
  const char* units[] = {"U1", "U1", "U1", "UF"};
  for (int i = 1; i <= 4; ++i) {
    elevators += "E" + std::to_string(i) + ",5001032020000000000" + std::to_string(i) + ",,1000" +
                 std::to_string(i) + ",重庆市渝中区解放碑 " + std::to_string(i) +
                 " 号,500103,29.556,106.568,office,日立,2020," + units[i - 1] + ",B1,urban\n";
  }
  write_file(dir / "elevators.csv", elevators);
  write_file(dir / "crews.csv",
             "id,unit_id,name,certificate,phone,on_duty,lat,lon,position_at_ms\n"
             "c11,U1,何刚,渝T00000011,13800000011,yes,,,\n"
             "c12,U1,罗涛,渝T00000012,13800000012,yes,,,\n"
             "c21,U2,陈敏,渝T00000021,13800000021,yes,,,\n"
             "c22,U2,罗明,渝T00000022,13800000022,yes,,,\n"
             "cf1,UF,吴磊,渝T00000031,13800000031,yes,,,\n");
  std::string terminals = "id,elevator_id,secret\n";
  for (const terminal* t : {&t1(), &t2(), &t3(), &t4()})
    terminals += t->id + "," + t->elevator_id + "," + to_hex(t->secret) + "\n";
  write_file(dir / "terminals.csv", terminals);
}

bool log_says(server_process& p, std::string_view text, millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (p.log_text().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 0x0f]);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

std::string crew_token_for(std::string_view crew_id) {
  return to_hex(hmac_sha256(crew_secret, crew_id));
}

// ---- server process -----------------------------------------------------------------------------

std::uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

server_process::server_process(fs::path binary, fs::path config, fs::path log)
    : binary_(std::move(binary)), config_(std::move(config)), log_(std::move(log)) {}

server_process::~server_process() {
  if (pid_ > 0) kill_hard();
}

void server_process::start() {
  REQUIRE(pid_ <= 0);
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  const std::string bin = binary_.string();
  const std::string cfg = config_.string();
  const std::string log = log_.string();
  std::vector<char*> argv = {const_cast<char*>(bin.c_str()), const_cast<char*>("--config"),
                             const_cast<char*>(cfg.c_str()), nullptr};
  const pid_t parent = ::getpid();
  const rlimit nofile{nofile_limit_, nofile_limit_};
  const bool limit_files = nofile_limit_ > 0;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // A test binary that dies must not leave a server behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) ::_exit(125);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // Soft and hard: the server's own attempt to raise its limit cannot undo this one.
    if (limit_files && ::setrlimit(RLIMIT_NOFILE, &nofile) != 0) ::_exit(124);
    ::execve(bin.c_str(), argv.data(), environ);
    ::_exit(127);
  }
  pid_ = pid;
}

bool server_process::reap(millis timeout, int* status) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const pid_t r = ::waitpid(pid_, status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return true;
    }
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool server_process::wait_stopped(millis timeout) {
  const auto deadline = steady::now() + timeout;
  const fs::path tasks = fs::path("/proc") / std::to_string(pid_) / "task";
  for (;;) {
    bool all = true;
    std::error_code ec;
    for (const auto& task : fs::directory_iterator(tasks, ec)) {
      std::ifstream in(task.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // "pid (comm) S ...": the state follows the last ')'.
      const auto paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T')
        all = false;
    }
    if (!ec && all) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

std::optional<int> server_process::wait_exit(millis timeout) {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  if (!reap(timeout, &status)) return std::nullopt;
  return status;
}

bool server_process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return !reap(millis(0), &status);
}

int server_process::terminate(millis timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (reap(timeout, &status)) return status;
  kill_hard();
  return -1;
}

void server_process::send_signal(int signal) {
  REQUIRE(pid_ > 0);
  ::kill(pid_, signal);
}

void server_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  // SIGKILL cannot be caught; the wait is bounded only as a guard against a stuck kernel.
  reap(10s, &status);
}

std::string server_process::log_text() const {
  std::ifstream in(log_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string server_process::log_tail(std::size_t bytes) const {
  std::ifstream in(log_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

// ---- console HTTP client ----------------------------------------------------------------------

namespace {

asio::awaitable<void> http_exchange(std::uint16_t port, http::request<http::string_body> request,
                                    millis timeout, std::shared_ptr<ssl::context> tls,
                                    http_reply* out) {
  http_stream stream =
      http_stream::make(beast::tcp_stream(co_await asio::this_coro::executor), tls.get());
  stream.expires_after(timeout);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  auto [ec] =
      co_await stream.next_layer().async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    out->error = "connect: " + ec.message();
    co_return;
  }
  if (stream.is_tls()) {
    REQUIRE_FALSE(dispatcher::expect_server_identity(stream.tls().native_handle(), "127.0.0.1"));
    auto [hec] = co_await stream.tls().async_handshake(ssl::stream_base::client,
                                                       asio::as_tuple(asio::use_awaitable));
    if (hec) {
      out->error = "tls: " + hec.message();
      co_return;
    }
  }
  auto [wec, written] =
      co_await http::async_write(stream, request, asio::as_tuple(asio::use_awaitable));
  if (wec) {
    out->error = "write: " + wec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  auto [rec, read] =
      co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (rec) {
    out->error = "read: " + rec.message();
    co_return;
  }
  const auto& response = parser.get();
  out->status = response.result_int();
  out->body = response.body();
  out->location = std::string(response[http::field::location]);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

http_reply http_call(std::uint16_t port, method m, const std::string& target,
                     const std::string& body, const std::string& bearer, millis timeout,
                     const client_tls* tls) {
  http::request<http::string_body> request{m == method::get ? http::verb::get : http::verb::post,
                                           target, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.set(http::field::connection, "close");
  if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + bearer);
  if (m == method::post) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  http_reply reply;
  asio::io_context io;
  asio::co_spawn(io,
                 http_exchange(port, std::move(request), timeout,
                               tls ? client_context(*tls) : nullptr, &reply),
                 asio::detached);
  // The stream's expiry bounds the exchange; run_for is a second guard.
  io.run_for(timeout + 1s);
  if (reply.status == 0 && reply.error.empty()) reply.error = "no answer within the deadline";
  return reply;
}

// ---- fire centre receiver -----------------------------------------------------------------------

struct http_receiver::impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::vector<received_request> requests;
  std::size_t taken = 0;
  std::vector<int> first_statuses;
  std::shared_ptr<ssl::context> tls;  // null: plain HTTP
  int status_after = 200;

  asio::awaitable<void> serve(tcp::socket socket) {
    http_stream stream = http_stream::make(beast::tcp_stream(std::move(socket)), tls.get());
    stream.expires_after(short_wait);
    // A client that refuses our certificate ends here, before any request is recorded.
    if (const auto ec = co_await stream.server_handshake(short_wait)) co_return;
    beast::flat_buffer buffer;
    for (;;) {
      stream.expires_after(short_wait);
      http::request<http::string_body> request;
      auto [ec, n] =
          co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      http::status status;
      {
        std::lock_guard lock(mutex);
        status = static_cast<http::status>(status_after);
        if (requests.size() < first_statuses.size())
          status = static_cast<http::status>(first_statuses[requests.size()]);
        requests.push_back({std::string(request.method_string()), std::string(request.target()),
                            std::string(request[http::field::content_type]), request.body(),
                            std::string(request["Idempotency-Key"])});
      }
      changed.notify_all();
      http::response<http::string_body> response{status, request.version()};
      response.set(http::field::content_type, "application/json");
      v1::WebhookReceipt receipt;
      receipt.set_received(true);
      response.body() = protocol::to_json(receipt);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [wec, w] =
          co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      if (wec || !request.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }
};

http_receiver::http_receiver(std::vector<int> first_statuses) : impl_(std::make_unique<impl>()) {
  impl_->first_statuses = std::move(first_statuses);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

http_receiver::http_receiver(std::vector<int> first_statuses, fs::path cert, fs::path key)
    : impl_(std::make_unique<impl>()) {
  impl_->first_statuses = std::move(first_statuses);
  impl_->tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  impl_->tls->use_certificate_chain_file(cert.string());
  impl_->tls->use_private_key_file(key.string(), ssl::context::pem);
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

http_receiver::~http_receiver() {
  impl_->io.stop();
  impl_->thread.join();
}

void http_receiver::answer_with(int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->status_after = status;
}

std::optional<received_request> http_receiver::wait_request(millis timeout) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->changed.wait_for(lock, timeout,
                               [&] { return impl_->requests.size() > impl_->taken; }))
    return std::nullopt;
  return impl_->requests[impl_->taken++];
}

std::vector<received_request> http_receiver::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

// ---- terminal client ----------------------------------------------------------------------------

terminal_client::~terminal_client() {
  close();
}

bool terminal_client::connect(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  // Loopback connects complete at once or fail at once: no deadline needed.
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close();
    return false;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  peer_closed_ = false;
  decoder_ = protocol::frame_decoder(protocol::default_max_frame_bytes);
  return true;
}

bool terminal_client::connect_tls(std::uint16_t port, const client_tls& tls) {
  if (!connect(port)) return false;
  // SSL_write cannot pass MSG_NOSIGNAL: a server that closed on us must not kill the test binary.
  ::signal(SIGPIPE, SIG_IGN);
  // Blocking TLS reads and writes, each bounded by the socket's own timeouts.
  timeval limit{static_cast<time_t>(short_wait.count() / 1000), 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  bool ok = ssl_ctx_ && SSL_CTX_load_verify_locations(ssl_ctx_, tls.ca.c_str(), nullptr) == 1;
  if (ok && !tls.cert.empty())
    ok = SSL_CTX_use_certificate_chain_file(ssl_ctx_, tls.cert.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(ssl_ctx_, tls.key.c_str(), SSL_FILETYPE_PEM) == 1;
  REQUIRE(ok);  // the test's own files
  SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ssl_ctx_);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    close();
    return false;
  }
  return true;
}

void terminal_client::close() {
  if (ssl_) SSL_free(ssl_);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
  ssl_ = nullptr;
  ssl_ctx_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool terminal_client::send_raw(std::string_view bytes) {
  if (ssl_) {
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    ERR_clear_error();
    return n == static_cast<int>(bytes.size());
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    // MSG_NOSIGNAL: a server that closed on us must fail the send, not kill the test binary.
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool terminal_client::send_frame(const v1::TerminalFrame& frame) {
  std::string bytes;
  if (protocol::append_frame(frame, bytes)) return false;
  return send_raw(bytes);
}

std::optional<v1::TerminalFrame> terminal_client::read_frame(millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    v1::TerminalFrame frame;
    std::error_code ec;
    if (decoder_.next(frame, ec)) return frame;
    if (ec || peer_closed_ || fd_ < 0) return std::nullopt;
    // Bytes TLS already decrypted are not visible to poll.
    if (!ssl_ || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left_until(deadline).count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return std::nullopt;
    }
    char buffer[8192];
    ssize_t n = 0;
    if (ssl_) {
      n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) {
        const int why = SSL_get_error(ssl_, static_cast<int>(n));
        ERR_clear_error();
        // Post-handshake messages (session tickets) arrive without application data.
        if (why == SSL_ERROR_WANT_READ) continue;
      }
    } else {
      n = ::recv(fd_, buffer, sizeof buffer, 0);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      peer_closed_ = true;  // EOF or reset
      return std::nullopt;
    }
    decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

bool terminal_client::wait_closed(millis timeout, std::vector<v1::TerminalFrame>* frames) {
  const auto deadline = steady::now() + timeout;
  while (!peer_closed_) {
    if (steady::now() >= deadline) return false;
    auto frame = read_frame(left_until(deadline));
    if (frame && frames) frames->push_back(*frame);
    if (!frame && !peer_closed_ && decoder_.failure()) return false;
  }
  return true;
}

std::optional<v1::AuthResult> terminal_client::handshake(const std::string& terminal_id,
                                                         std::string_view secret,
                                                         std::uint64_t boot_id) {
  v1::TerminalFrame hello;
  hello.mutable_hello()->set_terminal_id(terminal_id);
  hello.mutable_hello()->set_firmware("e2e-1.0");
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_boot_id(boot_id);
  if (!send_frame(hello)) return std::nullopt;
  const auto challenge = read_frame();
  if (!challenge || !challenge->has_challenge()) return std::nullopt;
  v1::TerminalFrame answer;
  answer.mutable_auth_answer()->set_hmac(
      hmac_sha256(secret, challenge->challenge().nonce() + terminal_id));
  if (!send_frame(answer)) return std::nullopt;
  const auto result = read_frame();
  if (!result || !result->has_auth_result()) return std::nullopt;
  return result->auth_result();
}

bool terminal_client::send_event(std::uint64_t seq, v1::TerminalEventCode code) {
  v1::TerminalFrame frame;
  auto* e = frame.mutable_event();
  e->set_seq(seq);
  e->set_code(code);
  e->set_occurred_at_ms(wall_ms());
  auto* s = e->mutable_status();
  s->set_service_mode(v1::SERVICE_NORMAL);
  s->set_floor(7);
  s->set_in_door_zone(code == v1::EVENT_TRAPPED_IN_DOOR_ZONE);
  s->set_direction(v1::DIRECTION_STOPPED);
  s->set_door(v1::DOOR_CLOSED);
  s->set_occupied(true);
  s->set_reported_at_ms(wall_ms());
  return send_frame(frame);
}

bool terminal_client::wait_ack(std::uint64_t seq, millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const auto frame = read_frame(left_until(deadline));
    if (!frame) return false;
    if (frame->has_ack() && frame->ack().seq() == seq) return true;
    if (frame->has_ping()) {
      v1::TerminalFrame pong;
      pong.mutable_pong()->set_nonce(frame->ping().nonce());
      send_frame(pong);
    }
  }
}

// ---- crew client --------------------------------------------------------------------------------

struct crew_client::impl {
  explicit impl(std::shared_ptr<ssl::context> context)
      : tls(std::move(context)), ws(http_stream::make(beast::tcp_stream(io), tls.get())) {}

  asio::io_context io;
  std::shared_ptr<ssl::context> tls;  // null: ws://
  websocket::stream<http_stream> ws;
  std::thread thread;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::vector<v1::CrewServerMessage> messages;
  std::vector<bool> taken;
  bool closed = false;

  // On the io thread only.
  std::deque<std::string> outgoing;
  bool writing = false;
  bool open = false;

  void mark_closed() {
    {
      std::lock_guard lock(mutex);
      closed = true;
    }
    changed.notify_all();
  }

  void queue(std::string json) {
    if (!open) return;
    outgoing.push_back(std::move(json));
    if (!writing) {
      writing = true;
      asio::co_spawn(io, write_loop(), asio::detached);
    }
  }

  asio::awaitable<void> write_loop() {
    while (!outgoing.empty() && open) {
      auto [ec, n] = co_await ws.async_write(asio::buffer(outgoing.front()),
                                             asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      outgoing.pop_front();
    }
    writing = false;
  }

  asio::awaitable<void> run(std::uint16_t port, std::string target, millis timeout,
                            std::shared_ptr<std::promise<int>> upgraded) {
    auto& stream = beast::get_lowest_layer(ws);
    stream.expires_after(timeout);
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    auto [ec] = co_await stream.async_connect(endpoint, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      upgraded->set_value(0);
      mark_closed();
      co_return;
    }
    if (ws.next_layer().is_tls()) {
      auto& tls_stream = ws.next_layer().tls();
      // This thread must not use Catch's assertions: a failure shows as no upgrade (0).
      const auto identity_ec =
          dispatcher::expect_server_identity(tls_stream.native_handle(), "127.0.0.1");
      auto [tec] = co_await tls_stream.async_handshake(ssl::stream_base::client,
                                                       asio::as_tuple(asio::use_awaitable));
      if (identity_ec || tec) {
        upgraded->set_value(0);
        mark_closed();
        co_return;
      }
    }
    websocket::response_type response;
    auto [hec] = co_await ws.async_handshake(response, "127.0.0.1", target,
                                             asio::as_tuple(asio::use_awaitable));
    if (hec) {
      upgraded->set_value(static_cast<int>(response.result_int()));
      mark_closed();
      co_return;
    }
    stream.expires_never();
    ws.text(true);
    open = true;
    upgraded->set_value(101);

    beast::flat_buffer buffer;
    for (;;) {
      auto [rec, n] = co_await ws.async_read(buffer, asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      const std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      v1::CrewServerMessage message;
      if (!protocol::from_json(text, message).empty()) {
        // Keep it visible to the test as a notice rather than dropping it silently.
        message.mutable_notice()->set_text("unparsable server message: " + text);
      }
      if (message.seq() != 0) {
        v1::CrewClientMessage receipt;
        receipt.mutable_receipt()->set_seq(message.seq());
        queue(protocol::to_json(receipt));
      }
      {
        std::lock_guard lock(mutex);
        messages.push_back(std::move(message));
        taken.push_back(false);
      }
      changed.notify_all();
    }
    open = false;
    mark_closed();
  }

  asio::awaitable<void> close_gracefully() {
    if (!open) co_return;
    open = false;
    // A timer of its own bounds the close: the stream's expires_after asserts when a read and a
    // write are both pending, as they are while a receipt is being written.
    asio::steady_timer guard(io, 1s);
    guard.async_wait([this](boost::system::error_code ec) {
      if (!ec) beast::get_lowest_layer(ws).close();
    });
    co_await ws.async_close(websocket::close_code::normal, asio::as_tuple(asio::use_awaitable));
  }
};

crew_client::crew_client(std::uint16_t port, std::string crew_id, std::string token,
                         const client_tls* tls)
    : impl_(std::make_shared<impl>(tls ? client_context(*tls) : nullptr)),
      port_(port),
      crew_id_(std::move(crew_id)),
      token_(token.empty() ? crew_token_for(crew_id_) : std::move(token)) {}

crew_client::~crew_client() {
  if (!impl_->thread.joinable()) return;
  asio::co_spawn(impl_->io, impl_->close_gracefully(), asio::detached);
  {
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait_for(lock, 1500ms, [&] { return impl_->closed; });
  }
  impl_->io.stop();
  impl_->thread.join();
}

int crew_client::connect(millis timeout) {
  REQUIRE_FALSE(impl_->thread.joinable());
  const std::string target = "/ws/crew?crew=" + crew_id_ + "&token=" + token_;
  auto upgraded = std::make_shared<std::promise<int>>();
  auto result = upgraded->get_future();
  asio::co_spawn(impl_->io, impl_->run(port_, target, timeout, upgraded), asio::detached);
  impl_->thread = std::thread([i = impl_.get()] { i->io.run(); });
  if (result.wait_for(timeout + 1s) != std::future_status::ready) return 0;
  return result.get();
}

bool crew_client::closed() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->closed;
}

void crew_client::send(const v1::CrewClientMessage& message) {
  asio::post(impl_->io, [i = impl_.get(), json = protocol::to_json(message)]() mutable {
    i->queue(std::move(json));
  });
}

void crew_client::send_location(double lat, double lon) {
  v1::CrewClientMessage m;
  auto* l = m.mutable_location();
  l->mutable_position()->set_lat(lat);
  l->mutable_position()->set_lon(lon);
  l->set_at_ms(wall_ms());
  l->set_accuracy_m(10);
  send(m);
}

void crew_client::accept(std::uint64_t incident) {
  v1::CrewClientMessage m;
  m.mutable_accept()->set_incident_id(incident);
  send(m);
}

void crew_client::decline(std::uint64_t incident, std::string reason) {
  v1::CrewClientMessage m;
  m.mutable_decline()->set_incident_id(incident);
  m.mutable_decline()->set_reason(std::move(reason));
  send(m);
}

void crew_client::departed(std::uint64_t incident) {
  v1::CrewClientMessage m;
  m.mutable_departed()->set_incident_id(incident);
  send(m);
}

void crew_client::arrived(std::uint64_t incident) {
  v1::CrewClientMessage m;
  m.mutable_arrived()->set_incident_id(incident);
  send(m);
}

void crew_client::released(std::uint64_t incident) {
  v1::CrewClientMessage m;
  m.mutable_released()->set_incident_id(incident);
  send(m);
}

std::optional<v1::CrewServerMessage> crew_client::wait_for(
    const std::function<bool(const v1::CrewServerMessage&)>& match, millis timeout) {
  std::unique_lock lock(impl_->mutex);
  std::optional<v1::CrewServerMessage> found;
  impl_->changed.wait_for(lock, timeout, [&] {
    for (std::size_t i = 0; i < impl_->messages.size(); ++i) {
      if (!impl_->taken[i] && match(impl_->messages[i])) {
        impl_->taken[i] = true;
        found = impl_->messages[i];
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<v1::JobOffer> crew_client::wait_offer(std::uint64_t incident, millis timeout) {
  const auto m = wait_for(
      [incident](const v1::CrewServerMessage& m) {
        return m.has_offer() && (incident == 0 || m.offer().incident_id() == incident);
      },
      timeout);
  if (!m) return std::nullopt;
  return m->offer();
}

std::optional<v1::JobWithdrawn> crew_client::wait_withdrawn(std::uint64_t incident,
                                                            millis timeout) {
  const auto m = wait_for(
      [incident](const v1::CrewServerMessage& m) {
        return m.has_withdrawn() && m.withdrawn().incident_id() == incident;
      },
      timeout);
  if (!m) return std::nullopt;
  return m->withdrawn();
}

std::optional<std::string> crew_client::wait_notice(std::string_view prefix, millis timeout) {
  const auto m = wait_for(
      [prefix](const v1::CrewServerMessage& m) {
        return m.has_notice() && m.notice().text().rfind(prefix, 0) == 0;
      },
      timeout);
  if (!m) return std::nullopt;
  return m->notice().text();
}

std::vector<v1::CrewServerMessage> crew_client::received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages;
}

// ---- e2e world ----------------------------------------------------------------------------------

namespace {

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "rescue-e2e-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

std::string config_text(const server_options& o, std::uint16_t terminal_port,
                        std::uint16_t http_port) {
  std::ostringstream c;
  c << "[server]\n"
    << "listen_address = \"127.0.0.1\"\n"
    << "terminal_port = " << terminal_port << "\n"
    << "http_port = " << http_port << "\n"
    << "threads = 2\n"
    << "web_root = \"web\"\n"
    << o.server_keys << "\n"
    << "[storage]\n"
    << "journal_path = \"var/journal.db\"\n"
    << "signing_key_path = \"var/journal-signing.pem\"\n"
    << "outbox_path = \"var/outbox.db\"\n"
    << "checkpoint_every_records = 10000\n"
    << "checkpoint_every_s = 60\n"
    << o.storage_keys << "\n"
    << "[registry]\n"
    << "dir = \"city\"\n"
    << "[terminals]\n"
    << "ping_interval_s = " << o.ping_interval_s << "\n"
    << "idle_timeout_s = " << o.idle_timeout_s << "\n"
    << "auth_timeout_s = " << o.auth_timeout_s << "\n"
    << "max_frame_bytes = " << o.max_frame_bytes << "\n"
    << o.terminal_keys << "\n"
    << "[http]\n"
    << o.http_keys << "\n"
    << "[crews]\n"
    << "token_secret = \"" << crew_secret << "\"\n"
    << "receipt_timeout_s = 20\n"
    << "sms_webhook_url = \"\"\n"
    << "max_message_bytes = 16384\n"
    << "[console]\n"
    << "tokens = [\n"
    << "  { token = \"" << o.console_operator_token
    << "\", name = \"op-e2e\", role = \"operator\" },\n"
    << "  { token = \"" << auditor_token << "\", name = \"audit-e2e\", role = \"auditor\" },\n"
    << "]\n"
    << "[fire]\n"
    << "webhook_url = \"" << o.fire_webhook_url << "\"\n"
    << "inbound_token = \"" << o.fire_inbound_token << "\"\n"
    << "retry_initial_s = 1\n"
    << "retry_max_s = 2\n"
    << "[upload]\n"
    << "url = \"" << o.upload_url << "\"\n"
    << "platform = \"" << o.upload_platform << "\"\n"
    << "[log]\n"
    << "level = \"debug\"\n"
    << "format = \"" << o.log_format << "\"\n"
    << "[dispatch]\n"
    << "offer_timeout_s = " << o.offer_timeout_s << "\n"
    << "level1_window_s = " << o.level1_window_s << "\n"
    << "level2_window_s = " << o.level2_window_s << "\n"
    << "predictive_escalation = true\n"
    << "fire_on_injured = true\n"
    << "urban_target_min = 30\n"
    << "rural_target_min = 60\n"
    << "merge_window_s = 600\n"
    << "max_candidates = 5\n"
    << "[geo]\n"
    << "road_factor = 1.4\n"
    << "default_speed_kmh = 25.0\n"
    << "peak_speed_factor = 0.6\n"
    // No rush hours: ETAs must not depend on when the suite runs.
    << "peak_hours = []\n"
    << "turn_out_s = 120\n"
    << "max_position_age_s = " << o.max_position_age_s << "\n"
    << "level2_max_radius_m = 15000.0\n";
  if (!o.tls_cert.empty() || !o.webhook_ca.empty()) {
    c << "[tls]\n"
      << "cert_path = " << o.tls_cert << "\n"
      << "key_path = " << o.tls_key << "\n"
      << "terminal = " << (o.tls_terminal ? "true" : "false") << "\n"
      << "http = " << (o.tls_http ? "true" : "false") << "\n"
      << "client_ca_path = " << o.tls_client_ca << "\n"
      << "require_client_cert = " << (o.require_client_cert ? "true" : "false") << "\n"
      << "handshake_timeout_s = 2\n"
      << "webhook_ca_path = " << o.webhook_ca << "\n";
  }
  return c.str();
}

template <class Message>
Message parse_json(const http_reply& reply) {
  Message m;
  const std::string error = protocol::from_json(reply.body, m);
  INFO("body: " << reply.body);
  REQUIRE(error.empty());
  return m;
}

}  // namespace

e2e_world::e2e_world(server_options options) : dir_(make_temp_dir()), options_(std::move(options)) {
  if (options_.tls_http) tls_ = client_tls{options_.tls_ca, {}, {}};
  if (options_.write_registry)
    options_.write_registry(dir_ / "city");
  else
    city::write(dir_ / "city");
  terminal_port_ = pick_free_port();
  http_port_ = pick_free_port();
  while (http_port_ == terminal_port_)
    http_port_ = pick_free_port();
  rewrite_config(options_);
  server_ = std::make_unique<server_process>(fs::path(RESCUE_BIN_DIR) / "rescue-dispatchd",
                                             dir_ / "rescue-dispatchd.toml",
                                             dir_ / "rescue-dispatchd.log");
  server_->set_nofile_limit(options.nofile_limit);
  if (options_.wait_healthy)
    start();
  else
    server_->start();
}

e2e_world::~e2e_world() {
  const bool failing = std::uncaught_exceptions() > 0;
  const bool was_running = server_->running();
  const int status = server_->terminate();
  // Every run that is still up at the end must stop cleanly: a crash on the way out, or a
  // sanitizer's report at exit (a leak, in the sanitizer builds), fails the test that ran it.
  const bool clean =
      !was_running || (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!failing) {
    INFO("rescue-dispatchd stop status " << status << "; log tail:\n" << server_->log_tail(6000));
    CHECK(clean);
  }
  if (failing) {
    std::cerr << "---- rescue-dispatchd log (" << dir_ << ") ----\n"
              << server_->log_tail(6000) << "\n---- end of log ----\n";
  }
  if (!std::getenv("RESCUE_E2E_KEEP")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void e2e_world::rewrite_config(const server_options& options) {
  // Written aside and renamed, so a reader never sees half a file.
  write_file(dir_ / "rescue-dispatchd.toml.new", config_text(options, terminal_port_, http_port_));
  fs::rename(dir_ / "rescue-dispatchd.toml.new", dir_ / "rescue-dispatchd.toml");
}

void e2e_world::start() {
  server_->start();
  wait_healthy(10s);
}

void e2e_world::wait_healthy(millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const auto reply = http_call(http_port_, method::get, "/healthz", {}, {}, 1s, http_tls());
    if (reply.status == 200) return;
    if (!server_->running() || steady::now() >= deadline) {
      INFO("server log:\n" << server_->log_tail());
      FAIL("rescue-dispatchd did not become healthy (last answer: " << reply.status << " "
                                                                    << reply.error << ")");
    }
    std::this_thread::sleep_for(50ms);
  }
}

void e2e_world::wait_crew_position(const std::string& crew_id, millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const v1::CrewList list = crews();
    for (const auto& c : list.crews())
      if (c.id() == crew_id && c.has_position() && c.position_age_s() < 60) return;
    if (steady::now() >= deadline) FAIL("crew " << crew_id << " position never reached the server");
    std::this_thread::sleep_for(30ms);
  }
}

std::unique_ptr<crew_client> e2e_world::crew_at(const std::string& crew_id, double lat,
                                                double lon) {
  auto crew = std::make_unique<crew_client>(http_port_, crew_id, std::string(), http_tls());
  REQUIRE(crew->connect() == 101);
  crew->send_location(lat, lon);
  wait_crew_position(crew_id, short_wait);
  return crew;
}

std::unique_ptr<terminal_client> e2e_world::terminal(const city::terminal& t,
                                                     std::uint64_t boot_id) {
  auto client = std::make_unique<terminal_client>();
  if (options_.tls_terminal)
    REQUIRE(client->connect_tls(terminal_port_, client_tls{options_.tls_ca, options_.terminal_cert,
                                                           options_.terminal_key}));
  else
    REQUIRE(client->connect(terminal_port_));
  const auto result = client->handshake(t.id, t.secret, boot_id);
  REQUIRE(result);
  REQUIRE(result->ok());
  return client;
}

template <class Message>
Message e2e_world::get_as(const std::string& target) {
  const auto reply = get(target);
  INFO("GET " << target << ": " << reply.status << " " << reply.error << " " << reply.body);
  REQUIRE(reply.status == 200);
  return parse_json<Message>(reply);
}

v1::IncidentView e2e_world::incident(std::uint64_t id) {
  return get_as<v1::IncidentView>("/api/v1/incidents/" + std::to_string(id));
}

v1::IncidentList e2e_world::incidents() {
  return get_as<v1::IncidentList>("/api/v1/incidents");
}

v1::CrewList e2e_world::crews() {
  return get_as<v1::CrewList>("/api/v1/crews");
}

v1::TerminalList e2e_world::terminals() {
  return get_as<v1::TerminalList>("/api/v1/terminals");
}

std::uint64_t e2e_world::wait_incident_for(const std::string& elevator_id, millis timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const auto list = incidents();
    for (const auto& view : list.incidents())
      if (view.elevator().elevator_id() == elevator_id) return view.id();
    if (steady::now() >= deadline) FAIL("no open incident for elevator " << elevator_id);
    std::this_thread::sleep_for(30ms);
  }
}

http_reply e2e_world::post(const std::string& target, const std::string& body,
                           const std::string& bearer) {
  return http_call(http_port_, method::post, target, body, bearer, short_wait, http_tls());
}

std::uint64_t e2e_world::call_injured(const std::string& rescue_code) {
  const auto call = post("/api/v1/incidents", R"({"rescue_code":")" + rescue_code +
                                                  R"(","caller_phone":"13900000003",)"
                                                  R"("people_trapped":true,"injured":true})");
  INFO(call.body);
  REQUIRE(call.status == 201);
  return parse_json<v1::CommandResult>(call).incident_id();
}

http_reply e2e_world::get(const std::string& target, const std::string& bearer) {
  return http_call(http_port_, method::get, target, {}, bearer, short_wait, http_tls());
}

// ---- timelines ----------------------------------------------------------------------------------

std::size_t count_events(const v1::IncidentView& view, v1::Event::BodyCase kind) {
  std::size_t n = 0;
  for (const auto& e : view.timeline())
    if (e.body_case() == kind) ++n;
  return n;
}

const v1::Event* first_event(const v1::IncidentView& view, v1::Event::BodyCase kind) {
  for (const auto& e : view.timeline())
    if (e.body_case() == kind) return &e;
  return nullptr;
}

std::string describe_timeline(const v1::IncidentView& view) {
  std::string out;
  for (const auto& e : view.timeline()) {
    const auto* field = e.GetDescriptor()->FindFieldByNumber(static_cast<int>(e.body_case()));
    out += (field ? field->name() : std::string("?")) + "@" + std::to_string(e.at_ms()) + " ";
  }
  return out;
}

}  // namespace rescue::e2e
