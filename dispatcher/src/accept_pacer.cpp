#include "rescue/dispatcher/accept_pacer.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rescue::dispatcher {

namespace asio = boost::asio;

namespace {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

}  // namespace

accept_pacer::accept_pacer(std::string listener) : listener_(std::move(listener)) {
  reopen_spare();
}

accept_pacer::~accept_pacer() {
  if (spare_ >= 0) ::close(spare_);
}

void accept_pacer::reopen_spare() {
  if (spare_ < 0) spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

asio::awaitable<void> accept_pacer::after_failure(asio::ip::tcp::acceptor& acceptor,
                                                  boost::system::error_code ec) {
  std::uint64_t suppressed = 0;
  if (failure_log_.allow(suppressed))
    spdlog::warn("{}: accept failed: {}; retrying in {} ms{}", listener_, ec.message(),
                 std::max<std::int64_t>(delay_.count(), 10), suppressed_note(suppressed));
  if (out_of_descriptors(ec) && spare_ >= 0) {
    // The pending connection would make the acceptor readable again at once: take it with the
    // descriptor kept for this and close it, so the client learns at once instead of waiting.
    ::close(spare_);
    spare_ = -1;
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    reopen_spare();
  }
  delay_ = std::clamp(delay_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  asio::steady_timer pause(acceptor.get_executor(), delay_);
  co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
}

void accept_pacer::refused(const asio::ip::address& address, connection_limiter::verdict why,
                           std::size_t open) {
  std::uint64_t suppressed = 0;
  if (!refusal_log_.allow(suppressed)) return;
  if (why == connection_limiter::verdict::address_full)
    spdlog::warn("{}: connection from {} refused: too many connections from that address{}",
                 listener_, address.to_string(), suppressed_note(suppressed));
  else
    spdlog::warn("{}: connection from {} refused: {} connections open, the cap{}", listener_,
                 address.to_string(), open, suppressed_note(suppressed));
}

}  // namespace rescue::dispatcher
