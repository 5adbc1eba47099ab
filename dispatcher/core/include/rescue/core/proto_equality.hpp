// Field-by-field equality for protobuf messages, so state structs holding them can default ==.
#pragma once

#include <type_traits>

#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>

namespace rescue::v1 {

// Found by argument-dependent lookup for every generated rescue.v1 message.
template <class M>
requires std::is_base_of_v<google::protobuf::Message, M>
bool operator==(const M& a, const M& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace rescue::v1
