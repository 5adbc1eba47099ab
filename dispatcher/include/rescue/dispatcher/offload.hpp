// Blocking work (a storage call) off the io threads: run on a pool of its own, the calling
// coroutine resumed on its own executor with the result.
#pragma once

#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rescue::dispatcher {

// Runs `fn` on `pool` and resumes the calling coroutine on its own executor with the result.
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> offload(boost::asio::thread_pool& pool, Fn fn) {
  namespace asio = boost::asio;
  using result = std::invoke_result_t<Fn&>;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(result)>(
      [&pool](auto handler, Fn work) {
        auto ex = asio::get_associated_executor(handler);
        asio::post(pool, [handler = std::move(handler), work = std::move(work), ex]() mutable {
          result r = work();
          asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
            std::move(handler)(std::move(r));
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

}  // namespace rescue::dispatcher
