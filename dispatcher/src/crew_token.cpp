#include "rescue/dispatcher/crew_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace rescue::dispatcher {

std::string crew_token(std::string_view secret, std::string_view crew_id) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(crew_id.data()), crew_id.size(), mac, &length);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(digits[mac[i] >> 4]);
    hex.push_back(digits[mac[i] & 0x0f]);
  }
  return hex;
}

bool crew_token_valid(std::string_view secret, std::string_view crew_id, std::string_view token) {
  if (secret.empty() || crew_id.empty()) return false;
  const std::string expected = crew_token(secret, crew_id);
  return token.size() == expected.size() &&
         CRYPTO_memcmp(token.data(), expected.data(), expected.size()) == 0;
}

}  // namespace rescue::dispatcher
