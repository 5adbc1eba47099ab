// Crew positions over Redis: one hash field per crew, the newest stamp winning inside a script.
#include <cstdio>
#include <mutex>

#include "redis_common.hpp"
#include "rescue/storage/redis_store.hpp"

namespace rescue::storage {

namespace {

using namespace redis_detail;

// KEYS: positions. ARGV: crew lat lon at, repeated. A stored stamp as new or newer stays.
constexpr const char* save_script = R"lua(
for i = 1, #ARGV, 4 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local keep = false
  if old then
    local old_at = tonumber(string.match(old, '(%S+)$'))
    keep = old_at and old_at >= tonumber(ARGV[i + 3])
  end
  if not keep then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ' ' .. ARGV[i + 2] .. ' ' .. ARGV[i + 3])
  end
end
return 1
)lua";

std::string coordinate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class redis_crew_position_store final : public crew_position_store {
 public:
  explicit redis_crew_position_store(const redis_store_config& config)
      : key_(redis_keys(config.store).positions),
        c_(config.endpoint, redis_keys(config.store).slot) {}

  std::error_code save(const std::vector<crew_position>& batch) override {
    if (batch.empty()) return {};
    redis_args args{"EVAL", save_script, "1", key_};
    for (const auto& p : batch)
      args.add(std::string_view(p.crew_id))
          .add_owned(coordinate(p.lat))
          .add_owned(coordinate(p.lon))
          .add(p.at_ms);
    std::lock_guard lock(mu_);
    redis_reply r;
    return c_.query(args, r);
  }

  std::error_code load_all(std::vector<crew_position>& out) override {
    std::lock_guard lock(mu_);
    redis_reply r;
    if (auto ec = c_.query({"HGETALL", key_}, r)) return ec;
    if (r.type != redis_reply::kind::array) return redis_errc::unexpected_reply;
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      crew_position p;
      p.crew_id = r.elements[i].str;
      long long at = 0;
      if (std::sscanf(r.elements[i + 1].str.c_str(), "%lf %lf %lld", &p.lat, &p.lon, &at) != 3)
        return redis_errc::unexpected_reply;
      p.at_ms = at;
      out.push_back(std::move(p));
    }
    return {};
  }

 private:
  std::string key_;
  std::mutex mu_;
  redis_connection c_;
};

}  // namespace

std::unique_ptr<crew_position_store> open_redis_positions(const redis_store_config& config,
                                                          std::error_code& ec) {
  if (!valid_redis_store_name(config.store)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  redis_connection c(config.endpoint, redis_keys(config.store).slot);
  if ((ec = c.connect())) return nullptr;
  return std::make_unique<redis_crew_position_store>(config);
}

}  // namespace rescue::storage
