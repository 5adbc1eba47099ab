// Protobuf JSON mapping for the crew and console channels.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

namespace rescue::protocol {

// Serializes with proto field names (snake_case) and without default-valued fields.
std::string to_json(const google::protobuf::Message& message);

// Parses JSON into `message`; unknown fields are an error. Returns an empty string on success,
// otherwise a readable reason.
std::string from_json(std::string_view json, google::protobuf::Message& message);

}  // namespace rescue::protocol
