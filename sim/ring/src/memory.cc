#include "vmbus/ring/memory.h"

#include <cstring>
#include <new>
#include <string>

#include "vmbus/base/check.h"
#include "vmbus/ring/layout.h"

namespace vmbus::ring {

bool is_valid_ring_size(std::size_t size_bytes) {
  return size_bytes >= 2 * std::size_t{kHvPageSizeBytes} && size_bytes % kHvPageSizeBytes == 0 &&
         size_bytes - kHvPageSizeBytes <= 0xFFFFFFFFu;
}

void FlatRingMemory::AlignedDelete::operator()(std::byte* p) const {
  ::operator delete[](p, std::align_val_t{kHvPageSizeBytes});
}

FlatRingMemory::FlatRingMemory(std::uint32_t data_size_bytes)
    : size_bytes_(std::size_t{kHvPageSizeBytes} + data_size_bytes) {
  VMBUS_CHECK(is_valid_ring_size(size_bytes_), "ring data size " + std::to_string(data_size_bytes) +
                                                   " is not a positive multiple of 4096");
  bytes_.reset(
      static_cast<std::byte*>(::operator new[](size_bytes_, std::align_val_t{kHvPageSizeBytes})));
  std::memset(bytes_.get(), 0, size_bytes_);
}

}  // namespace vmbus::ring
