#include "vmbus/partition/guest_memory.h"

#include <limits>

#include "vmbus/base/check.h"
#include "vmbus/ring/layout.h"

namespace vmbus::partition {

bool pages_fit(std::uint64_t first_page, std::uint64_t count, std::uint64_t page_count) {
  return first_page <= page_count && count <= page_count - first_page;
}

SharedGuestMemory::SharedGuestMemory(shm::SharedSegment segment) : segment_(std::move(segment)) {}

std::uint64_t SharedGuestMemory::page_count() const {
  return segment_.bytes().size() / ring::kHvPageSizeBytes;
}

std::span<std::byte> SharedGuestMemory::pages(std::uint64_t first_page, std::uint64_t count) {
  VMBUS_CHECK(pages_fit(first_page, count, page_count()),
              "guest pages " + std::to_string(first_page) + "+" + std::to_string(count) +
                  " lie outside guest memory");
  return segment_.bytes().subspan(first_page * ring::kHvPageSizeBytes,
                                  count * ring::kHvPageSizeBytes);
}

ChannelRings map_rings(GuestMemory& memory, const RingPlacement& placement) {
  // Each ring needs its control page and at least one data page; control
  // planes check placements from the other side before they attach them.
  VMBUS_CHECK(placement.outbound_pages >= 2 && placement.inbound_pages >= 2,
              "a ring placement without a data page");
  ChannelRings rings;
  rings.outbound = std::make_unique<GuestRingMemory>(
      memory.pages(placement.first_page, placement.outbound_pages));
  rings.inbound = std::make_unique<GuestRingMemory>(
      memory.pages(placement.first_page + placement.outbound_pages, placement.inbound_pages));
  return rings;
}

}  // namespace vmbus::partition
