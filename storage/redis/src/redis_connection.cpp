#include "rescue/storage/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <memory>

namespace rescue::storage {

namespace {

class redis_category_impl : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int v) const override {
    switch (static_cast<redis_errc>(v)) {
      case redis_errc::unreachable:
        return "redis unreachable";
      case redis_errc::connection_lost:
        return "redis connection lost";
      case redis_errc::error_reply:
        return "redis error reply";
      case redis_errc::unexpected_reply:
        return "unexpected redis reply";
    }
    return "redis error";
  }
};

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

void copy_reply(const redisReply& in, redis_reply& out) {
  out.elements.clear();
  out.str.clear();
  out.integer = 0;
  switch (in.type) {
    case REDIS_REPLY_STRING:
      out.type = redis_reply::kind::string;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = redis_reply::kind::status;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = redis_reply::kind::error;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = in.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      out.elements.resize(in.elements);
      for (std::size_t i = 0; i < in.elements; ++i)
        copy_reply(*in.element[i], out.elements[i]);
      break;
    default:
      out.type = redis_reply::kind::nil;
  }
}

int append_command(redisContext* ctx, const redis_args& args) {
  const auto& v = args.views();
  std::vector<const char*> argv(v.size());
  std::vector<std::size_t> lens(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    argv[i] = v[i].data();
    lens[i] = v[i].size();
  }
  return redisAppendCommandArgv(ctx, static_cast<int>(v.size()), argv.data(), lens.data());
}

}  // namespace

const std::error_category& redis_category() noexcept {
  static const redis_category_impl c;
  return c;
}

bool redis_reply::error_is(std::string_view code) const {
  if (type != kind::error) return false;
  const std::string_view s(str);
  return s.substr(0, code.size()) == code && (s.size() == code.size() || s[code.size()] == ' ');
}

redis_connection::redis_connection(redis_endpoint endpoint, std::uint16_t slot)
    : endpoint_(std::move(endpoint)), slot_(slot), host_(endpoint_.host), port_(endpoint_.port) {
  if (!endpoint_.cluster_nodes.empty()) {
    host_.clear();
    port_ = 0;
  }
}

redis_connection::~redis_connection() {
  disconnect();
}

void redis_connection::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

std::error_code redis_connection::lost(const char* what) {
  last_error_ = std::string(what) + " " + target() + ": " +
                (ctx_ && ctx_->errstr[0] ? ctx_->errstr : "no reply");
  disconnect();
  // On a cluster the master may have changed (a failover): find it again before the next try.
  master_known_ = false;
  return redis_errc::connection_lost;
}

std::error_code redis_connection::connect_to(const std::string& host, int port) {
  disconnect();
  ctx_ = redisConnectWithTimeout(host.c_str(), port, to_timeval(endpoint_.connect_timeout));
  if (!ctx_ || ctx_->err) {
    last_error_ = "connect to " + host + ":" + std::to_string(port) + ": " +
                  (ctx_ ? ctx_->errstr : "out of memory");
    disconnect();
    master_known_ = false;
    return redis_errc::unreachable;
  }
  redisSetTimeout(ctx_, to_timeval(endpoint_.command_timeout));
  redisEnableKeepAlive(ctx_);
  if (!endpoint_.password.empty()) {
    redis_args auth{"AUTH", endpoint_.password};
    std::vector<redis_reply> r;
    if (send_and_read({&auth}, false, r) || r[0].is_error()) {
      last_error_ = "AUTH at " + host + ":" + std::to_string(port) + ": " +
                    (r.empty() ? last_error_ : r[0].str);
      disconnect();
      return redis_errc::unreachable;
    }
  }
  return {};
}

std::error_code redis_connection::find_master() {
  std::vector<std::pair<std::string, int>> candidates;
  if (!host_.empty()) candidates.emplace_back(host_, port_);
  for (const auto& node : endpoint_.cluster_nodes) {
    std::string h;
    int p = 0;
    if (parse_host_port(node, h, p)) candidates.emplace_back(h, p);
  }
  std::string why = "no cluster node answered";
  for (const auto& [h, p] : candidates) {
    if (connect_to(h, p)) {
      why = last_error_;
      continue;
    }
    redis_args slots{"CLUSTER", "SLOTS"};
    std::vector<redis_reply> r;
    if (send_and_read({&slots}, false, r)) {
      why = last_error_;
      continue;
    }
    disconnect();
    if (r[0].type != redis_reply::kind::array) {
      why = h + ":" + std::to_string(p) + " answers CLUSTER SLOTS with " + r[0].str;
      continue;
    }
    for (const auto& range : r[0].elements) {
      if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
      if (range.elements[0].integer > slot_ || range.elements[1].integer < slot_) continue;
      const auto& master = range.elements[2];
      host_ = master.elements[0].str.empty() ? h : master.elements[0].str;
      port_ = static_cast<int>(master.elements[1].integer);
      master_known_ = true;
      return {};
    }
    why = h + ":" + std::to_string(p) + " knows no master for slot " + std::to_string(slot_);
  }
  last_error_ = "redis cluster: " + why;
  return redis_errc::unreachable;
}

std::error_code redis_connection::connect() {
  if (ctx_) return {};
  if (!endpoint_.cluster_nodes.empty() && !master_known_)
    if (auto ec = find_master()) return ec;
  return connect_to(host_, port_);
}

bool redis_connection::follow_redirect(const redis_reply& reply, bool& asking) {
  if (endpoint_.cluster_nodes.empty()) return false;
  const bool moved = reply.error_is("MOVED");
  if (!moved && !reply.error_is("ASK")) return false;
  // "MOVED <slot> <host>:<port>"
  const auto space = reply.str.rfind(' ');
  std::string h;
  int p = 0;
  if (space == std::string::npos || !parse_host_port(reply.str.substr(space + 1), h, p))
    return false;
  disconnect();
  if (!h.empty()) host_ = h;
  port_ = p;
  // MOVED: the slot lives there now. ASK: only the next command goes there; then ask again.
  master_known_ = moved;
  asking = !moved;
  return true;
}

std::error_code redis_connection::send_and_read(const std::vector<const redis_args*>& commands,
                                                bool asking, std::vector<redis_reply>& out) {
  out.clear();
  if (asking) {
    const redis_args ask{"ASKING"};
    if (append_command(ctx_, ask) != REDIS_OK) return lost("send to");
  }
  for (const auto* c : commands)
    if (append_command(ctx_, *c) != REDIS_OK) return lost("send to");
  if (asking) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return lost("read from");
    freeReplyObject(raw);
  }
  out.resize(commands.size());
  for (auto& r : out) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return lost("read from");
    reply_ptr reply(static_cast<redisReply*>(raw));
    copy_reply(*reply, r);
  }
  return {};
}

std::error_code redis_connection::run(const std::vector<const redis_args*>& commands,
                                      std::vector<redis_reply>& out) {
  bool asking = false;
  for (int hop = 0; hop < 5; ++hop) {
    if (asking) {
      if (auto ec = connect_to(host_, port_)) return ec;
    } else if (auto ec = connect()) {
      return ec;
    }
    if (auto ec = send_and_read(commands, asking, out)) return ec;
    bool redirected = false;
    bool ask_next = false;
    for (const auto& r : out)
      if ((redirected = follow_redirect(r, ask_next))) break;
    if (!redirected) return {};
    asking = ask_next;
  }
  last_error_ = "redis cluster: too many redirections for slot " + std::to_string(slot_);
  return redis_errc::error_reply;
}

std::error_code redis_connection::command(const redis_args& args, redis_reply& out) {
  std::vector<redis_reply> replies;
  const auto ec = run({&args}, replies);
  out = replies.empty() ? redis_reply{} : std::move(replies[0]);
  if (ec) return ec;
  if (out.is_error()) {
    last_error_ = out.str;
    return redis_errc::error_reply;
  }
  return {};
}

std::error_code redis_connection::query(const redis_args& args, redis_reply& out) {
  const bool reused = connected();
  auto ec = command(args, out);
  if (ec == redis_errc::connection_lost && reused) ec = command(args, out);
  return ec;
}

std::error_code redis_connection::pipeline(const std::vector<redis_args>& commands,
                                           std::vector<redis_reply>& out) {
  out.clear();
  if (commands.empty()) return {};
  std::vector<const redis_args*> list;
  for (const auto& c : commands)
    list.push_back(&c);
  const bool reused = connected();
  auto ec = run(list, out);
  if (ec == redis_errc::connection_lost && reused) ec = run(list, out);
  return ec;
}

std::uint16_t redis_key_slot(std::string_view key) {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  std::uint16_t crc = 0;  // CRC16-XMODEM: polynomial 0x1021, initial 0
  for (unsigned char ch : key) {
    crc = static_cast<std::uint16_t>(crc ^ (ch << 8));
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return static_cast<std::uint16_t>(crc & 16383);
}

bool parse_host_port(std::string_view text, std::string& host, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  const auto digits = text.substr(colon + 1);
  int p = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
  if (ec != std::errc{} || end != digits.data() + digits.size() || p < 1 || p > 65535) return false;
  host = std::string(text.substr(0, colon));
  port = p;
  return true;
}

}  // namespace rescue::storage
