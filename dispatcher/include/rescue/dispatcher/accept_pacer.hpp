// What an accept loop does when accepting fails or a cap refuses a client: out of descriptors,
// it drops one pending connection with a spare descriptor (so the listen queue cannot make the
// loop spin) and backs off; every kind of failure is logged at most once a second.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "rescue/dispatcher/connection_limiter.hpp"
#include "rescue/dispatcher/log_text.hpp"

namespace rescue::dispatcher {

class accept_pacer {
 public:
  // `listener` names the listener in the log ("terminal", "http").
  explicit accept_pacer(std::string listener);
  ~accept_pacer();
  accept_pacer(const accept_pacer&) = delete;
  accept_pacer& operator=(const accept_pacer&) = delete;

  // After a failed accept (not operation_aborted): waits the back-off, which doubles while
  // failures repeat, up to one second.
  boost::asio::awaitable<void> after_failure(boost::asio::ip::tcp::acceptor& acceptor,
                                             boost::system::error_code ec);
  void after_success() { delay_ = {}; }
  // A connection the caps refused; the caller closes it.
  void refused(const boost::asio::ip::address& address, connection_limiter::verdict why,
               std::size_t open);

 private:
  void reopen_spare();

  std::string listener_;
  int spare_ = -1;
  std::chrono::milliseconds delay_{};
  log_limiter failure_log_;
  log_limiter refusal_log_;
};

}  // namespace rescue::dispatcher
