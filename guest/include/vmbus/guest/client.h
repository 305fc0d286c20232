// The child partition: the VMBus client (vmbus-guest).
//
// VmbusClient is the guest's PartitionLogic. It routes the simulator's
// deliveries and steps to the pieces that do the work and decides when the
// run's workload is over:
//   ControlPlane (control_plane.h)  the host's CHANNELMSGs ("msg") and the
//                                   client's own protocol steps ("control");
//   EchoVsc (echo_vsc.h)            the echo VSC on channels without a KMCL
//                                   driver ("dpc/<relid>", "vsc/<relid>");
//   KmclChannels (kmcl_channels.h)  KMCL-model drivers ("kmcl/<relid>/...");
//   perform_action (actions.h)      the guest's scenario actions;
//   report.h                        the run summary and the final report
//                                   with the oracles' findings (oracles.h).
// It is the control plane's ControlPlanePort: it maps the rings the control
// plane places (pages handed out by its PageAllocator) and hands them to the
// channel's endpoint.
//
// Other contexts: "isr" (SINT2 event flags -> the channels' endpoints; with
// several VPs (GuestConfig.vp_count) it test-and-clears every VP's flags,
// VP by VP, and services a channel's event on whatever VP it arrived at) and
// "timer" (the clock interrupt: ready only while a KMCL wait or a resume
// from hibernation has a deadline and nothing else in the guest is ready;
// each step lets simulated time pass, so a VmbChannelSendSynchronousRequest
// timeout expires on a quiet system).
//
// Scenario runs (KmclDriverConfig.scenario): the driver never counts as
// done; the guest keeps its channels open, never unloads and never reports
// done; the run ends when the simulator finds the system quiet, and
// final_report() answers with a GuestReport (report.proto).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vmbus/guest/actions.h"
#include "vmbus/guest/control_plane.h"
#include "vmbus/guest/echo_vsc.h"
#include "vmbus/guest/kmcl_channels.h"
#include "vmbus/guest/page_allocator.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

class VmbusClient final : public partition::PartitionLogic, private ControlPlanePort {
 public:
  VmbusClient();
  ~VmbusClient() override;

  std::string start(const partition::StartInfo& info, partition::Hypervisor& hv) override;
  std::uint32_t vp_count() const override;
  std::vector<std::string> ready_contexts() const override;
  std::uint64_t wake_at_ns() const override;
  void step(const std::string& context, partition::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       partition::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids, std::uint32_t vp,
                     partition::Hypervisor& hv) override;
  std::string perform(const proto::PartitionAction& action, partition::Hypervisor& hv) override;
  // A GuestReport (proto/schema/vmbus/proto/report.proto).
  proto::FinalReport final_report() override;

 private:
  // ControlPlanePort.
  void attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                    const partition::Work& work) override;
  void detach_rings(std::uint32_t child_relid, partition::DetachReason reason,
                    const partition::Work& work) override;
  void load_inbound_image(std::uint32_t child_relid, ring::RingMemory& inbound,
                          const partition::Work& work);
  bool wants_open(std::uint32_t child_relid, std::uint32_t opens) const override;
  bool wants_close(std::uint32_t child_relid, std::uint32_t opens) const override;
  void open_started(std::uint32_t child_relid) override;
  void close_posted(std::uint32_t child_relid) override;
  bool start_endpoint(std::uint32_t child_relid, std::uint32_t connection_id,
                      std::uint32_t open_number, const partition::Work& work) override;
  bool rescind_endpoint(std::uint32_t child_relid, const partition::Work& work) override;
  void on_channels_settled(const partition::Work& work) override;
  void on_rescinded(std::uint32_t child_relid, bool was_open, const partition::Work& work) override;
  void on_round_trip(const partition::Work& work) override;
  void on_unloaded(const partition::Work& work) override;
  void fail(const std::string& why, const partition::Work& work) override;
  void on_resumed(const std::vector<std::uint32_t>& child_relids,
                  const partition::Work& work) override;

  void step_channel_context(const partition::ContextName& name, const partition::Work& work);
  void isr_step(const partition::Work& work);
  void receive_step(std::uint32_t child_relid, const partition::Work& work);
  // After an action or a delivery: every driver's records and freed rings.
  void sync_drivers(const partition::Work& work);
  // A driver closing a primary channel closes its subchannels first.
  void close_subchannels(const partition::Work& work);

  // The workload: its end, successful or not, is reported once.
  bool workload_complete() const;
  void finish_if_complete(const partition::Work& work);
  // The ISR's work for channel `child_relid`'s flag on VP `vp`.
  void service_interrupt(std::uint32_t vp, std::uint32_t child_relid, const partition::Work& work);
  // An interrupt on a VP other than the channel's target: serviced (true),
  // or dropped with the quirk guest_drops_interrupt_on_old_vp.
  bool serve_off_target(std::uint32_t vp, std::uint32_t child_relid, const partition::Work& work);
  // "" or why the configuration's VPs or channel targets do not fit.
  std::string check_vps() const;
  void finish_workload(const partition::Work& work);

  proto::GuestConfig config_;
  partition::GuestMemory* memory_ = nullptr;
  std::unique_ptr<PageAllocator> pages_;
  // The rings the control plane attached, by child_relid. Declared before
  // the endpoints that use them, so that it outlives them.
  GuestRings rings_;
  // A hostile guest's last raw packet on each open channel (actions.h).
  RawPackets raw_packets_;
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<EchoVsc> echo_;
  std::unique_ptr<KmclChannels> drivers_;
  partition::MessageSlot slot_;
  // Each VP's SINT2 flags not yet seen by the ISR, by VP (no empty sets).
  std::map<std::uint32_t, std::set<std::uint32_t>> pending_event_relids_;
  bool reported_ = false;
  // Subchannels whose driver was told to close them with their primary.
  std::set<std::uint32_t> subchannels_closing_;
};

}  // namespace vmbus::guest
