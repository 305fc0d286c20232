// What the hypervisor's unit tests feed its SynIC and fault units: the
// latencies they configure, the two directions, and a small control message
// whose trace rendering the tests can predict.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmbus/hypervisor/side.h"
#include "vmbus/hypervisor/synic.h"
#include "vmbus/wire/codec.h"
#include "vmbus/wire/messages.h"

namespace vmbus::hypervisor::testing {

inline constexpr SynicLatency kLatency{5'000, 2'000};
inline constexpr Direction kToGuest = Direction::kHostToGuest;
inline constexpr Direction kToHost = Direction::kGuestToHost;

// A CHANNELMSG_GPADL_TORNDOWN (12 bytes) on `connection_id`, which the trace
// describes as "CHANNELMSG_GPADL_TORNDOWN gpadl=0x<gpadl>".
inline SynicMessage torndown(std::uint32_t gpadl, std::uint32_t connection_id = 1) {
  wire::GpadlTorndown message;
  message.gpadl = gpadl;
  const std::vector<std::byte> bytes = wire::encode_message(message);
  return SynicMessage{connection_id,
                      std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size())};
}

}  // namespace vmbus::hypervisor::testing
