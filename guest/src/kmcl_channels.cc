#include "vmbus/guest/kmcl_channels.h"

#include "vmbus/partition/partition_support.h"

namespace vmbus::guest {

using partition::KmclEndpoint;
using partition::SignalScope;

bool KmclChannels::start(KmclEndpoint& endpoint, std::uint32_t connection_id,
                         std::uint32_t open_number, partition::ChannelRings& rings,
                         const partition::Work& work) {
  // The KMCL device drives these rings from now on (its Opened, Started and
  // PostStarted callbacks run on its passive worker).
  endpoint.connection_id = connection_id;
  kmcl::NTSTATUS opened = kmcl::STATUS_SUCCESS;
  {
    const SignalScope scope(endpoint, work.hv);
    opened =
        endpoint.device.open_channel(endpoint.channel(), *rings.inbound, *rings.outbound, endpoint);
  }
  const bool accepted = opened == kmcl::STATUS_SUCCESS;
  endpoint.wire_opened(accepted);
  if (accepted) {
    work.hv.trace(partition::trace_channel(
        work.context, endpoint.child_relid(), "open",
        "KMCL driver attached (open #" + std::to_string(open_number) + ")"));
  } else {
    // The driver disabled the channel while it was being opened: it wants
    // it closed again on the wire.
    const kmcl::ChannelState state = endpoint.device.channel_state(endpoint.channel());
    work.hv.trace(partition::trace_channel(work.context, endpoint.child_relid(), "open",
                                           std::string("the KMCL driver's channel is ") +
                                               kmcl::channel_state_name(state) + " (" +
                                               kmcl::ntstatus_name(opened) + "): closing it"));
  }
  sync(endpoint, work);
  return accepted;
}

bool KmclChannels::rescind(KmclEndpoint& endpoint, const partition::Work& work) {
  if (endpoint.begin_peer_close()) {
    const SignalScope scope(endpoint, work.hv);
    endpoint.device.rescind_channel(endpoint.channel());
  }
  sync(endpoint, work);
  return endpoint.wire == partition::WireState::kPeerClosing;
}

std::optional<std::pair<std::uint64_t, std::uint32_t>> KmclChannels::lend(std::uint32_t count) {
  const std::optional<std::uint64_t> first = pages_.allocate(count);
  if (!first) {
    return std::nullopt;
  }
  pages_lent_ += count;
  const std::span<std::byte> bytes = memory_.pages(*first, count);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(i & 0xFF);
  }
  return std::make_pair(*first, count);
}

void KmclChannels::give_back(const std::pair<std::uint64_t, std::uint32_t>& pages) {
  pages_lent_ -= pages.second;
  pages_.free(pages.first, pages.second);
}

}  // namespace vmbus::guest
