#include "rescue/storage/journal_hash.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace rescue::storage {

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(v >> shift));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(v >> shift));
}

class journal_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "rescue.journal"; }
  std::string message(int value) const override {
    switch (static_cast<journal_errc>(value)) {
      case journal_errc::closed:
        return "journal is closed";
      case journal_errc::corrupt_record:
        return "journal record is malformed";
      case journal_errc::invalid_event:
        return "event cannot be journaled";
      case journal_errc::key_unavailable:
        return "checkpoint signing key unavailable";
      case journal_errc::stale_writer:
        return "another writer appended to the journal";
      case journal_errc::unsupported_schema:
        return "journal written by a newer version (or not upgraded yet)";
      case journal_errc::fenced:
        return "another instance took over the journal (its lease and fencing token are newer)";
      case journal_errc::lease_held:
        return "another instance holds the journal's lease";
    }
    return "unknown journal error";
  }
};

}  // namespace

const std::error_category& journal_category() noexcept {
  static const journal_category_impl category;
  return category;
}

std::string genesis_hash() {
  return std::string(32, '\0');
}

struct record_hasher::impl {
  // Fetching the digest once avoids OpenSSL 3's per-call implicit fetch, which costs more than
  // hashing a small record.
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
  std::string buffer;
};

record_hasher::record_hasher() : impl_(std::make_unique<impl>()) {
  impl_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->md || !impl_->ctx) throw std::runtime_error("OpenSSL: SHA-256 unavailable");
}

record_hasher::~record_hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  EVP_MD_free(impl_->md);
}

std::string record_hasher::hash(std::uint64_t seq, std::int64_t at_ms, std::uint64_t incident_id,
                                std::string_view event_type, std::string_view payload,
                                std::string_view prev_hash) {
  // The fixed-size head is assembled in a buffer; the payload is fed directly to avoid a copy.
  std::string& head = impl_->buffer;
  head.clear();
  head.append(record_hash_domain);
  put_u64(head, seq);
  put_u64(head, static_cast<std::uint64_t>(at_ms));
  put_u64(head, incident_id);
  put_u32(head, static_cast<std::uint32_t>(event_type.size()));
  head.append(event_type);
  put_u32(head, static_cast<std::uint32_t>(payload.size()));

  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  EVP_MD_CTX* ctx = impl_->ctx;
  if (EVP_DigestInit_ex2(ctx, impl_->md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, head.data(), head.size()) != 1 ||
      EVP_DigestUpdate(ctx, payload.data(), payload.size()) != 1 ||
      EVP_DigestUpdate(ctx, prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &out_len) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

std::string checkpoint_message(std::uint64_t upto_seq, std::string_view hash, std::int64_t at_ms) {
  std::string m(checkpoint_domain);
  put_u64(m, upto_seq);
  m.append(hash);
  put_u64(m, static_cast<std::uint64_t>(at_ms));
  return m;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace rescue::storage
