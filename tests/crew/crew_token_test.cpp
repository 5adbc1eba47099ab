#include <catch2/catch.hpp>

#include "rescue/dispatcher/crew_token.hpp"

using rescue::dispatcher::crew_token;
using rescue::dispatcher::crew_token_valid;

TEST_CASE("a crew token is the lowercase hex HMAC-SHA256 of the crew id", "[crew][unit]") {
  // echo -n c1 | openssl dgst -sha256 -hmac secret
  CHECK(crew_token("secret", "c1") ==
        "4d8f8eb560906bfedd2951eca48d35962c05bb79ee4d6026625da3a3d9f07493");
  CHECK(crew_token("secret", "c1") == crew_token("secret", "c1"));
  CHECK(crew_token("secret", "c1") != crew_token("secret", "c2"));
  CHECK(crew_token("other", "c1") != crew_token("secret", "c1"));
}

TEST_CASE("only the crew's own token under the server's secret is accepted", "[crew][unit]") {
  const std::string good = crew_token("secret", "c1");
  CHECK(crew_token_valid("secret", "c1", good));
  // Another crew's token, a different secret, one changed digit, upper case, truncated, empty.
  CHECK_FALSE(crew_token_valid("secret", "c2", good));
  CHECK_FALSE(crew_token_valid("other", "c1", good));
  std::string altered = good;
  altered[10] = altered[10] == '0' ? '1' : '0';
  CHECK_FALSE(crew_token_valid("secret", "c1", altered));
  std::string upper = good;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_FALSE(crew_token_valid("secret", "c1", upper));
  CHECK_FALSE(crew_token_valid("secret", "c1", good.substr(0, 32)));
  CHECK_FALSE(crew_token_valid("secret", "c1", ""));
  // A server without a secret trusts nobody, not even the token derived from the empty key.
  CHECK_FALSE(crew_token_valid("", "c1", crew_token("", "c1")));
}
