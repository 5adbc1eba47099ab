// The completion every co_spawn in the project uses: an exception that escapes a coroutine is
// logged and ends that coroutine (and so its session) only, never io_context::run.
#pragma once

#include <cstdint>
#include <exception>
#include <utility>

namespace rescue::dispatcher {

class log_if_thrown {
 public:
  // `what` names the coroutine in the log line; it must outlive the coroutine (a literal).
  explicit log_if_thrown(const char* what) : what_(what) {}

  void operator()(std::exception_ptr e) const;
  // Coroutines that return a value: the value is dropped, as with asio::detached.
  template <class T>
  void operator()(std::exception_ptr e, T&&) const {
    (*this)(std::move(e));
  }

 private:
  const char* what_;
};

// Logs the exception that escaped `what` (rate-limited) and counts it.
void report_escaped_exception(const char* what, const std::exception_ptr& e);

// Exceptions that escaped a coroutine or a handler since start-up, for /metrics.
std::uint64_t escaped_exceptions();

}  // namespace rescue::dispatcher
