// Device (the owner's view) and the DeviceCore basics: verifier records,
// trace events, and the scheduler interface.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <utility>

#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl {

// --- Names -----------------------------------------------------------------

const char* irql_name(KIRQL irql) {
  switch (irql) {
    case PASSIVE_LEVEL:
      return "PASSIVE_LEVEL";
    case APC_LEVEL:
      return "APC_LEVEL";
    case DISPATCH_LEVEL:
      return "DISPATCH_LEVEL";
    default:
      return "IRQL_ABOVE_DISPATCH";
  }
}

const char* ntstatus_name(NTSTATUS status) {
  switch (static_cast<std::uint32_t>(status)) {
    case 0x00000000u:
      return "STATUS_SUCCESS";
    case 0x00000102u:
      return "STATUS_TIMEOUT";
    case 0x00000103u:
      return "STATUS_PENDING";
    case 0x80000005u:
      return "STATUS_BUFFER_OVERFLOW";
    case 0xC0000001u:
      return "STATUS_UNSUCCESSFUL";
    case 0xC0000002u:
      return "STATUS_NOT_IMPLEMENTED";
    case 0xC000000Du:
      return "STATUS_INVALID_PARAMETER";
    case 0xC0000010u:
      return "STATUS_INVALID_DEVICE_REQUEST";
    case 0xC0000023u:
      return "STATUS_BUFFER_TOO_SMALL";
    case 0xC000009Au:
      return "STATUS_INSUFFICIENT_RESOURCES";
    case 0xC00000BBu:
      return "STATUS_NOT_SUPPORTED";
    case 0xC00000EFu:
      return "STATUS_INVALID_PARAMETER_1";
    case 0xC00000F0u:
      return "STATUS_INVALID_PARAMETER_2";
    case 0xC00000F1u:
      return "STATUS_INVALID_PARAMETER_3";
    case 0xC00000F2u:
      return "STATUS_INVALID_PARAMETER_4";
    case 0xC00000F3u:
      return "STATUS_INVALID_PARAMETER_5";
    case 0xC00000F4u:
      return "STATUS_INVALID_PARAMETER_6";
    case 0xC00000F5u:
      return "STATUS_INVALID_PARAMETER_7";
    case 0xC0000120u:
      return "STATUS_CANCELLED";
    case 0xC0000184u:
      return "STATUS_INVALID_DEVICE_STATE";
    case 0xC0000206u:
      return "STATUS_INVALID_BUFFER_SIZE";
    case 0xC0000225u:
      return "STATUS_NOT_FOUND";
    case 0xC00002B6u:
      return "STATUS_DEVICE_REMOVED";
    default:
      return "STATUS_(unnamed)";
  }
}

const char* violation_code_name(ViolationCode code) {
  switch (code) {
    case ViolationCode::kDeferOutsideCallback:
      return "defer_outside_callback";
    case ViolationCode::kFailOutsideCallback:
      return "fail_outside_callback";
    case ViolationCode::kExternalDataOutsideCallback:
      return "external_data_outside_callback";
    case ViolationCode::kCompleteTwice:
      return "complete_twice";
    case ViolationCode::kCompleteAfterFail:
      return "complete_after_fail";
    case ViolationCode::kCompleteAfterDefer:
      return "complete_after_defer";
    case ViolationCode::kUnknownHandle:
      return "unknown_handle";
    case ViolationCode::kStaleHandle:
      return "stale_handle";
    case ViolationCode::kWrongIrql:
      return "wrong_irql";
    case ViolationCode::kPacketNotRetiredAtClose:
      return "packet_not_retired_at_close";
    case ViolationCode::kDeferLivelock:
      return "defer_livelock";
    case ViolationCode::kSendOnChannelNotOpen:
      return "send_on_channel_not_open";
    case ViolationCode::kInitAfterEnable:
      return "init_after_enable";
    case ViolationCode::kStateCallInCallback:
      return "state_call_in_callback";
    case ViolationCode::kWaitNeverSatisfied:
      return "wait_never_satisfied";
    case ViolationCode::kSendPacketInFlight:
      return "send_packet_in_flight";
    case ViolationCode::kFreePacketInFlight:
      return "free_packet_in_flight";
    case ViolationCode::kSendWithoutCompletionRoutine:
      return "send_without_completion_routine";
    case ViolationCode::kCleanupWhileEnabled:
      return "cleanup_while_enabled";
    case ViolationCode::kCompletionBufferTooLarge:
      return "completion_buffer_too_large";
    case ViolationCode::kInvalidParameter:
      return "invalid_parameter";
  }
  return "unknown_violation";
}

namespace {

std::string hex(std::uintptr_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::mutex g_unattributed_mutex;
TraceSink* g_unattributed_sink = nullptr;
std::vector<Violation> g_unattributed;

}  // namespace

std::string to_string(const Violation& v) {
  return std::string(violation_code_name(v.code)) + " " + v.api + " handle=" + hex(v.handle) +
         " device=" + v.device + " ch=" + std::to_string(v.channel) + " " + v.context + "@" +
         irql_name(v.irql) + " step=" + std::to_string(v.step) + ": " + v.detail;
}

std::string to_string(const TraceEvent& e) {
  return e.kind + " device=" + e.device + " ch=" + std::to_string(e.channel) +
         " handle=" + hex(e.handle) + " " + e.context + "@" + irql_name(e.irql) +
         " step=" + std::to_string(e.step) + ": " + e.detail;
}

void set_unattributed_violation_sink(TraceSink* sink) {
  std::lock_guard lock(g_unattributed_mutex);
  g_unattributed_sink = sink;
}

std::vector<Violation> take_unattributed_violations() {
  std::lock_guard lock(g_unattributed_mutex);
  return std::exchange(g_unattributed, {});
}

const char* channel_state_name(ChannelState state) {
  switch (state) {
    case ChannelState::kDisabled:
      return "disabled";
    case ChannelState::kEnabled:
      return "enabled";
    case ChannelState::kOpening:
      return "opening";
    case ChannelState::kOpen:
      return "open";
    case ChannelState::kClosing:
      return "closing";
    case ChannelState::kClosed:
      return "closed";
  }
  return "unknown";
}

const char* queue_state_name(QueueState state) {
  switch (state) {
    case QueueState::kOff:
      return "off";
    case QueueState::kRunning:
      return "running";
    case QueueState::kQuotaBlocked:
      return "quota_blocked";
    case QueueState::kPausing:
      return "pausing";
    case QueueState::kPaused:
      return "paused";
    case QueueState::kStoppedByFail:
      return "stopped_by_fail";
    case QueueState::kStoppedByProtocolError:
      return "stopped_by_protocol_error";
  }
  return "unknown";
}

KIRQL KeGetCurrentIrql() {
  return detail::current_context().irql();
}

std::string current_context_name() {
  return detail::current_context().name();
}

// --- WorkQueue ------------------------------------------------------------------

void WorkQueue::post(std::function<void()> item, std::uint32_t delay_steps) {
  context_->post(std::move(item), delay_steps);
}

const std::string& WorkQueue::context_name() const {
  return context_->name();
}

std::size_t WorkQueue::pending() const {
  return context_->pending();
}

// --- Device ------------------------------------------------------------------------

Device::Device(DeviceConfig config)
    : core_(std::make_unique<detail::DeviceCore>(*this, std::move(config))) {}

Device::~Device() = default;

const std::string& Device::name() const {
  return core_->config.name;
}

void Device::set_control_plane(ControlPlane* control_plane) {
  core_->set_control_plane(control_plane);
}

void Device::set_trace_sink(TraceSink* sink) {
  core_->set_sink(sink);
}

std::vector<std::string> Device::ready_contexts() const {
  return core_->ready_contexts();
}

void Device::step(const std::string& context) {
  core_->step(context);
}

void Device::on_interrupt(VMBCHANNEL channel) {
  core_->on_interrupt(core_->channel_of(channel));
}

void Device::set_now_ns(std::uint64_t now_ns) {
  core_->set_now_ns(now_ns);
}

std::uint64_t Device::now_ns() const {
  return core_->now_ns();
}

std::optional<std::uint64_t> Device::next_deadline_ns() const {
  return core_->next_deadline_ns();
}

std::vector<BlockedWait> Device::blocked_waits() const {
  return core_->blocked_waits();
}

void Device::report_stall() {
  core_->report_stall();
}

std::uint64_t Device::steps() const {
  return core_->steps();
}

NTSTATUS Device::open_channel(VMBCHANNEL channel, ring::RingMemory& incoming,
                              ring::RingMemory& outgoing, Transport& transport,
                              const GUID& interface_instance) {
  return core_->open_channel(core_->channel_of(channel), incoming, outgoing, transport,
                             interface_instance);
}

void Device::close_channel(VMBCHANNEL channel) {
  core_->peer_close(core_->channel_of(channel), detail::CloseKind::kPeerClose);
}

void Device::rescind_channel(VMBCHANNEL channel) {
  detail::Channel& ch = core_->channel_of(channel);
  VMBUS_CHECK(!ch.is_server,
              "rescind_channel is for client channels; a server rescinds by "
              "VmbChannelDisable");
  core_->peer_close(ch, detail::CloseKind::kRescind);
}

void Device::spawn_passive_thread(const std::string& name, std::function<void()> body) {
  core_->spawn_thread(name, std::move(body));
}

bool Device::thread_running(const std::string& name) const {
  return core_->thread_running(name);
}

WorkQueue& Device::create_work_queue(const std::string& name, KIRQL irql) {
  return core_->work_queue(name, irql);
}

void Device::set_channel_options(VMBCHANNEL channel, const ChannelOptions& options) {
  core_->channel_of(channel).options = options;
}

ChannelState Device::channel_state(VMBCHANNEL channel) const {
  return core_->channel_of(channel).state;
}

QueueState Device::queue_state(VMBCHANNEL channel) const {
  return core_->channel_of(channel).queue_state();
}

ChannelStats Device::channel_stats(VMBCHANNEL channel) const {
  const detail::Channel& ch = core_->channel_of(channel);
  ChannelStats stats = ch.stats;
  stats.live_packets = ch.live.size();
  stats.driver_owned = ch.driver_owned();
  stats.held_packets = ch.parsing_queue.size();
  stats.queued_sends = ch.tx_queue.size();
  stats.sends_in_flight = ch.in_flight.size();
  stats.send_blocked = ch.tx_blocked;
  stats.packets_written = ch.packets_written;
  stats.next_trans_id = ch.next_trans_id;
  stats.passive_delivery = ch.passive_mode();
  stats.require_passive = ch.require_passive;
  stats.quota = ch.quota;
  stats.stop_reason = ch.stop_reason;
  return stats;
}

ChannelConfig Device::channel_config(VMBCHANNEL channel) const {
  const detail::Channel& ch = core_->channel_of(channel);
  ChannelConfig config;
  config.index = ch.index;
  config.is_server = ch.is_server;
  config.maximum_packet_size_bytes = ch.maximum_packet_size;
  config.incoming_page_count = ch.incoming_page_count;
  config.outgoing_page_count = ch.outgoing_page_count;
  config.flags = ch.init_flags;
  config.server_flags = ch.server_flags;
  config.friendly_name = ch.friendly_name;
  config.target_interface_type = ch.target_interface_type;
  config.target_interface_instance = ch.target_interface_instance;
  return config;
}

std::optional<WrittenPacket> Device::last_written(VMBCHANNEL channel) const {
  return core_->channel_of(channel).last_written;
}

std::optional<std::uint32_t> Device::incoming_read_cursor(VMBCHANNEL channel) const {
  const detail::Channel& ch = core_->channel_of(channel);
  if (ch.reader == nullptr) {
    return std::nullopt;
  }
  return ch.reader->read_cursor();
}

void Device::resync_outgoing(VMBCHANNEL channel) {
  detail::Channel& ch = core_->channel_of(channel);
  VMBUS_CHECK(ch.attached() && ch.outgoing_memory != nullptr,
              "resync of the outgoing ring of a channel that has none");
  VMBUS_CHECK(!detail::in_scheduled_context(), "resync of an outgoing ring during a step");
  const ring::WriterCounters before = ch.writer->counters();
  detail::add_writer_counters(ch.resynced_writer_counters, before);
  ch.writer = std::make_unique<ring::RingWriter>(*ch.outgoing_memory);
  ch.pending_send_size_set = false;
}

bool Device::completion_requested(VMBPACKETCOMPLETION packet) const {
  const auto key = reinterpret_cast<std::uintptr_t>(packet);
  for (const auto& [index, ch] : core_->channels) {
    if (const auto it = ch->live.find(key); it != ch->live.end()) {
      return it->second->completion_requested;
    }
  }
  return false;
}

std::vector<VMBCHANNEL> Device::channels() const {
  std::vector<VMBCHANNEL> result;
  for (const auto& [index, ch] : core_->channels) {
    result.push_back(reinterpret_cast<VMBCHANNEL>(ch->handle));
  }
  return result;
}

const std::vector<Violation>& Device::violations() const {
  return core_->violations();
}

const Violation* Device::bugcheck() const {
  return core_->bugcheck();
}

namespace detail {

// --- DeviceCore basics ---------------------------------------------------------------------

DeviceCore::DeviceCore(Device& owner_device, DeviceConfig device_config)
    : owner(owner_device), config(std::move(device_config)) {
  VMBUS_CHECK(config.max_packets_per_dpc_pass > 0, "a drain pass must dequeue at least one packet");
  VMBUS_CHECK(config.packets_per_dpc_step > 0, "a DPC step must handle at least one packet");
  worker_ = std::make_unique<PassiveWorkerContext>(*this);
  HandleRegistry::instance().add_device(this);
}

DeviceCore::~DeviceCore() {
  tearing_down_ = true;
  // Unwind every suspended fiber first: their frames may still refer to
  // channels, packets and contexts, which must all still exist.
  for (auto& [name, context] : driver_contexts_) {
    context->cancel();
  }
  worker_->cancel();
  for (auto& [index, channel] : channels) {
    channel->dpc->cancel();
  }
  HandleRegistry::instance().remove_device(this);
}

void DeviceCore::violate(ViolationCode code, const ApiCall& call, const Channel* channel,
                         std::string detail, const ExecContext* in_context) {
  if (stopped()) {
    return;  // after a bug check nothing else is reported
  }
  const ExecContext& context = in_context != nullptr ? *in_context : current_context();
  Violation v;
  v.code = code;
  v.api = call.api;
  v.handle = call.handle;
  v.device = config.name;
  v.channel = channel != nullptr ? channel->index : 0;
  v.context = context.name();
  v.irql = context.irql();
  v.detail = std::move(detail);
  v.step = steps_;
  v.now_ns = now_ns_;
  violations_.push_back(v);
  if (sink_ != nullptr && !tearing_down_) {
    sink_->on_violation(v);
  }
  if (config.verifier.mode == VerifierMode::kStop) {
    bugcheck_ = v;
  }
}

void DeviceCore::trace(std::string_view kind, const Channel* channel, std::uintptr_t handle,
                       std::string_view detail, TracePacketFacts facts) {
  if (!tracing(kind)) {
    return;
  }
  const ExecContext& context = current_context();
  TraceEvent e;
  e.kind = kind;
  e.device = config.name;
  e.channel = channel != nullptr ? channel->index : 0;
  e.handle = handle;
  e.context = context.name();
  e.irql = context.irql();
  e.detail = detail;
  e.step = steps_;
  e.now_ns = now_ns_;
  e.facts = std::move(facts);
  sink_->on_event(e);
}

std::string signal_reason_words(ring::SignalReason reason) {
  switch (reason) {
    case ring::SignalReason::kWentNonEmpty:
      return "the reader had read everything before this publish and its interrupt_mask is "
             "clear: it may be idle";
    case ring::SignalReason::kInterruptMasked:
      return "the reader has interrupt_mask set: it is draining and re-checks before it stops";
    case ring::SignalReason::kReaderHadData:
      return "the reader had not read up to this publish: it will find the packets without an "
             "interrupt";
    case ring::SignalReason::kNothingPublished:
      return "nothing was published";
    case ring::SignalReason::kCrossedPendingSendSize:
      return "free space rose above the writer's pending_send_sz: it waits for this signal";
    case ring::SignalReason::kNothingFreed:
      return "this pass freed no bytes";
    case ring::SignalReason::kNoPendingSendSizeFeature:
      return "the ring has no pending_send_sz feature: the writer polls";
    case ring::SignalReason::kWriterNotWaiting:
      return "pending_send_sz is 0: the writer is not waiting for space";
    case ring::SignalReason::kWriterWasNotBlocked:
      return "free space was above pending_send_sz before this pass: the writer was not blocked "
             "by it";
    case ring::SignalReason::kStillBelowPendingSendSize:
      return "free space is still not above pending_send_sz";
    case ring::SignalReason::kWriteIndexInvalid:
      return "write_index is invalid; the next read reports it";
    case ring::SignalReason::kNone:
      break;
  }
  return "";
}

void DeviceCore::trace_ring(const Channel& ch, const RingOp& op, std::string_view detail) {
  if (!tracing("ring") || !ch.attached()) {
    return;
  }
  const ring::RingView& view = op.incoming ? ch.reader->view() : ch.writer->view();
  // A snapshot for the trace only: relaxed loads, no decision depends on them.
  const auto word = [](std::uint32_t& shared) {
    return std::atomic_ref<std::uint32_t>(shared).load(std::memory_order_relaxed);
  };
  TraceRingFacts facts;
  facts.incoming = op.incoming;
  facts.op = op.op;
  facts.write_index = word(view.control().write_index);
  facts.read_index = word(view.control().read_index);
  facts.data_size = view.data_size_bytes();
  facts.interrupt_mask = word(view.control().interrupt_mask);
  facts.pending_send_sz = word(view.control().pending_send_sz);
  facts.bytes = op.bytes;
  if (op.publish) {
    // Our own index: it moved by `bytes` in this publish.
    const std::uint32_t after = op.incoming ? facts.read_index : facts.write_index;
    facts.index_before = (after + facts.data_size - op.bytes % facts.data_size) % facts.data_size;
  }
  if (op.reason != ring::SignalReason::kNone) {
    facts.reason = ring::signal_reason_name(op.reason);
  }
  const ExecContext& context = current_context();
  TraceEvent e;
  e.kind = "ring";
  e.device = config.name;
  e.channel = ch.index;
  e.handle = ch.handle;
  e.context = context.name();
  e.irql = context.irql();
  // A signal decision says its reason in words (built only when traced).
  e.detail =
      op.reason != ring::SignalReason::kNone ? signal_reason_words(op.reason) : std::string(detail);
  e.step = steps_;
  e.now_ns = now_ns_;
  e.ring = std::move(facts);
  sink_->on_event(e);
}

void DeviceCore::report_bad_handle(ViolationCode code, const ApiCall& call, std::string detail,
                                   DeviceCore* issuer) {
  DeviceCore* device = issuer;
  if (device == nullptr) {
    device = current_context().device();
  }
  if (device == nullptr) {
    device = HandleRegistry::instance().sole_device();
  }
  if (device != nullptr) {
    device->violate(code, call, nullptr, std::move(detail));
    return;
  }
  Violation v;
  v.code = code;
  v.api = call.api;
  v.handle = call.handle;
  v.context = current_context().name();
  v.irql = current_context().irql();
  v.detail = std::move(detail);
  std::lock_guard lock(g_unattributed_mutex);
  g_unattributed.push_back(v);
  if (g_unattributed_sink != nullptr) {
    g_unattributed_sink->on_violation(v);
  }
}

bool DeviceCore::require_passive(const ApiCall& call, const Channel* channel, IrqlRule rule) {
  const KIRQL irql = current_context().irql();
  if (irql == PASSIVE_LEVEL) {
    return true;
  }
  if (rule == IrqlRule::kInferred && !config.verifier.enforce_inferred_irql) {
    return true;
  }
  const char* why = rule == IrqlRule::kDocumented ? "documented"
                    : rule == IrqlRule::kBlocks   ? "it blocks"
                                                  : "inferred";
  violate(ViolationCode::kWrongIrql, call, channel,
          std::string(call.api) + " requires PASSIVE_LEVEL (" + why + "), called at " +
              irql_name(irql) + "; it returns without doing anything");
  return false;
}

bool DeviceCore::refuse_in_callback(const ApiCall& call, const Channel& channel) {
  if (!current_context().in_callback_of(&channel)) {
    return false;
  }
  violate(ViolationCode::kStateCallInCallback, call, &channel,
          std::string(call.api) +
              " called from within one of the channel's own callbacks; it may wait for that "
              "callback to return (Microsoft's documentation: not within state change callbacks)");
  return true;
}

Channel& DeviceCore::channel_of(VMBCHANNEL channel) const {
  const auto entry = HandleRegistry::instance().find(reinterpret_cast<std::uintptr_t>(channel));
  VMBUS_CHECK(entry && entry->live && entry->kind == HandleKind::kChannel && entry->device == this,
              "the owner passed a VMBCHANNEL that is not a live channel of device " + config.name);
  return *static_cast<Channel*>(entry->object);
}

// --- Scheduler --------------------------------------------------------------------------------

std::vector<std::string> DeviceCore::ready_contexts() const {
  std::vector<std::string> ready;
  if (stopped()) {
    return ready;
  }
  for (const auto& [index, channel] : channels) {
    if (channel->dpc->ready()) {
      ready.push_back(channel->dpc->name());
    }
  }
  if (worker_->ready()) {
    ready.push_back(worker_->name());
  }
  for (const auto& [name, context] : driver_contexts_) {
    if (context->ready()) {
      ready.push_back(name);
    }
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

void DeviceCore::step(const std::string& name) {
  if (stopped()) {
    return;
  }
  ExecContext* context = nullptr;
  if (name == worker_->name()) {
    context = worker_.get();
  } else if (auto it = driver_contexts_.find(name); it != driver_contexts_.end()) {
    context = it->second.get();
  } else {
    for (const auto& [index, channel] : channels) {
      if (channel->dpc->name() == name) {
        context = channel->dpc.get();
      }
    }
  }
  VMBUS_CHECK(context != nullptr, "step of unknown context " + name + " on device " + config.name);
  VMBUS_CHECK(context->ready(), "step of context " + name + " that is not ready");
  ++steps_;
  context->step();
  if (context->finished()) {
    driver_contexts_.erase(name);  // a driver thread whose body returned
  }
}

void DeviceCore::on_interrupt(Channel& channel) {
  if (!channel.attached()) {
    trace("interrupt_ignored", &channel, channel.handle, "channel has no rings");
    return;
  }
  // VMBus has one event per channel for both directions: the peer either
  // wrote packets (drain) or freed space we were waiting for (write).
  channel.rx_wanted = true;
  if (!channel.tx_queue.empty()) {
    channel.tx_blocked = false;
    channel.tx_wanted = true;
  }
}

std::optional<std::uint64_t> DeviceCore::next_deadline_ns() const {
  std::optional<std::uint64_t> earliest;
  auto consider = [&](const ExecContext& context) {
    const BlockedState* blocked = context.blocked();
    if (blocked == nullptr || !blocked->deadline_ns || blocked->satisfied()) {
      return;
    }
    if (!earliest || *blocked->deadline_ns < *earliest) {
      earliest = blocked->deadline_ns;
    }
  };
  consider(*worker_);
  for (const auto& [name, context] : driver_contexts_) {
    consider(*context);
  }
  return earliest;
}

std::vector<BlockedWait> DeviceCore::blocked_waits() const {
  std::vector<BlockedWait> waits;
  auto consider = [&](const ExecContext& context) {
    const BlockedState* blocked = context.blocked();
    if (blocked != nullptr && !context.ready()) {
      waits.push_back(BlockedWait{context.name(), blocked->what, blocked->deadline_ns});
    }
  };
  consider(*worker_);
  for (const auto& [name, context] : driver_contexts_) {
    consider(*context);
  }
  return waits;
}

void DeviceCore::report_stall() {
  auto consider = [&](ExecContext& context) {
    BlockedState* blocked = context.blocked();
    if (blocked == nullptr || blocked->reported || context.ready()) {
      return;
    }
    blocked->reported = true;
    const ApiCall call{blocked->api.c_str(), blocked->channel ? blocked->channel->handle : 0};
    if (blocked->waits_for_driver_packets && blocked->channel != nullptr) {
      for (const auto& [handle, packet] : blocked->channel->live) {
        if (packet->state == IncomingPacket::State::kOutstanding ||
            packet->state == IncomingPacket::State::kDelivering) {
          violate(
              ViolationCode::kPacketNotRetiredAtClose, ApiCall{call.api, handle}, blocked->channel,
              "packet #" + std::to_string(packet->index) + " was delivered and never retired; " +
                  blocked->api + " waits for " + blocked->what + " and can never finish",
              &context);
        }
      }
    }
    violate(ViolationCode::kWaitNeverSatisfied, call, blocked->channel,
            context.name() + " waits for " + blocked->what +
                ", and no context of any device can make progress",
            &context);
  };
  consider(*worker_);
  for (auto& [name, context] : driver_contexts_) {
    consider(*context);
  }
}

void DeviceCore::spawn_thread(const std::string& name, std::function<void()> body) {
  const std::string full = "thread/" + name;
  VMBUS_CHECK(driver_contexts_.find(full) == driver_contexts_.end(),
              "a context named " + full + " exists already");
  driver_contexts_[full] = std::make_unique<ThreadContext>(*this, name, std::move(body));
}

bool DeviceCore::thread_running(const std::string& name) const {
  return driver_contexts_.find("thread/" + name) != driver_contexts_.end();
}

WorkQueue& DeviceCore::work_queue(const std::string& name, KIRQL irql) {
  if (auto it = work_queues_.find(name); it != work_queues_.end()) {
    return *it->second;
  }
  VMBUS_CHECK(irql == PASSIVE_LEVEL || irql == DISPATCH_LEVEL,
              "work queues run at PASSIVE_LEVEL or DISPATCH_LEVEL");
  auto context = std::make_unique<WorkQueueContext>(*this, name, irql);
  WorkQueueContext* raw = context.get();
  driver_contexts_[raw->name()] = std::move(context);
  auto queue = std::unique_ptr<WorkQueue>(new WorkQueue(raw));
  WorkQueue& result = *queue;
  work_queues_[name] = std::move(queue);
  return result;
}

}  // namespace detail
}  // namespace vmbus::kmcl
