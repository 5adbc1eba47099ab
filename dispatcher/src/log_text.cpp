#include "rescue/dispatcher/log_text.hpp"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include "rescue/protocol/utf8.hpp"

namespace rescue::dispatcher {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_byte_escape(std::string& out, unsigned char c) {
  out += "\\x";
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xf];
}

// Code points that are valid but can break a line or reorder what a reader sees.
bool deceptive(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

void append_code_point_escape(std::string& out, char32_t cp) {
  out += "\\u{";
  bool started = false;
  for (int shift = 20; shift >= 0; shift -= 4) {
    const auto digit = static_cast<unsigned>((cp >> shift) & 0xf);
    if (digit != 0 || started || shift == 0) {
      out += hex_digits[digit];
      started = true;
    }
  }
  out += '}';
}

// The JSON log's message field: the formatted message as a JSON string body. A log line is not
// a protocol message, and spdlog formats into its own buffer: this is the one place the server
// escapes JSON by hand. Every body it sends goes through the protobuf mapping instead.
class json_message_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (const char ch : msg.payload) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            const char escaped[] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xf]};
            dest.append(escaped, escaped + sizeof escaped);
          } else {
            dest.push_back(ch);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_message_flag>();
  }
};

}  // namespace

std::string log_safe(std::string_view text, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + 8);
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (chars >= max_chars) {
      out += "...[" + std::to_string(text.size()) + " bytes]";
      return out;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\0':
          out += "\\0";
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            append_byte_escape(out, c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      ++chars;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = protocol::utf8_sequence(text.substr(i), cp);
    if (n == 0) {
      append_byte_escape(out, c);
      ++i;
    } else {
      if (deceptive(cp))
        append_code_point_escape(out, cp);
      else
        out.append(text.substr(i, n));
      i += n;
    }
    ++chars;
  }
  return out;
}

log_limiter::log_limiter(std::chrono::milliseconds interval) : interval_(interval) {}

bool log_limiter::allow(std::uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (now < next_) {
    ++suppressed_;
    return false;
  }
  next_ = now + interval_;
  suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

std::string suppressed_note(std::uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar suppressed)";
}

void configure_logging(log_format format) {
  if (format == log_format::text) {
    // key=value fields after the level keep the log greppable and machine-readable.
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l thread=%t %v");
    return;
  }
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<json_message_flag>('*').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","thread":%t,"message":"%*"})");
  spdlog::set_formatter(std::move(formatter));
}

}  // namespace rescue::dispatcher
