#include "rescue/protocol/json.hpp"

#include <google/protobuf/util/json_util.h>

#include "rescue/protocol/validate.hpp"

namespace rescue::protocol {

std::string to_json(const google::protobuf::Message& message, json_fields fields) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = fields == json_fields::all;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string from_json(std::string_view json, google::protobuf::Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  message.Clear();
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message, options);
  if (!status.ok()) return std::string(status.message());
  return enforce_schema(message);
}

}  // namespace rescue::protocol
