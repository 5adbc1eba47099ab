#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "rescue/protocol/framing.hpp"
#include "rescue/terminal.pb.h"

using rescue::protocol::append_frame;
using rescue::protocol::frame_decoder;
using rescue::protocol::frame_error;

namespace {

rescue::v1::TerminalFrame event_frame(std::uint64_t seq) {
  rescue::v1::TerminalFrame frame;
  auto* event = frame.mutable_event();
  event->set_seq(seq);
  event->set_code(rescue::v1::EVENT_TRAPPED_BETWEEN_FLOORS);
  event->set_occurred_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq));
  event->mutable_status()->set_floor(static_cast<int>(seq % 30) - 2);
  return frame;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

}  // namespace

TEST_CASE("a frame split at every byte boundary decodes once whole", "[unit][framing]") {
  std::string wire;
  REQUIRE_FALSE(append_frame(event_frame(7), wire));
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    frame_decoder decoder;
    rescue::v1::TerminalFrame out;
    std::error_code ec;
    decoder.feed(std::string_view(wire).substr(0, cut));
    if (cut < wire.size()) {
      REQUIRE_FALSE(decoder.next(out, ec));
      REQUIRE_FALSE(ec);
    }
    decoder.feed(std::string_view(wire).substr(cut));
    REQUIRE(decoder.next(out, ec));
    REQUIRE_FALSE(ec);
    CHECK(out.event().seq() == 7);
    CHECK(out.event().status().floor() == 5);
    CHECK_FALSE(decoder.next(out, ec));
    CHECK_FALSE(ec);
  }
}

TEST_CASE("several glued frames in one read come out in order", "[unit][framing]") {
  std::string wire;
  for (std::uint64_t seq = 1; seq <= 50; ++seq)
    REQUIRE_FALSE(append_frame(event_frame(seq), wire));
  frame_decoder decoder;
  std::mt19937 rng(42);
  std::size_t pos = 0;
  std::uint64_t expected = 1;
  while (pos < wire.size()) {
    const std::size_t chunk = std::min<std::size_t>(wire.size() - pos, 1 + rng() % 97);
    decoder.feed(std::string_view(wire).substr(pos, chunk));
    pos += chunk;
    rescue::v1::TerminalFrame out;
    std::error_code ec;
    while (decoder.next(out, ec))
      CHECK(out.event().seq() == expected++);
    REQUIRE_FALSE(ec);
  }
  CHECK(expected == 51);
  CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("an oversize length is refused from the header alone", "[unit][framing]") {
  frame_decoder decoder(1024);
  decoder.feed(be32(1025));
  std::string payload;
  std::error_code ec;
  CHECK_FALSE(decoder.next_payload(payload, ec));
  CHECK(ec == frame_error::oversize);
  // The stream stays failed: later bytes do not resynchronise it.
  std::string good;
  REQUIRE_FALSE(append_frame(event_frame(1), good));
  decoder.feed(good);
  CHECK_FALSE(decoder.next_payload(payload, ec));
  CHECK(ec == frame_error::oversize);
}

TEST_CASE("a frame exactly at the maximum size is accepted", "[unit][framing]") {
  rescue::v1::TerminalFrame frame;
  frame.mutable_goodbye()->set_reason(std::string(200, 'x'));
  const auto size = static_cast<std::uint32_t>(frame.ByteSizeLong());
  std::string wire;
  REQUIRE_FALSE(append_frame(frame, wire, size));
  CHECK(append_frame(frame, wire, size - 1) == frame_error::message_too_large);
  CHECK(wire.size() == size + 4);  // the refused append left the buffer alone
  frame_decoder decoder(size);
  decoder.feed(wire);
  rescue::v1::TerminalFrame out;
  std::error_code ec;
  REQUIRE(decoder.next(out, ec));
  CHECK(out.goodbye().reason() == frame.goodbye().reason());
}

TEST_CASE("garbage payload is a malformed message", "[unit][framing]") {
  frame_decoder decoder;
  // Field 1 declared as a length-delimited string of 100 bytes, with 2 bytes present.
  decoder.feed(be32(4) + std::string("\x0a\x64\x01\x02", 4));
  rescue::v1::TerminalFrame out;
  std::error_code ec;
  CHECK_FALSE(decoder.next(out, ec));
  CHECK(ec == frame_error::malformed_message);
  CHECK(ec.message() == "frame payload is not a valid message");
}

TEST_CASE("a zero-length frame is an error", "[unit][framing]") {
  frame_decoder decoder;
  decoder.feed(be32(0));
  std::string payload;
  std::error_code ec;
  CHECK_FALSE(decoder.next_payload(payload, ec));
  CHECK(ec == frame_error::empty_frame);
}

TEST_CASE("random bytes never crash the decoder and end in need-more or an error",
          "[unit][framing]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    frame_decoder decoder(4096);
    std::string junk(1 + rng() % 300, '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    decoder.feed(junk);
    rescue::v1::TerminalFrame out;
    std::error_code ec;
    int frames = 0;
    while (decoder.next(out, ec))
      ++frames;
    CHECK(frames <= 75);
  }
}
