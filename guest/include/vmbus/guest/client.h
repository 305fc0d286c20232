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
// "dpc/<relid>" (one receive phase), "vsc/<relid>" (one send phase),
// "kmcl/<relid>/<device context>" (one step of a KMCL driver's device:
// "dpc/1", "passive", "work/...", "thread/op<N>", "thread/sync<N>"), and
// "timer" (the clock interrupt: ready only while a KMCL wait has a deadline
// and nothing else in the guest is ready; each step lets simulated time pass,
// so a VmbChannelSendSynchronousRequest timeout expires on a quiet system).
//
// Scenario runs (KmclDriverConfig.scenario). The driver never counts as
// done: the guest keeps its channels open, never unloads and never reports
// done; the run ends when the simulator finds the system quiet. Scenario
// actions (perform) for the guest:
//  * send: the driver sends `count` (0 = 1) copies of payload.raw (empty: 16
//    counting bytes) with VmbPacketSend, in-line in the action (driver code at
//    PASSIVE_LEVEL outside any scheduled context, KMCL context "external");
//    request_completion -> VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION;
//    external_pages N -> an MDL of N freshly allocated guest pages (freed when
//    the send completes; KMCL sends external data only with
//    WAIT_FOR_COMPLETION, so it is implied). synchronous: the copies go one
//    after the other through VmbChannelSendSynchronousRequest on a new driver
//    thread "thread/sync<N>" (timeout_us 0 = wait forever). trans_id is
//    refused: the guest's KMCL chooses its own.
//  * channel_op: each runs on a new PASSIVE_LEVEL driver thread
//    "thread/op<N>" (N counts per channel from 1), so blocking calls take
//    scheduler steps like real driver code: PAUSE VmbChannelPause, START
//    VmbChannelStart, DISABLE/CLOSE VmbChannelDisable (then the control plane
//    sends CLOSECHANNEL and GPADL_TEARDOWN and frees the ring pages),
//    ENABLE/REOPEN VmbChannelEnable (then a new GPADL, OPENCHANNEL, and the
//    device opens the channel on OPENCHANNEL_RESULT), SET_PASSIVE
//    VmbChannelSetIncomingProcessingAtPassive(value != 0), SET_QUOTA
//    VmbChannelSetTransactionQuota(value), COMPLETE_OUTSTANDING: the driver
//    completes `value` (0 = all) packets it left outstanding, oldest first,
//    with VmbChannelPacketComplete from that thread. RESCIND is the host's.
//  * set_policy: replaces the driver's rules and default action at once.
//
// Scenario trace records: one KmclRecord of kind "driver" per driver
// callback, context "kmcl/<relid>/<device context>", detail
// "<callback>[ #<packet>| send#<n>] <PASSIVE|DISPATCH>[ <action>]"
// (kmcl::to_scenario_text), emitted after the step or action it happened in;
// and a CompletionEvent for every guest send that ended (its completion
// routine ran, or its synchronous request returned).
//
// final_report(): a GuestReport (proto/schema/vmbus/proto/report.proto): the
// negotiated version, each KMCL driver's channel and queue state and
// counters, and the retired_once, fifo, lost_wakeup and leak oracles'
// findings.
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
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/ring_endpoint.h"
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

// Checks a driver's configuration (rules, actions, ring pages); "" or why
// it cannot be used.
std::string validate_kmcl_driver(const proto::KmclDriverConfig& config);

// Replaces the driver's rules and default action with these (from a
// configuration or a set_policy action). Returns "" or what is wrong with
// them, in which case the driver is left as it was.
std::string apply_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                                const proto::DriverAction& default_action,
                                kmcl::ScriptedDriver* driver);

// A KMCL-model driver hosted on one channel: the KMCL device (its contexts
// become the guest's "kmcl/..." contexts), the scripted driver, the
// transport that turns the ring library's signal decisions into hypercalls,
// and the control-plane hooks through which the driver's Enable and Disable
// reach the wire.
struct KmclEndpoint final : kmcl::Transport, kmcl::TraceSink, kmcl::ControlPlane {
  // `config` must have passed validate_kmcl_driver().
  KmclEndpoint(const proto::KmclDriverConfig& config, std::uint64_t seed);
  void signal_peer() override;
  // The device's events and verifier records become trace records; those
  // that happen outside a step wait for the next one (flush_trace).
  void on_violation(const kmcl::Violation& violation) override;
  void on_event(const kmcl::TraceEvent& event) override;
  // Control plane: the guest's VMBus client acts on these flags in its
  // "control" context (they are set from inside device steps).
  void on_channel_enabled(kmcl::VMBCHANNEL channel, const kmcl::ChannelConfig& config) override;
  void on_channel_disabled(kmcl::VMBCHANNEL channel) override;
  void on_channel_closed(kmcl::VMBCHANNEL channel) override;
  // Appends the driver's new callback records (scenario mode) to the trace.
  void queue_driver_records();
  // A note in the trace, in the running device context.
  void note(const std::string& text);
  void flush_trace(partition::Hypervisor& hv);
  std::vector<proto::TraceRecord> pending_trace;

  proto::KmclDriverConfig config;
  kmcl::Device device;
  kmcl::ScriptedDriver driver;
  std::uint32_t connection_id = 0;
  partition::Hypervisor* hv = nullptr;  // set for the duration of a step
  bool opened = false;                  // the device has the rings (open_channel succeeded)
  bool open_wanted = false;             // the driver enabled the channel: open it on the wire
  bool close_wanted = false;            // the driver disabled it: close it on the wire
  bool rings_detached = false;          // a close finished in the device: the rings may go
  std::size_t records_emitted = 0;
  std::size_t completions_emitted = 0;
  std::uint32_t next_op = 1;    // "thread/op<N>"
  std::uint32_t next_sync = 1;  // "thread/sync<N>"
  // Guest pages lent as external data to asynchronous sends, by send index.
  std::map<std::int64_t, std::pair<std::uint64_t, std::uint32_t>> external_pages;
};

class VmbusClient final : public partition::PartitionLogic {
 public:
  VmbusClient();
  ~VmbusClient() override;

  std::string start(const partition::StartInfo& info, partition::Hypervisor& hv) override;
  std::vector<std::string> ready_contexts() const override;
  std::uint64_t wake_at_ns() const override;
  void step(const std::string& context, partition::Hypervisor& hv) override;
  void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                       partition::Hypervisor& hv) override;
  void deliver_event(std::span<const std::uint32_t> child_relids,
                     std::span<const std::uint32_t> connection_ids,
                     partition::Hypervisor& hv) override;
  std::string perform(const proto::PartitionAction& action, partition::Hypervisor& hv) override;
  proto::FinalReport final_report() override;

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
    std::uint32_t pages = 0;                            // both rings
    std::uint32_t ring_pages = 0;                       // per direction
    std::deque<std::vector<std::byte>> gpadl_messages;  // still to post
    std::unique_ptr<ring::RingMemory> outbound_memory;  // guest -> host
    std::unique_ptr<ring::RingMemory> inbound_memory;   // host -> guest
    std::unique_ptr<partition::RingSender> sender;
    std::unique_ptr<partition::RingReceiver> receiver;
    std::uint32_t opens = 0;  // successful opens so far
    bool dpc_scheduled = false;
    // Set when a KMCL-model driver owns this channel's guest endpoint: its
    // rings are driven by the KMCL device, not by sender/receiver.
    struct KmclEndpoint* kmcl = nullptr;
  };

  // Control plane.
  void control_step(partition::Hypervisor& hv);
  void channel_control_step(Channel& channel, partition::Hypervisor& hv);
  bool post(const wire::Message& message, partition::Hypervisor& hv);
  bool post_raw(std::span<const std::byte> payload, partition::Hypervisor& hv);
  void handle_message(const wire::HvMessage& slot, partition::Hypervisor& hv);
  void on_version_response(const wire::VersionResponse& m, partition::Hypervisor& hv);
  void on_offer(const wire::OfferChannel& m, partition::Hypervisor& hv);
  void on_gpadl_created(const wire::GpadlCreated& m, partition::Hypervisor& hv);
  void on_open_result(const wire::OpenChannelResult& m, partition::Hypervisor& hv);
  void on_gpadl_torndown(const wire::GpadlTorndown& m, partition::Hypervisor& hv);
  void on_rescind(const wire::RescindChannelOffer& m, partition::Hypervisor& hv);
  void ignore(const wire::HvMessage& slot, const std::string& reason, partition::Hypervisor& hv);
  void start_open(Channel& channel, partition::Hypervisor& hv);
  bool wants_control(const Channel& channel) const;
  Channel* channel_needing_control();
  bool channel_needs_control() const;
  bool awaiting_host() const;
  bool control_ready() const;
  void release_rings(Channel& channel);
  void send_misbehaviors(partition::Hypervisor& hv);

  // Data plane.
  void isr_step(partition::Hypervisor& hv);
  void dpc_step(Channel& channel, partition::Hypervisor& hv);
  void vsc_step(Channel& channel, partition::Hypervisor& hv);
  void refill_echo_window();
  void check_echo(const ring::PacketView& packet);
  bool pings_pending() const;
  bool workload_complete() const;
  void finish_if_complete(partition::Hypervisor& hv);
  void finish_workload(partition::Hypervisor& hv);
  void fail_workload(const std::string& why, partition::Hypervisor& hv);
  void step_channel_context(const partition::ContextName& name, partition::Hypervisor& hv);
  void kmcl_step(std::uint32_t child_relid, const std::string& device_context,
                 partition::Hypervisor& hv);
  // After a device step or an action: the driver's records, the sends that
  // ended, the device's events, and rings a finished close let go.
  void sync_endpoint(KmclEndpoint& endpoint, partition::Hypervisor& hv);
  void update_clocks(const partition::Hypervisor& hv);
  bool scenario_mode() const;

  // Scenario actions.
  std::string perform_send(const proto::SendAction& send);
  std::string perform_channel_op(const proto::ChannelOpAction& op);
  std::string perform_set_policy(const proto::SetPolicyAction& policy);
  std::optional<std::pair<std::uint64_t, std::uint32_t>> lend_pages(std::uint32_t count);
  void fill_counting(std::uint64_t first_page, std::uint32_t count);

  // Final report pieces.
  std::string retired_once_oracle(const KmclEndpoint& endpoint) const;
  std::string lost_wakeup_oracle(const KmclEndpoint& endpoint) const;
  std::string leak_oracle() const;

  KmclEndpoint* kmcl_for(std::uint32_t child_relid);
  const KmclEndpoint* kmcl_for(std::uint32_t child_relid) const;
  Channel* find_channel(std::uint32_t child_relid);
  const Channel* find_channel(std::uint32_t child_relid) const;
  Channel* echo_channel();
  std::vector<std::uint32_t> channels_to_open() const;

  proto::GuestConfig config_;
  partition::GuestMemory* memory_ = nullptr;
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
  partition::MessageSlot slot_;
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
