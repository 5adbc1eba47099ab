#include "city.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rescue::sim {

namespace {

namespace v1 = rescue::v1;

// xoshiro256** seeded through splitmix64: small, fast and identical everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      s = z ^ (z >> 31);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  bool chance(double p) { return uniform() < p; }
  std::size_t below(std::size_t n) {
    return static_cast<std::size_t>(uniform() * static_cast<double>(n));
  }
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo + 1)));
  }

  // Box-Muller, clipped at 3 sigma so no elevator lands in the next city.
  double normal() {
    for (;;) {
      const double u1 = uniform();
      const double u2 = uniform();
      if (u1 <= 0.0) continue;
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
      if (std::abs(z) <= 3.0) return z;
    }
  }

  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_{};
};

struct district {
  std::string_view code;
  std::string_view name;
  double lat;
  double lon;
  double weight;  // share of the city's elevators, roughly by population and new building
  std::array<std::string_view, 6> streets;
};

// Centres from DESIGN.md; street names are real subdistricts of each district.
constexpr std::array<district, 9> districts{{
    {"500103",
     "渝中区",
     29.556,
     106.568,
     10,
     {"解放碑街道", "七星岗街道", "大溪沟街道", "上清寺街道", "两路口街道", "化龙桥街道"}},
    {"500105",
     "江北区",
     29.606,
     106.574,
     13,
     {"观音桥街道", "华新街街道", "五里店街道", "石马河街道", "大石坝街道", "寸滩街道"}},
    {"500108",
     "南岸区",
     29.523,
     106.644,
     12,
     {"南坪街道", "铜元局街道", "花园路街道", "弹子石街道", "海棠溪街道", "龙门浩街道"}},
    {"500106",
     "沙坪坝区",
     29.541,
     106.457,
     12,
     {"小龙坎街道", "沙坪坝街道", "渝碚路街道", "磁器口街道", "天星桥街道", "井口街道"}},
    {"500107",
     "九龙坡区",
     29.502,
     106.511,
     13,
     {"杨家坪街道", "谢家湾街道", "石坪桥街道", "黄桷坪街道", "石桥铺街道", "二郎街道"}},
    {"500104",
     "大渡口区",
     29.484,
     106.482,
     5,
     {"新山村街道", "跃进村街道", "九宫庙街道", "茄子溪街道", "春晖路街道", "八桥镇"}},
    {"500112",
     "渝北区",
     29.718,
     106.631,
     19,
     {"双龙湖街道", "回兴街道", "龙溪街道", "龙山街道", "人和街道", "礼嘉街道"}},
    {"500113",
     "巴南区",
     29.402,
     106.540,
     9,
     {"鱼洞街道", "龙洲湾街道", "李家沱街道", "花溪街道", "南泉街道", "一品街道"}},
    {"500109",
     "北碚区",
     29.805,
     106.397,
     7,
     {"北温泉街道", "天生街道", "朝阳街道", "龙凤桥街道", "歇马街道", "东阳街道"}},
}};
constexpr std::size_t banan = 7;
constexpr std::size_t beibei = 8;

// Rural elevators sit in the towns on the outskirts of Banan and Beibei.
constexpr std::array<std::string_view, 6> banan_towns{"木洞镇", "姜家镇",   "石滩镇",
                                                      "二圣镇", "东温泉镇", "丰盛镇"};
constexpr std::array<std::string_view, 6> beibei_towns{"静观镇",   "澄江镇", "柳荫镇",
                                                       "金刀峡镇", "三圣镇", "天府镇"};

constexpr std::array<std::string_view, 12> brands{"通力", "奥的斯",     "迅达", "三菱",
                                                  "日立", "蒂森克虏伯", "东芝", "富士达",
                                                  "康力", "快意",       "西奥", "江南嘉捷"};

constexpr std::array<std::string_view, 20> surnames{"王", "李", "张", "刘", "陈", "杨", "黄",
                                                    "赵", "吴", "周", "徐", "孙", "马", "朱",
                                                    "胡", "郭", "何", "林", "罗", "谭"};
constexpr std::array<std::string_view, 20> given_names{"伟", "芳",   "娜", "敏", "静", "强",  "磊",
                                                       "军", "洋",   "勇", "艳", "杰", "涛",  "明",
                                                       "超", "秀英", "丽", "刚", "平", "建华"};

constexpr std::array<std::string_view, 12> company_words{
    "恒通", "嘉陵", "山城", "长江", "两江", "渝安", "华宇", "金诚", "鼎盛", "巴渝", "安达", "融创"};

struct place_weight {
  v1::PlaceType type;
  double weight;
};
constexpr std::array<place_weight, 10> place_weights{{{v1::PLACE_RESIDENTIAL, 70},
                                                      {v1::PLACE_OFFICE, 8},
                                                      {v1::PLACE_MALL, 5},
                                                      {v1::PLACE_HOSPITAL, 3},
                                                      {v1::PLACE_SCHOOL, 3},
                                                      {v1::PLACE_HOTEL, 3},
                                                      {v1::PLACE_PUBLIC, 3},
                                                      {v1::PLACE_METRO, 2},
                                                      {v1::PLACE_INDUSTRIAL, 2},
                                                      {v1::PLACE_OTHER, 1}}};

// A fixed "now" keeps the output a pure function of the options.
constexpr std::int64_t positions_at_ms = 1'700'000'000'000;

constexpr double km_per_degree = 111.32;

std::string padded(std::uint64_t value, int width) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  const auto digits = static_cast<int>(end - buf);
  std::string out(static_cast<std::size_t>(width > digits ? width - digits : 0), '0');
  out.append(buf, end);
  return out;
}

std::string person_name(rng& r) {
  std::string name(r.pick(surnames));
  name += r.pick(given_names);
  return name;
}

std::string mobile(rng& r) {
  static constexpr std::array<std::string_view, 6> prefixes{"138", "139", "135",
                                                            "186", "177", "152"};
  return std::string(r.pick(prefixes)) + padded(r.next() % 100'000'000, 8);
}

// A point about sigma_km from (lat, lon) in a normal scatter.
v1::GeoPoint scatter(rng& r, double lat, double lon, double sigma_km) {
  v1::GeoPoint p;
  const double dlat = r.normal() * sigma_km / km_per_degree;
  const double dlon =
      r.normal() * sigma_km / (km_per_degree * std::cos(lat * std::numbers::pi / 180.0));
  // Six decimals is about 10 cm: what a survey gives, and it keeps the CSVs short.
  p.set_lat(std::round((lat + dlat) * 1e6) / 1e6);
  p.set_lon(std::round((lon + dlon) * 1e6) / 1e6);
  return p;
}

// A point on a ring between min_km and max_km from (lat, lon).
v1::GeoPoint ring(rng& r, double lat, double lon, double min_km, double max_km) {
  const double d = min_km + r.uniform() * (max_km - min_km);
  const double bearing = r.uniform() * 2.0 * std::numbers::pi;
  v1::GeoPoint p;
  p.set_lat(std::round((lat + d * std::cos(bearing) / km_per_degree) * 1e6) / 1e6);
  p.set_lon(std::round((lon + d * std::sin(bearing) /
                                  (km_per_degree * std::cos(lat * std::numbers::pi / 180.0))) *
                       1e6) /
            1e6);
  return p;
}

// Spreads n items over the districts by weight, deterministically and as evenly as possible.
std::vector<std::size_t> spread_over_districts(std::size_t n) {
  double total = 0;
  for (const district& d : districts)
    total += d.weight;
  std::vector<std::size_t> out;
  out.reserve(n);
  std::array<double, districts.size()> credit{};
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t best = 0;
    for (std::size_t d = 0; d < districts.size(); ++d) {
      credit[d] += districts[d].weight / total;
      if (credit[d] > credit[best]) best = d;
    }
    credit[best] -= 1.0;
    out.push_back(best);
  }
  return out;
}

std::size_t weighted_district(rng& r) {
  double total = 0;
  for (const district& d : districts)
    total += d.weight;
  double x = r.uniform() * total;
  for (std::size_t i = 0; i < districts.size(); ++i) {
    x -= districts[i].weight;
    if (x < 0) return i;
  }
  return districts.size() - 1;
}

v1::PlaceType weighted_place(rng& r) {
  double total = 0;
  for (const auto& p : place_weights)
    total += p.weight;
  double x = r.uniform() * total;
  for (const auto& p : place_weights) {
    x -= p.weight;
    if (x < 0) return p.type;
  }
  return v1::PLACE_OTHER;
}

// Rescue codes are a bijection of the elevator index onto 10000..999999, so they are unique
// without a lookup table yet look scattered. The multiplier must be coprime with 990000.
std::uint64_t rescue_code_multiplier(rng& r) {
  for (;;) {
    const std::uint64_t a = 100'003 + r.next() % 800'000;
    if (a % 2 != 0 && a % 3 != 0 && a % 5 != 0 && a % 11 != 0) return a;
  }
}

void must(const std::optional<std::string>& refused, std::string_view what) {
  // The generator builds only valid records; a refusal is a bug here, not bad input.
  if (refused) throw std::logic_error("generated " + std::string(what) + " refused: " + *refused);
}

}  // namespace

rescue::storage::registry generate_city(const city_options& o) {
  if (o.elevators > max_city_elevators) throw std::invalid_argument("too many elevators");
  if (o.units == 0) throw std::invalid_argument("a city needs at least one maintenance unit");

  rng r(o.seed);
  rescue::storage::registry reg;

  // Maintenance units and rescue stations, with bases spread over the districts.
  std::array<std::vector<std::string>, districts.size()> units_in;
  std::vector<std::string> all_units;
  const auto unit_districts = spread_over_districts(o.units);
  for (std::size_t i = 0; i < o.units; ++i) {
    const district& d = districts[unit_districts[i]];
    v1::MaintenanceUnit u;
    u.set_id("MU" + padded(i + 1, 3));
    u.set_kind(v1::ORG_MAINTENANCE_UNIT);
    u.set_name("重庆" + std::string(r.pick(company_words)) + "电梯工程有限公司" +
               std::string(d.name) + "分公司");
    u.set_licence("TS3150" + padded(100 + i, 3) + "-2027");
    u.set_contact_name(person_name(r));
    u.set_contact_phone(mobile(r));
    u.set_level2_participant(r.chance(0.4));
    *u.mutable_base() = scatter(r, d.lat, d.lon, 1.5);
    units_in[unit_districts[i]].push_back(u.id());
    all_units.push_back(u.id());
    must(reg.add_unit(std::move(u)), "maintenance unit");
  }
  const auto station_districts = spread_over_districts(o.stations);
  for (std::size_t i = 0; i < o.stations; ++i) {
    const district& d = districts[station_districts[i]];
    v1::MaintenanceUnit s;
    s.set_id("RS" + padded(i + 1, 2));
    s.set_kind(v1::ORG_RESCUE_STATION);
    s.set_name(std::string(d.name) + std::string(r.pick(d.streets)) + "网格救援站");
    s.set_licence("TS3150" + padded(700 + i, 3) + "-2027");
    s.set_contact_name(person_name(r));
    s.set_contact_phone("023-6" + padded(r.next() % 10'000'000, 7));
    s.set_level2_participant(true);
    *s.mutable_base() = scatter(r, d.lat, d.lon, 1.0);
    must(reg.add_unit(std::move(s)), "rescue station");
  }

  // Building operators: roughly one per ten elevators, each local to one district.
  std::array<std::vector<std::string>, districts.size()> operators_in;
  const std::size_t operator_count = std::max<std::size_t>(1, o.elevators / 10);
  const auto operator_districts = spread_over_districts(operator_count);
  for (std::size_t i = 0; i < operator_count; ++i) {
    const district& d = districts[operator_districts[i]];
    v1::BuildingOperator op;
    op.set_id("BO" + padded(i + 1, 5));
    op.set_name("重庆" + std::string(d.name.substr(0, d.name.size() - 3)) +
                std::string(r.pick(company_words)) + "物业管理有限公司");
    op.set_contact_name(person_name(r));
    op.set_contact_phone(r.chance(0.5) ? mobile(r) : "023-6" + padded(r.next() % 10'000'000, 7));
    operators_in[operator_districts[i]].push_back(op.id());
    must(reg.add_building_operator(std::move(op)), "building operator");
  }

  // Elevators.
  const std::uint64_t code_a = rescue_code_multiplier(r);
  const std::uint64_t code_b = r.next() % 990'000;
  for (std::size_t i = 0; i < o.elevators; ++i) {
    v1::Elevator e;
    e.set_id("E" + padded(i + 1, 6));
    const bool rural = r.chance(0.05);
    std::size_t di = rural ? (r.chance(0.5) ? banan : beibei) : weighted_district(r);
    const district& d = districts[di];
    e.set_district_code(std::string(d.code));
    e.set_area(rural ? v1::AREA_RURAL : v1::AREA_URBAN);
    *e.mutable_location() =
        rural ? ring(r, d.lat, d.lon, 8.0, 18.0) : scatter(r, d.lat, d.lon, di == 0 ? 1.2 : 2.5);
    const std::string_view street =
        rural ? (di == banan ? r.pick(banan_towns) : r.pick(beibei_towns)) : r.pick(d.streets);
    std::string address = "重庆市" + std::string(d.name) + std::string(street) + " " +
                          std::to_string(r.between(1, 300)) + "号 " +
                          std::to_string(r.between(1, 24)) + "栋";
    if (r.chance(0.3)) address += " " + std::to_string(r.between(1, 4)) + "单元";
    e.set_address(std::move(address));

    // About 2% are old elevators registered before the 20-digit code existed.
    const bool old = r.chance(0.02);
    // Most of the city's elevators are recent: the product of two uniforms leans towards 0.
    const int year =
        old ? r.between(1990, 2004) : 2023 - static_cast<int>(r.uniform() * r.uniform() * 28);
    e.set_install_year(static_cast<std::uint32_t>(year));
    if (old) {
      e.set_certificate_no("梯11渝A" + padded(i + 1, 6) + "(" + padded(year % 100, 2) + ")");
    } else {
      e.set_registration_code("3110" + std::string(d.code) +
                              padded(static_cast<unsigned>(year), 4) + padded(i + 1, 6));
    }
    e.set_rescue_code(std::to_string(10'000 + (code_a * i + code_b) % 990'000));
    e.set_place_type(weighted_place(r));
    e.set_brand(std::string(r.pick(brands)));

    // About 1% have no maintenance unit; those usually have no property manager either.
    if (r.chance(0.01)) {
      if (r.chance(0.3) && !operators_in[di].empty())
        e.set_building_operator_id(operators_in[di][r.below(operators_in[di].size())]);
    } else {
      const auto& local = units_in[di];
      e.set_maintenance_unit_id(!local.empty() && r.chance(0.7)
                                    ? local[r.below(local.size())]
                                    : all_units[r.below(all_units.size())]);
      const auto& ops = operators_in[di];
      e.set_building_operator_id(ops.empty() ? "BO00001" : ops[r.below(ops.size())]);
    }
    must(reg.add_elevator(std::move(e)), "elevator");
  }

  // Crews around their unit's base, then terminals: later draws do not shift earlier records.
  const std::size_t organisations = reg.units().size();
  for (std::size_t ui = 0; ui < organisations; ++ui) {
    const v1::MaintenanceUnit& u = reg.units()[ui];
    const std::string unit_id = u.id();
    const v1::GeoPoint base = u.base();
    for (std::size_t k = 0; k < o.crews_per_unit; ++k) {
      v1::CrewMember c;
      c.set_id(unit_id + "-C" + padded(k + 1, 2));
      c.set_unit_id(unit_id);
      c.set_name(person_name(r));
      if (!r.chance(0.02)) c.set_certificate("渝T" + padded(r.next() % 100'000'000, 8));
      c.set_phone(mobile(r));
      c.set_on_duty(r.chance(0.85));
      *c.mutable_position() = scatter(r, base.lat(), base.lon(), 2.0);
      c.set_position_at_ms(positions_at_ms - static_cast<std::int64_t>(r.below(600)) * 1000);
      must(reg.add_crew(std::move(c)), "crew");
    }
  }

  for (std::size_t i = 0; i < o.elevators; ++i) {
    if (!r.chance(o.terminal_share)) continue;
    v1::Terminal t;
    t.set_id("TM" + padded(i + 1, 6));
    t.set_elevator_id(reg.elevators()[i].id());
    std::string secret(16, '\0');
    for (std::size_t b = 0; b < secret.size(); b += 8) {
      const std::uint64_t word = r.next();
      for (std::size_t j = 0; j < 8; ++j)
        secret[b + j] = static_cast<char>(word >> (8 * j));
    }
    t.set_secret(std::move(secret));
    must(reg.add_terminal(std::move(t)), "terminal");
  }
  return reg;
}

}  // namespace rescue::sim
