// The child partition: the VMBus client (vmbus-guest).
//
// VmbusClient is the guest side of the control plane, modelled on Linux's
// vmbus driver: it negotiates the protocol version newest first (5.3 down to
// 2.4, falling back on each refusal or HV_STATUS_INVALID_CONNECTION_ID),
// requests offers, opens channels (ring pages from guest memory, GPADL_HEADER
// plus GPADL_BODY messages, both rings initialised, OPENCHANNEL), closes them
// (CLOSECHANNEL, GPADL_TEARDOWN), answers rescinds with RELID_RELEASED and
// unloads. It trusts nothing the host sends: each message is copied out of
// the slot, then checked against the message table and the client's state.
//
// On an open channel it runs a VSC workload (echo with sequence numbers and
// checksums) through the ring library, and reports the outcome.
//
// Contexts: "msg" (one host message from the slot), "control" (the next
// control-plane action), "isr" (SINT2 event flags -> channel DPCs),
// "dpc/<relid>" (one receive phase), "vsc/<relid>" (one send phase).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmbus/base/prng.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/scripted_driver.h"
#include "vmbus/platform/partition.h"
#include "vmbus/platform/partition_support.h"
#include "vmbus/platform/ring_endpoint.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::guest {

// Guest "physical" pages, handed out from the shared segment.
class PageAllocator {
 public:
  PageAllocator(std::uint64_t first_page, std::uint64_t page_count);
  // The first page of `count` consecutive free pages, or nullopt.
  std::optional<std::uint64_t> allocate(std::uint32_t count);
  void free(std::uint64_t first_page, std::uint32_t count);

 private:
  std::map<std::uint64_t, std::uint64_t> free_;  // first page -> count
};

// A KMCL-model driver hosted on one channel: the KMCL device (its contexts
// become the guest's "kmcl/..." contexts), the scripted driver, and the
// transport that turns the ring library's signal decisions into hypercalls.
struct KmclEndpoint final : kmcl::Transport, kmcl::TraceSink {
  KmclEndpoint(const proto::KmclDriverConfig& config, std::uint64_t seed);
  void signal_peer() override;
  // The device's events and verifier records become trace records; those
  // that happen outside a step wait for the next one (flush_trace).
  void on_violation(const kmcl::Violation& violation) override;
  void on_event(const kmcl::TraceEvent& event) override;
  void flush_trace(platform::Hypervisor& hv);
  std::vector<proto::TraceRecord> pending_trace;

  proto::KmclDriverConfig config;
  kmcl::Device device;
  kmcl::ScriptedDriver driver;
  std::uint32_t connection_id = 0;
  platform::Hypervisor* hv = nullptr;  // set for the duration of a step
  bool opened = false;
};

class VmbusClient final : public platform::PartitionLogic {
 public:
  VmbusClient();
  ~VmbusClient() override;

  std::string start(const platform::StartInfo& info, platform::Hypervisor& hv) override;
  std::vector<std::string> ready_contexts() const override;
  void step(const std::string& context, platform::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       platform::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids,
                     platform::Hypervisor& hv) override;

 private:
  enum class Phase {
    kConnect,  // post INITIATE_CONTACT for versions_[version_index_]
    kAwaitVersion,
    kRequestOffers,
    kAwaitOffers,
    kOpenChannels,  // channel by channel, see ChannelState
    kWorkload,      // echo traffic runs in vsc/dpc contexts
    kUnload,
    kAwaitUnload,
    kDone,
  };

  enum class ChannelState {
    kOffered,
    kGpadlSending,  // header and bodies being posted
    kAwaitGpadl,
    kOpenSending,
    kAwaitOpen,
    kOpen,
    kCloseSending,  // CLOSECHANNEL, then GPADL_TEARDOWN
    kAwaitTorndown,
    kFailed,  // the host refused; not retried
    kRescinded,
  };

  struct Channel {
    std::uint32_t child_relid = 0;
    std::uint32_t connection_id = 0;
    ChannelState state = ChannelState::kOffered;
    std::uint32_t gpadl = 0;
    std::uint64_t first_page = 0;
    std::uint32_t pages = 0;                                 // both rings
    std::deque<std::vector<std::byte>> gpadl_messages;       // still to post
    std::unique_ptr<shm::SharedRingMemory> outbound_memory;  // guest -> host
    std::unique_ptr<shm::SharedRingMemory> inbound_memory;   // host -> guest
    std::unique_ptr<platform::RingSender> sender;
    std::unique_ptr<platform::RingReceiver> receiver;
    std::uint32_t opens = 0;  // successful opens so far
    bool dpc_scheduled = false;
    // Set when a KMCL-model driver owns this channel's guest endpoint: its
    // rings are driven by the KMCL device, not by sender/receiver.
    struct KmclEndpoint* kmcl = nullptr;
  };

  // Control plane.
  void control_step(platform::Hypervisor& hv);
  void channel_control_step(Channel& channel, platform::Hypervisor& hv);
  bool post(const wire::Message& message, platform::Hypervisor& hv);
  bool post_raw(std::span<const std::byte> payload, platform::Hypervisor& hv);
  void handle_message(const wire::HvMessage& slot, platform::Hypervisor& hv);
  void on_version_response(const wire::VersionResponse& m, platform::Hypervisor& hv);
  void on_offer(const wire::OfferChannel& m, platform::Hypervisor& hv);
  void on_gpadl_created(const wire::GpadlCreated& m, platform::Hypervisor& hv);
  void on_open_result(const wire::OpenChannelResult& m, platform::Hypervisor& hv);
  void on_gpadl_torndown(const wire::GpadlTorndown& m, platform::Hypervisor& hv);
  void on_rescind(const wire::RescindChannelOffer& m, platform::Hypervisor& hv);
  void ignore(const wire::HvMessage& slot, const std::string& reason, platform::Hypervisor& hv);
  void start_open(Channel& channel, platform::Hypervisor& hv);
  Channel* channel_needing_control();
  bool awaiting_host() const;
  bool control_ready() const;
  void release_rings(Channel& channel);
  void send_misbehaviors(platform::Hypervisor& hv);

  // Data plane.
  void isr_step(platform::Hypervisor& hv);
  void dpc_step(Channel& channel, platform::Hypervisor& hv);
  void vsc_step(Channel& channel, platform::Hypervisor& hv);
  void refill_echo_window();
  void check_echo(const ring::PacketView& packet);
  bool pings_pending() const;
  bool workload_complete() const;
  void finish_if_complete(platform::Hypervisor& hv);
  void finish_workload(platform::Hypervisor& hv);
  void fail_workload(const std::string& why, platform::Hypervisor& hv);
  void kmcl_step(const std::string& context, platform::Hypervisor& hv);
  KmclEndpoint* kmcl_for(std::uint32_t child_relid);
  Channel* find_channel(std::uint32_t child_relid);
  Channel* echo_channel();
  std::vector<std::uint32_t> channels_to_open() const;

  proto::GuestConfig config_;
  std::optional<shm::SharedSegment> memory_;
  std::unique_ptr<PageAllocator> pages_;
  base::Prng rng_{0};  // the workload's choices, seeded from the run

  Phase phase_ = Phase::kConnect;
  std::vector<std::uint32_t> versions_;  // to try, newest first
  std::size_t version_index_ = 0;
  std::uint32_t version_ = 0;
  std::uint32_t message_connection_id_ = wire::kVmbusMessageConnectionId;
  std::uint32_t next_gpadl_ = 0xE1E10;  // Linux's first handle
  bool offers_complete_ = false;
  std::uint32_t open_cycles_done_ = 0;
  std::uint32_t rescinds_seen_ = 0;

  std::deque<std::vector<std::byte>> misbehaviors_;  // raw payloads still to post
  platform::MessageSlot slot_;
  std::set<std::uint32_t> pending_event_relids_;  // SINT2 flags not yet seen by the ISR
  std::map<std::uint32_t, Channel> channels_;     // by child_relid

  std::uint64_t probes_done_ = 0;  // hypercall_probes answered

  // MODIFYCHANNEL round trips.
  std::uint64_t pings_done_ = 0;
  bool ping_outstanding_ = false;
  std::uint32_t ping_relid_ = 0;

  // The echo workload.
  std::uint64_t echo_sent_ = 0;
  std::uint64_t echo_received_ = 0;
  std::uint64_t echo_bytes_ = 0;
  std::deque<std::vector<std::byte>> echo_expected_;  // in flight, in order
  bool echo_failed_ = false;
  std::string echo_failure_;
  bool reported_ = false;
  std::uint64_t ignored_messages_ = 0;
  std::string current_context_;
  std::vector<std::unique_ptr<KmclEndpoint>> kmcl_;
};

}  // namespace vmbus::guest
