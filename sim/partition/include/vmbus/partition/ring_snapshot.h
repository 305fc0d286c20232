// Snapshots of a ring's shared words, for final reports and the lost-wakeup
// oracles of both partitions.
//
// A snapshot decides nothing in the ring protocol: reports and oracles read
// the rings of a quiet system, where no peer races with the read. The
// oracles ask one question of a ring -- what lies between a writer's and a
// reader's position -- and ring_occupancy() is the one place that answers it.
#pragma once

#include <cstdint>
#include <optional>

#include "vmbus/ring/ring.h"

namespace vmbus::partition {

struct ControlWords {
  std::uint32_t write_index = 0;
  std::uint32_t read_index = 0;
  std::uint32_t interrupt_mask = 0;
  std::uint32_t pending_send_sz = 0;
};

// The ring's control words as they are now (acquire loads).
ControlWords read_control_words(const ring::RingView& view);

struct RingOccupancy {
  std::uint32_t unread_bytes = 0;  // written, not read yet
  std::uint32_t free_bytes = 0;    // what the writer may still fill (ring::bytes_to_write)
};

// What lies between `write_index` and `read_index`, or nullopt when either
// is outside the data area: a corrupt ring stops its endpoints for good,
// which is no lost wakeup.
std::optional<RingOccupancy> ring_occupancy(const ring::RingView& view, std::uint32_t write_index,
                                            std::uint32_t read_index);

}  // namespace vmbus::partition
