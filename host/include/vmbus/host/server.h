// The root partition: the VMBus server and its VSPs (vmbus-host).
//
// VmbusServer is the host's PartitionLogic: it routes the simulator's
// deliveries and steps to the pieces that do the work --
//   ControlPlane (control_plane.h)  the guest's CHANNELMSGs, in context "msg",
//                                   and its replies, one per "post" step;
//   Vsps (vsp.h)                    a KMCL server driver on every offered
//                                   channel, its device's contexts
//                                   "kmcl/<relid>/..." (DPC, passive worker,
//                                   driver threads and work queues);
//   perform_action (actions.h)      the host's scenario actions;
//   host_report (report.h)          the final report and oracle findings
//                                   (oracles.h).
// With HostConfig.unstick_delay_us the server itself also runs in context
// "timer": ready while a channel's unstick is pending and nothing else of
// the host can run (the simulator's clock may jump to wake_at_ns()), it
// re-signals a channel whose host -> guest ring the guest left unread a
// while after its open (OpenVMM's channel_unstick_delay).
// The control plane talks to the VSPs through its port; after every device
// step, action or delivery the server carries what a VSP's device did to
// the wire (answer an OPENCHANNEL, let go of rings, revoke an offer). The
// server owns neither memory nor protocol state.
//
// Scenario runs (KmclDriverConfig.scenario on the VSPs' drivers) trace
// every callback of the host's drivers too; the run ends when the simulator
// finds the system quiet, and final_report() answers with a HostReport.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vmbus/host/control_plane.h"
#include "vmbus/host/vsp.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/partition_support.h"

namespace vmbus::host {

class VmbusServer final : public partition::PartitionLogic {
 public:
  VmbusServer();
  ~VmbusServer() override;

  std::string start(const partition::StartInfo& info, partition::Hypervisor& hv) override;
  std::vector<std::uint32_t> message_connection_ids() const override;
  std::vector<std::string> ready_contexts() const override;
  std::uint64_t wake_at_ns() const override;
  void step(const std::string& context, partition::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       partition::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids, std::uint32_t vp,
                     partition::Hypervisor& hv) override;
  std::string perform(const proto::PartitionAction& action, partition::Hypervisor& hv) override;
  // A HostReport (proto/schema/vmbus/proto/report.proto).
  proto::FinalReport final_report() override;

 private:
  // After a device step, an action or a delivery: every VSP's trace, and
  // what its device asks of the wire (`rings_free`: the step already found
  // the device's close let go of the rings).
  void sync_vsps(const partition::Work& work);
  void sync_vsp(std::uint32_t child_relid, const partition::Work& work, bool rings_free = false);
  // The VSP of `child_relid` revoked its offer: rescind it, a primary's
  // subchannels first.
  void revoke(std::uint32_t child_relid, const partition::Work& work);
  // Rescinds the primaries whose subchannels are all rescinded now.
  void finish_revokes(const partition::Work& work);
  // OpenVMM's channel_unstick_delay: once unstick_delay_ns_ after the
  // server accepted a channel's open it looks at the channel again
  // (unless the host_never_unsticks quirk says it does not).
  void schedule_unstick(std::uint32_t child_relid, const partition::Work& work);
  // Every channel whose unstick time has come: if its host -> guest ring
  // holds packets the guest has not read, signal the guest -- a ring
  // decision of its own, traced as "signal" (or "no_signal").
  void unstick_due(const partition::Work& work);

  partition::MessageSlot slot_;
  std::unique_ptr<Vsps> vsps_;             // once started: it needs guest memory
  std::unique_ptr<ControlPlane> control_;  // opens and closes the VSPs' channels
  // Primaries whose VSP revoked the offer, waiting for their subchannels'
  // rescinds before their own.
  std::set<std::uint32_t> revoking_primaries_;
  std::uint64_t unstick_delay_ns_ = 0;  // 0: never
  // Channels to look at again, by relid: when (simulated ns).
  std::map<std::uint32_t, std::uint64_t> unstick_at_ns_;
};

}  // namespace vmbus::host
