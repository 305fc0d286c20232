// Guest memory as both partitions see it, and the port through which a
// control plane places a channel's rings in it.
//
// Guest memory is whole 4096-byte pages numbered from 0 (guest PFNs). In a
// run it is the shared-memory segment vmbus-sim creates (SharedGuestMemory,
// opened by run_partition() and handed to PartitionLogic::start()); a test
// hands in a flat buffer instead (vmbus/partition/testing). Nothing else in
// a partition opens the segment.
//
// A channel's two rings lie back to back in guest memory: the guest->host
// ("outbound") ring first, its control page included, then the host->guest
// ("inbound") ring -- the layout OPENCHANNEL's
// downstream_ringbuffer_pageoffset describes. A control plane decides where
// (RingPlacement) and when; it asks a RingPort (ring_port.h) to attach or
// detach the rings and never maps memory itself. The port's owner -- the
// host's VSPs, the guest's channel endpoints -- maps them with map_rings().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "vmbus/ring/memory.h"
#include "vmbus/shm/segment.h"

namespace vmbus::partition {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;

  virtual std::uint64_t page_count() const = 0;

  // The bytes of `count` pages from `first_page`, 4096-byte aligned. The
  // pages must lie inside guest memory (VMBUS_CHECK: callers validate
  // untrusted page numbers first).
  virtual std::span<std::byte> pages(std::uint64_t first_page, std::uint64_t count) = 0;
};

// The run's shared-memory segment as guest memory.
class SharedGuestMemory final : public GuestMemory {
 public:
  explicit SharedGuestMemory(shm::SharedSegment segment);
  std::uint64_t page_count() const override;
  std::span<std::byte> pages(std::uint64_t first_page, std::uint64_t count) override;

 private:
  shm::SharedSegment segment_;
};

// The page range [first_page, first_page + count) of `page_count` pages, or
// false when it does not fit (overflow included).
bool pages_fit(std::uint64_t first_page, std::uint64_t count, std::uint64_t page_count);

// One ring inside guest memory; the memory must outlive it.
class GuestRingMemory final : public ring::RingMemory {
 public:
  explicit GuestRingMemory(std::span<std::byte> region) : region_(region) {}
  std::span<std::byte> region() override { return region_; }

 private:
  std::span<std::byte> region_;
};

// Where a channel's rings lie: `outbound_pages` from `first_page`, then
// `inbound_pages`; each count includes the ring's control page.
struct RingPlacement {
  std::uint64_t first_page = 0;
  std::uint32_t outbound_pages = 0;
  std::uint32_t inbound_pages = 0;
};

struct ChannelRings {
  std::unique_ptr<ring::RingMemory> outbound;  // guest -> host
  std::unique_ptr<ring::RingMemory> inbound;   // host -> guest
};

// Both rings of `placement` in `memory` (which must hold them: checked).
ChannelRings map_rings(GuestMemory& memory, const RingPlacement& placement);

}  // namespace vmbus::partition
