// LinuxStyleRing: the baseline the ring library's one-thread cost is
// compared with (bench/ring_vs_linux.cc).
//
// Written for this project after the *algorithm* of Linux's userspace VMBus
// ring, tools/hv/vmbus_bufring.c (BSD-3-Clause; none of its code is copied
// here): the writer reserves space by a compare-and-swap on a private copy of
// write_index, copies descriptor, payload, padding and the u64 trailer with
// at most one wrap each, and publishes write_index with a second
// compare-and-swap; the reader checks that a descriptor and trailer are
// available, copies the 16-byte descriptor out, rejects offset8 < 2 and
// offset8 > len8, copies the whole packet (len8 * 8 bytes) into the
// caller's buffer, and stores read_index after a compiler barrier. Like the
// original it has no signal decisions (interrupt_mask, pending_send_sz) and
// does not validate the indices it reads from the peer; the ring library
// does both. Same wire format as the library, on the same control page and
// data area.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "vmbus/ring/layout.h"

namespace vmbus::bench {

class LinuxStyleRing {
 public:
  // `region`: the control page followed by the data area (RingMemory).
  explicit LinuxStyleRing(std::span<std::byte> region)
      : control_(reinterpret_cast<ring::RingControlPage*>(region.data())),
        data_(reinterpret_cast<std::uint8_t*>(region.data() + ring::kRingDataOffsetBytes)),
        data_size_(static_cast<std::uint32_t>(region.size() - ring::kRingDataOffsetBytes)),
        private_write_index_(control_->write_index) {}

  // Writes one in-band packet; false when it does not fit now.
  bool send(std::span<const std::byte> payload, std::uint64_t trans_id) {
    const auto packet_bytes =
        static_cast<std::uint32_t>((ring::kPacketDescriptorBytes + payload.size() + 7) / 8 * 8);
    const std::uint32_t total = packet_bytes + ring::kPacketTrailerBytes;
    std::uint32_t start;
    std::uint32_t next;
    do {  // the reservation, as the original makes it (several writers may share a ring)
      start = private_write_index_;
      asm volatile("" ::: "memory");
      if (free_bytes(start) <= total) {
        return false;
      }
      next = advance(start, total);
    } while (!__atomic_compare_exchange_n(&private_write_index_, &start, next, false,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    ring::PacketDescriptor descriptor{static_cast<std::uint16_t>(ring::PacketType::kDataInband),
                                      ring::kMinOffset8,
                                      static_cast<std::uint16_t>(packet_bytes / 8), 0, trans_id};
    std::uint32_t at = copy_to(start, &descriptor, sizeof(descriptor));
    at = copy_to(at, payload.data(), static_cast<std::uint32_t>(payload.size()));
    const std::uint64_t zero = 0;
    at = copy_to(
        at, &zero,
        packet_bytes - ring::kPacketDescriptorBytes - static_cast<std::uint32_t>(payload.size()));
    const std::uint64_t trailer = std::uint64_t{start} << 32;
    at = copy_to(at, &trailer, sizeof(trailer));
    if (at != next) {
      return false;
    }
    asm volatile("" ::: "memory");
    std::uint32_t expected = start;
    while (!__atomic_compare_exchange_n(&control_->write_index, &expected, next, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      expected = start;
      __builtin_ia32_pause();
    }
    return true;
  }

  // Reads the next packet, descriptor included, into `out`: its length,
  // 0 when the ring is empty, -1 for a bad descriptor or a packet larger
  // than `out`.
  std::int64_t receive(std::span<std::byte> out) {
    ring::PacketDescriptor descriptor;
    if (available_bytes() < sizeof(descriptor) + ring::kPacketTrailerBytes) {
      return 0;
    }
    copy_from(control_->read_index, &descriptor, sizeof(descriptor));
    if (descriptor.offset8 < ring::kMinOffset8 || descriptor.offset8 > descriptor.len8) {
      return -1;
    }
    const std::uint32_t packet_bytes = std::uint32_t{descriptor.len8} * 8;
    if (packet_bytes > out.size()) {
      return -1;
    }
    if (available_bytes() < packet_bytes + ring::kPacketTrailerBytes) {
      return 0;
    }
    std::uint32_t at = copy_from(control_->read_index, out.data(), packet_bytes);
    at = advance(at, ring::kPacketTrailerBytes);
    asm volatile("" ::: "memory");
    control_->read_index = at;
    return packet_bytes;
  }

 private:
  std::uint32_t advance(std::uint32_t index, std::uint32_t bytes) const {
    index += bytes;
    return index >= data_size_ ? index - data_size_ : index;
  }
  std::uint32_t free_bytes(std::uint32_t write_index) const {
    const std::uint32_t read_index = control_->read_index;
    return write_index >= read_index ? data_size_ - (write_index - read_index)
                                     : read_index - write_index;
  }
  std::uint32_t available_bytes() const {
    const std::uint32_t write_index = control_->write_index;
    const std::uint32_t read_index = control_->read_index;
    return write_index >= read_index ? write_index - read_index
                                     : data_size_ - (read_index - write_index);
  }
  std::uint32_t copy_to(std::uint32_t at, const void* source, std::uint32_t bytes) {
    const auto* from = static_cast<const std::uint8_t*>(source);
    if (bytes > data_size_ - at) {
      const std::uint32_t first = data_size_ - at;
      std::memcpy(data_ + at, from, first);
      std::memcpy(data_, from + first, bytes - first);
    } else {
      std::memcpy(data_ + at, from, bytes);
    }
    return advance(at, bytes);
  }
  std::uint32_t copy_from(std::uint32_t at, void* target, std::uint32_t bytes) const {
    auto* to = static_cast<std::uint8_t*>(target);
    if (bytes > data_size_ - at) {
      const std::uint32_t first = data_size_ - at;
      std::memcpy(to, data_ + at, first);
      std::memcpy(to + first, data_, bytes - first);
    } else {
      std::memcpy(to, data_ + at, bytes);
    }
    return advance(at, bytes);
  }

  ring::RingControlPage* control_;
  std::uint8_t* data_;
  std::uint32_t data_size_;
  std::uint32_t private_write_index_;
};

}  // namespace vmbus::bench
