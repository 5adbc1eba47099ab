#include "rescue/dispatcher/spawn.hpp"

#include <atomic>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

#include "rescue/dispatcher/log_text.hpp"

namespace rescue::dispatcher {

namespace {

std::atomic<std::uint64_t> escaped{0};

}  // namespace

void report_escaped_exception(const char* what, const std::exception_ptr& e) {
  escaped.fetch_add(1, std::memory_order_relaxed);
  // One client able to raise an exception per request must not be able to fill the disk.
  static log_limiter limiter;
  std::uint64_t suppressed = 0;
  if (!limiter.allow(suppressed)) return;
  std::string why = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    why = ex.what();
  } catch (...) {
  }
  spdlog::error("{} ended by an exception: {}{}", what, log_safe(why, 256),
                suppressed_note(suppressed));
}

void log_if_thrown::operator()(std::exception_ptr e) const {
  if (e) report_escaped_exception(what_, e);
}

std::uint64_t escaped_exceptions() {
  return escaped.load(std::memory_order_relaxed);
}

}  // namespace rescue::dispatcher
