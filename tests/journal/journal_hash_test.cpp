// The canonical record hash (journal_hash.hpp), the same for every backend.
#include <catch2/catch.hpp>

#include "rescue/storage/journal_hash.hpp"

using namespace rescue::storage;

TEST_CASE("the record hash covers every field", "[unit]") {
  record_hasher h;
  const std::string prev = genesis_hash();
  const auto base = h.hash(1, 2, 3, "note", "payload", prev);
  CHECK(base.size() == 32);
  CHECK(h.hash(1, 2, 3, "note", "payload", prev) == base);
  CHECK(h.hash(9, 2, 3, "note", "payload", prev) != base);
  CHECK(h.hash(1, 9, 3, "note", "payload", prev) != base);
  CHECK(h.hash(1, 2, 9, "note", "payload", prev) != base);
  CHECK(h.hash(1, 2, 3, "closed", "payload", prev) != base);
  CHECK(h.hash(1, 2, 3, "note", "payloaD", prev) != base);
  CHECK(h.hash(1, 2, 3, "note", "payload", std::string(32, '\1')) != base);
  // Length prefixes keep field boundaries: moving a byte between fields changes the hash.
  CHECK(h.hash(1, 2, 3, "notep", "ayload", prev) != base);
}
