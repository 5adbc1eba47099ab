#include "rescue/storage/redis_inbox.hpp"

#include "redis_common.hpp"

namespace rescue::storage {

namespace {

bool parse_id(std::string_view id, std::uint64_t& ms, std::uint64_t& n) {
  const auto dash = id.find('-');
  if (dash == std::string_view::npos) return false;
  return redis_detail::parse_number(id.substr(0, dash), ms) &&
         redis_detail::parse_number(id.substr(dash + 1), n);
}

}  // namespace

std::string redis_inbox_key(std::string_view store) {
  return "rescue:{" + std::string(store) + "}:inbox";
}

std::string redis_reply_key(std::string_view city, std::string_view instance) {
  return "rescue:{" + std::string(city) + ".replies." + std::string(instance) + "}:stream";
}

bool redis_stream_id_less(std::string_view a, std::string_view b) {
  std::uint64_t am = 0, an = 0, bm = 0, bn = 0;
  const bool a_ok = parse_id(a, am, an);
  const bool b_ok = parse_id(b, bm, bn);
  if (!a_ok || !b_ok) return !a_ok && b_ok;
  return am != bm ? am < bm : an < bn;
}

redis_stream::redis_stream(redis_endpoint endpoint, std::string key, durability d,
                           std::size_t max_len)
    : key_(std::move(key)),
      durability_(d),
      max_len_(max_len),
      conn_(std::move(endpoint), redis_key_slot(key_)) {}

std::error_code redis_stream::append(std::string_view payload, bool durable, std::string& id) {
  std::vector<redis_args> commands;
  redis_args add{"XADD", key_};
  if (max_len_ > 0) add.add("MAXLEN").add("~").add(static_cast<std::uint64_t>(max_len_));
  add.add("*").add("e").add(payload);
  commands.push_back(std::move(add));
  int want = durable ? durability_.wait_replicas : 0;
  if (want > 0) {
    redis_args wait{"WAIT"};
    wait.add(want).add(static_cast<std::int64_t>(durability_.wait_timeout.count()));
    commands.push_back(std::move(wait));
  }
  std::vector<redis_reply> replies;
  // Not retried on a new connection: an XADD that may have run must not run twice unseen.
  redis_reply single;
  if (commands.size() == 1) {
    if (auto ec = conn_.command(commands.front(), single)) return ec;
    replies.push_back(std::move(single));
  } else if (auto ec = conn_.pipeline(commands, replies)) {
    return ec;
  }
  const auto& added = replies.front();
  if (added.is_error()) return redis_errc::error_reply;
  if (added.type != redis_reply::kind::string) return redis_errc::unexpected_reply;
  id = added.str;
  if (want > 0) {
    const auto& w = replies.back();
    if (w.is_error()) return redis_errc::error_reply;
    if (w.type != redis_reply::kind::integer) return redis_errc::unexpected_reply;
    if (w.integer < want) {
      // Short because the master has fewer replicas than that at all: those it has will do.
      if (!durability_.continue_without_replicas) return redis_errc::connection_lost;
      const int online = replicas_online();
      if (online >= want) return redis_errc::connection_lost;  // they are there, and did not say
      if (online > 0) {
        redis_reply again;
        redis_args wait{"WAIT"};
        wait.add(online).add(static_cast<std::int64_t>(durability_.wait_timeout.count()));
        if (auto ec = conn_.command(wait, again)) return ec;
        if (again.type != redis_reply::kind::integer || again.integer < online)
          return redis_errc::connection_lost;
      }
    }
  }
  return {};
}

int redis_stream::replicas_online() {
  redis_reply r;
  if (conn_.query({"INFO", "replication"}, r) ||
      (r.type != redis_reply::kind::string && r.type != redis_reply::kind::status))
    return durability_.wait_replicas;
  return redis_detail::online_replicas(r.str);
}

std::error_code redis_stream::read_after(std::string_view after, std::size_t max,
                                         std::chrono::milliseconds block,
                                         std::vector<redis_stream_entry>& out) {
  out.clear();
  redis_args args{"XREAD", "COUNT"};
  args.add(static_cast<std::uint64_t>(max));
  if (block.count() > 0) args.add("BLOCK").add(static_cast<std::int64_t>(block.count()));
  args.add("STREAMS").add(key_).add(after.empty() ? std::string_view("0-0") : after);
  redis_reply r;
  if (auto ec = conn_.query(args, r)) return ec;
  if (r.is_nil()) return {};  // nothing within `block`
  // [[key, [[id, [field, value...]]...]]]
  if (r.type != redis_reply::kind::array || r.elements.size() != 1 ||
      r.elements[0].elements.size() != 2)
    return redis_errc::unexpected_reply;
  for (const auto& entry : r.elements[0].elements[1].elements) {
    if (entry.elements.size() != 2) return redis_errc::unexpected_reply;
    redis_stream_entry e;
    e.id = entry.elements[0].str;
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
      if (fields[i].str == "e") e.payload = fields[i + 1].str;
    out.push_back(std::move(e));
  }
  return {};
}

std::error_code redis_stream::trim_through(std::string_view upto) {
  std::uint64_t ms = 0, n = 0;
  if (!parse_id(upto, ms, n)) return redis_errc::unexpected_reply;
  // MINID keeps ids >= the one given: the entry after `upto`.
  redis_args args{"XTRIM", key_, "MINID"};
  args.add_owned(std::to_string(ms) + "-" + std::to_string(n + 1));
  redis_reply r;
  return conn_.query(args, r);
}

}  // namespace rescue::storage
