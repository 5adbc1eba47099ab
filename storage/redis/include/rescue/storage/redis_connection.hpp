// One blocking connection to one Redis server (hiredis' synchronous API), for the storage
// threads that own it: commands, pipelines, replies copied out of hiredis, and reconnection on
// the next command after any I/O error. Never used on an Asio thread.
//
// On a Redis Cluster (hiredis 0.14 has no cluster support) a connection serves one hash slot,
// the slot of the store whose keys it touches: it finds the slot's master with CLUSTER SLOTS
// from the seed nodes, follows MOVED (and ASK, once) replies, and after a lost connection finds
// the master again, which is how it follows a failover.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct redisContext;

namespace rescue::storage {

// Where the server is and how long to wait for it.
struct redis_endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(2);
  // A command not answered in this time counts as a lost connection (its outcome is unknown).
  std::chrono::milliseconds command_timeout = std::chrono::seconds(5);
  // Non-empty: a Redis Cluster, reached through these seed nodes ("host:port"); host and port
  // above are then unused.
  std::vector<std::string> cluster_nodes;
};

// The cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag, the text
// between the first '{' and the next '}' when that is not empty, modulo 16384.
std::uint16_t redis_key_slot(std::string_view key);

// "host:port" split; false when it is not one.
bool parse_host_port(std::string_view text, std::string& host, int& port);

// A reply, owned (hiredis' reply object is freed as soon as it is copied).
struct redis_reply {
  enum class kind { nil, string, status, integer, array, error };
  kind type = kind::nil;
  std::string str;                    // string, status and error replies
  long long integer = 0;              // integer replies
  std::vector<redis_reply> elements;  // array replies

  bool is_error() const { return type == kind::error; }
  bool is_nil() const { return type == kind::nil; }
  // True for an error reply whose code (first word) is `code`, e.g. "NOSCRIPT", "MOVED".
  bool error_is(std::string_view code) const;
};

enum class redis_errc {
  unreachable = 1,   // could not connect (or authenticate)
  connection_lost,   // an I/O error or timeout during a command: its outcome is unknown
  error_reply,       // the server answered with an error (see redis_connection::last_error)
  unexpected_reply,  // a reply of a shape the caller did not expect
};
const std::error_category& redis_category() noexcept;
inline std::error_code make_error_code(redis_errc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

// The arguments of one command. Views are kept as given (the caller keeps the text alive until
// the command is sent); numbers and add_owned() text are copied into the list. Movable, not
// copyable: a move keeps the owned strings where they are (std::deque), a copy would not.
class redis_args {
 public:
  redis_args() = default;
  redis_args(std::initializer_list<std::string_view> words) : views_(words) {}
  redis_args(redis_args&&) noexcept = default;
  redis_args& operator=(redis_args&&) noexcept = default;
  redis_args(const redis_args&) = delete;
  redis_args& operator=(const redis_args&) = delete;
  redis_args& add(std::string_view s) {
    views_.push_back(s);
    return *this;
  }
  redis_args& add(const char* s) { return add(std::string_view(s)); }
  redis_args& add(std::uint64_t v) { return add_owned(std::to_string(v)); }
  redis_args& add(std::int64_t v) { return add_owned(std::to_string(v)); }
  redis_args& add(int v) { return add_owned(std::to_string(v)); }
  redis_args& add_owned(std::string s) {
    owned_.push_back(std::move(s));
    views_.push_back(owned_.back());
    return *this;
  }
  const std::vector<std::string_view>& views() const { return views_; }

 private:
  std::deque<std::string> owned_;
  std::vector<std::string_view> views_;
};

class redis_connection {
 public:
  // `slot`: on a cluster, the hash slot every command of this connection touches.
  explicit redis_connection(redis_endpoint endpoint, std::uint16_t slot = 0);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  // Sends one command and reads its reply, connecting first when not connected. An error reply
  // is returned in `out` and as redis_errc::error_reply; an I/O failure drops the connection.
  std::error_code command(const redis_args& args, redis_reply& out);

  // command() for what may safely run twice (reads, idempotent writes): a connection that was
  // already open may have died while idle (a server restart), so a loss on it is retried once on
  // a new connection.
  std::error_code query(const redis_args& args, redis_reply& out);

  // Sends every command in one write and reads every reply (a pipeline; not atomic). Error
  // replies stay in `out` and do not fail the call; only an I/O failure does. For what may run
  // twice: a loss on a connection that was already open is retried once, as query() does.
  std::error_code pipeline(const std::vector<redis_args>& commands, std::vector<redis_reply>& out);

  // Connects now (the commands do it on demand).
  std::error_code connect();
  void disconnect();
  bool connected() const { return ctx_ != nullptr; }

  // The last error's text: hiredis' I/O error or the server's error reply.
  const std::string& last_error() const { return last_error_; }
  const redis_endpoint& endpoint() const { return endpoint_; }
  // Where the connection goes (on a cluster: the slot's master as last found); for messages.
  std::string target() const { return host_ + ":" + std::to_string(port_); }

 private:
  std::error_code lost(const char* what);
  std::error_code connect_to(const std::string& host, int port);
  // Cluster: asks the seeds (the last master first) which node serves the slot.
  std::error_code find_master();
  // Cluster: a MOVED or ASK reply points elsewhere; true when `reply` was one and the next try
  // should go there (ASK: only the next command, after ASKING).
  bool follow_redirect(const redis_reply& reply, bool& asking);
  std::error_code send_and_read(const std::vector<const redis_args*>& commands, bool asking,
                                std::vector<redis_reply>& out);
  // Sends, reads, and follows redirections (a few hops at most).
  std::error_code run(const std::vector<const redis_args*>& commands,
                      std::vector<redis_reply>& out);

  redis_endpoint endpoint_;
  std::uint16_t slot_ = 0;
  std::string host_;  // where ctx_ goes, or will
  int port_ = 0;
  bool master_known_ = false;  // cluster: host_:port_ serves slot_ as far as we know
  redisContext* ctx_ = nullptr;
  std::string last_error_;
};

}  // namespace rescue::storage

template <>
struct std::is_error_code_enum<rescue::storage::redis_errc> : std::true_type {};
