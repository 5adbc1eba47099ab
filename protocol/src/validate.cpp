#include "rescue/protocol/validate.hpp"

#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

namespace rescue::protocol {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string undefined_enum(const Message& message, const std::string& prefix) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      const auto* type = field->enum_type();
      const auto check = [&](int value) -> std::string {
        if (type->FindValueByNumber(value)) return {};
        return path + ": value " + std::to_string(value) + " is not defined";
      };
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i)
          if (auto why = check(reflection->GetRepeatedEnumValue(message, field, i)); !why.empty())
            return why;
      } else if (auto why = check(reflection->GetEnumValue(message, field)); !why.empty()) {
        return why;
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i)
          if (auto why = undefined_enum(reflection->GetRepeatedMessage(message, field, i), path);
              !why.empty())
            return why;
      } else if (auto why = undefined_enum(reflection->GetMessage(message, field), path);
                 !why.empty()) {
        return why;
      }
    }
  }
  return {};
}

}  // namespace

std::string enforce_schema(Message& message) {
  message.DiscardUnknownFields();
  return undefined_enum(message, {});
}

}  // namespace rescue::protocol
