// Channel lifecycle: allocate, Init,
// Enable, open, the Opened -> Started -> queue enabled -> PostStarted
// sequence, Pause/Start with the suspend barrier, and the three ways a
// channel closes (local Disable, peer close, rescind), plus the passive
// worker that runs the sequences.
#include <algorithm>
#include <utility>

#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl::detail {
namespace {

VMBCHANNEL as_channel(std::uintptr_t handle) {
  return reinterpret_cast<VMBCHANNEL>(handle);
}

const char* close_api(CloseKind kind) {
  switch (kind) {
    case CloseKind::kLocalDisable:
      return "VmbChannelDisable";
    case CloseKind::kEscalatedFail:
      return "escalated Fail";
    case CloseKind::kPeerClose:
      return "peer close";
    case CloseKind::kRescind:
      return "rescind";
  }
  return "close";
}

bool block(DeviceCore& device, ExecContext& context, BlockedState state) {
  return block_context(device, context, std::move(state)) == WaitResult::kSatisfied;
}

}  // namespace

Channel::Channel(DeviceCore& owner_device, std::uint32_t channel_index, bool server)
    : device(owner_device), index(channel_index), is_server(server) {}

void add_writer_counters(ring::WriterCounters& sum, const ring::WriterCounters& more) {
  sum.packets += more.packets;
  sum.packet_bytes += more.packet_bytes;
  sum.publishes += more.publishes;
  sum.signals += more.signals;
  sum.signals_masked += more.signals_masked;
  sum.full_events += more.full_events;
  sum.pending_send_sz_sets += more.pending_send_sz_sets;
  for (std::size_t i = 0; i < sum.corrupt.size(); ++i) {
    sum.corrupt[i] += more.corrupt[i];
  }
}

ring::WriterCounters Channel::writer_counters() const {
  ring::WriterCounters sum = resynced_writer_counters;
  if (writer) {
    add_writer_counters(sum, writer->counters());
  }
  return sum;
}

std::uint64_t Channel::driver_owned() const {
  std::uint64_t owned = 0;
  for (const auto& [packet_handle, packet] : live) {
    if (packet->state == IncomingPacket::State::kDelivering ||
        packet->state == IncomingPacket::State::kOutstanding) {
      ++owned;
    }
  }
  return owned;
}

bool Channel::head_deliverable() const {
  if (parsing_queue.empty()) {
    return false;
  }
  const IncomingPacket::State state_of_head = parsing_queue.front()->state;
  return state_of_head == IncomingPacket::State::kHeld ||
         state_of_head == IncomingPacket::State::kDeferred ||
         state_of_head == IncomingPacket::State::kExternalDataReady;
}

QueueState Channel::queue_state() const {
  if (!attached() || (state != ChannelState::kOpen && state != ChannelState::kClosing)) {
    return QueueState::kOff;
  }
  if (pausing || state == ChannelState::kClosing) {
    return QueueState::kPausing;
  }
  if (paused) {
    return opened && !started ? QueueState::kPaused : QueueState::kOff;
  }
  if (stop == QueueStop::kFail) {
    return QueueState::kStoppedByFail;
  }
  if (stop == QueueStop::kProtocolError) {
    return QueueState::kStoppedByProtocolError;
  }
  if (!started) {
    return QueueState::kOff;
  }
  if (quota_blocked) {
    return QueueState::kQuotaBlocked;
  }
  return QueueState::kRunning;
}

// --- Allocate, Cleanup, Init, Enable -----------------------------------------------

NTSTATUS DeviceCore::allocate_channel(bool is_server, VMBCHANNEL* out) {
  const std::uint32_t index = next_channel_index_++;
  auto channel = std::make_unique<Channel>(*this, index, is_server);
  channel->handle = HandleRegistry::instance().issue(this, HandleKind::kChannel, channel.get());
  channel->dpc = std::make_unique<DpcContext>(*this, *channel);
  *out = as_channel(channel->handle);
  Channel& ch = *channel;
  channels[index] = std::move(channel);
  trace("channel_allocated", &ch, ch.handle, is_server ? "server" : "client");
  return STATUS_SUCCESS;
}

void DeviceCore::cleanup_channel(const ApiCall& call, Channel& ch) {
  if (!require_passive(call, &ch, IrqlRule::kInferred) || refuse_in_callback(call, ch)) {
    return;
  }
  if (ch.state != ChannelState::kDisabled) {
    violate(ViolationCode::kCleanupWhileEnabled, call, &ch,
            std::string("VmbChannelCleanup of a channel that is ") + channel_state_name(ch.state) +
                "; it must be Disabled first");
    return;
  }
  // Sends queued while the channel was never (re)opened end here.
  cancel_sends(ch, STATUS_CANCELLED);
  std::vector<std::uintptr_t> owned;
  for (const auto& [handle, packet] : packets) {
    if (packet->channel == &ch) {
      owned.push_back(handle);
    }
  }
  std::sort(owned.begin(), owned.end());
  for (std::uintptr_t handle : owned) {
    HandleRegistry::instance().retire(handle, RetireReason::kCleanedUp);
    packets.erase(handle);
  }
  std::erase_if(work_items, [&ch](const WorkItem& item) { return item.channel == &ch; });
  VMBUS_CHECK(ch.live.empty(), "a Disabled channel still holds incoming packets");
  trace("channel_cleaned_up", &ch, ch.handle, "");
  HandleRegistry::instance().retire(ch.handle, RetireReason::kCleanedUp);
  channels.erase(ch.index);
}

NTSTATUS DeviceCore::check_init_allowed(const ApiCall& call, Channel& ch) {
  // The more specific breach first: one record per call.
  if (ch.enabled_once) {
    violate(ViolationCode::kInitAfterEnable, call, &ch,
            std::string(call.api) +
                " after VmbChannelEnable: Init functions are legal only during channel "
                "initialization, before the first Enable");
    return STATUS_INVALID_PARAMETER_1;
  }
  if (!require_passive(call, &ch, IrqlRule::kInferred)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  return STATUS_SUCCESS;
}

NTSTATUS DeviceCore::enable(const ApiCall& call, Channel& ch) {
  if (!require_passive(call, &ch, IrqlRule::kInferred) || refuse_in_callback(call, ch)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (ch.state != ChannelState::kDisabled) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (ch.process_packet == nullptr) {
    // The model has no "default" packet handler to fall back on.
    return STATUS_INVALID_DEVICE_STATE;
  }
  ch.enabled_once = true;
  ch.state = ChannelState::kEnabled;
  // The client is implicitly started unless it asked to auto-pause; the
  // server must call VmbChannelStart.
  ch.paused = ch.is_server || ch.auto_pause;
  ch.auto_pause = false;
  ch.stop = QueueStop::kNone;
  ch.stop_reason.clear();
  ch.quota_blocked = false;
  trace("channel_enabled", &ch, ch.handle, ch.paused ? "paused" : "");
  if (control_ != nullptr) {
    control_->on_channel_enabled(as_channel(ch.handle),
                                 owner.channel_config(as_channel(ch.handle)));
  }
  return STATUS_SUCCESS;
}

// --- Open ---------------------------------------------------------------------------------

NTSTATUS DeviceCore::open_channel(Channel& ch, ring::RingMemory& incoming,
                                  ring::RingMemory& outgoing, Transport& transport,
                                  const GUID& instance) {
  if (ch.state != ChannelState::kEnabled && ch.state != ChannelState::kClosed) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  VMBUS_CHECK(!ch.attached() && ch.live.empty(), "open of a channel that still has rings");
  const std::size_t data_size = incoming.region().size() - ring::kRingDataOffsetBytes;
  // The reader accepts any packet that fits the ring; the KMCL maximum packet
  // size is checked by us, so that an oversize packet is a KMCL protocol
  // error (DESIGN 4) and not "ring corrupt".
  const auto reader_max = static_cast<std::uint32_t>(std::min<std::size_t>(data_size, 0xFFFFu * 8));
  ch.reader = std::make_unique<ring::RingReader>(incoming, reader_max);
  ch.reader->set_quirks(config.quirks);
  ch.writer = std::make_unique<ring::RingWriter>(outgoing);
  ch.outgoing_memory = &outgoing;
  ch.resynced_writer_counters = {};
  ch.last_written.reset();
  ch.transport = &transport;
  ch.interface_instance = instance;
  ch.tx_blocked = false;
  ch.tx_wanted = false;
  ch.tx_broken = false;
  ch.rx_wanted = false;
  ch.dpc_pass = {};
  ch.passive_pass = {};
  ch.state_before_open = ch.state;
  ch.state = ChannelState::kOpening;
  ch.sequence_active = true;
  work_items.push_back(WorkItem{WorkItem::Kind::kOpen, &ch});
  trace("channel_open", &ch, ch.handle, "");
  return STATUS_SUCCESS;
}

void DeviceCore::call_state_callback(Channel& ch, const char* which) {
  const VMB_CHANNEL_STATE_CHANGE_CALLBACKS& cb = ch.state_callbacks;
  PFN_VMB_CHANNEL_CLOSED fn = nullptr;  // all four VOID callbacks share this type
  const std::string_view name(which);
  if (name == "EvtChannelClosed") {
    fn = cb.EvtChannelClosed;
  } else if (name == "EvtChannelSuspend") {
    fn = cb.EvtChannelSuspend;
  } else if (name == "EvtChannelStarted") {
    fn = cb.EvtChannelStarted;
  } else if (name == "EvtChannelPostStarted") {
    fn = cb.EvtChannelPostStarted;
  } else {
    VMBUS_CHECK(false, std::string("unknown state callback ") + which);
  }
  trace("callback", &ch, ch.handle, which, {.callback = std::string(which)});
  if (fn != nullptr) {
    CallbackScope scope(current_context(), {CallbackKind::kStateChange, &ch, nullptr});
    fn(as_channel(ch.handle));
  }
}

bool DeviceCore::worker_has_work() const {
  if (!work_items.empty()) {
    return true;
  }
  for (const auto& [index, ch] : channels) {
    if (ch->passive_pass.active || (ch->queue_running() && ch->head_deliverable())) {
      return true;
    }
  }
  return false;
}

void DeviceCore::worker_unit() {
  if (!work_items.empty()) {
    // Popped while it runs (it may block); pushed back in front if it has
    // more phases, so items keep their order.
    WorkItem item = work_items.front();
    work_items.pop_front();
    bool done = false;
    run_work_item(item, &done);
    if (!done) {
      work_items.push_front(item);
    }
    return;
  }
  for (auto& [index, ch] : channels) {
    if (ch->passive_pass.active || (ch->queue_running() && ch->head_deliverable())) {
      passive_delivery_unit(*ch);
      return;
    }
  }
}

void DeviceCore::run_work_item(WorkItem& item, bool* done) {
  Channel& ch = *item.channel;
  switch (item.kind) {
    case WorkItem::Kind::kOpen:
      if (item.phase == 0) {
        open_phase(ch, item, done);
        return;
      }
      [[fallthrough]];
    case WorkItem::Kind::kStart:
      start_phase(ch, item, done);
      return;
    case WorkItem::Kind::kClose:
      close_sequence(ch, item.close_kind);
      *done = true;
      return;
    case WorkItem::Kind::kMapExternalData:
      map_external_data_phase(ch, item, done);
      return;
  }
}

namespace {

// The open/start sequence of a channel is over (finished or abandoned).
void end_sequence(Channel& ch, bool* done) {
  ch.sequence_active = false;
  *done = true;
}

}  // namespace

void DeviceCore::open_phase(Channel& ch, WorkItem& item, bool* done) {
  if (ch.state != ChannelState::kOpening) {
    end_sequence(ch, done);  // closed before it could open
    return;
  }
  NTSTATUS status = STATUS_SUCCESS;
  trace("callback", &ch, ch.handle, "EvtChannelOpened", {.callback = "EvtChannelOpened"});
  if (ch.state_callbacks.EvtChannelOpened != nullptr) {
    CallbackScope scope(current_context(), {CallbackKind::kStateChange, &ch, nullptr});
    status = ch.state_callbacks.EvtChannelOpened(as_channel(ch.handle));
  }
  if (!NT_SUCCESS(status)) {
    // "rolls the channel back to a state where no traffic flows".
    trace("open_failed", &ch, ch.handle, ntstatus_name(status));
    detach(ch);
    if (ch.state == ChannelState::kOpening) {
      ch.state = ch.state_before_open;
    }
    end_sequence(ch, done);
    if (control_ != nullptr) {
      control_->on_channel_open_result(as_channel(ch.handle), status);
    }
    return;
  }
  ch.opened = true;
  if (ch.state == ChannelState::kOpening) {
    ch.state = ChannelState::kOpen;
  }
  // "Before this callback ... packets can be queued, but they cannot be
  // sent": now they can.
  ch.tx_wanted = !ch.tx_queue.empty();
  if (control_ != nullptr) {
    control_->on_channel_open_result(as_channel(ch.handle), STATUS_SUCCESS);
  }
  if (ch.state != ChannelState::kOpen || ch.paused) {
    end_sequence(ch, done);
    return;
  }
  item.phase = 1;
}

void DeviceCore::start_phase(Channel& ch, WorkItem& item, bool* done) {
  if (item.phase <= 1) {
    if (ch.state != ChannelState::kOpen || ch.paused || ch.started) {
      end_sequence(ch, done);
      return;
    }
    call_state_callback(ch, "EvtChannelStarted");
    // "After Started returns, KMCL enables the incoming queue": this also
    // restarts a queue that Fail or a protocol error stopped (Pause+Start).
    ch.started = true;
    ch.stop = QueueStop::kNone;
    ch.stop_reason.clear();
    ch.quota_blocked = false;
    if (!ch.is_server && config.quirks.has(base::Quirk::kGuestDropsInterruptsBeforeOpenResult)) {
      // The quirk: no look at the ring now; only an interrupt that comes
      // after the open makes the queue drain.
      trace("quirk", &ch, ch.handle,
            "guest_drops_interrupts_before_open_result: the queue starts without a drain pass");
    } else {
      ch.rx_wanted = true;
    }
    trace("queue_enabled", &ch, ch.handle, "");
    item.phase = 2;
    return;
  }
  // Phase 2. ProcessPacket may already have run (the DPC could be scheduled
  // between the two steps), as the docs allow.
  if (ch.state == ChannelState::kOpen && ch.started) {
    call_state_callback(ch, "EvtChannelPostStarted");
  }
  end_sequence(ch, done);
}

void DeviceCore::map_external_data_phase(Channel& ch, WorkItem& item, bool* done) {
  if (item.steps_left > 1) {
    --item.steps_left;
    return;
  }
  *done = true;
  auto it = ch.live.find(item.packet);
  if (it != ch.live.end() && it->second->state == IncomingPacket::State::kExternalDataPending) {
    it->second->external_data_mapped = true;
    it->second->state = IncomingPacket::State::kExternalDataReady;
    trace("external_data_ready", &ch, item.packet, "#" + std::to_string(it->second->index),
          {.packet = it->second->index});
  }
}

// --- Pause and Start ----------------------------------------------------------------------

bool DeviceCore::quiesced(const Channel& ch) const {
  return ch.deliveries_running == 0 && ch.dpc_pass.phase == Channel::DrainPass::Phase::kIdle;
}

bool DeviceCore::wait_for_barrier(Channel& ch, const char* api, ExecContext& context) {
  // 1. No delivery running or about to run. The DPC finishes its pass on its
  //    own (it sees the queue stopped); an open/start sequence finishes too.
  const std::string ch_name = "ch" + std::to_string(ch.index);
  if (!block(*this, context,
             BlockedState{api, "the delivery on " + ch_name + " to stop",
                          [this, &ch] { return !ch.sequence_active && quiesced(ch); }, std::nullopt,
                          &ch, false})) {
    return false;
  }
  // A passive pass that was cut short still owes its ProcessingComplete;
  // the worker may be the one waiting here, so it is called in-line.
  if (ch.passive_pass.active) {
    end_passive_pass(ch, context);
  }
  // 2. Suspend: "no more ProcessPacket callbacks are running or will be
  //    queued (at least until the next EvtChannelStarted)".
  if (ch.started) {
    ch.started = false;
    call_state_callback(ch, "EvtChannelSuspend");
  }
  // 3. "KMCL blocks until they are completed": only packets the driver
  //    owns. Packets held for (re)delivery stay with KMCL and are delivered
  //    after Start, or dropped at close.
  return block(*this, context,
               BlockedState{api, "the driver to retire its delivered packets of " + ch_name,
                            [&ch] { return ch.driver_owned() == 0; }, std::nullopt, &ch, true});
}

void DeviceCore::pause(const ApiCall& call, Channel& ch) {
  if (!require_passive(call, &ch, IrqlRule::kBlocks) || refuse_in_callback(call, ch)) {
    return;
  }
  switch (ch.state) {
    case ChannelState::kDisabled:
      ch.auto_pause = true;  // "automatically pause when it is enabled"
      trace("auto_pause", &ch, ch.handle, "");
      return;
    case ChannelState::kClosing:
    case ChannelState::kClosed:
      return;
    case ChannelState::kEnabled:
    case ChannelState::kOpening:
      ch.paused = true;  // the open sequence will not start it
      return;
    case ChannelState::kOpen:
      break;
  }
  ExecContext& context = current_context();
  if (ch.pausing) {
    // Another context is pausing it: wait for its barrier.
    block(*this, context,
          BlockedState{call.api, "the concurrent pause of ch" + std::to_string(ch.index),
                       [&ch] { return !ch.pausing; }, std::nullopt, &ch, false});
    return;
  }
  if (ch.paused && !ch.started && !ch.sequence_active) {
    return;  // already paused
  }
  ch.paused = true;
  ch.pausing = true;
  trace("pause", &ch, ch.handle, "");
  const bool reached = wait_for_barrier(ch, call.api, context);
  ch.pausing = false;
  VMBUS_CHECK(reached, "Pause runs at PASSIVE_LEVEL in a context that can block");
}

void DeviceCore::start(const ApiCall& call, Channel& ch) {
  if (!require_passive(call, &ch, IrqlRule::kInferred) || refuse_in_callback(call, ch)) {
    return;
  }
  if (ch.state == ChannelState::kDisabled) {
    ch.auto_pause = false;
    return;
  }
  if (ch.state == ChannelState::kClosing || ch.state == ChannelState::kClosed || !ch.paused) {
    return;
  }
  if (ch.pausing &&
      !block(*this, current_context(),
             BlockedState{call.api, "the pause of ch" + std::to_string(ch.index) + " to finish",
                          [&ch] { return !ch.pausing; }, std::nullopt, &ch, false})) {
    return;
  }
  ch.paused = false;
  trace("start", &ch, ch.handle, "");
  if (ch.state == ChannelState::kOpen && !ch.sequence_active) {
    ch.sequence_active = true;
    WorkItem item{WorkItem::Kind::kStart, &ch};
    item.phase = 1;
    work_items.push_back(item);
  }
  // Enabled / Opening: the open sequence starts it now that it is unpaused.
}

// --- Close -------------------------------------------------------------------------------------

void DeviceCore::disable(const ApiCall& call, Channel& ch) {
  if (!require_passive(call, &ch, IrqlRule::kBlocks) || refuse_in_callback(call, ch)) {
    return;
  }
  if (ch.state == ChannelState::kDisabled) {
    return;
  }
  if (ch.state == ChannelState::kClosing) {
    // A peer close is tearing it down already; Disable waits for that.
    block(*this, current_context(),
          BlockedState{call.api, "the close of ch" + std::to_string(ch.index) + " to finish",
                       [&ch] { return ch.state != ChannelState::kClosing; }, std::nullopt, &ch,
                       false});
    if (ch.state == ChannelState::kClosed) {
      ch.state = ChannelState::kDisabled;  // a server's own Disable revokes the offer
      if (control_ != nullptr) {
        control_->on_channel_disabled(as_channel(ch.handle));
      }
    }
    return;
  }
  close_sequence(ch, CloseKind::kLocalDisable);
}

void DeviceCore::peer_close(Channel& ch, CloseKind kind) {
  if (ch.state != ChannelState::kOpen && ch.state != ChannelState::kOpening) {
    trace("close_ignored", &ch, ch.handle,
          std::string(close_api(kind)) + " of a channel that is " + channel_state_name(ch.state));
    return;
  }
  // Closing right away (not when the worker gets to it) so that a
  // synchronous request blocked in EvtChannelPostStarted returns
  // STATUS_DEVICE_REMOVED instead of keeping the worker from the close.
  ch.state = ChannelState::kClosing;
  if (!reads_after_rescind(ch, kind)) {
    fail_sync_waiters(ch, STATUS_DEVICE_REMOVED);
  }
  WorkItem item{WorkItem::Kind::kClose, &ch};
  item.close_kind = kind;
  // Behind the channel's open sequence, if one is pending: the driver sees
  // its open finish (or not start) before the close, never the two mixed.
  if (ch.sequence_active && kind == CloseKind::kRescind && !ch.is_server &&
      config.quirks.has(base::Quirk::kCloseOvertakesOpenSequence)) {
    // The quirk: the removal runs while the probe is still in progress, as
    // netvsc_remove() could before the fix of CVE-2024-26698.
    trace("quirk", &ch, ch.handle,
          "close_overtakes_open_sequence: the rescind's close runs ahead of the open sequence");
    work_items.push_front(item);
  } else {
    work_items.push_back(item);
  }
  trace("close_requested", &ch, ch.handle, close_api(kind));
}

void DeviceCore::escalate_fail(Channel& ch) {
  if (ch.state == ChannelState::kOpen) {
    peer_close(ch, CloseKind::kEscalatedFail);
  }
}

void DeviceCore::close_sequence(Channel& ch, CloseKind kind) {
  ExecContext& context = current_context();
  const char* api = close_api(kind);
  // STATUS_CANCELLED on close/cancel, STATUS_DEVICE_REMOVED on rescind --
  // and a server's own Disable (or escalated Fail) is its rescind: it
  // revokes the offer.
  const bool rescind =
      kind == CloseKind::kRescind || (ch.is_server && kind != CloseKind::kPeerClose);
  const NTSTATUS send_status = rescind ? STATUS_DEVICE_REMOVED : STATUS_CANCELLED;
  ch.state = ChannelState::kClosing;
  const bool reads_on = reads_after_rescind(ch, kind);
  if (!reads_on) {
    fail_sync_waiters(ch, STATUS_DEVICE_REMOVED);
  }
  trace("close_begin", &ch, ch.handle, api);
  if (ch.attached() || ch.sequence_active) {
    VMBUS_CHECK(wait_for_barrier(ch, api, context),
                "a close runs at PASSIVE_LEVEL in a context that can block");
    drop_held_packets(ch);
    discard_ring(ch, reads_on);
  }
  std::deque<TxItem> kept = keep_queued_sends_at_rescind(ch, rescind);
  cancel_sends(ch, send_status);
  ch.tx_queue = std::move(kept);
  if (ch.opened) {
    ch.opened = false;
    call_state_callback(ch, "EvtChannelClosed");
  }
  detach(ch);
  ch.paused = false;
  ch.pausing = false;
  ch.started = false;
  ch.stop = QueueStop::kNone;
  ch.stop_reason.clear();
  ch.quota_blocked = false;
  // The host channel is Closed when the guest closed it, Disabled after its
  // own Disable; the guest channel always ends Disabled.
  ch.state = ch.is_server && kind == CloseKind::kPeerClose ? ChannelState::kClosed
                                                           : ChannelState::kDisabled;
  trace("close_end", &ch, ch.handle, channel_state_name(ch.state));
  if (control_ != nullptr) {
    if (kind == CloseKind::kLocalDisable || kind == CloseKind::kEscalatedFail) {
      control_->on_channel_disabled(as_channel(ch.handle));
    } else {
      control_->on_channel_closed(as_channel(ch.handle));
    }
  }
}

std::deque<TxItem> DeviceCore::keep_queued_sends_at_rescind(Channel& ch, bool rescind) {
  if (!rescind || ch.is_server || ch.tx_queue.empty() ||
      !config.quirks.has(base::Quirk::kGuestKeepsQueuedSendsAtRescind)) {
    return {};
  }
  // The quirk: the sends waiting for ring space are neither written nor
  // failed; their senders wait for room on rings that are going away.
  trace("quirk", &ch, ch.handle,
        "guest_keeps_queued_sends_at_rescind: " + std::to_string(ch.tx_queue.size()) +
            " queued send(s) kept, their senders still waiting for ring space");
  return std::exchange(ch.tx_queue, {});
}

void DeviceCore::drop_held_packets(Channel& ch) {
  std::uint64_t dropped = 0;
  while (!ch.parsing_queue.empty()) {
    IncomingPacket* packet = ch.parsing_queue.front();
    ch.parsing_queue.pop_front();
    trace("dropped_at_close", &ch, packet->handle, "#" + std::to_string(packet->index),
          {.packet = packet->index});
    retire_incoming(ch, *packet, RetireReason::kDropped);
    ++dropped;
  }
  ch.stats.dropped_at_close += dropped;
  VMBUS_CHECK(ch.live.empty(), "packets outside the parsing queue survived the close barrier");
}

// The quirk guest_reads_after_rescind: the rescind leaves the channel's
// receive path in place (Linux before "Reset the channel callback in
// vmbus_onoffer_rescind()"), so what the host writes after the rescind still
// acts on requests: the rescind ends none of them, and the close reads the
// ring's completions instead of discarding them.
bool DeviceCore::reads_after_rescind(const Channel& ch, CloseKind kind) const {
  return kind == CloseKind::kRescind && !ch.is_server &&
         config.quirks.has(base::Quirk::kGuestReadsAfterRescind);
}

void DeviceCore::discard_ring(Channel& ch, bool completions_read) {
  if (!ch.attached()) {
    return;
  }
  std::uint64_t discarded = 0;
  for (;;) {
    const ring::ReadResult result = ch.reader->next();
    if (result.status != ring::ReadStatus::kPacket) {
      break;
    }
    if (completions_read &&
        result.packet.descriptor.type == static_cast<std::uint16_t>(ring::PacketType::kComp)) {
      trace("quirk", &ch, ch.handle,
            "guest_reads_after_rescind: the completion for trans_id " +
                std::to_string(result.packet.descriptor.trans_id) +
                " is read from the rescinded channel's ring");
      handle_completion_packet(ch, result.packet);
      continue;
    }
    ++discarded;
  }
  ch.stats.discarded_at_close += discarded;
  if (discarded > 0) {
    trace("discarded_at_close", &ch, ch.handle, std::to_string(discarded) + " packets in the ring");
  }
}

void DeviceCore::detach(Channel& ch) {
  ch.reader.reset();
  ch.writer.reset();
  ch.outgoing_memory = nullptr;
  ch.resynced_writer_counters = {};
  ch.last_written.reset();
  ch.transport = nullptr;
  ch.rx_wanted = false;
  ch.tx_wanted = false;
  ch.tx_blocked = false;
  ch.dpc_pass = {};
  ch.passive_pass = {};
}

}  // namespace vmbus::kmcl::detail
