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
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmbus/platform/partition.h"
#include "vmbus/platform/partition_support.h"
#include "vmbus/platform/ring_endpoint.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/wire/gpadl.h"

namespace vmbus::host {

class VmbusServer final : public platform::PartitionLogic {
 public:
  VmbusServer();
  ~VmbusServer() override;

  std::string start(const platform::StartInfo& info, platform::Hypervisor& hv) override;
  std::vector<std::uint32_t> message_connection_ids() const override;
  std::vector<std::string> ready_contexts() const override;
  void step(const std::string& context, platform::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       platform::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids,
                     platform::Hypervisor& hv) override;

 private:
  struct Gpadl {
    std::uint32_t child_relid = 0;
    std::uint64_t first_pfn = 0;
    std::uint32_t pages = 0;
    bool in_use = false;
  };

  struct Channel {
    proto::ChannelOfferConfig config;
    std::uint32_t connection_id = 0;
    enum class State { kOffered, kOpen, kRescinded } state = State::kOffered;
    std::uint32_t gpadl = 0;
    std::unique_ptr<shm::SharedRingMemory> outbound_memory;  // guest -> host: we read
    std::unique_ptr<shm::SharedRingMemory> inbound_memory;   // host -> guest: we write
    std::unique_ptr<platform::RingReceiver> receiver;
    std::unique_ptr<platform::RingSender> sender;
    bool receive_turn = true;
    std::uint64_t packets_echoed = 0;
    std::uint64_t completions_received = 0;  // VM_PKT_COMP for our own sends
    bool stopped = false;                    // the rings are corrupt: the VSP stopped
  };

  // Message handling, one per CHANNELMSG the server accepts.
  void handle_message(const wire::HvMessage& slot, platform::Hypervisor& hv);
  void on_initiate_contact(const wire::InitiateContact& m, const wire::HvMessage& slot,
                           platform::Hypervisor& hv);
  void on_request_offers(platform::Hypervisor& hv);
  void on_gpadl_header(const wire::GpadlHeaderMessage& m, platform::Hypervisor& hv);
  void on_gpadl_body(const wire::GpadlBodyMessage& m, platform::Hypervisor& hv);
  void on_open_channel(const wire::OpenChannel& m, platform::Hypervisor& hv);
  void on_close_channel(const wire::CloseChannel& m, platform::Hypervisor& hv);
  void on_gpadl_teardown(const wire::GpadlTeardown& m, platform::Hypervisor& hv);
  void on_relid_released(const wire::RelidReleased& m, platform::Hypervisor& hv);
  void on_modify_channel(const wire::ModifyChannel& m, platform::Hypervisor& hv);
  void on_unload(platform::Hypervisor& hv);

  void finish_gpadl(const wire::GpadlAssembler& assembler, platform::Hypervisor& hv);
  // Answers GPADL_CREATED with a failure status and traces why.
  void refuse_gpadl(std::uint32_t child_relid, std::uint32_t gpadl, const std::string& reason,
                    platform::Hypervisor& hv);
  void reply(const wire::Message& message);
  void rescind(Channel& channel, platform::Hypervisor& hv);
  void close_rings(Channel& channel);
  // The VSP's own traffic (VspConfig.send_packets), queued when the channel opens.
  void queue_vsp_sends(Channel& channel);
  void ignore(const std::string& reason, platform::Hypervisor& hv);
  void step_channel(Channel& channel, platform::Hypervisor& hv);
  void send_misbehaviors(platform::Hypervisor& hv);
  Channel* find_channel(std::uint32_t child_relid);
  std::string channel_context(std::uint32_t child_relid) const;

  proto::HostConfig config_;
  std::optional<shm::SharedSegment> memory_;
  std::uint64_t guest_pages_ = 0;
  std::uint32_t max_version_ = 0;
  std::uint32_t version_ = 0;  // 0: not connected
  platform::MessageSlot slot_;
  platform::Outbox outbox_;
  std::map<std::uint32_t, Channel> channels_;  // by child_relid
  std::map<std::uint32_t, std::uint32_t> relid_by_connection_id_;
  std::map<std::uint32_t, wire::GpadlAssembler> gpadls_in_progress_;  // by gpadl handle
  std::map<std::uint32_t, Gpadl> gpadls_;                             // by gpadl handle
  std::string current_context_;
};

}  // namespace vmbus::host
