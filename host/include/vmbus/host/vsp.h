// The host's data plane: a VSP on each open channel's rings.
//
// VSP kinds (VspConfig.kind): ECHO writes every guest packet back (a packet
// that requests a completion is answered by a VM_PKT_COMP with its payload);
// COMPLETE answers only packets that request a completion, with an empty
// VM_PKT_COMP; DISCARD reads and drops everything; SINK_STALLED never reads.
// In every kind but SINK_STALLED a VM_PKT_COMP from the guest completes one of
// the host's own sends (a CompletionEvent in the trace).
//
// Vsps is the RingPort of the host's control plane: a channel's rings are
// mapped when the control plane attaches them (the guest's OPENCHANNEL was
// accepted) and let go when it detaches them, which also ends the sends
// still waiting for a completion (STATUS_CANCELLED on a close,
// STATUS_DEVICE_REMOVED on a rescind). Each VSP step ("chan/<relid>") is one
// phase of the channel's ring receiver or sender. A channel's counters live
// as long as the server: they survive close, rescind and RELID_RELEASED.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmbus/partition/guest_memory.h"
#include "vmbus/partition/ring_endpoint.h"
#include "vmbus/partition/ring_port.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::host {

// The kind of a VSP's context: "chan/<relid>", one ring phase of the channel.
inline constexpr std::string_view kVspContextKind = "chan";

// What a channel's VSP counts; reported at the end of a run.
struct VspStats {
  std::uint64_t packets_received = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t completions_received = 0;  // VM_PKT_COMP for any trans_id
  std::uint64_t unknown_completions = 0;   // ... for none the host waits for
  std::uint64_t signals = 0;
  std::uint64_t signals_masked = 0;
};

// Where the host last wrote a packet into the host->guest ring.
struct WrittenPacket {
  std::uint32_t payload_index = 0;       // ring data offset of the payload's first byte
  std::uint32_t payload_area_bytes = 0;  // payload plus padding
  std::uint64_t trans_id = 0;
};

// One channel's VSP.
struct VspChannel {
  proto::ChannelOfferConfig config;
  // While the rings are attached: both rings, the reader of the
  // guest->host ring and the writer of the host->guest ring.
  partition::ChannelRings rings;
  std::unique_ptr<partition::RingReceiver> receiver;
  std::unique_ptr<partition::RingSender> sender;
  bool receive_turn = true;
  std::uint64_t packets_echoed = 0;
  bool stopped = false;  // the rings are corrupt: the VSP stopped
  VspStats stats;
  // Sends that requested a completion: trans_id -> how many are outstanding.
  std::map<std::uint64_t, std::uint32_t> pending_transactions;
  std::uint64_t last_trans_id = 0;  // scenario sends without a trans_id: 1, 2, ...
  std::optional<WrittenPacket> last_written;

  bool attached() const { return sender != nullptr; }
  // A stalled VSP never reads its ring (back-pressure tests).
  bool listens() const { return config.vsp().kind() != proto::VspConfig::KIND_SINK_STALLED; }
  std::uint32_t child_relid() const { return config.child_relid(); }
  std::uint64_t pending_count() const;
};

class Vsps final : public partition::RingPort {
 public:
  explicit Vsps(partition::GuestMemory& memory) : memory_(memory) {}

  // A VSP for every offer (called once, with offers the control plane took).
  void configure(const proto::HostConfig& config);

  void attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                    const partition::Work& work) override;
  void detach_rings(std::uint32_t child_relid, partition::DetachReason reason,
                    const partition::Work& work) override;

  // "chan/<relid>" for every channel whose VSP has a phase to run.
  void add_ready(std::vector<std::string>& ready) const;
  // One phase of channel `child_relid`'s VSP. Returns true when the channel
  // has echoed its rescind_after_packets and wants to be rescinded.
  bool step(std::uint32_t child_relid, const partition::Work& work);
  // The guest signalled channel `child_relid`, which is open: look at both rings.
  void on_guest_signal(std::uint32_t child_relid, const partition::Work& work);

  // Scenario actions build on these.
  // Runs the sender's batch in flight to its end (publish, signal decision),
  // before an action moves the host->guest write_index behind its back.
  void finish_send_batch(VspChannel& channel, const partition::Work& work);
  // Interrupts the guest for the channel.
  void signal_guest(VspChannel& channel, const partition::Work& work);
  // The guest memory's size in pages.
  std::uint64_t guest_pages() const { return memory_.page_count(); }

  VspChannel* find(std::uint32_t child_relid);
  const VspChannel* find(std::uint32_t child_relid) const;
  const std::map<std::uint32_t, VspChannel>& channels() const { return channels_; }

 private:
  // One phase of the receiver or the sender; returns whether to signal the guest.
  bool receive_phase(VspChannel& channel, const partition::Work& work);
  bool send_phase(VspChannel& channel, const partition::Work& work);
  void on_guest_packet(VspChannel& channel, const ring::PacketView& packet,
                       const partition::Work& work);
  void on_guest_completion(VspChannel& channel, const ring::PacketView& packet,
                           const partition::Work& work);
  // The VSP's own traffic (VspConfig.send_packets), queued when the channel opens.
  void queue_vsp_sends(VspChannel& channel);
  // Ends every pending transaction of the channel with `status` (the channel
  // closed or was rescinded before the guest completed them).
  void cancel_transactions(VspChannel& channel, const std::string& status,
                           const partition::Work& work);

  partition::GuestMemory& memory_;
  std::map<std::uint32_t, VspChannel> channels_;  // by child_relid
};

// A CompletionEvent for one of the host's sends.
void trace_completion(std::uint32_t child_relid, std::uint64_t trans_id, const std::string& status,
                      std::uint32_t bytes, const partition::Work& work);

}  // namespace vmbus::host
