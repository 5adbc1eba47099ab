// End-to-end harness: a temp dir with a small city and a config, the real rescue-dispatchd as a
// child process, and loopback clients for terminals, crew phones, the console and the fire centre.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rescue/console.pb.h"
#include "rescue/crew.pb.h"
#include "rescue/protocol/framing.hpp"
#include "rescue/terminal.pb.h"
#include "rescue/webhooks.pb.h"

struct ssl_st;
struct ssl_ctx_st;

namespace rescue::e2e {

namespace v1 = rescue::v1;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using millis = std::chrono::milliseconds;

// Every wait in these tests is bounded by one of these.
inline constexpr millis short_wait = 5s;
inline constexpr millis quiet_wait = 700ms;  // how long "nothing arrives" is watched

std::int64_t wall_ms();

// ---- the test city ----------------------------------------------------------------------------
//
// All elevators stand at one spot in Yuzhong (29.556, 106.568). Crews have no position in the
// registry: only crews whose phone reports a location are ranked, so each test decides who is
// where. Units: U1 (level 1 for E1-E3, no level 2), U2 (level 2), UF (level 1 for E4, none of
// whose crews is ever near).
struct city {
  static constexpr double lat = 29.556;
  static constexpr double lon = 106.568;
  static constexpr double metres_per_degree_lat = 111'195.0;
  // A point `metres` north of the elevators.
  static double north(double metres) { return lat + metres / metres_per_degree_lat; }

  struct terminal {
    std::string id;
    std::string elevator_id;
    std::string rescue_code;
    std::string secret;  // raw bytes
  };
  static const terminal& t1();  // E1, rescue code 10001
  static const terminal& t2();  // E2, rescue code 10002
  static const terminal& t3();  // E3, rescue code 10003
  static const terminal& t4();  // E4, rescue code 10004, unit UF

  // Writes the registry CSV files into `dir`.
  static void write(const fs::path& dir);
};

inline constexpr const char* operator_token = "e2e-operator-token-0001";
inline constexpr const char* auditor_token = "e2e-auditor-token-00001";
inline constexpr const char* fire_token = "e2e-fire-centre-token-01";
inline constexpr const char* crew_secret = "e2e-crew-token-secret";

// Lowercase hex HMAC-SHA256(key, message), computed here rather than by the server's code.
std::string hmac_sha256(std::string_view key, std::string_view message);
std::string to_hex(std::string_view bytes);
std::string crew_token_for(std::string_view crew_id);

// ---- the server process -------------------------------------------------------------------------

struct server_options {
  int offer_timeout_s = 6;
  int level1_window_s = 10;
  int level2_window_s = 10;
  int auth_timeout_s = 5;
  int ping_interval_s = 30;
  int idle_timeout_s = 180;
  std::uint32_t max_frame_bytes = 4096;
  int max_position_age_s = 300;
  std::string fire_webhook_url;  // empty: escalations stay in the outbox
  std::string upload_url;        // [upload] url; empty: no upload records
  std::string upload_platform = "500000";

  // [tls]: written only when a certificate is set.
  fs::path tls_cert;
  fs::path tls_key;
  bool tls_terminal = false;
  bool tls_http = false;
  fs::path tls_client_ca;  // terminal client certificates
  bool require_client_cert = false;
  fs::path webhook_ca;  // empty: the system store
  // Client side: the CA that signed tls_cert, which the harness's clients trust, and the
  // certificate e2e_world::terminal() presents (none when empty).
  fs::path tls_ca;
  fs::path terminal_cert;
  fs::path terminal_key;
  // The operator's console token (the auditor's stays auditor_token).
  std::string console_operator_token = ::rescue::e2e::operator_token;
  std::string fire_inbound_token = ::rescue::e2e::fire_token;
  // Raw TOML lines added to the [server], [terminals] and [http] tables.
  std::string server_keys;
  std::string terminal_keys;
  std::string http_keys;
  // Raw TOML lines added to [storage] (backend = "redis" and its keys, say).
  std::string storage_keys;
  std::string log_format = "text";
  // False: the world does not wait for /healthz when it starts the server (a standby that
  // opens its ports only once it holds the store's lease); call wait_healthy() when it should.
  bool wait_healthy = true;
  // RLIMIT_NOFILE (soft and hard) of the server process; 0 keeps the test's own.
  unsigned nofile_limit = 0;
  // Writes the registry CSV files into the directory given; empty: city::write.
  std::function<void(const fs::path&)> write_registry;
};

// The client side of TLS: the CA the server must chain to, and an optional client certificate.
struct client_tls {
  fs::path ca;
  fs::path cert;
  fs::path key;
};

// A free loopback port: bound to port 0, read, closed. Another process could take it in between;
// on loopback in a test run that is rare enough.
std::uint16_t pick_free_port();

// The child process, reaped on every path out of a test: SIGKILL in the destructor if still alive.
class server_process {
 public:
  server_process(fs::path binary, fs::path config, fs::path log);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // Takes effect at the next start().
  void set_nofile_limit(unsigned limit) { nofile_limit_ = limit; }
  void start();
  bool running();
  // SIGTERM, then waits; SIGKILL when it does not exit in time. Returns the exit status as
  // waitpid reports it, or -1 when it had to be killed.
  int terminate(millis timeout = short_wait);
  // SIGKILL and reap: the crash test.
  void kill_hard();
  // SIGHUP and the like; the process keeps running.
  void send_signal(int signal);
  // Waits for the process to exit by itself: its waitpid status, or nothing when it is still
  // running after `timeout` (or was not running).
  std::optional<int> wait_exit(millis timeout);
  // After SIGSTOP: waits until every thread of the process is stopped (the signal is delivered
  // to each thread on its own, so a thread may still run for a moment after kill() returns).
  bool wait_stopped(millis timeout);
  std::string log_tail(std::size_t bytes = 4000) const;
  pid_t pid() const { return pid_; }
  std::string log_text() const;

 private:
  bool reap(millis timeout, int* status);

  fs::path binary_;
  fs::path config_;
  fs::path log_;
  pid_t pid_ = -1;
  unsigned nofile_limit_ = 0;
};

// ---- console HTTP client ----------------------------------------------------------------------

struct http_reply {
  int status = 0;     // 0: no answer (see error)
  std::string error;  // transport failure
  std::string body;
  std::string location;  // Location header, when any
};

enum class method { get, post };

// One request on a fresh connection, bounded by `timeout` end to end; over TLS when `tls` is set.
http_reply http_call(std::uint16_t port, method m, const std::string& target,
                     const std::string& body = {}, const std::string& bearer = {},
                     millis timeout = short_wait, const client_tls* tls = nullptr);

// ---- fire centre receiver -----------------------------------------------------------------------

struct received_request {
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
  std::string idempotency_key;  // the Idempotency-Key header
};

// A small HTTP server on 127.0.0.1 that records every request and answers 200 (or the status
// given to answer_with), or the statuses in `first_statuses` to the first requests.
class http_receiver {
 public:
  explicit http_receiver(std::vector<int> first_statuses = {});
  // HTTPS with this certificate chain and key.
  http_receiver(std::vector<int> first_statuses, fs::path cert, fs::path key);
  ~http_receiver();
  http_receiver(const http_receiver&) = delete;
  http_receiver& operator=(const http_receiver&) = delete;

  std::uint16_t port() const { return port_; }
  // From now on, requests beyond `first_statuses` are answered with `status` (200 until set).
  void answer_with(int status);
  std::optional<received_request> wait_request(millis timeout);
  std::vector<received_request> requests() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
};

// ---- car terminal client (plain POSIX socket, poll-bounded reads) -----------------------------

class terminal_client {
 public:
  terminal_client() = default;
  ~terminal_client();
  terminal_client(const terminal_client&) = delete;
  terminal_client& operator=(const terminal_client&) = delete;

  bool connect(std::uint16_t port);
  // Connects and completes a TLS handshake, verifying the server against tls.ca (and presenting
  // tls.cert when set). False when either fails.
  bool connect_tls(std::uint16_t port, const client_tls& tls);
  void close();
  bool send_frame(const v1::TerminalFrame& frame);
  bool send_raw(std::string_view bytes);
  // The next frame, or nothing on timeout or when the server closed (then closed() is true).
  std::optional<v1::TerminalFrame> read_frame(millis timeout = short_wait);
  // Reads until the server closes; frames seen on the way are kept in `frames`. False on timeout.
  bool wait_closed(millis timeout, std::vector<v1::TerminalFrame>* frames = nullptr);
  bool closed() const { return peer_closed_; }

  // Hello, challenge, answer with HMAC(secret, nonce || id). Returns the AuthResult (empty when
  // the server closed or stayed silent).
  std::optional<v1::AuthResult> handshake(const std::string& terminal_id, std::string_view secret,
                                          std::uint64_t boot_id);
  bool send_event(std::uint64_t seq, v1::TerminalEventCode code);
  // Waits for Ack{seq}, answering pings on the way.
  bool wait_ack(std::uint64_t seq, millis timeout = short_wait);

 private:
  int fd_ = -1;
  ssl_ctx_st* ssl_ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;  // set: every byte goes through TLS
  bool peer_closed_ = false;
  protocol::frame_decoder decoder_{protocol::default_max_frame_bytes};
};

// ---- crew phone client (Beast WebSocket on its own thread) ------------------------------------

class crew_client {
 public:
  // `token` empty: the correct token for `crew_id`. `tls` set: wss:// verified against tls->ca.
  crew_client(std::uint16_t port, std::string crew_id, std::string token = {},
              const client_tls* tls = nullptr);
  ~crew_client();
  crew_client(const crew_client&) = delete;
  crew_client& operator=(const crew_client&) = delete;

  // Upgrades to a WebSocket. Returns 101 when accepted, the HTTP status of a refusal, or 0 when
  // there was no answer.
  int connect(millis timeout = short_wait);
  const std::string& id() const { return crew_id_; }
  bool closed() const;

  void send(const v1::CrewClientMessage& message);
  void send_location(double lat, double lon);
  void accept(std::uint64_t incident);
  void decline(std::uint64_t incident, std::string reason);
  void departed(std::uint64_t incident);
  void arrived(std::uint64_t incident);
  void released(std::uint64_t incident);

  // The first message not yet taken that matches; takes it.
  std::optional<v1::CrewServerMessage> wait_for(
      const std::function<bool(const v1::CrewServerMessage&)>& match, millis timeout = short_wait);
  std::optional<v1::JobOffer> wait_offer(std::uint64_t incident = 0, millis timeout = short_wait);
  std::optional<v1::JobWithdrawn> wait_withdrawn(std::uint64_t incident,
                                                 millis timeout = short_wait);
  // Notices answer the crew's own actions: "ok accept 3", "not_your_job accept 3: ...".
  std::optional<std::string> wait_notice(std::string_view prefix, millis timeout = short_wait);
  // Every message received so far, taken or not.
  std::vector<v1::CrewServerMessage> received() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
  std::uint16_t port_;
  std::string crew_id_;
  std::string token_;
};

// ---- one running server with its files ----------------------------------------------------------

class e2e_world {
 public:
  explicit e2e_world(server_options options = {});
  ~e2e_world();
  e2e_world(const e2e_world&) = delete;
  e2e_world& operator=(const e2e_world&) = delete;

  std::uint16_t http_port() const { return http_port_; }
  // What a console client needs to reach the HTTP port: null when it is plain.
  const client_tls* http_tls() const { return tls_ ? &*tls_ : nullptr; }
  std::uint16_t terminal_port() const { return terminal_port_; }
  server_process& server() { return *server_; }
  const fs::path& dir() const { return dir_; }

  // Starts the process on the same config and files and waits for /healthz.
  void start();
  // Waits until /healthz answers 200; fails the test when the server stops or time runs out.
  void wait_healthy(millis timeout);
  // Writes the config again from `options` (same ports); the running server sees it on SIGHUP.
  void rewrite_config(const server_options& options);

  // A crew phone that connected and reported a fresh position the server has taken in.
  std::unique_ptr<crew_client> crew_at(const std::string& crew_id, double lat, double lon);
  // A terminal that connected and authenticated.
  std::unique_ptr<terminal_client> terminal(const city::terminal& t, std::uint64_t boot_id = 1);

  // Console helpers (assert on HTTP errors).
  v1::IncidentView incident(std::uint64_t id);
  v1::IncidentList incidents();
  v1::CrewList crews();
  v1::TerminalList terminals();
  // The incident the server opened for `elevator_id`, waiting for it to appear.
  std::uint64_t wait_incident_for(const std::string& elevator_id, millis timeout = short_wait);
  http_reply post(const std::string& target, const std::string& body,
                  const std::string& bearer = operator_token);
  // An operator's call for an injured person in the elevator with `rescue_code`: the core calls
  // fire rescue at once. Returns the incident, once the 201 says the escalation is durable.
  std::uint64_t call_injured(const std::string& rescue_code);
  http_reply get(const std::string& target, const std::string& bearer = auditor_token);
  // Waits until the console's crew list shows a fresh position of `crew_id` (on a sharded city,
  // also of a crew whose phone is connected to another instance).
  void wait_crew_position(const std::string& crew_id, millis timeout);

 private:
  // GET `target` as an auditor, asserting a 200 whose body is a `Message`.
  template <class Message>
  Message get_as(const std::string& target);

  fs::path dir_;
  std::uint16_t http_port_ = 0;
  std::uint16_t terminal_port_ = 0;
  server_options options_;
  std::optional<client_tls> tls_;  // console and crew clients, when tls_http
  std::unique_ptr<server_process> server_;
};

// Waits until the server's log holds `text`.
bool log_says(server_process& p, std::string_view text, millis timeout);

// ---- timelines ----------------------------------------------------------------------------------

std::size_t count_events(const v1::IncidentView& view, v1::Event::BodyCase kind);
const v1::Event* first_event(const v1::IncidentView& view, v1::Event::BodyCase kind);
// Names of the timeline's events in order, for failure messages.
std::string describe_timeline(const v1::IncidentView& view);

}  // namespace rescue::e2e
