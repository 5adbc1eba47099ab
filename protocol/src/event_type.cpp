#include "rescue/protocol/event_type.hpp"

namespace rescue::protocol {

std::string_view event_type_name(const rescue::v1::Event& event) {
  // Every body case is a field of the generated descriptor: only "no body" has no name.
  const auto* field = rescue::v1::Event::descriptor()->FindFieldByNumber(event.body_case());
  return field ? std::string_view(field->name()) : std::string_view("unset");
}

}  // namespace rescue::protocol
