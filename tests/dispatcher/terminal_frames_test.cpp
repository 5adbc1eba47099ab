// The rule that tells a terminal's resend from a new event.
#include <catch2/catch.hpp>

#include "rescue/core/terminal_frames.hpp"

using rescue::core::terminal_frames;
namespace v1 = rescue::v1;
using numbering = terminal_frames::numbering;

namespace {

const auto all_open = [](std::uint64_t) { return true; };
const auto none_open = [](std::uint64_t) { return false; };

terminal_frames::frame trapped_frame(std::uint64_t seq, std::uint64_t boot = 1) {
  return {boot, seq, v1::EVENT_TRAPPED_BETWEEN_FLOORS};
}

}  // namespace

TEST_CASE("only the same boot, number and code is a resend", "[unit][core]") {
  terminal_frames frames;
  frames.remember("T1", trapped_frame(5), 42);
  CHECK(frames.classify("T1", trapped_frame(5), all_open).resend);
  CHECK_FALSE(frames.classify("T1", trapped_frame(5, 2), all_open).resend);
  CHECK_FALSE(frames.classify("T1", {1, 5, v1::EVENT_ALARM_BUTTON}, all_open).resend);
  CHECK_FALSE(frames.classify("T1", trapped_frame(4), all_open).resend);
  CHECK_FALSE(frames.classify("T1", trapped_frame(6), all_open).resend);
  CHECK_FALSE(frames.classify("T2", trapped_frame(5), all_open).resend);
}

TEST_CASE("a resent alarm whose incident has ended is decided anew", "[unit][core]") {
  terminal_frames frames;
  frames.remember("T1", trapped_frame(5), 42);
  CHECK_FALSE(frames.classify("T1", trapped_frame(5), none_open).resend);
  std::uint64_t asked = 0;
  frames.classify("T1", trapped_frame(5), [&](std::uint64_t id) {
    asked = id;
    return true;
  });
  CHECK(asked == 42);
  // A fault opens nothing, so its resend needs no open incident.
  frames.remember("T1", {1, 9, v1::EVENT_OVERSPEED}, 0);
  CHECK(frames.classify("T1", {1, 9, v1::EVENT_OVERSPEED}, none_open).resend);
}

TEST_CASE("the numbering's anomalies are named but never make a resend", "[unit][core]") {
  terminal_frames frames;
  CHECK(frames.classify("T1", trapped_frame(1), all_open).order == numbering::first);
  frames.remember("T1", {1, 1000, v1::EVENT_OVERSPEED}, 0);
  CHECK(frames.classify("T1", trapped_frame(1001), all_open).order == numbering::next);
  CHECK(frames.classify("T1", trapped_frame(1005), all_open).order == numbering::gap);
  CHECK(frames.classify("T1", trapped_frame(1000), all_open).order == numbering::repeat);
  CHECK_FALSE(frames.classify("T1", trapped_frame(1000), all_open).resend);
  const auto back = frames.classify("T1", trapped_frame(5), all_open);
  CHECK(back.order == numbering::backwards);
  CHECK_FALSE(back.resend);
  CHECK(frames.classify("T1", trapped_frame(1, 2), all_open).order == numbering::new_boot);
}

TEST_CASE("a terminal's memory keeps its last 64 frames", "[unit][core]") {
  terminal_frames frames;
  for (std::uint64_t seq = 1; seq <= 100; ++seq)
    frames.remember("T1", trapped_frame(seq), seq);
  CHECK(frames.classify("T1", trapped_frame(100), all_open).resend);
  CHECK(frames.classify("T1", trapped_frame(37), all_open).resend);
  CHECK_FALSE(frames.classify("T1", trapped_frame(36), all_open).resend);
  // Deciding the same identity again keeps one entry, the newer decision.
  frames.remember("T1", trapped_frame(100), 7);
  std::uint64_t asked = 0;
  frames.classify("T1", trapped_frame(100), [&](std::uint64_t id) {
    asked = id;
    return true;
  });
  CHECK(asked == 7);
  CHECK(frames.classify("T1", trapped_frame(37), all_open).resend);
}
