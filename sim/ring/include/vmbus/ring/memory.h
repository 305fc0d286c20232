// Where a ring's bytes live.
//
// A ring is one contiguous region: the 4096-byte control page followed by the
// data area. Ring code reaches it only through RingMemory, so unit tests,
// fuzzers and tools use FlatRingMemory (private heap memory) while the
// partition processes use a shared-memory mapping (vmbus/shm/). The ring
// never owns or frees the memory it is handed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace vmbus::ring {

class RingMemory {
 public:
  virtual ~RingMemory() = default;

  // The control page followed by the data area. Stable for the object's
  // lifetime, 4096-byte aligned, size a multiple of 4096 and at least 8192.
  virtual std::span<std::byte> region() = 0;
};

// True when `size_bytes` can hold a ring: one control page plus a data area
// that is a positive multiple of 4096 bytes.
bool is_valid_ring_size(std::size_t size_bytes);

// A ring in private, page-aligned, zero-initialised heap memory.
class FlatRingMemory final : public RingMemory {
 public:
  // `data_size_bytes` must be a positive multiple of 4096 (checked).
  explicit FlatRingMemory(std::uint32_t data_size_bytes);

  std::span<std::byte> region() override { return {bytes_.get(), size_bytes_}; }

 private:
  struct AlignedDelete {
    void operator()(std::byte* p) const;
  };
  std::size_t size_bytes_;
  std::unique_ptr<std::byte[], AlignedDelete> bytes_;
};

}  // namespace vmbus::ring
