// kmcl::Device: one KMCL environment -- the thing a driver's
// VmbChannelAllocate(ParentDeviceObject, ...) names -- with its channels,
// its execution contexts, its clock and its verifier.
//
// Who drives it:
//  * Driver code calls the V1 API (vmbus/kmcl/kmcl.h).
//  * The owner's control plane (the guest or host process, or a test) opens,
//    closes and rescinds channels: open_channel hands the channel its two
//    rings and a Transport; ControlPlane tells the owner when a driver
//    enables or disables a channel.
//  * The owner's scheduler runs all of it in steps: ready_contexts() names
//    the contexts that have work, step(name) runs exactly one step of one of
//    them, on_interrupt(channel) says the peer signalled, set_now_ns() moves
//    the clock. Nothing inside the library runs unless a step is granted, and
//    only one thing runs at a time, so the scheduler's choices alone decide
//    the order of everything (same choices => same run).
//
// Contexts (names are stable; ready_contexts() returns them sorted):
//  * "dpc/<n>"     DISPATCH_LEVEL, one per channel (n = channel index, from 1):
//                  reads the incoming ring in drain passes, delivers packets at
//                  DISPATCH_LEVEL, handles completions, writes queued sends.
//  * "passive"     PASSIVE_LEVEL, the KMCL passive worker: state-change
//                  callbacks, deferred / RequirePassive / external-data
//                  redeliveries, peer close and rescind.
//  * "thread/<x>"  PASSIVE_LEVEL, a driver thread the owner spawned to run
//                  driver code that may block (VmbChannelDisable, ...).
//  * "work/<x>"    a driver work queue at PASSIVE_LEVEL or DISPATCH_LEVEL.
// PASSIVE_LEVEL contexts run on their own OS threads with strict hand-off:
// step() resumes the thread and waits until it finishes its unit of work or
// blocks, so a blocked call (VmbChannelPause waiting for outstanding packets)
// simply leaves that context not ready until its condition holds. A wait
// that nothing can satisfy shows in blocked_waits(); report_stall() turns it
// into wait_never_satisfied records.
//
// Thread safety: none needed and none provided beyond the hand-off; call
// every method from the scheduler's thread (or from driver code running in a
// step). The Device must outlive every handle use; destroying it cancels its
// blocked contexts (their stacks unwind with an internal exception, so
// driver code must not swallow exceptions with catch (...)).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/base/quirks.h"
#include "vmbus/kmcl/kmcl.h"
#include "vmbus/kmcl/verifier.h"
#include "vmbus/ring/memory.h"

namespace vmbus::kmcl {

namespace detail {
class DeviceCore;
class WorkQueueContext;
}  // namespace detail

// Channel defaults where the docs give none (KMCL-SEMANTICS "Defaults").
inline constexpr UINT32 kDefaultMaximumPacketSizeBytes = 4096;
inline constexpr UINT32 kDefaultRingBufferPageCount = 16;
// What VmbChannelSizeofPacket adds to the maximum packet size.
inline constexpr UINT32 kPacketObjectOverheadBytes = 64;

struct DeviceConfig {
  std::string name = "kmcl";  // in records and events, e.g. "guest" / "host"
  VerifierConfig verifier;
  // A drain pass dequeues at most this many packets, then publishes, calls
  // ProcessingComplete and yields ([ETW] "MaximumFetchAllowed").
  std::uint32_t max_packets_per_dpc_pass = 64;
  // How many packets one DPC step handles: reads of a drain pass, or
  // completion routines of sends placed in the ring; above 1, a step also
  // runs up to that many of the DPC's units (the phases of a drain pass),
  // and the sends of a read step are written together at its end. 1 makes
  // every packet and phase a scheduling point (deterministic runs, where the
  // other side may act between any two); an owner that runs its contexts
  // back to back anyway (free-running) may take more per step and save its
  // per-step cost. What is delivered and completed, and in what order, is
  // the same.
  std::uint32_t packets_per_dpc_step = 1;
  // Steps of the passive worker before external data is mapped; 0 means
  // VmbChannelPacketGetExternalData never answers STATUS_PENDING.
  std::uint32_t external_data_latency_steps = 0;
  // Historical bugs this device's channels re-create (vmbus/base/quirks.h);
  // the rings' readers get them when a channel opens.
  base::QuirkSet quirks;
};

// The channel's place on the open/closed axis.
enum class ChannelState : std::uint8_t {
  kDisabled,  // allocated, or torn down (a client always ends here)
  kEnabled,   // offered (server) / waiting for an offer or open (client)
  kOpening,   // open_channel called; EvtChannelOpened has not returned yet
  kOpen,      // opened; paused or active
  kClosing,   // Disable, peer close or rescind in progress
  kClosed,    // server only: the client closed it; may be opened again
};
const char* channel_state_name(ChannelState state);

// The incoming queue, as the verifier and the tests see it.
enum class QueueState : std::uint8_t {
  kOff,                     // not open, or open but never started
  kRunning,                 // packets are dequeued and delivered
  kQuotaBlocked,            // outstanding >= quota; only a completion restarts it
  kPausing,                 // Pause/Disable waiting for the suspend barrier
  kPaused,                  // suspend barrier reached
  kStoppedByFail,           // VmbChannelPacketFail stopped it
  kStoppedByProtocolError,  // oversize, malformed or unsupported packet, corrupt ring
};
const char* queue_state_name(QueueState state);

// Everything a VmbChannelEnable tells the owner's control plane.
struct ChannelConfig {
  std::uint32_t index = 0;
  bool is_server = false;
  UINT32 maximum_packet_size_bytes = kDefaultMaximumPacketSizeBytes;
  UINT32 incoming_page_count = kDefaultRingBufferPageCount;
  UINT32 outgoing_page_count = kDefaultRingBufferPageCount;
  UINT32 flags = 0;         // VMBUS_CHANNEL_INIT_FLAG_*
  UINT32 server_flags = 0;  // VMBUS_SERVER_CHANNEL_INIT_FLAG_* (server only)
  std::u16string friendly_name;
  // Client: VmbClientChannelInitSetTargetPnp (instance nullopt = any);
  // server: VmbServerChannelInitSetTargetInterfaceId, the offer's GUIDs.
  std::optional<GUID> target_interface_type;
  std::optional<GUID> target_interface_instance;
};

struct ChannelStats {
  std::uint64_t packets_dequeued = 0;  // data packets taken from the ring
  std::uint64_t completions_received = 0;
  std::uint64_t deliveries = 0;  // ProcessPacket invocations (redeliveries too)
  std::uint64_t packets_completed = 0;
  std::uint64_t packets_failed = 0;
  std::uint64_t defers = 0;
  std::uint64_t completions_sent = 0;    // VM_PKT_COMP written
  std::uint64_t packets_sent = 0;        // data packets written
  std::uint64_t discarded_at_close = 0;  // still in the ring when the channel closed
  std::uint64_t dropped_at_close = 0;    // dequeued but never delivered, dropped at close
  std::uint64_t protocol_errors = 0;
  std::uint64_t unexpected_completions = 0;  // VM_PKT_COMP with no matching send
  std::uint64_t live_packets = 0;            // dequeued, not retired (counts against the quota)
  std::uint64_t driver_owned = 0;     // delivered, not retired (Pause/Disable wait for these)
  std::uint64_t held_packets = 0;     // dequeued and waiting for (re)delivery
  std::uint64_t queued_sends = 0;     // waiting for the ring or for the channel to open
  std::uint64_t sends_in_flight = 0;  // written, waiting for a completion
  bool send_blocked = false;          // the queue waits for the reader's space signal
  std::uint64_t packets_written = 0;  // data and completion packets written, every open
  std::uint64_t next_trans_id = 1;    // the transaction id the next send gets
  bool passive_delivery = false;      // delivery currently goes through the passive worker
  bool require_passive = false;       // VmbChannelSetIncomingProcessingAtPassive(TRUE)
  UINT32 quota = 0;
  std::string stop_reason;  // why the queue stopped, if it did
};

// Where the device last wrote a packet into a channel's outgoing ring
// (Device::last_written).
struct WrittenPacket {
  std::uint32_t payload_index = 0;       // ring data offset of the payload's first byte
  std::uint32_t payload_area_bytes = 0;  // payload plus padding
  std::uint64_t trans_id = 0;
  std::uint64_t number = 0;  // the channel's packets_written when it was written (from 1)
};

// Model options that are not part of KMCL V1.
struct ChannelOptions {
  bool escalate_fail_to_close = false;  // DESIGN 4: "A channel option escalates Fail to a close"
  std::optional<std::uint32_t> external_data_latency_steps;  // overrides the device's
};

// The way to the opposite endpoint. One per opened channel, given to
// open_channel; it must stay valid until the channel is closed.
class Transport {
 public:
  virtual ~Transport() = default;
  // HvSignalEvent: interrupt the peer (the ring library said to).
  virtual void signal_peer() = 0;
};

// What the library tells the owner's control plane. All optional; each is
// called from inside a step (or from the API call that caused it).
class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  // VmbChannelEnable: offer it (server) / accept an offer and open it (client).
  virtual void on_channel_enabled(VMBCHANNEL channel, const ChannelConfig& config) {
    static_cast<void>(channel);
    static_cast<void>(config);
  }
  // EvtChannelOpened returned (for a server: answer the OPENCHANNEL with it).
  virtual void on_channel_open_result(VMBCHANNEL channel, NTSTATUS status) {
    static_cast<void>(channel);
    static_cast<void>(status);
  }
  // The local endpoint finished VmbChannelDisable (or a Fail escalated):
  // close (client) / rescind (server) on the wire. The rings are detached.
  virtual void on_channel_disabled(VMBCHANNEL channel) { static_cast<void>(channel); }
  // A close_channel / rescind_channel finished here. The rings are detached.
  virtual void on_channel_closed(VMBCHANNEL channel) { static_cast<void>(channel); }
};

// The name of the context running the caller ("dpc/1", "passive", "thread/x",
// "work/x", or "external" outside any step). Model-specific (KMCL has no such
// call); for traces, records and tests.
std::string current_context_name();

// A blocked PASSIVE context and what it waits for.
struct BlockedWait {
  std::string context;
  std::string what;  // "VmbChannelPause: outstanding packets of ch1 retired", ...
  std::optional<std::uint64_t> deadline_ns;
};

// A driver-owned work queue (a driver DPC or work item): items run in posted
// order in context "work/<name>"; an item posted with delay_steps = N takes
// N idle steps of this context before it runs ("complete later").
class WorkQueue {
 public:
  void post(std::function<void()> item, std::uint32_t delay_steps = 0);
  const std::string& context_name() const;
  std::size_t pending() const;

 private:
  friend class detail::DeviceCore;
  explicit WorkQueue(detail::WorkQueueContext* context) : context_(context) {}
  detail::WorkQueueContext* context_;
};

class Device {
 public:
  explicit Device(DeviceConfig config = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const std::string& name() const;

  // --- Owner hooks -----------------------------------------------------------
  void set_control_plane(ControlPlane* control_plane);
  void set_trace_sink(TraceSink* sink);

  // --- Scheduler ---------------------------------------------------------------
  std::vector<std::string> ready_contexts() const;
  // Runs one step of a ready context (checked). Counts in steps().
  void step(const std::string& context);
  // The peer signalled this channel's event: schedule its DPC.
  void on_interrupt(VMBCHANNEL channel);
  void set_now_ns(std::uint64_t now_ns);
  std::uint64_t now_ns() const;
  // The earliest deadline of a blocked wait that is not yet satisfied; the
  // scheduler may jump the clock there when nothing is ready.
  std::optional<std::uint64_t> next_deadline_ns() const;
  std::vector<BlockedWait> blocked_waits() const;
  // The scheduler found nothing ready on any device and no deadline: record
  // wait_never_satisfied for each blocked wait (and packet_not_retired_at_close
  // for each packet a blocked close/pause waits for).
  void report_stall();
  std::uint64_t steps() const;

  // --- Control plane -------------------------------------------------------------
  // The channel is opened on the wire (client: OPENCHANNEL_RESULT said yes;
  // server: the client's OPENCHANNEL arrived). Both rings must already be
  // initialised (ring::initialize_ring). Queues EvtChannelOpened, then
  // (unless paused) EvtChannelStarted, queue enable, EvtChannelPostStarted on
  // the passive worker. STATUS_INVALID_DEVICE_STATE unless Enabled or Closed.
  NTSTATUS open_channel(VMBCHANNEL channel, ring::RingMemory& incoming, ring::RingMemory& outgoing,
                        Transport& transport, const GUID& interface_instance = GUID{});
  // The opposite endpoint closed the channel: Suspend, wait for outstanding
  // packets, cancel sends (STATUS_CANCELLED), Closed, on the passive worker.
  void close_channel(VMBCHANNEL channel);
  // The host rescinded the offer (client): as close_channel, but sends
  // complete with STATUS_DEVICE_REMOVED and the channel ends Disabled.
  void rescind_channel(VMBCHANNEL channel);

  // --- Driver contexts -------------------------------------------------------------
  // Runs `body` once in a new PASSIVE_LEVEL context "thread/<name>"; it may
  // block. The context disappears when the body returns.
  void spawn_passive_thread(const std::string& name, std::function<void()> body);
  bool thread_running(const std::string& name) const;
  // A work queue "work/<name>" at `irql` (PASSIVE_LEVEL or DISPATCH_LEVEL);
  // owned by the device. Creating an existing name returns the same queue.
  WorkQueue& create_work_queue(const std::string& name, KIRQL irql);

  // --- Model options and introspection (owner and tests) -----------------------------
  void set_channel_options(VMBCHANNEL channel, const ChannelOptions& options);
  ChannelState channel_state(VMBCHANNEL channel) const;
  QueueState queue_state(VMBCHANNEL channel) const;
  ChannelStats channel_stats(VMBCHANNEL channel) const;
  ChannelConfig channel_config(VMBCHANNEL channel) const;
  std::vector<VMBCHANNEL> channels() const;
  // The last packet the device wrote into `channel`'s outgoing ring during
  // this open, if any.
  std::optional<WrittenPacket> last_written(VMBCHANNEL channel) const;
  // Where the device's reader of `channel`'s incoming ring is: its own
  // cursor, past every packet it consumed -- not the shared read_index,
  // which the peer can write. nullopt while the channel has no rings.
  std::optional<std::uint32_t> incoming_read_cursor(VMBCHANNEL channel) const;
  // The owner moved the outgoing ring's write_index behind the device's back
  // (a malicious host's raw write): the device continues from the index as
  // it is now, valid or not (an invalid one is a corrupt ring at the next
  // write). Only between steps of an open channel (checked).
  void resync_outgoing(VMBCHANNEL channel);
  // Whether the sender of an incoming packet this device still holds asked
  // for a completion (COMPLETION_REQUESTED); false for an unknown handle.
  // KMCL does not tell a driver (a real VSP knows from its protocol); the
  // scripted driver's echo needs it.
  bool completion_requested(VMBPACKETCOMPLETION packet) const;

  const std::vector<Violation>& violations() const;
  // kStop mode: the violation that stopped the device, or nullptr.
  const Violation* bugcheck() const;

  detail::DeviceCore& core() { return *core_; }

 private:
  std::unique_ptr<detail::DeviceCore> core_;
};

}  // namespace vmbus::kmcl
