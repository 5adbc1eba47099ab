// The outbox's delivery side over Redis: the calls the append script stored, their attempts.
#include <limits>
#include <mutex>

#include "redis_common.hpp"
#include "redis_pool.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::storage {

namespace {

using namespace redis_detail;

// KEYS: meta outbox outbox_due. ARGV: id attempts delivered_ms ('' when not) next error.
constexpr const char* attempt_script_body = R"lua(
local f = ARGV[1] .. ':'
if redis.call('HEXISTS', KEYS[2], f .. 'kind') == 0 then
  return redis.error_reply('ERR no outbox call ' .. ARGV[1])
end
local delivered_before = redis.call('HEXISTS', KEYS[2], f .. 'delivered') == 1
redis.call('HSET', KEYS[2], f .. 'attempts', ARGV[2], f .. 'next', ARGV[4], f .. 'error', ARGV[5])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], f .. 'delivered', ARGV[3])
  redis.call('ZREM', KEYS[3], padded(ARGV[1]))
  if not delivered_before then redis.call('HINCRBY', KEYS[1], 'outbox_pending', -1) end
elseif not delivered_before and redis.call('HGET', KEYS[2], f .. 'url') ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[4], padded(ARGV[1]))
end
return 1
)lua";

const std::string& attempt_script() {
  static const std::string s = std::string(lua_padded) + attempt_script_body;
  return s;
}

constexpr std::array<std::string_view, 9> columns{
    "kind", "inc", "url", "body", "created", "attempts", "next", "delivered", "error"};

class redis_outbox_store final : public outbox_store {
 public:
  explicit redis_outbox_store(const redis_store_config& config)
      : keys_(config.store), pool_(config.endpoint, keys_.slot) {}

  std::error_code due(std::size_t max, std::vector<outbox_row>& out) override {
    if (max == 0) return {};
    return by_members(
        {"ZRANGE", keys_.outbox_due, "-inf", "+inf", "BYSCORE", "LIMIT", "0",
         std::to_string(std::min<std::size_t>(max, std::numeric_limits<std::int32_t>::max()))},
        out);
  }

  std::error_code record_attempt(const outbox_attempt& a) override {
    auto c = pool_.take();
    redis_reply r;
    redis_args args{"EVAL"};
    args.add(std::string_view(attempt_script()))
        .add("3")
        .add(std::string_view(keys_.meta))
        .add(std::string_view(keys_.outbox))
        .add(std::string_view(keys_.outbox_due))
        .add(a.id)
        .add(a.attempts)
        .add_owned(a.delivered_ms ? std::to_string(*a.delivered_ms) : std::string())
        .add(a.next_attempt_ms)
        .add(std::string_view(a.last_error));
    return c->query(args, r);
  }

  std::error_code by_incident(std::uint64_t incident_id, std::vector<outbox_row>& out) override {
    const std::string score = std::to_string(incident_id);
    return by_members({"ZRANGE", keys_.outbox_by_incident, score, score, "BYSCORE"}, out);
  }

  std::error_code rows(std::vector<outbox_row>& out) override {
    auto c = pool_.take();
    redis_reply r;
    if (auto ec = c->query({"HGET", keys_.meta, "outbox_id"}, r)) return ec;
    std::int64_t newest = 0;
    if (!reply_number(r, newest)) return redis_errc::unexpected_reply;
    std::vector<std::int64_t> ids;
    for (std::int64_t id = 1; id <= newest; ++id)
      ids.push_back(id);
    return read_rows(*c, ids, out);
  }

  std::error_code pending(std::size_t& count) override {
    auto c = pool_.take();
    redis_reply r;
    if (auto ec = c->query({"HGET", keys_.meta, "outbox_pending"}, r)) return ec;
    std::int64_t n = 0;
    if (!reply_number(r, n) || n < 0) return redis_errc::unexpected_reply;
    count = static_cast<std::size_t>(n);
    return {};
  }

 private:
  // The rows whose zero-padded ids the query returns, in the order it returns them.
  std::error_code by_members(const redis_args& query, std::vector<outbox_row>& out) {
    auto c = pool_.take();
    redis_reply r;
    if (auto ec = c->query(query, r)) return ec;
    if (r.type != redis_reply::kind::array) return redis_errc::unexpected_reply;
    std::vector<std::int64_t> ids;
    for (const auto& m : r.elements) {
      std::int64_t id = 0;
      if (!parse_number(m.str, id)) return redis_errc::unexpected_reply;
      ids.push_back(id);
    }
    return read_rows(*c, ids, out);
  }

  std::error_code read_rows(redis_connection& c, const std::vector<std::int64_t>& ids,
                            std::vector<outbox_row>& out) {
    constexpr std::size_t chunk = 256;
    for (std::size_t start = 0; start < ids.size(); start += chunk) {
      const std::size_t end = std::min(ids.size(), start + chunk);
      redis_args args{"HMGET", keys_.outbox};
      for (std::size_t i = start; i < end; ++i)
        for (auto col : columns)
          args.add_owned(std::to_string(ids[i]) + ":" + std::string(col));
      redis_reply r;
      if (auto ec = c.query(args, r)) return ec;
      if (r.type != redis_reply::kind::array || r.elements.size() != (end - start) * columns.size())
        return redis_errc::unexpected_reply;
      for (std::size_t i = start; i < end; ++i) {
        const auto* v = &r.elements[(i - start) * columns.size()];
        if (v[0].is_nil()) continue;  // an id the script never finished (cannot happen) or gone
        outbox_row row;
        row.id = ids[i];
        row.kind = v[0].str;
        row.url = v[2].str;
        row.body = v[3].str;
        row.last_error = v[8].str;
        if (!reply_number(v[1], row.incident_id) || !reply_number(v[4], row.created_ms) ||
            !reply_number(v[5], row.attempts) || !reply_number(v[6], row.next_attempt_ms))
          return redis_errc::unexpected_reply;
        if (!v[7].is_nil()) {
          std::int64_t d = 0;
          if (!reply_number(v[7], d)) return redis_errc::unexpected_reply;
          row.delivered_ms = d;
        }
        out.push_back(std::move(row));
      }
    }
    return {};
  }

  redis_keys keys_;
  redis_pool pool_;
};

}  // namespace

std::unique_ptr<outbox_store> open_redis_outbox(const redis_store_config& config,
                                                std::error_code& ec) {
  if (!valid_redis_store_name(config.store)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  const redis_keys keys(config.store);
  redis_connection c(config.endpoint, keys.slot);
  redis_reply r;
  if ((ec = c.query({"HGET", keys.meta, "layout"}, r))) return nullptr;
  if (r.is_nil()) {
    ec = std::make_error_code(std::errc::no_such_file_or_directory);
    return nullptr;
  }
  return std::make_unique<redis_outbox_store>(config);
}

}  // namespace rescue::storage
