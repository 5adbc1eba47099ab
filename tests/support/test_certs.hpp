// Certificates made by the tests themselves (OpenSSL's C API, P-256 keys, valid for a day): a CA,
// a server certificate for 127.0.0.1 and localhost, a client certificate, and a second unrelated
// CA with its own server and client certificates, as PEM files in a folder.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace rescue::testing {

struct test_pki {
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert;  // CN=rescue-test-server, SAN IP:127.0.0.1, DNS:localhost
  std::filesystem::path server_key;
  std::filesystem::path client_cert;  // CN=T1, signed by ca_cert
  std::filesystem::path client_key;
  // Another CA that trusts none of the above, and certificates it signed: what must be refused.
  std::filesystem::path other_ca_cert;
  std::filesystem::path other_server_cert;
  std::filesystem::path other_server_key;
  std::filesystem::path other_client_cert;
  std::filesystem::path other_client_key;
};

namespace detail {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
}

inline pkey_ptr make_key() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EC key generation");
  return key;
}

inline void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "extension");
  check(X509_add_ext(cert, ext, -1) == 1, "add extension");
  X509_EXTENSION_free(ext);
}

// `issuer` null: self-signed with `key`.
inline x509_ptr make_cert(const char* common_name, EVP_PKEY* key, X509* issuer,
                          EVP_PKEY* issuer_key, bool is_ca, const char* san, long serial) {
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86'400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rescue tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_basic_constraints,
                is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), signer, NID_key_usage,
                is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!is_ca) add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  if (san) add_extension(cert.get(), signer, NID_subject_alt_name, san);
  check(X509_sign(cert.get(), issuer ? issuer_key : key, EVP_sha256()) > 0, "sign");
  return cert;
}

inline void write_pem(const std::filesystem::path& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "wb");
  check(f != nullptr, "open certificate file");
  const bool ok = PEM_write_X509(f, cert) == 1;
  std::fclose(f);
  check(ok, "write certificate");
}

inline void write_pem(const std::filesystem::path& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "wb");
  check(f != nullptr, "open key file");
  const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  check(ok, "write key");
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace detail

// Writes every file of test_pki into `dir` (created when missing).
inline test_pki make_test_pki(const std::filesystem::path& dir) {
  using namespace detail;
  std::filesystem::create_directories(dir);
  test_pki p;
  p.ca_cert = dir / "ca.pem";
  p.server_cert = dir / "server.pem";
  p.server_key = dir / "server-key.pem";
  p.client_cert = dir / "client.pem";
  p.client_key = dir / "client-key.pem";
  p.other_ca_cert = dir / "other-ca.pem";
  p.other_server_cert = dir / "other-server.pem";
  p.other_server_key = dir / "other-server-key.pem";
  p.other_client_cert = dir / "other-client.pem";
  p.other_client_key = dir / "other-client-key.pem";
  const char* server_san = "IP:127.0.0.1,DNS:localhost";

  const auto ca_key = make_key();
  const auto ca = make_cert("rescue test CA", ca_key.get(), nullptr, nullptr, true, nullptr, 1);
  const auto server_key = make_key();
  const auto server = make_cert("rescue-test-server", server_key.get(), ca.get(), ca_key.get(),
                                false, server_san, 2);
  const auto client_key = make_key();
  const auto client =
      make_cert("T1", client_key.get(), ca.get(), ca_key.get(), false, "DNS:t1.terminals", 3);

  const auto other_ca_key = make_key();
  const auto other_ca =
      make_cert("unrelated CA", other_ca_key.get(), nullptr, nullptr, true, nullptr, 1);
  const auto other_server_key = make_key();
  const auto other_server = make_cert("rescue-test-server", other_server_key.get(), other_ca.get(),
                                      other_ca_key.get(), false, server_san, 2);
  const auto other_client_key = make_key();
  const auto other_client = make_cert("T1", other_client_key.get(), other_ca.get(),
                                      other_ca_key.get(), false, "DNS:t1.terminals", 3);

  write_pem(p.ca_cert, ca.get());
  write_pem(p.server_cert, server.get());
  write_pem(p.server_key, server_key.get());
  write_pem(p.client_cert, client.get());
  write_pem(p.client_key, client_key.get());
  write_pem(p.other_ca_cert, other_ca.get());
  write_pem(p.other_server_cert, other_server.get());
  write_pem(p.other_server_key, other_server_key.get());
  write_pem(p.other_client_cert, other_client.get());
  write_pem(p.other_client_key, other_client_key.get());
  return p;
}

}  // namespace rescue::testing
