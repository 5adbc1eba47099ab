// Protobuf JSON mapping: the one way any JSON body leaves or enters the server.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

namespace rescue::protocol {

// Which fields a rendering prints. Either way: proto field names (snake_case), enums by name,
// 64-bit integers as JSON strings, 32-bit integers and doubles as JSON numbers (docs/api.md).
enum class json_fields {
  set,  // fields at their default value are left out: console responses, crew and live feed
  all,  // every field, defaults included: webhook payloads, whose receivers lack the schema
};

std::string to_json(const google::protobuf::Message& message,
                    json_fields fields = json_fields::set);

// Parses JSON into `message`; unknown fields are an error. Returns an empty string on success,
// otherwise a readable reason.
std::string from_json(std::string_view json, google::protobuf::Message& message);

}  // namespace rescue::protocol
