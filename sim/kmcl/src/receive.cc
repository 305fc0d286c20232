// The receive path (docs/KMCL-SEMANTICS.md sections 2 and 3).
//
// The DPC drains the incoming ring in passes, one phase per step:
//
//   begin_read (interrupt_mask = 1)
//   read      one packet per step (or DeviceConfig::packets_per_dpc_step):
//             VM_PKT_COMP -> the sender's completion;
//             data -> delivered at DISPATCH_LEVEL, or appended to the
//             parsing queue when delivery is in passive mode
//   finish    publish read_index, signal the peer if the ring library says
//             so, EvtVmbChannelProcessingComplete(processed in this pass)
//   end_read  interrupt_mask = 0; re-check; go round again if data arrived
//
// A pass stops dequeuing when the queue is not running (paused, stopped by
// Fail or a protocol error), when the quota is reached, or after
// max_packets_per_dpc_pass packets. The passive worker delivers the parsing
// queue strictly in order at PASSIVE_LEVEL; while that queue is not empty
// (or RequirePassive is set) every newly dequeued packet joins its tail, so
// a deferred packet and everything dequeued behind it are delivered in FIFO
// order before DISPATCH_LEVEL delivery resumes.
#include <cstring>

#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl::detail {
namespace {

VMBCHANNEL as_channel(std::uintptr_t handle) {
  return reinterpret_cast<VMBCHANNEL>(handle);
}

VMBPACKETCOMPLETION as_completion(std::uintptr_t handle) {
  return reinterpret_cast<VMBPACKETCOMPLETION>(handle);
}

template <typename T>
T load(std::span<const std::byte> bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Parses the GPA range list of a VM_PKT_DATA_USING_GPA_DIRECT packet
// into an MDL chain. `extension` is the packet bytes from
// offset 16 up to offset8 * 8. Peer data: every count is checked against the
// bytes actually present; a bad list is a typed error, never trusted.
bool parse_gpa_direct(std::span<const std::byte> extension, std::deque<MDL>* chain,
                      std::string* error) {
  if (extension.size() < 8) {
    *error = "GPA-direct header shorter than reserved + range_cnt";
    return false;
  }
  const auto range_count = load<std::uint32_t>(extension, 4);
  if (range_count == 0) {
    *error = "GPA-direct packet with range_cnt 0";
    return false;
  }
  std::size_t position = 8;
  for (std::uint32_t i = 0; i < range_count; ++i) {
    if (extension.size() - position < 8) {
      *error = "GPA range " + std::to_string(i) + " truncated";
      return false;
    }
    MDL mdl;
    mdl.ByteCount = load<std::uint32_t>(extension, position);
    mdl.ByteOffset = load<std::uint32_t>(extension, position + 4);
    position += 8;
    if (mdl.ByteOffset >= ring::kHvPageSizeBytes || mdl.ByteCount == 0) {
      *error = "GPA range " + std::to_string(i) + " has byte_offset " +
               std::to_string(mdl.ByteOffset) + " and byte_count " + std::to_string(mdl.ByteCount);
      return false;
    }
    const std::uint64_t pages =
        (std::uint64_t{mdl.ByteOffset} + mdl.ByteCount + ring::kHvPageSizeBytes - 1) /
        ring::kHvPageSizeBytes;
    if ((extension.size() - position) / 8 < pages) {
      *error = "GPA range " + std::to_string(i) + " needs " + std::to_string(pages) +
               " PFNs that the header does not hold";
      return false;
    }
    for (std::uint64_t page = 0; page < pages; ++page) {
      mdl.PfnArray.push_back(load<std::uint64_t>(extension, position));
      position += 8;
    }
    chain->push_back(std::move(mdl));
  }
  for (std::size_t i = 0; i + 1 < chain->size(); ++i) {
    (*chain)[i].Next = &(*chain)[i + 1];
  }
  return true;
}

}  // namespace

const char* incoming_state_name(IncomingPacket::State state) {
  switch (state) {
    case IncomingPacket::State::kHeld:
      return "held";
    case IncomingPacket::State::kDelivering:
      return "delivering";
    case IncomingPacket::State::kOutstanding:
      return "outstanding";
    case IncomingPacket::State::kDeferred:
      return "deferred";
    case IncomingPacket::State::kExternalDataPending:
      return "external data pending";
    case IncomingPacket::State::kExternalDataReady:
      return "external data ready";
  }
  return "unknown";
}

// --- DPC ------------------------------------------------------------------------

bool DeviceCore::dpc_has_work(const Channel& ch) const {
  if (!ch.attached()) {
    return false;
  }
  if (ch.dpc_pass.phase != Channel::DrainPass::Phase::kIdle || !ch.placed.empty()) {
    return true;
  }
  if (ch.tx_wanted && ch.wire_ready()) {
    return true;
  }
  return ch.rx_wanted && ch.queue_running() && !ch.quota_blocked;
}

void DeviceCore::dpc_unit(Channel& ch, ExecContext& context) {
  using Phase = Channel::DrainPass::Phase;
  switch (ch.dpc_pass.phase) {
    case Phase::kIdle:
      break;
    case Phase::kRead:
      read_batch(ch, context);
      return;
    case Phase::kFinish: {
      const std::uint32_t freed = ch.reader->publish();
      if (freed > 0) {
        trace_ring(ch, {.incoming = true, .op = "publish_read", .bytes = freed, .publish = true},
                   "");
      }
      const bool signal = ch.reader->decide_signal();
      trace_ring(ch,
                 {.incoming = true,
                  .op = signal ? "signal" : "no_signal",
                  .reason = ch.reader->last_signal_reason()},
                 "");
      if (signal) {
        // The writer was blocked on pending_send_sz and now has room.
        trace("signal_peer", &ch, ch.handle, "incoming ring has space");
        ch.transport->signal_peer();
      }
      if (ch.dpc_pass.processed > 0) {
        call_processing_complete(ch, ch.dpc_pass.processed, context);
      }
      ch.dpc_pass.phase = Phase::kEndRead;
      return;
    }
    case Phase::kEndRead: {
      // Clearing interrupt_mask and re-checking is what keeps a packet
      // written while we were masked from sitting in the ring unsignalled.
      const bool more = ch.reader->end_read();
      trace_end_read(ch);
      if (ch.dpc_pass.hit_limit || (more && ch.queue_running() && !ch.quota_blocked)) {
        ch.rx_wanted = true;
      }
      trace("drain_pass_end", &ch, ch.handle,
            std::to_string(ch.dpc_pass.dequeued) + " dequeued, " +
                std::to_string(ch.dpc_pass.processed) + " processed");
      ch.dpc_pass = {};
      return;
    }
  }
  if (!ch.placed.empty()) {
    for (std::uint32_t i = 0; i < config.packets_per_dpc_step && !ch.placed.empty() && !stopped();
         ++i) {
      run_placed_completion(ch);
    }
    return;
  }
  if (ch.tx_wanted && ch.wire_ready()) {
    ch.tx_wanted = false;
    flush_tx(ch);
    return;
  }
  VMBUS_CHECK(ch.rx_wanted && ch.queue_running() && !ch.quota_blocked,
              "DPC step with nothing to do");
  ch.rx_wanted = false;
  ch.reader->begin_read();
  trace_ring(ch, {.incoming = true, .op = "begin_read"},
             "interrupt_mask = 1: no interrupts while the DPC drains");
  ch.dpc_pass = {};
  ch.dpc_pass.phase = Phase::kRead;
  trace("drain_pass_begin", &ch, ch.handle, "");
}

void DeviceCore::trace_end_read(const Channel& ch) {
  if (!tracing("ring")) {
    return;
  }
  if (config.quirks.has(base::Quirk::kReaderSkipsRecheckAfterUnmask)) {
    trace_ring(ch, {.incoming = true, .op = "end_read"},
               "interrupt_mask = 0; no re-check (quirk reader_skips_recheck_after_unmask)");
    return;
  }
  const ring::RingView& view = ch.reader->view();
  const std::uint32_t seen = ch.reader->recheck_write_index();
  if (!view.is_valid_index(seen)) {
    trace_ring(ch, {.incoming = true, .op = "end_read"},
               "interrupt_mask = 0; re-check: write_index " + std::to_string(seen) + " is invalid");
    return;
  }
  const std::uint32_t unread =
      ring::bytes_to_read(seen, ch.reader->read_cursor(), view.data_size_bytes());
  trace_ring(ch, {.incoming = true, .op = "end_read", .bytes = unread},
             unread == 0 ? "interrupt_mask = 0; re-check: the ring is empty"
                         : "interrupt_mask = 0; re-check: " + std::to_string(unread) +
                               " bytes arrived while masked");
}

void DeviceCore::read_batch(Channel& ch, ExecContext& context) {
  using Phase = Channel::DrainPass::Phase;
  if (config.packets_per_dpc_step == 1) {
    read_one(ch, context);
    return;
  }
  // What the packets' callbacks send (answers, completions) is written once,
  // after the last read: one publish and one signal decision, as a VSP
  // writes a batch. A read may end the phase (an empty ring, a stop, the
  // quota, the pass limit); the next read needs the phase still to be kRead.
  ch.tx_batched = true;
  for (std::uint32_t i = 0;
       i < config.packets_per_dpc_step && ch.dpc_pass.phase == Phase::kRead && !stopped(); ++i) {
    read_one(ch, context);
  }
  ch.tx_batched = false;
  if (!ch.tx_queue.empty() && ch.wire_ready() && !ch.tx_blocked && !stopped()) {
    flush_tx(ch);
  }
}

void DeviceCore::read_one(Channel& ch, ExecContext& context) {
  using Phase = Channel::DrainPass::Phase;
  if (!ch.queue_running() || ch.quota_blocked) {
    ch.dpc_pass.phase = Phase::kFinish;
    return;
  }
  if (ch.live.size() >= ch.quota) {
    // "no new packets are removed from the queue until sufficient packets
    // have been completed"; only a completion clears this.
    ch.quota_blocked = true;
    trace("quota_hit", &ch, ch.handle,
          std::to_string(ch.live.size()) + " outstanding, quota " + std::to_string(ch.quota));
    ch.dpc_pass.phase = Phase::kFinish;
    return;
  }
  if (ch.dpc_pass.dequeued >= config.max_packets_per_dpc_pass) {
    ch.dpc_pass.hit_limit = true;
    ch.dpc_pass.phase = Phase::kFinish;
    return;
  }
  const ring::ReadResult result = ch.reader->next();
  switch (result.status) {
    case ring::ReadStatus::kEmpty:
      ch.dpc_pass.phase = Phase::kFinish;
      return;
    case ring::ReadStatus::kCorrupt:
      protocol_error(ch, std::string("incoming ring corrupt: ") +
                             ring::corrupt_reason_name(result.reason) + " at offset " +
                             std::to_string(result.offset));
      ch.dpc_pass.phase = Phase::kFinish;
      return;
    case ring::ReadStatus::kPacket:
      break;
  }
  ++ch.dpc_pass.dequeued;
  if (result.packet.descriptor.type == static_cast<std::uint16_t>(ring::PacketType::kComp)) {
    handle_completion_packet(ch, result.packet);
    return;
  }
  accept_data_packet(ch, result.packet, context);
}

void DeviceCore::accept_data_packet(Channel& ch, const ring::PacketView& view,
                                    ExecContext& context) {
  const ring::PacketDescriptor& descriptor = view.descriptor;
  auto packet = std::make_unique<IncomingPacket>();
  if (descriptor.type == static_cast<std::uint16_t>(ring::PacketType::kDataUsingGpaDirect)) {
    std::string error;
    const std::size_t header_bytes = std::size_t{descriptor.offset8} * 8;
    if (!parse_gpa_direct(view.bytes.subspan(ring::kPacketDescriptorBytes,
                                             header_bytes - ring::kPacketDescriptorBytes),
                          &packet->external_data, &error)) {
      protocol_error(ch, "malformed VM_PKT_DATA_USING_GPA_DIRECT (trans_id " +
                             std::to_string(descriptor.trans_id) + "): " + error);
      return;
    }
    packet->flags = VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA;
  } else if (descriptor.type != static_cast<std::uint16_t>(ring::PacketType::kDataInband)) {
    const char* name = ring::packet_type_name(descriptor.type);
    protocol_error(ch, std::string("packet type ") + (name != nullptr ? name : "unknown") +
                           " is not delivered by the KMCL model (trans_id " +
                           std::to_string(descriptor.trans_id) + ")");
    return;
  }
  const std::span<const std::byte> payload = view.payload();
  if (payload.size() > ch.maximum_packet_size) {
    // DESIGN 4: not delivered; the queue stops as for Fail.
    protocol_error(ch, "packet of " + std::to_string(payload.size()) +
                           " payload bytes exceeds the channel's maximum packet size " +
                           std::to_string(ch.maximum_packet_size) + " (trans_id " +
                           std::to_string(descriptor.trans_id) + ")");
    return;
  }
  packet->payload.assign(payload.begin(), payload.end());
  packet->ring_payload_offset = ch.reader->view().advance(
      view.offset, static_cast<std::uint32_t>(std::size_t{descriptor.offset8} * 8));
  packet->index = ch.next_packet_index++;
  packet->trans_id = descriptor.trans_id;
  packet->completion_requested = (descriptor.flags & ring::kPacketFlagCompletionRequested) != 0;
  packet->handle = HandleRegistry::instance().issue(this, HandleKind::kCompletion, packet.get());
  packet->channel = &ch;
  IncomingPacket& p = *packet;
  ch.live[p.handle] = std::move(packet);
  ++ch.stats.packets_dequeued;
  if (tracing("dequeue")) {
    trace("dequeue", &ch, p.handle,
          "#" + std::to_string(p.index) + " trans_id " + std::to_string(p.trans_id),
          {.trans_id = p.trans_id, .packet = p.index});
  }
  if (ch.passive_mode()) {
    ch.parsing_queue.push_back(&p);
    return;
  }
  if (deliver(ch, p, context)) {
    ++ch.dpc_pass.processed;
  }
}

void DeviceCore::protocol_error(Channel& ch, std::string reason) {
  ++ch.stats.protocol_errors;
  trace("protocol_error", &ch, ch.handle, reason);
  if (ch.stop == QueueStop::kNone) {
    ch.stop = QueueStop::kProtocolError;
    ch.stop_reason = std::move(reason);
  }
  if (ch.options.escalate_fail_to_close) {
    escalate_fail(ch);
  }
}

bool DeviceCore::deliver(Channel& ch, IncomingPacket& p, ExecContext& context) {
  if (config.quirks.has(base::Quirk::kGuestDeliversPacketFromRing) && ch.reader != nullptr &&
      !p.payload.empty()) {
    // The quirk: the driver reads the ring, not the copy validated at dequeue.
    ch.reader->view().copy_out(p.ring_payload_offset, p.payload);
    trace("quirk", &ch, p.handle,
          "guest_delivers_packet_from_ring: #" + std::to_string(p.index) +
              " delivered with the bytes now in the ring");
  }
  p.state = IncomingPacket::State::kDelivering;
  ++p.deliveries;
  p.delivering_in = &context;
  const bool passive = context.irql() == PASSIVE_LEVEL;
  ++ch.deliveries_running;
  if (passive) {
    ++ch.passive_deliveries_running;
  }
  ++ch.stats.deliveries;
  if (tracing("callback")) {
    trace("callback", &ch, p.handle,
          "EvtVmbChannelProcessPacket #" + std::to_string(p.index) + " delivery " +
              std::to_string(p.deliveries),
          {.packet = p.index, .delivery = p.deliveries, .callback = "EvtVmbChannelProcessPacket"});
  }
  {
    CallbackScope scope(context, {CallbackKind::kProcessPacket, &ch, &p});
    ch.process_packet(as_channel(ch.handle), as_completion(p.handle),
                      p.payload.empty() ? nullptr : p.payload.data(),
                      static_cast<UINT32>(p.payload.size()), p.flags);
  }
  --ch.deliveries_running;
  if (passive) {
    --ch.passive_deliveries_running;
  }
  if (p.retired_while_delivering) {
    // Completed or failed in-line (or by another context meanwhile); the
    // driver no longer sees the buffer, so it can go now.
    ch.retiring.erase(p.handle);
    return true;
  }
  p.delivering_in = nullptr;
  switch (p.state) {
    case IncomingPacket::State::kDelivering:
      p.state = IncomingPacket::State::kOutstanding;
      return true;
    case IncomingPacket::State::kDeferred:
      // Back to the head of the parsing queue: everything in it was dequeued
      // after this packet, so FIFO order holds.
      ch.parsing_queue.push_front(&p);
      return false;
    case IncomingPacket::State::kExternalDataPending: {
      ch.parsing_queue.push_front(&p);
      WorkItem item{WorkItem::Kind::kMapExternalData, &ch};
      item.packet = p.handle;
      item.steps_left = p.external_data_latency_steps;
      work_items.push_back(item);
      return false;
    }
    default:
      VMBUS_CHECK(false,
                  std::string("packet left its delivery in state ") + incoming_state_name(p.state));
  }
  return false;
}

void DeviceCore::call_processing_complete(Channel& ch, std::uint32_t processed,
                                          ExecContext& context) {
  trace("callback", &ch, ch.handle, "EvtVmbChannelProcessingComplete " + std::to_string(processed),
        {.callback = "EvtVmbChannelProcessingComplete"});
  if (ch.processing_complete != nullptr) {
    CallbackScope scope(context, {CallbackKind::kProcessingComplete, &ch, nullptr});
    ch.processing_complete(as_channel(ch.handle), processed);
  }
}

// --- Passive worker delivery ---------------------------------------------------------------

void DeviceCore::passive_delivery_unit(Channel& ch) {
  ExecContext& context = *worker_;
  if (!ch.passive_pass.active) {
    ch.passive_pass = {true, 0};
    trace("passive_pass_begin", &ch, ch.handle, "");
  }
  if (ch.queue_running() && ch.head_deliverable()) {
    IncomingPacket* packet = ch.parsing_queue.front();
    ch.parsing_queue.pop_front();
    if (deliver(ch, *packet, context)) {
      ++ch.passive_pass.processed;
    }
    return;
  }
  end_passive_pass(ch, context);
}

void DeviceCore::end_passive_pass(Channel& ch, ExecContext& context) {
  const std::uint32_t processed = ch.passive_pass.processed;
  ch.passive_pass = {};
  if (processed > 0) {
    call_processing_complete(ch, processed, context);
  }
  trace("passive_pass_end", &ch, ch.handle, std::to_string(processed) + " processed");
}

// --- Retirement and requeueing ---------------------------------------------------------------

void DeviceCore::retire_incoming(Channel& ch, IncomingPacket& p, RetireReason reason) {
  HandleRegistry::instance().retire(p.handle, reason);
  auto node = ch.live.extract(p.handle);
  VMBUS_CHECK(!node.empty(), "retire of a packet that is not live");
  if (p.state == IncomingPacket::State::kDelivering) {
    // Its ProcessPacket is still on some stack with the buffer in hand.
    p.retired_while_delivering = true;
    ch.retiring.insert(std::move(node));
  }
}

void DeviceCore::complete_packet(const ApiCall& call, Channel& ch, IncomingPacket& p, PVOID buffer,
                                 UINT32 size) {
  if (p.state != IncomingPacket::State::kDelivering &&
      p.state != IncomingPacket::State::kOutstanding) {
    violate(ViolationCode::kCompleteAfterDefer, call, &ch,
            "packet #" + std::to_string(p.index) + " is " + incoming_state_name(p.state) +
                ": KMCL owns it until it is redelivered; the call is ignored");
    return;
  }
  if (size > 0 && buffer == nullptr) {
    violate(ViolationCode::kInvalidParameter, call, &ch,
            "BufSize " + std::to_string(size) + " with a null PacketCompletionBuffer; sent empty");
    size = 0;
  }
  if (size > ch.maximum_packet_size) {
    // The completion payload is limited to the maximum packet size.
    violate(ViolationCode::kCompletionBufferTooLarge, call, &ch,
            "completion payload of " + std::to_string(size) + " bytes exceeds the maximum " +
                std::to_string(ch.maximum_packet_size) + "; truncated");
    size = ch.maximum_packet_size;
  }
  if (p.completion_requested && ch.is_server && ch.state == ChannelState::kClosing) {
    // A server's close has begun (KMCL-SEMANTICS section 3, row 17): the
    // guest closed or the offer is revoked, and the guest's transaction ends
    // with that close or rescind. A VSP that retires its packets at
    // EvtChannelSuspend puts nothing more on the wire.
    trace("completions_dropped_at_close", &ch, p.handle,
          "#" + std::to_string(p.index) + " completed while the channel closes",
          {.packet = p.index});
  } else if (p.completion_requested) {
    TxItem item;
    item.type = static_cast<std::uint16_t>(ring::PacketType::kComp);
    item.trans_id = p.trans_id;
    const auto* bytes = static_cast<const std::byte*>(buffer);
    item.payload.assign(bytes, bytes + size);
    enqueue_tx(ch, std::move(item));
  }
  ++ch.stats.packets_completed;
  if (tracing("complete")) {
    trace("complete", &ch, p.handle, "#" + std::to_string(p.index), {.packet = p.index});
  }
  retire_incoming(ch, p, RetireReason::kCompleted);
  if (ch.quota_blocked) {
    // "The queue only restarts once a packet is completed."
    ch.quota_blocked = false;
    ch.rx_wanted = true;
    trace("quota_restart", &ch, ch.handle, "");
  }
}

void DeviceCore::defer_packet(const ApiCall& call, Channel& ch, IncomingPacket& p) {
  const ExecContext& context = current_context();
  if (p.delivering_in != &context || p.state != IncomingPacket::State::kDelivering) {
    violate(ViolationCode::kDeferOutsideCallback, call, &ch,
            "packet #" + std::to_string(p.index) + " is " + incoming_state_name(p.state) +
                (p.delivering_in == &context ? " in this delivery already"
                                             : ", not being delivered in this context") +
                "; DeferToPassive is only legal in-line in its ProcessPacket");
    return;
  }
  p.state = IncomingPacket::State::kDeferred;
  ++p.defers;
  ++ch.stats.defers;
  trace(context.irql() == PASSIVE_LEVEL ? "defer_at_passive" : "defer", &ch, p.handle,
        "#" + std::to_string(p.index) + " defer " + std::to_string(p.defers), {.packet = p.index});
  if (p.defers > config.verifier.defer_livelock_limit && !p.livelock_reported) {
    p.livelock_reported = true;
    violate(ViolationCode::kDeferLivelock, call, &ch,
            "packet #" + std::to_string(p.index) + " deferred " + std::to_string(p.defers) +
                " times (limit " + std::to_string(config.verifier.defer_livelock_limit) + ")");
  }
}

void DeviceCore::fail_packet(const ApiCall& call, Channel& ch, IncomingPacket& p) {
  const ExecContext& context = current_context();
  if (p.delivering_in != &context || p.state != IncomingPacket::State::kDelivering) {
    violate(ViolationCode::kFailOutsideCallback, call, &ch,
            "packet #" + std::to_string(p.index) + " is " + incoming_state_name(p.state) +
                (p.delivering_in == &context ? " in this delivery already"
                                             : ", not being delivered in this context") +
                "; Fail is only legal in-line in its ProcessPacket");
    return;
  }
  // Retired, no completion packet; the sender's transaction ends
  // only when the channel closes.
  ++ch.stats.packets_failed;
  trace("fail", &ch, p.handle, "#" + std::to_string(p.index), {.packet = p.index});
  if (ch.stop == QueueStop::kNone) {
    ch.stop = QueueStop::kFail;
    ch.stop_reason = "VmbChannelPacketFail of packet #" + std::to_string(p.index);
    trace("queue_stopped", &ch, 0, "stopped_by_fail: " + ch.stop_reason);
  }
  retire_incoming(ch, p, RetireReason::kFailed);
  if (ch.options.escalate_fail_to_close) {
    escalate_fail(ch);
  }
}

NTSTATUS DeviceCore::get_external_data(const ApiCall& call, Channel& ch, IncomingPacket& p,
                                       UINT32 flags, PMDL* mdl) {
  const ExecContext& context = current_context();
  const bool in_line =
      p.delivering_in == &context && (p.state == IncomingPacket::State::kDelivering ||
                                      p.state == IncomingPacket::State::kExternalDataPending);
  if (!in_line) {
    violate(ViolationCode::kExternalDataOutsideCallback, call, &ch,
            "packet #" + std::to_string(p.index) + " is " + incoming_state_name(p.state) +
                "; GetExternalData is only legal during its packet processing");
    return STATUS_INVALID_DEVICE_STATE;
  }
  if ((flags & ~VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS) != 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (mdl == nullptr) {
    return STATUS_INVALID_PARAMETER_3;
  }
  *mdl = nullptr;
  if ((p.flags & VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA) == 0) {
    return STATUS_NOT_FOUND;
  }
  if (p.state == IncomingPacket::State::kExternalDataPending) {
    return STATUS_PENDING;
  }
  if (!p.external_data_mapped) {
    const std::uint32_t latency =
        ch.options.external_data_latency_steps.value_or(config.external_data_latency_steps);
    if (latency > 0) {
      // "the caller must return from the packet processing callback, which
      // will be called again ... when the external data is ready".
      p.state = IncomingPacket::State::kExternalDataPending;
      p.external_data_latency_steps = latency;
      trace("external_data_pending", &ch, p.handle, "#" + std::to_string(p.index),
            {.packet = p.index});
      return STATUS_PENDING;
    }
    p.external_data_mapped = true;
  }
  *mdl = &p.external_data.front();
  return STATUS_SUCCESS;
}

void DeviceCore::set_incoming_processing_at_passive(Channel& ch, bool require_passive_now) {
  ch.require_passive = require_passive_now;
  trace("incoming_processing_at_passive", &ch, ch.handle, require_passive_now ? "TRUE" : "FALSE");
}

void DeviceCore::set_transaction_quota(const ApiCall& call, Channel& ch, UINT32 quota) {
  if (quota == 0) {
    violate(ViolationCode::kInvalidParameter, call, &ch,
            "VmbChannelSetTransactionQuota(0): the quota must be > 0; ignored");
    return;
  }
  // "If the queue is currently blocked due to quota, this operation does not
  // restart it": nothing is scheduled here.
  ch.quota = quota;
  trace("transaction_quota", &ch, ch.handle, std::to_string(quota));
}

}  // namespace vmbus::kmcl::detail
