#include "rescue/core/shard_map.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace rescue::core {

namespace {

std::string_view district_of_elevator(const rescue::v1::Elevator* e) {
  return e ? std::string_view(e->district_code()) : std::string_view{};
}

}  // namespace

shard_map::shard_map(std::vector<shard_spec> shards, const storage::registry& registry)
    : shards_(std::move(shards)), registry_(&registry) {
  std::ranges::sort(shards_, {}, &shard_spec::number);
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const auto& s = shards_[i];
    if (s.number < 1 || s.number > max_shard_number)
      throw std::invalid_argument("shard \"" + s.name + "\": number " + std::to_string(s.number) +
                                  " is not 1 to " + std::to_string(max_shard_number));
    if (i > 0 && shards_[i - 1].number == s.number)
      throw std::invalid_argument("shards \"" + shards_[i - 1].name + "\" and \"" + s.name +
                                  "\" have the same number " + std::to_string(s.number));
    if (!names.insert(s.name).second)
      throw std::invalid_argument("shard \"" + s.name + "\" is listed twice");
    if (s.districts.empty())
      throw std::invalid_argument("shard \"" + s.name + "\" has no districts");
    for (const auto& d : s.districts) {
      if (d == "*") {
        if (fallback_ != npos)
          throw std::invalid_argument("shards \"" + shards_[fallback_].name + "\" and \"" + s.name +
                                      "\" both take the other districts (\"*\")");
        fallback_ = i;
        continue;
      }
      if (!storage::is_district_code(d))
        throw std::invalid_argument("shard \"" + s.name + "\": \"" + d +
                                    "\" is not a 6-digit district code");
      if (const auto [it, fresh] = by_district_.emplace(d, i); !fresh)
        throw std::invalid_argument("district " + d + " is in shards \"" +
                                    shards_[it->second].name + "\" and \"" + s.name + "\"");
    }
  }
  if (shards_.empty()) return;

  // Every elevator's district has an owner, and each unit a home for its crews' shift changes.
  std::set<std::string> orphans;
  std::unordered_map<std::string, std::map<std::size_t, std::size_t>> elevators_of_unit;
  for (const auto& e : registry.elevators()) {
    const auto i = index_of_district(e.district_code());
    if (i == npos) {
      orphans.insert(e.district_code());
      continue;
    }
    if (!e.maintenance_unit_id().empty()) ++elevators_of_unit[e.maintenance_unit_id()][i];
  }
  if (!orphans.empty()) {
    std::string list;
    for (const auto& d : orphans)
      list += (list.empty() ? "" : ", ") + d;
    throw std::invalid_argument("no shard takes the elevators of district(s) " + list +
                                " (list them, or give one shard \"*\")");
  }
  for (const auto& [unit, counts] : elevators_of_unit) {
    // std::map: the lowest shard index, that is the lowest number, wins a tie.
    std::size_t best = counts.begin()->first;
    for (const auto& [i, n] : counts)
      if (n > counts.at(best)) best = i;
    home_of_unit_.emplace(unit, best);
  }
}

std::size_t shard_map::index_of_district(std::string_view code) const {
  if (const auto it = by_district_.find(std::string(code)); it != by_district_.end())
    return it->second;
  return fallback_;
}

const shard_spec* shard_map::by_name(std::string_view name) const {
  for (const auto& s : shards_)
    if (s.name == name) return &s;
  return nullptr;
}

const shard_spec* shard_map::of_district(std::string_view district_code) const {
  const auto i = index_of_district(district_code);
  return i == npos ? nullptr : &shards_[i];
}

const shard_spec* shard_map::of_incident(incident_id id) const {
  const auto number = id / ids_per_shard;
  for (const auto& s : shards_)
    if (s.number == number) return &s;
  return nullptr;
}

const shard_spec* shard_map::home_of_crew(std::string_view crew_id) const {
  if (shards_.empty() || !registry_) return nullptr;
  const auto* crew = registry_->crew(crew_id);
  if (!crew) return nullptr;
  if (const auto it = home_of_unit_.find(crew->unit_id()); it != home_of_unit_.end())
    return &shards_[it->second];
  return &shards_.front();
}

const shard_spec* shard_map::route(const command& c) const {
  if (shards_.empty()) return nullptr;
  const storage::registry& registry = *registry_;
  return std::visit(
      [&](const auto& x) -> const shard_spec* {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, cmd::terminal_event>) {
          const auto d = district_of_elevator(registry.elevator_by_terminal(x.terminal_id));
          return d.empty() ? nullptr : of_district(d);
        } else if constexpr (std::is_same_v<T, cmd::call_alarm>) {
          const auto* e = !x.rescue_code.empty()
                              ? registry.elevator_by_rescue_code(x.rescue_code)
                              : registry.elevator_by_registration_code(x.registration_code);
          const auto d = district_of_elevator(e);
          return d.empty() ? nullptr : of_district(d);
        } else if constexpr (std::is_same_v<T, cmd::terminal_link>) {
          const auto d = district_of_elevator(registry.elevator_by_terminal(x.terminal_id));
          return d.empty() ? nullptr : of_district(d);
        } else if constexpr (std::is_same_v<T, cmd::terminal_links_lost>) {
          return nullptr;  // each owner records its own shard's
        } else if constexpr (std::is_same_v<T, cmd::set_duty>) {
          return home_of_crew(x.crew_id);
        } else {
          return of_incident(x.incident);
        }
      },
      c);
}

}  // namespace rescue::core
