// Internals of the KMCL model: execution contexts, the incoming and outgoing
// packet records, the channel, and DeviceCore, which implements every API.
//
// Threading: everything here is touched by one thread at a time (the
// scheduler's, or the one fiber it resumed; see fiber.h), so nothing is
// locked. Every object is owned by its DeviceCore; handles (handles.h) are
// the only way driver code names them.
//
// Reading guide:
//   context.cc  ExecContext and its kinds (DPC, passive worker, threads, queues)
//   device.cc   Device, DeviceCore basics, verifier plumbing, scheduler API
//   channel.cc  lifecycle: allocate, init, enable, open, pause/start, close
//   receive.cc  drain passes, delivery, Complete/Defer/Fail/GetExternalData
//   send.cc     packet objects, the send queue, completions, synchronous requests
//   api.cc      the V1 free functions: handle validation, IRQL checks, dispatch
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/kmcl.h"
#include "vmbus/kmcl/verifier.h"
#include "vmbus/ring/ring.h"

#include "fiber.h"
#include "handles.h"

namespace vmbus::kmcl {
class DriverRecorder;
}  // namespace vmbus::kmcl

namespace vmbus::kmcl::detail {

class Channel;
class DeviceCore;
struct IncomingPacket;

// ---------------------------------------------------------------------------
// Execution contexts

enum class CallbackKind : std::uint8_t {
  kProcessPacket,
  kProcessingComplete,
  kStateChange,
  kCompletionRoutine,
};

// One driver callback running in a context (a context can nest them: a
// completion routine called from inside ProcessPacket).
struct ActiveCallback {
  CallbackKind kind;
  const Channel* channel;
  const IncomingPacket* packet;  // kProcessPacket only
};

enum class WaitResult : std::uint8_t {
  kSatisfied,
  kTimedOut,
  kRefused,  // the context cannot block (DISPATCH_LEVEL): a wrong_irql record was made
};

struct BlockedState {
  std::string api;
  std::string what;
  std::function<bool()> satisfied;
  std::optional<std::uint64_t> deadline_ns;
  const Channel* channel = nullptr;
  bool waits_for_driver_packets = false;  // a Pause/close barrier
  bool reported = false;                  // report_stall() already said so
};

class ExecContext {
 public:
  // `device` is null only for the per-thread "external" context.
  ExecContext(DeviceCore* device, std::string name, KIRQL irql);
  virtual ~ExecContext();
  ExecContext(const ExecContext&) = delete;
  ExecContext& operator=(const ExecContext&) = delete;

  DeviceCore* device() const { return device_; }
  const std::string& name() const { return name_; }
  KIRQL irql() const { return irql_; }
  // PASSIVE_LEVEL contexts of a device run on a fiber and may block.
  bool can_block() const { return fiber_ != nullptr; }

  bool ready() const;
  bool finished() const { return finished_; }
  void step();
  // Stops the fiber (device teardown): its stack unwinds.
  void cancel();

  // Blocks the calling fiber until `satisfied()` holds or the device clock
  // reaches the deadline. Only from this context's own fiber (checked).
  WaitResult wait(BlockedState state);
  BlockedState* blocked() { return blocked_ ? &*blocked_ : nullptr; }
  const BlockedState* blocked() const { return blocked_ ? &*blocked_ : nullptr; }

  bool in_callback_of(const Channel* channel) const;

  std::vector<ActiveCallback> callbacks;

 protected:
  virtual bool has_work() const = 0;
  virtual void run_unit() = 0;
  virtual bool one_shot() const { return false; }

 private:
  void fiber_main();

  DeviceCore* device_;
  std::string name_;
  KIRQL irql_;
  std::unique_ptr<Fiber> fiber_;
  std::optional<BlockedState> blocked_;
  bool finished_ = false;
};

// Blocks `context` until `state.satisfied()` (or its deadline). Blocking
// needs a PASSIVE_LEVEL context with a fiber; at DISPATCH_LEVEL it is a
// wrong_irql record and kRefused, never a hang; outside any scheduled
// context it is the owner's bug (checked): nothing could run the steps that
// would wake it.
WaitResult block_context(DeviceCore& device, ExecContext& context, BlockedState state);

// The context whose step is running on this thread, or the thread's
// "external" context (PASSIVE_LEVEL, no device) outside any step.
ExecContext& current_context();
bool in_scheduled_context();

// Scoped callback record on a context's stack.
class CallbackScope {
 public:
  CallbackScope(ExecContext& context, ActiveCallback callback) : context_(context) {
    context_.callbacks.push_back(callback);
  }
  ~CallbackScope() { context_.callbacks.pop_back(); }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  ExecContext& context_;
};

class DpcContext final : public ExecContext {
 public:
  DpcContext(DeviceCore& device, Channel& channel);

 protected:
  bool has_work() const override;
  void run_unit() override;

 private:
  Channel& channel_;
};

class PassiveWorkerContext final : public ExecContext {
 public:
  explicit PassiveWorkerContext(DeviceCore& device);

 protected:
  bool has_work() const override;
  void run_unit() override;
};

class ThreadContext final : public ExecContext {
 public:
  ThreadContext(DeviceCore& device, std::string name, std::function<void()> body);

 protected:
  bool has_work() const override { return !ran_; }
  void run_unit() override;
  bool one_shot() const override { return true; }

 private:
  std::function<void()> body_;
  bool ran_ = false;
};

class WorkQueueContext final : public ExecContext {
 public:
  WorkQueueContext(DeviceCore& device, std::string name, KIRQL irql);

  void post(std::function<void()> item, std::uint32_t delay_steps);
  std::size_t pending() const { return items_.size(); }

 protected:
  bool has_work() const override { return !items_.empty(); }
  void run_unit() override;

 private:
  struct Item {
    std::function<void()> fn;
    std::uint32_t delay_steps;
  };
  std::deque<Item> items_;
};

// ---------------------------------------------------------------------------
// Packets

// An incoming data packet from the time it is dequeued until it is retired.
// Its bytes were copied out of the ring, so the buffer given to the driver
// stays valid (and identical) across redeliveries until retirement.
struct IncomingPacket {
  enum class State : std::uint8_t {
    kHeld,                 // dequeued, waiting in the parsing queue for its first delivery
    kDelivering,           // inside EvtVmbChannelProcessPacket
    kOutstanding,          // delivered, owned by the driver until Complete
    kDeferred,             // DeferToPassive: back in the parsing queue
    kExternalDataPending,  // GetExternalData said STATUS_PENDING: mapping in progress
    kExternalDataReady,    // mapped: waiting in the parsing queue for redelivery
  };

  std::uintptr_t handle = 0;
  Channel* channel = nullptr;
  std::uint64_t index = 0;  // dequeue order on its channel, from 0
  std::uint64_t trans_id = 0;
  bool completion_requested = false;
  UINT32 flags = 0;  // VMBUS_CHANNEL_PROCESS_PACKET_FLAG_*
  std::vector<std::byte> payload;
  // Where the payload started in the incoming ring (quirk
  // guest_delivers_packet_from_ring reads it again from there).
  std::uint32_t ring_payload_offset = 0;
  std::deque<MDL> external_data;  // GPA ranges; Next links them (deque: stable addresses)
  bool external_data_mapped = false;
  std::uint32_t external_data_latency_steps = 0;  // of the mapping in progress
  State state = State::kHeld;
  std::uint32_t deliveries = 0;
  std::uint32_t defers = 0;
  bool livelock_reported = false;
  bool retired_while_delivering = false;
  const ExecContext* delivering_in = nullptr;
};

const char* incoming_state_name(IncomingPacket::State state);

// sum += more, counter by counter.
void add_writer_counters(ring::WriterCounters& sum, const ring::WriterCounters& more);

// A completion request from a VmbChannelSendSynchronousRequest caller.
struct SyncRequest {
  bool done = false;
  NTSTATUS status = STATUS_PENDING;
  std::vector<std::byte> completion;
};

// A VMBPACKET.
struct PacketObject {
  enum class State : std::uint8_t {
    kIdle,        // allocated / initialised / completed: may be sent or freed
    kQueued,      // in the channel's send queue
    kInRing,      // written with WAIT_FOR_COMPLETION, waiting for VM_PKT_COMP
    kPlaced,      // written without it; the completion routine is queued
    kCompleting,  // inside its completion routine (may be sent again or freed)
  };

  std::uintptr_t handle = 0;  // 0 for the internal packet of a synchronous request
  Channel* channel = nullptr;
  bool caller_memory = false;  // VmbPacketInitialize
  PFN_VMB_PACKET_COMPLETION_ROUTINE completion_routine = nullptr;
  PVOID pointer = nullptr;
  State state = State::kIdle;
  std::uint64_t trans_id = 0;
  bool wait_for_completion = false;
  SyncRequest* sync = nullptr;
};

// One packet waiting to be written to the outgoing ring.
struct TxItem {
  PacketObject* packet = nullptr;  // null for a VM_PKT_COMP we owe the peer
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint64_t trans_id = 0;
  std::uint16_t offset8 = ring::kMinOffset8;
  std::vector<std::byte> header_extension;
  std::vector<std::byte> payload;
};

// ---------------------------------------------------------------------------
// The channel

enum class QueueStop : std::uint8_t { kNone, kFail, kProtocolError };

enum class CloseKind : std::uint8_t {
  kLocalDisable,   // VmbChannelDisable
  kEscalatedFail,  // ChannelOptions::escalate_fail_to_close
  kPeerClose,      // Device::close_channel
  kRescind,        // Device::rescind_channel
};

class Channel {
 public:
  Channel(DeviceCore& device, std::uint32_t index, bool is_server);

  DeviceCore& device;
  std::uintptr_t handle = 0;
  const std::uint32_t index;
  const bool is_server;
  std::unique_ptr<DpcContext> dpc;

  // --- Configuration (Init*) --------------------------------------------------
  UINT32 maximum_packet_size = kDefaultMaximumPacketSizeBytes;
  UINT32 init_flags = 0;
  UINT32 server_flags = 0;
  UINT32 incoming_page_count = kDefaultRingBufferPageCount;
  UINT32 outgoing_page_count = kDefaultRingBufferPageCount;
  UINT32 client_context_size = 0;
  UINT32 maximum_external_data = 0;
  UINT32 maximum_external_chain = 0;
  std::u16string friendly_name;
  std::optional<GUID> target_interface_type;
  std::optional<GUID> target_interface_instance;
  PFN_VMB_CHANNEL_PNP_FAILURE pnp_failure = nullptr;
  PFN_VMB_CHANNEL_PROCESS_PACKET process_packet = nullptr;
  PFN_VMB_CHANNEL_PROCESSING_COMPLETE processing_complete = nullptr;
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS state_callbacks{};
  ChannelOptions options;
  PVOID pointer = nullptr;
  GUID interface_instance{};
  UINT16 interrupt_latency = 0;

  // --- State --------------------------------------------------------------------
  ChannelState state = ChannelState::kDisabled;
  ChannelState state_before_open = ChannelState::kEnabled;  // where a failed open returns
  bool enabled_once = false;
  bool auto_pause = false;       // Pause while Disabled
  bool paused = false;           // Pause requested (or server not started yet)
  bool pausing = false;          // a Pause is waiting for its barrier
  bool opened = false;           // EvtChannelOpened succeeded and Closed has not run
  bool started = false;          // EvtChannelStarted ran and Suspend has not
  bool sequence_active = false;  // an open/start sequence is queued or running
  QueueStop stop = QueueStop::kNone;
  std::string stop_reason;
  bool require_passive = false;
  UINT32 quota = 0xFFFFFFFFu;
  bool quota_blocked = false;

  // --- Rings --------------------------------------------------------------------
  std::unique_ptr<ring::RingReader> reader;
  std::unique_ptr<ring::RingWriter> writer;
  ring::RingMemory* outgoing_memory = nullptr;  // what `writer` writes, while attached
  // Counters of writers replaced by Device::resync_outgoing during this open.
  ring::WriterCounters resynced_writer_counters;
  // The outgoing ring's counters of this open (all its writers).
  ring::WriterCounters writer_counters() const;
  std::optional<WrittenPacket> last_written;  // Device::last_written
  std::uint64_t packets_written = 0;          // data and completion packets, every open
  Transport* transport = nullptr;
  bool attached() const { return reader != nullptr; }

  // --- Receive --------------------------------------------------------------------
  std::unordered_map<std::uintptr_t, std::unique_ptr<IncomingPacket>> live;
  // Retired during their own delivery: kept until the callback returns.
  std::unordered_map<std::uintptr_t, std::unique_ptr<IncomingPacket>> retiring;
  std::deque<IncomingPacket*> parsing_queue;  // FIFO of packets awaiting (re)delivery
  std::uint64_t next_packet_index = 0;
  bool rx_wanted = false;  // an interrupt (or a restart) asks for a drain pass
  struct DrainPass {
    enum class Phase : std::uint8_t { kIdle, kRead, kFinish, kEndRead };
    Phase phase = Phase::kIdle;
    std::uint32_t dequeued = 0;
    std::uint32_t processed = 0;
    bool hit_limit = false;
  } dpc_pass;
  struct PassivePass {
    bool active = false;
    std::uint32_t processed = 0;
  } passive_pass;
  std::uint32_t deliveries_running = 0;          // ProcessPacket callbacks in progress
  std::uint32_t passive_deliveries_running = 0;  // ... of them at PASSIVE_LEVEL

  // --- Send --------------------------------------------------------------------------
  std::deque<TxItem> tx_queue;
  bool tx_blocked = false;  // waiting for the reader's space signal (pending_send_sz set)
  bool tx_wanted = false;   // the DPC should try to write the queue
  bool tx_broken = false;   // the peer corrupted the outgoing ring: nothing more is written
  // A DPC step that reads several packets (DeviceConfig::packets_per_dpc_step)
  // queues what their callbacks send and writes it at the end of the step.
  bool tx_batched = false;
  bool pending_send_size_set = false;  // we stored pending_send_sz and must clear it
  std::unordered_map<std::uint64_t, PacketObject*> in_flight;  // by trans_id
  std::deque<PacketObject*> placed;  // written without WAIT: routine not run yet
  std::uint64_t next_trans_id = 1;

  ChannelStats stats;

  // --- Derived predicates ---------------------------------------------------------------
  bool queue_running() const {
    return attached() && state == ChannelState::kOpen && started && !paused &&
           stop == QueueStop::kNone;
  }
  // Delivery goes through the passive worker: strict FIFO behind a deferred
  // or pending packet, or RequirePassive.
  bool passive_mode() const {
    return require_passive || !parsing_queue.empty() || passive_deliveries_running > 0;
  }
  bool wire_ready() const { return attached() && opened && !tx_broken; }
  std::uint64_t driver_owned() const;
  bool head_deliverable() const;
  QueueState queue_state() const;
};

// ---------------------------------------------------------------------------
// Passive-worker work items

struct WorkItem {
  enum class Kind : std::uint8_t { kOpen, kStart, kClose, kMapExternalData };
  Kind kind;
  Channel* channel;
  int phase = 0;
  CloseKind close_kind = CloseKind::kPeerClose;
  std::uintptr_t packet = 0;     // kMapExternalData
  std::uint32_t steps_left = 0;  // kMapExternalData
};

// ---------------------------------------------------------------------------
// DeviceCore

// What an API call is, for its verifier records.
struct ApiCall {
  const char* api;
  std::uintptr_t handle;
};

enum class CompletionUse : std::uint8_t { kComplete, kDefer, kFail, kGetExternalData };

// A signal decision's reason in words, for the trace.
std::string signal_reason_words(ring::SignalReason reason);

class DeviceCore {
 public:
  DeviceCore(Device& owner, DeviceConfig config);
  ~DeviceCore();

  Device& owner;
  const DeviceConfig config;
  // Watches the loaded driver that runs on this device (driver_recorder.h),
  // or nullptr; set and cleared by the recorder.
  DriverRecorder* recorder = nullptr;

  // --- Verifier and trace (device.cc) ------------------------------------------------
  // `context` defaults to the running one; report_stall names the blocked one.
  void violate(ViolationCode code, const ApiCall& call, const Channel* channel, std::string detail,
               const ExecContext* context = nullptr);
  void trace(std::string_view kind, const Channel* channel, std::uintptr_t handle,
             std::string_view detail, TracePacketFacts facts = {});
  // A ring operation of `ch` (event kind "ring", TraceRingFacts): `op` on
  // the incoming ring when `incoming`, else on the outgoing one, with the
  // ring's control words as they are now. A signal decision (a `reason`)
  // gets its reason in words as the detail.
  struct RingOp {
    bool incoming = false;
    std::string_view op;
    std::uint32_t bytes = 0;
    bool publish = false;  // `bytes` moved this side's index: record where from
    ring::SignalReason reason = ring::SignalReason::kNone;
  };
  void trace_ring(const Channel& ch, const RingOp& op, std::string_view detail);
  bool tracing() const { return sink_ != nullptr && !tearing_down_; }
  // An event of `kind` would reach the sink (TraceSink::wants).
  bool tracing(std::string_view kind) const { return tracing() && sink_->wants(kind); }
  bool stopped() const { return bugcheck_.has_value(); }
  const std::vector<Violation>& violations() const { return violations_; }
  const Violation* bugcheck() const { return bugcheck_ ? &*bugcheck_ : nullptr; }
  void set_sink(TraceSink* sink) { sink_ = sink; }
  void set_control_plane(ControlPlane* control) { control_ = control; }
  ControlPlane* control() const { return control_; }

  // Reports a bad handle of `kind`; blames the device that issued it, else
  // the running context's device, else the sole device, else nobody.
  static void report_bad_handle(ViolationCode code, const ApiCall& call, std::string detail,
                                DeviceCore* issuer);
  // IRQL rule for `call`: false (after a wrong_irql record) if the calling
  // context's IRQL is not PASSIVE_LEVEL and the rule is enforced. Documented
  // rules and rules of calls that block are always enforced; inferred ones
  // only with VerifierConfig::enforce_inferred_irql.
  enum class IrqlRule : std::uint8_t { kDocumented, kBlocks, kInferred };
  bool require_passive(const ApiCall& call, const Channel* channel, IrqlRule rule);
  // Pause/Start/Enable/Disable from within one of this channel's callbacks.
  bool refuse_in_callback(const ApiCall& call, const Channel& channel);

  // --- Handles (api.cc) -----------------------------------------------------------------
  static Channel* resolve_channel(const ApiCall& call, VMBCHANNEL channel);
  static PacketObject* resolve_packet(const ApiCall& call, VMBPACKET packet);
  static IncomingPacket* resolve_completion(const ApiCall& call, VMBPACKETCOMPLETION packet,
                                            CompletionUse use, Channel** channel);
  Channel& channel_of(VMBCHANNEL channel) const;  // owner API: must be this device's (checked)

  // --- Scheduler (device.cc) ----------------------------------------------------------------
  std::vector<std::string> ready_contexts() const;
  void step(const std::string& name);
  void on_interrupt(Channel& channel);
  std::uint64_t now_ns() const { return now_ns_; }
  void set_now_ns(std::uint64_t now_ns) { now_ns_ = now_ns; }
  std::uint64_t steps() const { return steps_; }
  std::optional<std::uint64_t> next_deadline_ns() const;
  std::vector<BlockedWait> blocked_waits() const;
  void report_stall();
  void spawn_thread(const std::string& name, std::function<void()> body);
  bool thread_running(const std::string& name) const;
  WorkQueue& work_queue(const std::string& name, KIRQL irql);
  PassiveWorkerContext& worker() { return *worker_; }

  // --- Lifecycle (channel.cc) ---------------------------------------------------------------
  NTSTATUS allocate_channel(bool is_server, VMBCHANNEL* out);
  void cleanup_channel(const ApiCall& call, Channel& channel);
  NTSTATUS enable(const ApiCall& call, Channel& channel);
  void disable(const ApiCall& call, Channel& channel);
  void pause(const ApiCall& call, Channel& channel);
  void start(const ApiCall& call, Channel& channel);
  // STATUS_SUCCESS, or STATUS_INVALID_PARAMETER_1 after an init_after_enable record.
  NTSTATUS check_init_allowed(const ApiCall& call, Channel& channel);
  NTSTATUS open_channel(Channel& channel, ring::RingMemory& incoming, ring::RingMemory& outgoing,
                        Transport& transport, const GUID& instance);
  void peer_close(Channel& channel, CloseKind kind);
  void escalate_fail(Channel& channel);
  void run_work_item(WorkItem& item, bool* done);
  // run_work_item's phases: EvtChannelOpened (kOpen phase 0), then
  // EvtChannelStarted (phase 1) and EvtChannelPostStarted (phase 2); the
  // external-data mapping latency counting down.
  void open_phase(Channel& channel, WorkItem& item, bool* done);
  void start_phase(Channel& channel, WorkItem& item, bool* done);
  void map_external_data_phase(Channel& channel, WorkItem& item, bool* done);
  bool worker_has_work() const;
  void worker_unit();

  // --- Receive (receive.cc) ----------------------------------------------------------------
  bool dpc_has_work(const Channel& channel) const;
  void dpc_unit(Channel& channel, ExecContext& context);
  void complete_packet(const ApiCall& call, Channel& channel, IncomingPacket& packet, PVOID buffer,
                       UINT32 size);
  void defer_packet(const ApiCall& call, Channel& channel, IncomingPacket& packet);
  void fail_packet(const ApiCall& call, Channel& channel, IncomingPacket& packet);
  NTSTATUS get_external_data(const ApiCall& call, Channel& channel, IncomingPacket& packet,
                             UINT32 flags, PMDL* mdl);
  void set_incoming_processing_at_passive(Channel& channel, bool require_passive);
  void set_transaction_quota(const ApiCall& call, Channel& channel, UINT32 quota);

  // --- Send (send.cc) -----------------------------------------------------------------------
  VMBPACKET allocate_packet(Channel& channel);
  NTSTATUS initialize_packet(const ApiCall& call, Channel& channel, VMBPACKET memory,
                             UINT32 byte_count);
  void free_packet(const ApiCall& call, PacketObject& packet);
  NTSTATUS send_packet(const ApiCall& call, PacketObject& packet, PVOID buffer, UINT32 length,
                       const std::vector<const MDL*>& ranges, UINT32 flags);
  NTSTATUS send_synchronous(const ApiCall& call, Channel& channel, PVOID buffer, UINT32 size,
                            PMDL external_data, UINT32 flags, PVOID completion_buffer,
                            PUINT32 completion_buffer_size, PLARGE_INTEGER timeout);
  // send_synchronous with a zero timeout and no WAIT_FOR_COMPLETION: into the
  // ring now, or STATUS_BUFFER_OVERFLOW.
  NTSTATUS send_now_or_overflow(Channel& channel, const TxItem& item);
  // Queues the request and blocks the calling context until `sync` is done
  // (STATUS_SUCCESS) or the wait times out (STATUS_CANCELLED) or is refused.
  NTSTATUS send_and_wait(const ApiCall& call, Channel& channel, TxItem item, bool wait,
                         PLARGE_INTEGER timeout, SyncRequest* sync);
  // Writes as much of the send queue as fits (in the calling context).
  void flush_tx(Channel& channel);
  // Publishes what was copied into the outgoing ring, then
  // signal_after_publish.
  void publish_outgoing(Channel& channel);
  // After a publish: signal the peer if the ring library says so (trace
  // signal_peer), or trace interrupt_masked if the peer's mask kept it from it.
  void signal_after_publish(Channel& channel);
  // flush_tx's outcomes for one queued item: written into the ring (the
  // packet's state follows), dropped because it can never fit, or no room
  // (true: look again now; false: wait for a signal, poll, or the ring broke).
  void note_written(Channel& channel, const TxItem& done);
  // Where a packet copied into `reservation` put its payload (last_written).
  void note_placed(Channel& channel, const ring::Reservation& reservation, const TxItem& item);
  void drop_too_large(Channel& channel, const TxItem& dropped);
  bool wait_for_space(Channel& channel, std::uint32_t packet_bytes);
  void enqueue_tx(Channel& channel, TxItem item);
  void run_placed_completion(Channel& channel);
  void handle_completion_packet(Channel& channel, const ring::PacketView& view);
  void cancel_sends(Channel& channel, NTSTATUS status);
  void fail_sync_waiters(Channel& channel, NTSTATUS status);
  void run_completion_routine(PacketObject& packet, NTSTATUS status,
                              std::span<const std::byte> payload);

  // Device-owned objects.
  std::map<std::uint32_t, std::unique_ptr<Channel>> channels;
  std::unordered_map<std::uintptr_t, std::unique_ptr<PacketObject>> packets;
  std::deque<WorkItem> work_items;

  // Shared helpers (receive.cc).
  void retire_incoming(Channel& channel, IncomingPacket& packet, RetireReason reason);
  void protocol_error(Channel& channel, std::string reason);
  void close_sequence(Channel& channel, CloseKind kind);

 private:
  // receive.cc
  bool deliver(Channel& channel, IncomingPacket& packet, ExecContext& context);
  // One read step of a drain pass: one packet, or up to
  // packets_per_dpc_step with their sends written together at the end.
  void read_batch(Channel& channel, ExecContext& context);
  // The ring record of end_read: the mask cleared and what the re-check found.
  void trace_end_read(const Channel& channel);
  void read_one(Channel& channel, ExecContext& context);
  void accept_data_packet(Channel& channel, const ring::PacketView& view, ExecContext& context);
  void call_processing_complete(Channel& channel, std::uint32_t processed, ExecContext& context);
  void passive_delivery_unit(Channel& channel);
  void end_passive_pass(Channel& channel, ExecContext& context);
  // channel.cc
  void call_state_callback(Channel& channel, const char* which);
  void drop_held_packets(Channel& channel);
  // Empties the ring at a close; with `completions_read` (the quirk
  // guest_reads_after_rescind) its completions still complete requests.
  void discard_ring(Channel& channel, bool completions_read);
  bool reads_after_rescind(const Channel& channel, CloseKind kind) const;
  // Quirk guest_keeps_queued_sends_at_rescind: the queued sends a guest's
  // rescind close takes out of cancel_sends() (empty without the quirk).
  std::deque<TxItem> keep_queued_sends_at_rescind(Channel& ch, bool rescind);
  void detach(Channel& channel);
  bool quiesced(const Channel& channel) const;
  // False only if the context may not block (which the callers rule out).
  bool wait_for_barrier(Channel& channel, const char* api, ExecContext& context);

  std::uint64_t now_ns_ = 0;
  std::uint64_t steps_ = 0;
  std::uint32_t next_channel_index_ = 1;
  ControlPlane* control_ = nullptr;
  TraceSink* sink_ = nullptr;
  bool tearing_down_ = false;
  std::vector<Violation> violations_;
  std::optional<Violation> bugcheck_;
  std::unique_ptr<PassiveWorkerContext> worker_;
  std::map<std::string, std::unique_ptr<ExecContext>> driver_contexts_;
  std::map<std::string, std::unique_ptr<WorkQueue>> work_queues_;
};

}  // namespace vmbus::kmcl::detail
