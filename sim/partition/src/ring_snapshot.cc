#include "vmbus/partition/ring_snapshot.h"

#include <atomic>

namespace vmbus::partition {
namespace {

std::uint32_t load(std::uint32_t& word) {
  return std::atomic_ref<std::uint32_t>(word).load(std::memory_order_acquire);
}

}  // namespace

ControlWords read_control_words(const ring::RingView& view) {
  ring::RingControlPage& control = view.control();
  return ControlWords{load(control.write_index), load(control.read_index),
                      load(control.interrupt_mask), load(control.pending_send_sz)};
}

std::optional<RingOccupancy> ring_occupancy(const ring::RingView& view, std::uint32_t write_index,
                                            std::uint32_t read_index) {
  if (!view.is_valid_index(write_index) || !view.is_valid_index(read_index)) {
    return std::nullopt;
  }
  const std::uint32_t size = view.data_size_bytes();
  return RingOccupancy{ring::bytes_to_read(write_index, read_index, size),
                       ring::bytes_to_write(write_index, read_index, size)};
}

}  // namespace vmbus::partition
