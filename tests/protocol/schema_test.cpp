// What the schema does not define is neither stored nor acted on.
#include <catch2/catch.hpp>

#include "rescue/protocol/framing.hpp"
#include "rescue/protocol/json.hpp"
#include "rescue/terminal.pb.h"

namespace v1 = rescue::v1;
using rescue::protocol::frame_decoder;
using rescue::protocol::frame_error;

namespace {

// A terminal event frame with raw bytes appended to the event: field 99 (varint), unknown here.
std::string event_with_unknown_field() {
  v1::TerminalFrame frame;
  frame.mutable_event()->set_seq(7);
  frame.mutable_event()->set_code(v1::EVENT_TRAPPED_BETWEEN_FLOORS);
  std::string payload = frame.SerializeAsString();
  // The event is field 5 or so of the frame; append an unknown field at the frame level too.
  payload += std::string("\x98\x06\x2a", 3);  // field 99, varint 42
  std::string out(4, '\0');
  out[3] = static_cast<char>(payload.size());
  return out + payload;
}

}  // namespace

TEST_CASE("fields the schema does not know are dropped from decoded frames", "[unit][framing]") {
  frame_decoder decoder;
  decoder.feed(event_with_unknown_field());
  v1::TerminalFrame frame;
  std::error_code ec;
  REQUIRE(decoder.next(frame, ec));
  CHECK_FALSE(ec);
  CHECK(frame.event().seq() == 7);
  CHECK(frame.GetReflection()->GetUnknownFields(frame).empty());
  CHECK(frame.ByteSizeLong() < 10);
}

TEST_CASE("an enum value the schema does not define fails the frame, naming the field",
          "[unit][framing]") {
  v1::TerminalFrame frame;
  frame.mutable_event()->set_seq(1);
  frame.mutable_event()->set_code(static_cast<v1::TerminalEventCode>(9999));
  std::string bytes;
  REQUIRE_FALSE(rescue::protocol::append_frame(frame, bytes));
  frame_decoder decoder;
  decoder.feed(bytes);
  v1::TerminalFrame out;
  std::error_code ec;
  CHECK_FALSE(decoder.next(out, ec));
  CHECK(ec == frame_error::undefined_value);
  CHECK(decoder.detail() == "event.code: value 9999 is not defined");

  // Nested enums are checked too.
  v1::TerminalFrame status;
  status.mutable_status()->set_seq(2);
  status.mutable_status()->mutable_status()->set_door(static_cast<v1::DoorState>(77));
  bytes.clear();
  REQUIRE_FALSE(rescue::protocol::append_frame(status, bytes));
  frame_decoder second;
  second.feed(bytes);
  CHECK_FALSE(second.next(out, ec));
  CHECK(second.detail() == "status.status.door: value 77 is not defined");
}

TEST_CASE("JSON with an undefined enum number or an unknown field is refused", "[unit][json]") {
  v1::TerminalEvent event;
  CHECK(rescue::protocol::from_json(R"({"seq":"1","code":"EVENT_ALARM_BUTTON"})", event).empty());
  CHECK(rescue::protocol::from_json(R"({"seq":"1","code":4242})", event) ==
        "code: value 4242 is not defined");
  CHECK_FALSE(rescue::protocol::from_json(R"({"seq":"1","colour":"red"})", event).empty());
}
