#include "vmbus/guest/kmcl_channels.h"

#include <algorithm>

#include "vmbus/base/check.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/ring/layout.h"

namespace vmbus::guest {

std::string KmclChannels::add(const proto::KmclDriverConfig& config, std::uint64_t seed,
                              const partition::Work& work) {
  if (config.child_relid() == 0 || find(config.child_relid()) != nullptr) {
    return "kmcl driver relid " + std::to_string(config.child_relid()) + " is zero or repeated";
  }
  if (std::string error = validate_kmcl_driver(config); !error.empty()) {
    return error;
  }
  endpoints_.push_back(std::make_unique<KmclEndpoint>(config, seed));
  sync(*endpoints_.back(), work);
  return "";
}

KmclEndpoint* KmclChannels::find(std::uint32_t child_relid) {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

const KmclEndpoint* KmclChannels::find(std::uint32_t child_relid) const {
  for (const auto& endpoint : endpoints_) {
    if (endpoint->child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

bool KmclChannels::scenario_mode() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(),
                     [](const auto& endpoint) { return endpoint->config.scenario(); });
}

bool KmclChannels::drivers_done() const {
  return std::all_of(endpoints_.begin(), endpoints_.end(), [](const auto& endpoint) {
    return endpoint->driver.retirements().size() >= endpoint->config.expect_packets();
  });
}

void KmclChannels::set_now(std::uint64_t now_ns) {
  for (const auto& endpoint : endpoints_) {
    endpoint->device.set_now_ns(now_ns);
  }
}

void KmclChannels::add_ready(std::vector<std::string>& ready) const {
  for (const auto& endpoint : endpoints_) {
    for (const std::string& context : endpoint->device.ready_contexts()) {
      ready.push_back(
          partition::channel_context(kKmclContextKind, endpoint->child_relid(), context));
    }
  }
}

bool KmclChannels::waiting_for_time() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [](const auto& endpoint) {
    return endpoint->device.next_deadline_ns().has_value();
  });
}

std::uint64_t KmclChannels::wake_at_ns() const {
  std::uint64_t earliest = 0;
  for (const auto& endpoint : endpoints_) {
    if (const std::optional<std::uint64_t> deadline = endpoint->device.next_deadline_ns()) {
      earliest = earliest == 0 ? *deadline : std::min(earliest, *deadline);
    }
  }
  return earliest;
}

bool KmclChannels::step(std::uint32_t child_relid, const std::string& device_context,
                        const partition::Work& work) {
  KmclEndpoint* endpoint = find(child_relid);
  VMBUS_CHECK(endpoint != nullptr && !device_context.empty(),
              "no KMCL driver for context '" + work.context + "'");
  {
    const SignalScope scope(*endpoint, work.hv);
    endpoint->device.step(device_context);
  }
  return sync(*endpoint, work);
}

bool KmclChannels::sync(KmclEndpoint& endpoint, const partition::Work& work) {
  endpoint.queue_driver_records();
  const std::uint32_t relid = endpoint.child_relid();
  const auto& completions = endpoint.driver.send_completions();
  for (; endpoint.completions_emitted < completions.size(); ++endpoint.completions_emitted) {
    const kmcl::ScriptedDriver::SendCompletion& done = completions[endpoint.completions_emitted];
    proto::TraceRecord record = kmcl_record(relid, done.context);
    auto* event = record.mutable_completion();
    event->set_child_relid(relid);
    event->set_trans_id(done.trans_id);
    event->set_status(kmcl::ntstatus_name(done.status));
    event->set_bytes(static_cast<std::uint32_t>(done.payload.size()));
    endpoint.pending_trace.push_back(std::move(record));
    if (const auto lent = endpoint.external_pages.find(done.send_index);
        lent != endpoint.external_pages.end()) {
      return_pages(lent->second);
      endpoint.external_pages.erase(lent);
    }
  }
  endpoint.flush_trace(work.hv);
  // A rescinded channel keeps its pages until the device's close let go of
  // them; a disabled one frees them once the host tore the GPADL down.
  return endpoint.take_rings_free();
}

bool KmclChannels::start(KmclEndpoint& endpoint, std::uint32_t connection_id,
                         std::uint32_t open_number, partition::ChannelRings& rings,
                         const partition::Work& work) {
  // The KMCL device drives these rings from now on (its Opened, Started and
  // PostStarted callbacks run on its passive worker).
  endpoint.connection_id = connection_id;
  kmcl::NTSTATUS opened = kmcl::STATUS_SUCCESS;
  {
    const SignalScope scope(endpoint, work.hv);
    opened = endpoint.device.open_channel(endpoint.driver.channel(), *rings.inbound,
                                          *rings.outbound, endpoint);
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
    const kmcl::ChannelState state = endpoint.device.channel_state(endpoint.driver.channel());
    work.hv.trace(partition::trace_channel(work.context, endpoint.child_relid(), "open",
                                           std::string("the KMCL driver's channel is ") +
                                               kmcl::channel_state_name(state) + " (" +
                                               kmcl::ntstatus_name(opened) + "): closing it"));
  }
  sync(endpoint, work);
  return accepted;
}

bool KmclChannels::rescind(KmclEndpoint& endpoint, const partition::Work& work) {
  if (endpoint.begin_rescind()) {
    const SignalScope scope(endpoint, work.hv);
    endpoint.device.rescind_channel(endpoint.driver.channel());
  }
  sync(endpoint, work);
  return endpoint.wire == WireState::kRescinding;
}

std::optional<std::pair<std::uint64_t, std::uint32_t>> KmclChannels::lend_pages(
    std::uint32_t count) {
  const std::optional<std::uint64_t> first = pages_.allocate(count);
  if (!first) {
    return std::nullopt;
  }
  const std::span<std::byte> bytes = memory_.pages(*first, count);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(i & 0xFF);
  }
  return std::make_pair(*first, count);
}

void KmclChannels::return_pages(const std::pair<std::uint64_t, std::uint32_t>& pages) {
  pages_.free(pages.first, pages.second);
}

}  // namespace vmbus::guest
