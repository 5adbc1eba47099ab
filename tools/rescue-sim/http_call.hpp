// One HTTP/1.1 request over a fresh loopback connection, with one deadline for the whole
// exchange: the console calls, the fire centre's reports and the /metrics scrape use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

namespace rescue::sim {

struct http_result {
  int status = 0;  // 0 when no response arrived; `error` says why
  std::string body;
  std::string error;
};

// Parameters by value: this is a coroutine.
boost::asio::awaitable<http_result> http_call(boost::asio::any_io_executor ex, std::string host,
                                              std::uint16_t port, boost::beast::http::verb verb,
                                              std::string target, std::string bearer,
                                              std::string body, std::chrono::seconds deadline);

}  // namespace rescue::sim
