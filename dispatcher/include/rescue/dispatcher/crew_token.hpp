// Per-crew tokens for the crew WebSocket: lowercase hex of HMAC-SHA256(secret, crew id).
#pragma once

#include <string>
#include <string_view>

namespace rescue::dispatcher {

// The token a crew's phone presents. Derived, never stored: rotating the secret revokes them all.
std::string crew_token(std::string_view secret, std::string_view crew_id);

// Constant-time check of `token` against the derived one. An empty secret accepts nothing, so a
// server started without [crews] token_secret refuses every crew instead of trusting any.
bool crew_token_valid(std::string_view secret, std::string_view crew_id, std::string_view token);

}  // namespace rescue::dispatcher
