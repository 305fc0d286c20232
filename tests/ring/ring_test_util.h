// Helpers shared by the ring unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

namespace vmbus::ring::testing {

// A ring whose region is fenced by inaccessible pages on both sides: any
// read or write outside the ring faults, so "reads nothing outside the
// ring" is checked by the MMU, not by hope.
class GuardedRingMemory final : public RingMemory {
 public:
  explicit GuardedRingMemory(std::uint32_t data_size_bytes)
      : size_bytes_(std::size_t{kHvPageSizeBytes} + data_size_bytes),
        mapping_bytes_(size_bytes_ + 2 * std::size_t{kHvPageSizeBytes}) {
    void* p =
        ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("mmap failed");
    }
    mapping_ = static_cast<std::byte*>(p);
    ::mprotect(mapping_, kHvPageSizeBytes, PROT_NONE);
    ::mprotect(mapping_ + kHvPageSizeBytes + size_bytes_, kHvPageSizeBytes, PROT_NONE);
  }
  GuardedRingMemory(const GuardedRingMemory&) = delete;
  GuardedRingMemory& operator=(const GuardedRingMemory&) = delete;
  ~GuardedRingMemory() override { ::munmap(mapping_, mapping_bytes_); }

  std::span<std::byte> region() override { return {mapping_ + kHvPageSizeBytes, size_bytes_}; }

 private:
  std::size_t size_bytes_;
  std::size_t mapping_bytes_;
  std::byte* mapping_ = nullptr;
};

inline std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

inline std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

// A payload of `size` bytes whose content depends on `seed`.
inline std::vector<std::byte> pattern(std::size_t size, std::uint32_t seed) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((seed * 131 + i * 7 + 3) & 0xFF);
  }
  return out;
}

// The data area of a ring.
inline std::span<std::byte> data_area(RingMemory& memory) {
  return memory.region().subspan(kRingDataOffsetBytes);
}

inline RingControlPage& control_of(RingMemory& memory) {
  return *reinterpret_cast<RingControlPage*>(memory.region().data());
}

inline OutgoingPacket inband(std::span<const std::byte> payload, std::uint64_t trans_id = 0,
                             std::uint16_t flags = 0) {
  OutgoingPacket packet;
  packet.type = static_cast<std::uint16_t>(PacketType::kDataInband);
  packet.flags = flags;
  packet.trans_id = trans_id;
  packet.payload = payload;
  return packet;
}

// Writes `packet` through all four phases; fails the caller's expectations
// through the returned status.
inline WriteStatus write_one(RingWriter& writer, const OutgoingPacket& packet,
                             bool* signal = nullptr) {
  bool ignored = false;
  return writer.write(packet, signal != nullptr ? signal : &ignored);
}

}  // namespace vmbus::ring::testing
