// The two partitions the hypervisor stands between, and the two directions a
// message or an interrupt can travel. Every unit of the hypervisor names a
// partition by Side; only the process links know it as a process.
#pragma once

#include <cstddef>

namespace vmbus::hypervisor {

enum class Side { kHost, kGuest };

// The direction of a message or an interrupt.
enum class Direction { kHostToGuest, kGuestToHost };

constexpr Side other(Side side) {
  return side == Side::kHost ? Side::kGuest : Side::kHost;
}

// The direction of whatever `sender` sends to the other partition.
constexpr Direction direction_from(Side sender) {
  return sender == Side::kHost ? Direction::kHostToGuest : Direction::kGuestToHost;
}

constexpr Side sender_of(Direction direction) {
  return direction == Direction::kHostToGuest ? Side::kHost : Side::kGuest;
}

constexpr Side receiver_of(Direction direction) {
  return other(sender_of(direction));
}

// The side's slot in the per-side arrays of the hypervisor's units.
constexpr std::size_t index_of(Side side) {
  return side == Side::kHost ? 0 : 1;
}

// "host" / "guest", as trace details and hold names spell them.
constexpr const char* side_name(Side side) {
  return side == Side::kHost ? "host" : "guest";
}

// The partition's process, as failure messages and trace details name it.
constexpr const char* partition_name(Side side) {
  return side == Side::kHost ? "vmbus-host" : "vmbus-guest";
}

}  // namespace vmbus::hypervisor
