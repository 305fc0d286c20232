// KMCL channel hosting: the guest's channels whose endpoint is a KMCL-model
// driver (GuestConfig.kmcl_drivers) instead of the echo VSC.
//
// KmclChannels is the guest's KmclEndpoints (partition/kmcl_endpoints.h:
// the drivers, their "kmcl/<relid>/..." contexts and their trace records)
// with the client's side of the wire: a driver's channel opens when the
// host accepted OPENCHANNEL (start) and closes for a rescind (rescind); the
// external data of a driver's send lives in guest pages it allocates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "vmbus/guest/page_allocator.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/kmcl_endpoints.h"
#include "vmbus/partition/partition.h"

namespace vmbus::guest {

class KmclChannels final : private partition::ExternalPages, public partition::KmclEndpoints {
 public:
  KmclChannels(PageAllocator& pages, partition::GuestMemory& memory)
      : partition::KmclEndpoints(static_cast<partition::ExternalPages&>(*this)),
        pages_(pages),
        memory_(memory) {}

  // The host accepted OPENCHANNEL: the device takes the rings (traced as the
  // channel's "open"). False if it refused (the driver disabled the channel
  // while the open was on the wire).
  bool start(partition::KmclEndpoint& endpoint, std::uint32_t connection_id,
             std::uint32_t open_number, partition::ChannelRings& rings,
             const partition::Work& work);
  // The host rescinded the channel: the device closes it. True while the
  // device still uses the rings.
  bool rescind(partition::KmclEndpoint& endpoint, const partition::Work& work);

  // Guest pages allocated in all, and those lent to sends as external data.
  std::uint64_t pages_allocated() const { return pages_.allocated_pages(); }
  std::uint64_t pages_lent() const { return pages_lent_; }

 private:
  // ExternalPages: guest pages for a send's external data, filled with
  // counting bytes, or nullopt when guest memory is exhausted; and back again.
  std::optional<std::pair<std::uint64_t, std::uint32_t>> lend(std::uint32_t count) override;
  void give_back(const std::pair<std::uint64_t, std::uint32_t>& pages) override;

  PageAllocator& pages_;
  partition::GuestMemory& memory_;
  std::uint64_t pages_lent_ = 0;
};

}  // namespace vmbus::guest
