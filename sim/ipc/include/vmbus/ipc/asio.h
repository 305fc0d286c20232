// The one way vmbus-sim includes Boost.Asio.
//
// Boost 1.74's Asio does not compile in C++20 mode with g++ 12 unless
// <utility> (std::exchange) is included first; routing every Asio include
// through this header keeps that in one place.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
// clang-format on

namespace vmbus::ipc {

using LocalSocket = boost::asio::local::stream_protocol::socket;

}  // namespace vmbus::ipc
