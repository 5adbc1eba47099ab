// UTF-8 checks for text that crosses a boundary: JSON strings must be valid UTF-8, and logs
// escape what is not.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rescue::protocol {

// Length of the valid UTF-8 sequence at the start of `s` (not empty), 0 when there is none:
// overlong forms, surrogates and code points above U+10FFFF are invalid. `cp` receives the code
// point.
std::size_t utf8_sequence(std::string_view s, char32_t& cp);

// `s` with every byte that does not start a valid sequence replaced by U+FFFD, so that a
// message quoting untrusted bytes can go into a JSON string intact.
std::string valid_utf8(std::string_view s);

}  // namespace rescue::protocol
