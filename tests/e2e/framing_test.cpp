// A broken terminal costs only its own connection: garbage and oversized frames close that one
// link while the other terminals go on being acknowledged.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "harness.hpp"

namespace rescue::e2e {
namespace {

// The server says why before it hangs up.
bool said_goodbye(const std::vector<v1::TerminalFrame>& frames, std::string_view words) {
  for (const auto& f : frames)
    if (f.has_goodbye() && f.goodbye().reason().find(words) != std::string::npos) return true;
  return false;
}

std::string header(std::uint32_t length) {
  const std::uint32_t be = htonl(length);
  return std::string(reinterpret_cast<const char*>(&be), sizeof be);
}

TEST_CASE("garbage and oversized frames close only their own connection", "[e2e]") {
  server_options options;
  options.max_frame_bytes = 4096;
  e2e_world world(options);
  auto healthy = world.terminal(city::t1());
  auto garbage = world.terminal(city::t2());
  auto oversized = world.terminal(city::t3());

  REQUIRE(healthy->send_event(1, v1::EVENT_POWER_LOSS));
  REQUIRE(healthy->wait_ack(1));

  SECTION("a frame whose payload is not a protobuf message") {
    // A proper length, then an unterminated varint where the field tag should be.
    REQUIRE(garbage->send_raw(header(8) + std::string(8, '\xff')));
    std::vector<v1::TerminalFrame> frames;
    CHECK(garbage->wait_closed(short_wait, &frames));
    CHECK(said_goodbye(frames, "frame"));
  }
  SECTION("bytes that are not frames at all") {
    // An HTTP request on the terminal port reads as a length of about 1.2 GB.
    garbage->send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    std::vector<v1::TerminalFrame> frames;
    CHECK(garbage->wait_closed(short_wait, &frames));
    CHECK(said_goodbye(frames, "frame"));
  }
  SECTION("a frame declaring one byte more than max_frame_bytes") {
    // Only the header is sent: the length alone must be enough to refuse it.
    REQUIRE(oversized->send_raw(header(4097)));
    std::vector<v1::TerminalFrame> frames;
    CHECK(oversized->wait_closed(short_wait, &frames));
    CHECK(said_goodbye(frames, "frame"));
  }
  SECTION("an empty frame") {
    REQUIRE(oversized->send_raw(header(0)));
    std::vector<v1::TerminalFrame> frames;
    CHECK(oversized->wait_closed(short_wait, &frames));
    CHECK(said_goodbye(frames, "frame"));
  }

  // The other link is untouched: its next events are acknowledged, one of them an alarm.
  REQUIRE(healthy->send_event(2, v1::EVENT_POWER_RESTORED));
  CHECK(healthy->wait_ack(2));
  REQUIRE(healthy->send_event(3, v1::EVENT_ALARM_BUTTON));
  CHECK(healthy->wait_ack(3));
  CHECK(world.wait_incident_for("E1") > 0);
  // And the server still accepts new terminals.
  auto fresh = std::make_unique<terminal_client>();
  REQUIRE(fresh->connect(world.terminal_port()));
  const auto result = fresh->handshake(city::t4().id, city::t4().secret, 9);
  REQUIRE(result);
  CHECK(result->ok());
}

TEST_CASE("an oversized frame before the hello closes that connection only", "[e2e]") {
  e2e_world world;
  auto healthy = world.terminal(city::t1());
  terminal_client stranger;
  REQUIRE(stranger.connect(world.terminal_port()));
  REQUIRE(stranger.send_raw(header(1u << 30) + "xxxx"));
  std::vector<v1::TerminalFrame> frames;
  CHECK(stranger.wait_closed(short_wait, &frames));
  CHECK(said_goodbye(frames, "frame"));
  REQUIRE(healthy->send_event(1, v1::EVENT_ALARM_BUTTON));
  CHECK(healthy->wait_ack(1));
}

}  // namespace
}  // namespace rescue::e2e
