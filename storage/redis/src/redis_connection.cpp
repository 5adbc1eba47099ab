#include "rescue/storage/redis_connection.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

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

redis_connection::redis_connection(redis_endpoint endpoint) : endpoint_(std::move(endpoint)) {}

redis_connection::~redis_connection() {
  disconnect();
}

void redis_connection::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

std::error_code redis_connection::lost(const char* what) {
  last_error_ = std::string(what) + ": " + (ctx_ && ctx_->errstr[0] ? ctx_->errstr : "no reply");
  disconnect();
  return redis_errc::connection_lost;
}

std::error_code redis_connection::connect() {
  if (ctx_) return {};
  ctx_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                 to_timeval(endpoint_.connect_timeout));
  if (!ctx_ || ctx_->err) {
    last_error_ = "connect to " + endpoint_.host + ":" + std::to_string(endpoint_.port) + ": " +
                  (ctx_ ? ctx_->errstr : "out of memory");
    disconnect();
    return redis_errc::unreachable;
  }
  redisSetTimeout(ctx_, to_timeval(endpoint_.command_timeout));
  redisEnableKeepAlive(ctx_);
  if (!endpoint_.password.empty()) {
    redis_reply r;
    auto ec = command({"AUTH", endpoint_.password}, r);
    if (ec) {
      last_error_ = "AUTH: " + (r.is_error() ? r.str : last_error_);
      disconnect();
      return redis_errc::unreachable;
    }
  }
  return {};
}

std::error_code redis_connection::command(const redis_args& args, redis_reply& out) {
  if (auto ec = connect()) return ec;
  if (append_command(ctx_, args) != REDIS_OK) return lost("send");
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return lost("read");
  reply_ptr reply(static_cast<redisReply*>(raw));
  copy_reply(*reply, out);
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
  const bool reused = connected();
  auto ec = pipeline_once(commands, out);
  if (ec == redis_errc::connection_lost && reused) ec = pipeline_once(commands, out);
  return ec;
}

std::error_code redis_connection::pipeline_once(const std::vector<redis_args>& commands,
                                                std::vector<redis_reply>& out) {
  out.clear();
  if (commands.empty()) return {};
  if (auto ec = connect()) return ec;
  for (const auto& c : commands)
    if (append_command(ctx_, c) != REDIS_OK) return lost("send");
  out.resize(commands.size());
  for (auto& r : out) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return lost("read");
    reply_ptr reply(static_cast<redisReply*>(raw));
    copy_reply(*reply, r);
  }
  return {};
}

}  // namespace rescue::storage
