// The host's data plane: a VSP on every offered channel, each a KMCL server
// driver.
//
// Every configured channel gets a KMCL server endpoint (partition::
// KmclEndpoint, EndpointRole::kServer) whose scripted driver is the VSP: its
// policy is the channel's driver configuration, or the VSP kind's
// (ChannelOfferConfig.driver, config.proto): ECHO answers every packet with
// its own payload, COMPLETE completes it (empty), DISCARD leaves it
// outstanding, SINK_STALLED never starts the channel. The driver enables
// its channel when the host starts (Enable = offer) and starts it; its
// device's contexts are the host's "kmcl/<relid>/..." contexts.
//
// Vsps is the host control plane's port (ControlPlanePort): a channel's
// rings are mapped when the control plane attaches them (the guest's
// OPENCHANNEL was accepted) and the device opens the channel on them; a
// CLOSECHANNEL closes the device's channel, which keeps the rings until its
// close sequence (Suspend, the VSP retiring what it holds, Closed) is done.
// After every device step or action, sync_channel() says what the control
// plane must do next: answer the OPENCHANNEL with EvtChannelOpened's
// status, let go of the rings, or revoke the offer (the driver disabled its
// channel). A channel's counters live as long as the server.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/host/control_plane.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/kmcl_endpoints.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::host {

// One channel's VSP.
struct VspChannel {
  proto::ChannelOfferConfig config;
  partition::KmclEndpoint* endpoint = nullptr;  // the VSP's driver and device
  // While the rings are attached: guest->host (the device's incoming ring)
  // and host->guest (its outgoing ring).
  partition::ChannelRings rings;
  // The last packet a scenario's raw_packet wrote, and how many packets the
  // device had written by then (the later of the two is the last packet).
  std::optional<kmcl::WrittenPacket> raw_written;
  std::uint64_t device_packets_at_raw = 0;
  std::uint64_t action_signals = 0;    // interrupts scenario actions raised
  bool revoke_started = false;         // rescind_after_packets disabled the channel
  bool sends_reported = false;         // "completions.<relid>" was reported
  std::uint64_t vsp_sends_queued = 0;  // of VspConfig.send_packets, handed to the driver so far

  bool attached() const { return rings.inbound != nullptr; }
  std::uint32_t child_relid() const { return config.child_relid(); }
};

// What the control plane must do for a channel after its VSP's device ran.
struct WireEvents {
  std::optional<kmcl::NTSTATUS> open_result;  // answer the OPENCHANNEL with it
  bool rings_free = false;                    // the device's close let go of the rings
  bool revoke = false;                        // the driver disabled its channel: rescind the offer
};

class Vsps final : private partition::ExternalPages,
                   public partition::KmclEndpoints,
                   public ControlPlanePort {
 public:
  explicit Vsps(partition::GuestMemory& memory);

  // A VSP for every offer (called once, with offers the control plane
  // took); "" or why a driver configuration cannot be used.
  std::string configure(const proto::HostConfig& config, std::uint64_t seed,
                        const partition::Work& work);

  // ControlPlanePort.
  void attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                    const partition::Work& work) override;
  void detach_rings(std::uint32_t child_relid, partition::DetachReason reason,
                    const partition::Work& work) override;
  bool offer_wanted(std::uint32_t child_relid) const override;
  bool open_endpoint(std::uint32_t child_relid, const partition::Work& work) override;
  bool close_endpoint(std::uint32_t child_relid, const partition::Work& work) override;

  // The device goes away: the VSP's driver disables channel `child_relid`
  // (its primary was revoked), unless it did already.
  void revoke(std::uint32_t child_relid);
  // The guest signalled channel `child_relid`: its device's DPC looks at both rings.
  void on_guest_signal(std::uint32_t child_relid);
  // After a device step or an action on channel `child_relid`: the trace,
  // then what the wire must do.
  WireEvents sync_channel(std::uint32_t child_relid, const partition::Work& work);

  // Scenario actions build on these.
  VspChannel* find_channel(std::uint32_t child_relid);
  const VspChannel* find_channel(std::uint32_t child_relid) const;
  const std::map<std::uint32_t, VspChannel>& channels() const { return channels_; }
  // Interrupts the guest for the channel (a scenario action's signal).
  void signal_guest(VspChannel& channel, const partition::Work& work);
  // An action moved the host->guest write_index: the device continues from it.
  void resync_sender(VspChannel& channel);
  // Where the host last wrote a packet into the host->guest ring: the
  // device's last packet or a raw_packet, whichever came later.
  std::optional<kmcl::WrittenPacket> last_written(const VspChannel& channel) const;
  // The guest memory's size in pages.
  std::uint64_t guest_pages() const { return memory_.page_count(); }

 private:
  // ExternalPages: a host send's external data names the last pages of
  // guest memory (they exist, and the guest allocates its rings from the
  // bottom); nothing is lent, so nothing goes back.
  std::optional<std::pair<std::uint64_t, std::uint32_t>> lend(std::uint32_t count) override;
  void give_back(const std::pair<std::uint64_t, std::uint32_t>& pages) override;
  // The VSP's own traffic (VspConfig.send_packets), sent when the channel opens.
  void queue_vsp_sends(VspChannel& channel);
  // rescind_after_packets: the driver disables its channel once.
  void maybe_revoke(VspChannel& channel);

  partition::GuestMemory& memory_;
  std::map<std::uint32_t, VspChannel> channels_;  // by child_relid
};

// The default action a VSP kind stands for: ECHO KIND_ECHO, COMPLETE and
// SINK_STALLED (should a START let it read) KIND_COMPLETE, DISCARD
// KIND_LEAVE_OUTSTANDING.
proto::DriverAction vsp_default_action(const proto::VspConfig& vsp);

// The KMCL driver configuration of an offer's VSP: the offer's driver, its
// default action the VSP kind's unless it names one; SINK_STALLED never
// starts its channel (stay_paused).
proto::KmclDriverConfig vsp_driver_config(const proto::ChannelOfferConfig& offer);

}  // namespace vmbus::host
