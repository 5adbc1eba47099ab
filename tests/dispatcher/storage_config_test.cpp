// The [storage] table's crew positions key: where the file goes, and how to keep none.
#include <catch2/catch.hpp>

#include <filesystem>

#include "rescue/dispatcher/server_config.hpp"

namespace {

using rescue::dispatcher::parse_server_config;

TEST_CASE("storage.positions_path is read beside the config file and may be left empty",
          "[unit][positions]") {
  const std::filesystem::path base = "/etc/rescue";
  CHECK(parse_server_config("", "empty.toml", base).positions_path == base / "var/positions.db");
  CHECK(parse_server_config("[storage]\npositions_path = \"/srv/pos.db\"\n", "s.toml", base)
            .positions_path == "/srv/pos.db");
  CHECK(parse_server_config("[storage]\npositions_path = \"p/pos.db\"\n", "s.toml", base)
            .positions_path == base / "p/pos.db");
  // Empty: no positions are kept; the path must stay empty, not become the config's folder.
  CHECK(parse_server_config("[storage]\npositions_path = \"\"\n", "s.toml", base)
            .positions_path.empty());
  CHECK_THROWS_WITH(parse_server_config("[storage]\nposition_path = \"x\"\n", "s.toml", base),
                    Catch::Contains("storage.position_path: unknown key"));
}

}  // namespace

namespace {

constexpr const char* sharded = R"(
[storage]
backend = "redis"
redis_store = "cq"
redis_shard = "west"
[[storage.shards]]
name = "central"
number = 1
districts = ["500103", "500105"]
[[storage.shards]]
name = "west"
number = 2
districts = ["*"]
)";

TEST_CASE("[[storage.shards]] lists a sharded city's shards, and redis_shard picks this one",
          "[unit][shards]") {
  const auto c = parse_server_config(sharded, "s.toml", "/etc/rescue");
  REQUIRE(c.shards.size() == 2);
  CHECK(c.shards[0].name == "central");
  CHECK(c.shards[0].number == 1);
  CHECK(c.shards[0].districts == std::vector<std::string>{"500103", "500105"});
  CHECK(c.shards[1].districts == std::vector<std::string>{"*"});
  CHECK(c.redis_shard == "west");
  CHECK(parse_server_config("", "empty.toml", "/etc").shards.empty());
}

TEST_CASE("a shard list that cannot be served is refused at start-up with the key at fault",
          "[unit][shards]") {
  using Catch::Contains;
  const std::string text(sharded);
  const auto with = [&text](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return parse_server_config(t, "s.toml", "/etc/rescue");
  };
  CHECK_THROWS_WITH(with("backend = \"redis\"", "backend = \"sqlite\""),
                    Contains("storage.shards: shards need backend = \"redis\""));
  CHECK_THROWS_WITH(with("redis_shard = \"west\"", "redis_shard = \"east\""),
                    Contains("storage.redis_shard: name the shard this instance decides"));
  CHECK_THROWS_WITH(with("number = 2", "number = 1000"), Contains("storage.shards[1].number"));
  CHECK_THROWS_WITH(with("name = \"west\"", "name = \"we st\""),
                    Contains("storage.shards[1].name"));
  CHECK_THROWS_WITH(with("districts = [\"*\"]", "districts = []"),
                    Contains("storage.shards[1].districts"));
  CHECK_THROWS_WITH(with("districts = [\"*\"]", "districts = [\"*\"]\nowner = \"x\""),
                    Contains("storage.shards[1].owner: unknown key"));
  CHECK_THROWS_WITH(parse_server_config("[storage]\nredis_shard = \"a\"\n", "s.toml", "/etc"),
                    Contains("no [[storage.shards]]"));
}

}  // namespace
