#include "rescue/storage/signing.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "rescue/storage/journal.hpp"

namespace rescue::storage {

namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string public_pem_of(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return {};
  return bio_contents(bio.get());
}

pkey_ptr generate_ed25519() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) throw std::runtime_error("OpenSSL: Ed25519 key generation failed");
  return key;
}

pkey_ptr read_private(const std::string& pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) return nullptr;
  return key;
}

pkey_ptr read_public(std::string_view pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  pkey_ptr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    // Accept a private key PEM too, so tools can be pointed at the key file itself.
    bio_ptr again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    key.reset(PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr));
  }
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) return nullptr;
  return key;
}

// Writes the new key with O_EXCL and mode 0600 so it is never readable by others, not even for
// an instant, and a concurrent creator loses cleanly instead of overwriting.
std::error_code write_new_key(const std::filesystem::path& path, const std::string& pem) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return {errno, std::generic_category()};
  std::size_t off = 0;
  while (off < pem.size()) {
    ssize_t n = ::write(fd, pem.data() + off, pem.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::error_code ec(errno, std::generic_category());
      ::close(fd);
      return ec;
    }
    off += static_cast<std::size_t>(n);
  }
  std::error_code ec;
  if (::fsync(fd) != 0) ec = {errno, std::generic_category()};
  ::close(fd);
  return ec;
}

}  // namespace

struct signing_key::impl {
  pkey_ptr key;
};

signing_key::signing_key(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  public_pem_ = public_pem_of(impl_->key.get());
}

signing_key::~signing_key() = default;

std::unique_ptr<signing_key> signing_key::generate() {
  auto p = std::make_unique<impl>();
  p->key = generate_ed25519();
  return std::unique_ptr<signing_key>(new signing_key(std::move(p)));
}

std::unique_ptr<signing_key> signing_key::load(const std::filesystem::path& path,
                                               std::error_code& ec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ec = std::make_error_code(std::errc::no_such_file_or_directory);
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto p = std::make_unique<impl>();
  p->key = read_private(text.str());
  if (!p->key) {
    ec = journal_errc::key_unavailable;
    return nullptr;
  }
  ec.clear();
  return std::unique_ptr<signing_key>(new signing_key(std::move(p)));
}

std::unique_ptr<signing_key> signing_key::load_or_create(const std::filesystem::path& path,
                                                         std::error_code& ec) {
  std::error_code exists_ec;
  if (!std::filesystem::exists(path, exists_ec)) {
    auto p = std::make_unique<impl>();
    p->key = generate_ed25519();
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), p->key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
      ec = journal_errc::key_unavailable;
      return nullptr;
    }
    ec = write_new_key(path, bio_contents(bio.get()));
    // Someone else created it first: use theirs.
    if (ec == std::errc::file_exists) return load(path, ec);
    if (ec) return nullptr;
    return std::unique_ptr<signing_key>(new signing_key(std::move(p)));
  }
  return load(path, ec);
}

std::string signing_key::sign(std::string_view message) const {
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t sig_len = sig.size();
  // Ed25519 is a one-shot scheme: no digest is named and no Update calls are allowed.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    throw std::runtime_error("OpenSSL: Ed25519 signing failed");
  }
  sig.resize(sig_len);
  return sig;
}

bool verify_signature(std::string_view public_pem, std::string_view message,
                      std::string_view signature) {
  pkey_ptr key = read_public(public_pem);
  if (!key) return false;
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string raw_public_key(std::string_view pem) {
  pkey_ptr key = read_public(pem);
  if (!key) return {};
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) !=
      1)
    return {};
  raw.resize(len);
  return raw;
}

}  // namespace rescue::storage
