// Length-prefixed framing: 4-byte big-endian payload length, then one protobuf message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <type_traits>

#include <google/protobuf/message.h>
#include <google/protobuf/message_lite.h>

#include "rescue/protocol/validate.hpp"

namespace rescue::protocol {

// Why a byte stream cannot be decoded. Any of these ends the stream: the peer is broken.
enum class frame_error {
  oversize = 1,           // declared length exceeds the configured maximum
  empty_frame = 2,        // declared length is zero: no message at all
  malformed_message = 3,  // the payload is not a valid message of the expected type
  message_too_large = 4,  // an outgoing message would not fit the maximum
  undefined_value = 5,    // the message holds an enum value its schema does not define
};

const std::error_category& frame_category() noexcept;
std::error_code make_error_code(frame_error e) noexcept;

inline constexpr std::size_t frame_header_bytes = 4;
inline constexpr std::uint32_t default_max_frame_bytes = 64 * 1024;

// Appends one frame holding `message` to `out`. Fails with message_too_large, leaving `out` as
// it was, when the serialized message is larger than `max_frame_bytes`.
std::error_code append_frame(const google::protobuf::MessageLite& message, std::string& out,
                             std::uint32_t max_frame_bytes = default_max_frame_bytes);

// Incremental decoder: feed it whatever a read returned (part of a frame, several frames, both),
// then take complete frames out. Once it reports an error it stays failed.
class frame_decoder {
 public:
  explicit frame_decoder(std::uint32_t max_frame_bytes = default_max_frame_bytes);

  void feed(std::string_view bytes);

  // True with `payload` set when a whole frame is ready. False with `ec` clear when more bytes
  // are needed; false with `ec` set when the stream is broken.
  bool next_payload(std::string& payload, std::error_code& ec);

  // As next_payload, parsed as `Message`; a payload that does not parse is malformed_message.
  // Fields the schema does not know are dropped; an enum value it does not define is
  // undefined_value, named in `detail()`.
  template <class Message>
  bool next(Message& message, std::error_code& ec) {
    std::string payload;
    if (!next_payload(payload, ec)) return false;
    if (!message.ParseFromString(payload)) {
      failed_ = make_error_code(frame_error::malformed_message);
      ec = failed_;
      return false;
    }
    if constexpr (std::is_base_of_v<google::protobuf::Message, Message>) {
      if (std::string why = enforce_schema(message); !why.empty()) {
        detail_ = std::move(why);
        failed_ = make_error_code(frame_error::undefined_value);
        ec = failed_;
        return false;
      }
    }
    return true;
  }

  // What made the last frame fail, when the error code alone does not say.
  const std::string& detail() const noexcept { return detail_; }

  std::size_t buffered_bytes() const noexcept { return buffer_.size() - read_offset_; }
  std::uint32_t max_frame_bytes() const noexcept { return max_frame_bytes_; }
  std::error_code failure() const noexcept { return failed_; }

 private:
  std::uint32_t max_frame_bytes_;
  std::string buffer_;
  std::size_t read_offset_ = 0;
  std::error_code failed_;
  std::string detail_;
};

}  // namespace rescue::protocol

template <>
struct std::is_error_code_enum<rescue::protocol::frame_error> : std::true_type {};
