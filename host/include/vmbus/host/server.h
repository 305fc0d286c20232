// The root partition: the VMBus server and its VSPs (vmbus-host).
//
// VmbusServer answers the guest's control plane -- INITIATE_CONTACT,
// REQUESTOFFERS, GPADL_HEADER/BODY, OPENCHANNEL, CLOSECHANNEL,
// GPADL_TEARDOWN, RELID_RELEASED, UNLOAD -- and runs a VSP on each open
// channel's rings. It trusts nothing the guest sends: every message is
// validated against the message table and the channel's state, every GPADL
// page must lie inside guest memory, every ring offset inside its GPADL.
// Bad input is refused with the protocol's status or ignored, and traced;
// it never stops the server.
//
// Contexts: "msg" (one guest message from the slot), "post" (one queued
// message to the guest), "chan/<relid>" (one ring phase of a VSP).
//
// VSP kinds (VspConfig.kind): ECHO writes every guest packet back (a packet
// that requests a completion is answered by a VM_PKT_COMP with its payload);
// COMPLETE answers only packets that request a completion, with an empty
// VM_PKT_COMP; DISCARD reads and drops everything; SINK_STALLED never reads.
// In every kind but SINK_STALLED a VM_PKT_COMP from the guest completes one of
// the host's own sends (a CompletionEvent in the trace).
//
// Scenario actions (perform(), deterministic mode, between two steps). The
// host plays a malicious root partition here: raw writes bypass the
// RingWriter, but every offset is checked against the ring's data area first,
// and a bad one is an error string, never a write.
//   send        `count` packets on the host->guest sender, as the VSP's own.
//   ring_write  raw bytes into a ring's data area; optionally a write_index
//               store and an interrupt for that ring's reader.
//   raw_packet  a descriptor with the scenario's fields, its payload and a
//               trailer at the host->guest write_index, published as is.
//   tamper      overwrites the payload of the last packet the host wrote.
//   set_index   stores write_index or read_index of either ring.
//   channel_op  RESCIND only (the other ops are the guest driver's).
// An action that moves the host->guest write_index (raw_packet, a ring_write
// with write_index, set_index WRITE_INDEX of that ring) first finishes the
// sender's batch in flight, and afterwards the sender continues from the
// index the action left, valid or not (an invalid one stops the VSP the next
// time it sends, as a corrupt ring does).
//
// final_report(): a HostReport (proto/schema/vmbus/proto/report.proto): the
// state and counters of every channel ever offered, and the lost_wakeup and
// leak oracles' findings.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmbus/partition/partition.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/ring_endpoint.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/wire/gpadl.h"

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
  proto::FinalReport final_report() override;

 private:
  struct Gpadl {
    std::uint32_t child_relid = 0;
    std::uint64_t first_pfn = 0;
    std::uint32_t pages = 0;
    bool in_use = false;
  };

  // What the final report says about a channel; survives close, rescind and
  // RELID_RELEASED.
  struct ChannelStats {
    std::uint64_t packets_received = 0;
    std::uint64_t packets_sent = 0;
    std::uint64_t completions_received = 0;  // VM_PKT_COMP for any trans_id
    std::uint64_t unknown_completions = 0;   // ... for none the host waits for
    std::uint64_t signals = 0;
    std::uint64_t signals_masked = 0;
    bool closed_by_guest = false;  // CLOSECHANNEL (or UNLOAD) since the last open
  };

  // Where the host last wrote a packet into the host->guest ring.
  struct WrittenPacket {
    std::uint32_t payload_index = 0;       // ring data offset of the payload's first byte
    std::uint32_t payload_area_bytes = 0;  // payload plus padding
    std::uint64_t trans_id = 0;
  };

  struct Channel {
    proto::ChannelOfferConfig config;
    std::uint32_t connection_id = 0;
    enum class State { kOffered, kOpen, kRescinded } state = State::kOffered;
    std::uint32_t gpadl = 0;
    std::unique_ptr<ring::RingMemory> outbound_memory;  // guest -> host: we read
    std::unique_ptr<ring::RingMemory> inbound_memory;   // host -> guest: we write
    std::unique_ptr<partition::RingReceiver> receiver;
    std::unique_ptr<partition::RingSender> sender;
    bool receive_turn = true;
    std::uint64_t packets_echoed = 0;
    bool stopped = false;  // the rings are corrupt: the VSP stopped
    ChannelStats stats;
    // Sends that requested a completion: trans_id -> how many are outstanding.
    std::map<std::uint64_t, std::uint32_t> pending_transactions;
    std::uint64_t last_trans_id = 0;  // scenario sends without a trans_id: 1, 2, ...
    std::optional<WrittenPacket> last_written;
  };

  // Message handling, one per CHANNELMSG the server accepts.
  void handle_message(const wire::HvMessage& slot, partition::Hypervisor& hv);
  void on_initiate_contact(const wire::InitiateContact& m, const wire::HvMessage& slot,
                           partition::Hypervisor& hv);
  void on_request_offers(partition::Hypervisor& hv);
  void on_gpadl_header(const wire::GpadlHeaderMessage& m, partition::Hypervisor& hv);
  void on_gpadl_body(const wire::GpadlBodyMessage& m, partition::Hypervisor& hv);
  void on_open_channel(const wire::OpenChannel& m, partition::Hypervisor& hv);
  void on_close_channel(const wire::CloseChannel& m, partition::Hypervisor& hv);
  void on_gpadl_teardown(const wire::GpadlTeardown& m, partition::Hypervisor& hv);
  void on_relid_released(const wire::RelidReleased& m, partition::Hypervisor& hv);
  void on_modify_channel(const wire::ModifyChannel& m, partition::Hypervisor& hv);
  void on_unload(partition::Hypervisor& hv);

  void finish_gpadl(const wire::GpadlAssembler& assembler, partition::Hypervisor& hv);
  // Answers GPADL_CREATED with a failure status and traces why.
  void refuse_gpadl(std::uint32_t child_relid, std::uint32_t gpadl, const std::string& reason,
                    partition::Hypervisor& hv);
  void reply(const wire::Message& message);
  void rescind(Channel& channel, partition::Hypervisor& hv);
  void close_rings(Channel& channel);
  // Ends every pending transaction of the channel with `status` (the channel
  // closed or was rescinded before the guest completed them).
  void cancel_transactions(Channel& channel, const std::string& status, partition::Hypervisor& hv);
  void trace_completion(std::uint32_t child_relid, std::uint64_t trans_id,
                        const std::string& status, std::uint32_t bytes, partition::Hypervisor& hv);
  // The VSP's own traffic (VspConfig.send_packets), queued when the channel opens.
  void queue_vsp_sends(Channel& channel);
  void ignore(const std::string& reason, partition::Hypervisor& hv);
  void step_channel(Channel& channel, partition::Hypervisor& hv);
  // One phase of the VSP's receiver or sender; returns whether to signal the guest.
  bool receive_phase(Channel& channel, partition::Hypervisor& hv);
  bool send_phase(Channel& channel, partition::Hypervisor& hv);
  void on_guest_packet(Channel& channel, const ring::PacketView& packet, partition::Hypervisor& hv);
  void signal_guest(Channel& channel, partition::Hypervisor& hv);

  // Scenario actions (server_actions.cc).
  std::string perform_send(const proto::SendAction& action, partition::Hypervisor& hv);
  std::string perform_ring_write(const proto::RingWriteAction& action, partition::Hypervisor& hv);
  std::string perform_raw_packet(const proto::RawPacketAction& action, partition::Hypervisor& hv);
  std::string perform_tamper(const proto::TamperAction& action, partition::Hypervisor& hv);
  std::string perform_set_index(const proto::SetIndexAction& action, partition::Hypervisor& hv);
  std::string perform_channel_op(const proto::ChannelOpAction& action, partition::Hypervisor& hv);
  // The open channel `child_relid`, or nullptr with `*error` set.
  Channel* open_channel_for_action(std::uint32_t child_relid, std::string* error);
  // Runs the sender's batch in flight to its end (publish, signal decision),
  // before an action moves the host->guest write_index behind its back.
  void finish_send_batch(Channel& channel, partition::Hypervisor& hv);
  proto::HostChannelReport channel_report(std::uint32_t relid, const Channel* channel) const;
  std::string lost_wakeup(const Channel& channel) const;
  std::string leaks() const;
  void send_misbehaviors(partition::Hypervisor& hv);
  Channel* find_channel(std::uint32_t child_relid);

  proto::HostConfig config_;
  partition::GuestMemory* memory_ = nullptr;
  std::uint64_t guest_pages_ = 0;
  std::uint32_t max_version_ = 0;
  std::uint32_t version_ = 0;  // 0: not connected
  partition::MessageSlot slot_;
  partition::Outbox outbox_;
  std::map<std::uint32_t, Channel> channels_;  // by child_relid
  std::map<std::uint32_t, std::uint32_t> relid_by_connection_id_;
  std::map<std::uint32_t, wire::GpadlAssembler> gpadls_in_progress_;  // by gpadl handle
  std::map<std::uint32_t, Gpadl> gpadls_;                             // by gpadl handle
  // Channels the guest released after a rescind: their last stats.
  std::map<std::uint32_t, ChannelStats> released_;
  std::string current_context_;
};

}  // namespace vmbus::host
