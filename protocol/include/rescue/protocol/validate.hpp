// Checks a parsed message against its schema beyond what the parser checks, so that what is
// stored and acted on is exactly what the schema defines.
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace rescue::protocol {

// Drops fields the schema does not know (they would otherwise be stored verbatim and passed on)
// and returns the first enum value the schema does not define, as "field.path: value N is not
// defined", or an empty string when the message is clean. Proto3 parsers accept any number for
// an enum; the server must not.
std::string enforce_schema(google::protobuf::Message& message);

}  // namespace rescue::protocol
