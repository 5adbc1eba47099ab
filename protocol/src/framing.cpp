#include "rescue/protocol/framing.hpp"

namespace rescue::protocol {
namespace {

class frame_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "rescue.frame"; }
  std::string message(int value) const override {
    switch (static_cast<frame_error>(value)) {
      case frame_error::oversize:
        return "frame length exceeds the maximum frame size";
      case frame_error::empty_frame:
        return "frame of zero length";
      case frame_error::malformed_message:
        return "frame payload is not a valid message";
      case frame_error::message_too_large:
        return "message is larger than the maximum frame size";
      case frame_error::undefined_value:
        return "frame holds an enum value its schema does not define";
    }
    return "unknown frame error";
  }
};

std::uint32_t read_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         std::uint32_t{u[3]};
}

}  // namespace

const std::error_category& frame_category() noexcept {
  static const frame_category_impl category;
  return category;
}

std::error_code make_error_code(frame_error e) noexcept {
  return {static_cast<int>(e), frame_category()};
}

std::error_code append_frame(const google::protobuf::MessageLite& message, std::string& out,
                             std::uint32_t max_frame_bytes) {
  const std::size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes) return make_error_code(frame_error::message_too_large);
  const std::size_t start = out.size();
  out.resize(start + frame_header_bytes + size);
  char* p = out.data() + start;
  p[0] = static_cast<char>((size >> 24) & 0xff);
  p[1] = static_cast<char>((size >> 16) & 0xff);
  p[2] = static_cast<char>((size >> 8) & 0xff);
  p[3] = static_cast<char>(size & 0xff);
  if (!message.SerializeToArray(p + frame_header_bytes, static_cast<int>(size))) {
    out.resize(start);
    return make_error_code(frame_error::message_too_large);
  }
  return {};
}

frame_decoder::frame_decoder(std::uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

void frame_decoder::feed(std::string_view bytes) {
  if (failed_) return;
  // Reclaim consumed space before growing, so a long-lived connection's buffer stays small.
  if (read_offset_ > 0 && (read_offset_ == buffer_.size() || read_offset_ >= buffer_.size() / 2)) {
    buffer_.erase(0, read_offset_);
    read_offset_ = 0;
  }
  buffer_.append(bytes);
}

bool frame_decoder::next_payload(std::string& payload, std::error_code& ec) {
  ec = failed_;
  if (failed_) return false;
  const std::size_t available = buffer_.size() - read_offset_;
  if (available < frame_header_bytes) return false;
  const std::uint32_t length = read_be32(buffer_.data() + read_offset_);
  if (length == 0) {
    failed_ = ec = make_error_code(frame_error::empty_frame);
    return false;
  }
  // Checked on the header alone: an oversize frame is refused before any of it is buffered.
  if (length > max_frame_bytes_) {
    failed_ = ec = make_error_code(frame_error::oversize);
    return false;
  }
  if (available < frame_header_bytes + length) return false;
  payload.assign(buffer_.data() + read_offset_ + frame_header_bytes, length);
  read_offset_ += frame_header_bytes + length;
  return true;
}

}  // namespace rescue::protocol
