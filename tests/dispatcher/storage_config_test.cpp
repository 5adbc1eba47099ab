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
