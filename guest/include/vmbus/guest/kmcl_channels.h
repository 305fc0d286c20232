// KMCL channel hosting: the guest's channels whose endpoint is a KMCL-model
// driver (GuestConfig.kmcl_drivers) instead of the echo VSC.
//
// KmclChannels owns one KmclEndpoint per driver and runs its device: the
// device's contexts become the guest's "kmcl/<relid>/<device context>"
// contexts ("dpc/1", "passive", "work/...", "thread/op<N>",
// "thread/sync<N>"), its Enable and Disable become the control plane's open
// and close wishes, and after every device step or action it writes what the
// driver did to the trace (sync): one KmclRecord of kind "driver" per driver
// callback (scenario mode), context "kmcl/<relid>/<device context>", detail
// "<callback>[ #<packet>| send#<n>] <PASSIVE|DISPATCH>[ <action>]"
// (kmcl::to_scenario_text), and a CompletionEvent for every guest send that
// ended (its completion routine ran, or its synchronous request returned).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmbus/guest/kmcl_endpoint.h"
#include "vmbus/guest/page_allocator.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"

namespace vmbus::guest {

// The endpoint's device may signal the host through `hv` while this lives:
// the device signals only from inside a step or an action.
class SignalScope {
 public:
  SignalScope(KmclEndpoint& endpoint, partition::Hypervisor& hv) : endpoint_(endpoint) {
    endpoint_.hv = &hv;
  }
  ~SignalScope() { endpoint_.hv = nullptr; }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  KmclEndpoint& endpoint_;
};

class KmclChannels {
 public:
  KmclChannels(PageAllocator& pages, partition::GuestMemory& memory)
      : pages_(pages), memory_(memory) {}

  // A driver for `config` (seeded from `seed` unless it has its own); ""
  // or why it cannot be used.
  std::string add(const proto::KmclDriverConfig& config, std::uint64_t seed,
                  const partition::Work& work);

  KmclEndpoint* find(std::uint32_t child_relid);
  const KmclEndpoint* find(std::uint32_t child_relid) const;
  // In configuration order.
  const std::vector<std::unique_ptr<KmclEndpoint>>& endpoints() const { return endpoints_; }

  // A scenario's driver never counts as done: the run ends when the system
  // goes quiet.
  bool scenario_mode() const;
  // Every driver has retired the packets it expects.
  bool drivers_done() const;

  // Every device sees the simulated time of the step or delivery that runs,
  // so a wait's deadline (a synchronous request's timeout) can pass.
  void set_now(std::uint64_t now_ns);
  void add_ready(std::vector<std::string>& ready) const;
  // A driver thread waits for a deadline (only the clock can wake it).
  bool waiting_for_time() const;
  // The earliest such deadline, or 0 for none.
  std::uint64_t wake_at_ns() const;

  // One step of `device_context` of channel `child_relid`'s device, then
  // sync(). True when a rescinded channel's rings became free.
  bool step(std::uint32_t child_relid, const std::string& device_context,
            const partition::Work& work);
  // After a device step or an action: the driver's records, the sends that
  // ended (their lent pages go back), the device's events. True when a
  // rescinded channel's rings became free.
  bool sync(KmclEndpoint& endpoint, const partition::Work& work);

  // The host accepted OPENCHANNEL: the device takes the rings (traced as the
  // channel's "open"). False if it refused (the driver disabled the channel
  // while the open was on the wire).
  bool start(KmclEndpoint& endpoint, std::uint32_t connection_id, std::uint32_t open_number,
             partition::ChannelRings& rings, const partition::Work& work);
  // The host rescinded the channel: the device closes it. True while the
  // device still uses the rings.
  bool rescind(KmclEndpoint& endpoint, const partition::Work& work);

  // Guest pages for a send's external data, filled with counting bytes, or
  // nullopt when guest memory is exhausted; and back again.
  std::optional<std::pair<std::uint64_t, std::uint32_t>> lend_pages(std::uint32_t count);
  void return_pages(const std::pair<std::uint64_t, std::uint32_t>& pages);

 private:
  PageAllocator& pages_;
  partition::GuestMemory& memory_;
  std::vector<std::unique_ptr<KmclEndpoint>> endpoints_;
};

}  // namespace vmbus::guest
