// The root partition: the VMBus server and its VSPs (vmbus-host).
//
// VmbusServer is the host's PartitionLogic: it routes the simulator's
// deliveries and steps to the pieces that do the work --
//   ControlPlane (control_plane.h)  the guest's CHANNELMSGs, in context "msg",
//                                   and its replies, one per "post" step;
//   Vsps (vsp.h)                    a VSP on each open channel's rings, one
//                                   ring phase per "chan/<relid>" step;
//   perform_action (actions.h)      the host's scenario actions;
//   host_report (report.h)          the final report and oracle findings
//                                   (oracles.h).
// The control plane asks the VSPs to attach and detach a channel's rings; the
// server wires the two together and owns neither memory nor protocol state.
#pragma once

#include <cstdint>
#include <memory>
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
  void step(const std::string& context, partition::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       partition::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids,
                     partition::Hypervisor& hv) override;
  std::string perform(const proto::PartitionAction& action, partition::Hypervisor& hv) override;
  // A HostReport (proto/schema/vmbus/proto/report.proto).
  proto::FinalReport final_report() override;

 private:
  partition::MessageSlot slot_;
  std::unique_ptr<Vsps> vsps_;             // once started: it needs guest memory
  std::unique_ptr<ControlPlane> control_;  // tells vsps_ about rings
};

}  // namespace vmbus::host
