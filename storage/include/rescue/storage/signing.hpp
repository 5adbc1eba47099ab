// Ed25519 keys for signing journal checkpoints (OpenSSL), stored as PEM files.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace rescue::storage {

class signing_key {
 public:
  // Reads the PKCS#8 PEM private key at `path`; when the file does not exist, generates a new
  // Ed25519 key and writes it there with mode 0600 (created exclusively, so two processes never
  // both write one). Returns null and sets `ec` when the file is unreadable or not an Ed25519 key.
  static std::unique_ptr<signing_key> load_or_create(const std::filesystem::path& path,
                                                     std::error_code& ec);
  // Like load_or_create, but a missing file is an error.
  static std::unique_ptr<signing_key> load(const std::filesystem::path& path, std::error_code& ec);
  // A key that lives only in memory (tests, forgery experiments).
  static std::unique_ptr<signing_key> generate();

  ~signing_key();
  signing_key(const signing_key&) = delete;
  signing_key& operator=(const signing_key&) = delete;

  // 64-byte Ed25519 signature.
  std::string sign(std::string_view message) const;
  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----...").
  const std::string& public_pem() const { return public_pem_; }

 private:
  struct impl;
  explicit signing_key(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  std::string public_pem_;
};

// True when `signature` is a valid Ed25519 signature of `message` by the PEM public key.
bool verify_signature(std::string_view public_pem, std::string_view message,
                      std::string_view signature);

// The raw 32-byte Ed25519 public key in a PEM (public or private), or empty when it is not one.
// Comparing raw keys ignores PEM whitespace and line-length differences.
std::string raw_public_key(std::string_view pem);

}  // namespace rescue::storage
