// The send path: packet objects, the channel's send
// queue, completions in both directions, and synchronous requests.
//
// A send is copied into a TxItem and written to the outgoing ring at once if
// the channel is open and nothing is queued ahead of it; otherwise it waits in
// the queue ("If the outgoing ring is full, the packet object is enqueued on
// the channel until there is room", and sends before Opened are queued). The
// queue is written in FIFO order by whichever context gets there first: the
// sender's own, or the DPC after the reader signals free space.
//
// Completion routines run
//   * for WAIT_FOR_COMPLETION sends, in the DPC pass that reads the peer's
//     VM_PKT_COMP (DISPATCH_LEVEL), with its payload and STATUS_SUCCESS;
//   * otherwise, in a later DPC step after the packet was placed in the ring
//     (never inside VmbPacketSend itself, so a driver is not re-entered);
//   * at close, in the closing context, with STATUS_CANCELLED (close) or
//     STATUS_DEVICE_REMOVED (rescind) for packets still queued or in flight.
#include <algorithm>
#include <cstring>

#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl::detail {
namespace {

VMBPACKET as_packet(std::uintptr_t handle) {
  return reinterpret_cast<VMBPACKET>(handle);
}

template <typename T>
void append(std::vector<std::byte>& out, T value) {
  const auto* bytes = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

// The GPA range list of a VM_PKT_DATA_USING_GPA_DIRECT packet for an MDL
// chain: reserved, range_cnt, then per range byte_count, byte_offset, PFNs.
NTSTATUS build_gpa_extension(const std::vector<const MDL*>& ranges,
                             std::vector<std::byte>* extension) {
  append<std::uint32_t>(*extension, 0);
  append<std::uint32_t>(*extension, static_cast<std::uint32_t>(ranges.size()));
  for (const MDL* mdl : ranges) {
    const std::uint64_t pages =
        (std::uint64_t{mdl->ByteOffset} + mdl->ByteCount + ring::kHvPageSizeBytes - 1) /
        ring::kHvPageSizeBytes;
    if (mdl->ByteCount == 0 || mdl->ByteOffset >= ring::kHvPageSizeBytes ||
        mdl->PfnArray.size() != pages) {
      return STATUS_INVALID_PARAMETER_4;
    }
    append<std::uint32_t>(*extension, mdl->ByteCount);
    append<std::uint32_t>(*extension, mdl->ByteOffset);
    for (PFN_NUMBER pfn : mdl->PfnArray) {
      append<std::uint64_t>(*extension, pfn);
    }
  }
  return STATUS_SUCCESS;
}

ring::OutgoingPacket outgoing_of(const TxItem& item) {
  ring::OutgoingPacket out;
  out.type = item.type;
  out.flags = item.flags;
  out.trans_id = item.trans_id;
  out.offset8 = item.offset8;
  out.header_extension = item.header_extension;
  out.payload = item.payload;
  return out;
}

// Fills a data TxItem; STATUS_SUCCESS or the NTSTATUS the caller returns.
NTSTATUS make_data_item(const Channel& ch, PVOID buffer, UINT32 length,
                        const std::vector<const MDL*>& ranges, UINT32 flags, TxItem* item) {
  if ((flags & ~VMBUS_CHANNEL_FORMAT_FLAGS) != 0) {
    return STATUS_INVALID_PARAMETER_5;
  }
  if (length > 0 && buffer == nullptr) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (length > ch.maximum_packet_size) {
    // "the largest size VmbPacketSend will ever be given".
    return STATUS_INVALID_PARAMETER_3;
  }
  const bool wait = (flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) != 0;
  if (!ranges.empty() && !wait) {
    // External data "must" be sent with WAIT_FOR_COMPLETION.
    return STATUS_INVALID_PARAMETER_5;
  }
  item->flags = wait ? ring::kPacketFlagCompletionRequested : 0;
  if (ranges.empty()) {
    item->type = static_cast<std::uint16_t>(ring::PacketType::kDataInband);
  } else {
    item->type = static_cast<std::uint16_t>(ring::PacketType::kDataUsingGpaDirect);
    const NTSTATUS status = build_gpa_extension(ranges, &item->header_extension);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    const std::size_t offset8 =
        (ring::kPacketDescriptorBytes + item->header_extension.size() + 7) / 8;
    if (offset8 > 0xFFFF) {
      return STATUS_INVALID_PARAMETER_4;
    }
    item->offset8 = static_cast<std::uint16_t>(offset8);
  }
  const auto* bytes = static_cast<const std::byte*>(buffer);
  item->payload.assign(bytes, bytes + length);
  const std::uint32_t packet_bytes = ring::packet_bytes_for(outgoing_of(*item));
  if (packet_bytes == 0) {
    return STATUS_INVALID_BUFFER_SIZE;
  }
  if (ch.writer &&
      ring::ring_bytes_for_packet(packet_bytes) >= ch.writer->view().data_size_bytes()) {
    return STATUS_INVALID_BUFFER_SIZE;  // could never fit this channel's ring
  }
  return STATUS_SUCCESS;
}

}  // namespace

// --- Packet objects -----------------------------------------------------------------

VMBPACKET DeviceCore::allocate_packet(Channel& ch) {
  auto packet = std::make_unique<PacketObject>();
  packet->channel = &ch;
  // "The default completion routine of a packet automatically releases the packet."
  packet->completion_routine = [](VMBPACKET p, NTSTATUS, PVOID, UINT32) { VmbPacketFree(p); };
  packet->handle = HandleRegistry::instance().issue(this, HandleKind::kPacket, packet.get());
  const std::uintptr_t handle = packet->handle;
  packets[handle] = std::move(packet);
  return as_packet(handle);
}

NTSTATUS DeviceCore::initialize_packet(const ApiCall& call, Channel& ch, VMBPACKET memory,
                                       UINT32 byte_count) {
  if (memory == nullptr) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (byte_count <= std::uint64_t{ch.maximum_packet_size} + sizeof(void*)) {
    return STATUS_INVALID_PARAMETER_3;
  }
  const auto value = reinterpret_cast<std::uintptr_t>(memory);
  if (auto it = packets.find(value); it != packets.end()) {
    PacketObject& existing = *it->second;
    if (existing.state != PacketObject::State::kIdle) {
      violate(ViolationCode::kFreePacketInFlight, call, &ch,
              "VmbPacketInitialize of packet memory whose packet is still in flight");
      return STATUS_INVALID_DEVICE_STATE;
    }
    existing.channel = &ch;
    existing.completion_routine = nullptr;
    existing.pointer = nullptr;
    return STATUS_SUCCESS;
  }
  auto packet = std::make_unique<PacketObject>();
  packet->channel = &ch;
  packet->caller_memory = true;
  packet->handle = value;
  // "The packet's initial completion routine is invalid and must be set
  // before sending the packet": left null.
  if (!HandleRegistry::instance().adopt(value, this, HandleKind::kPacket, packet.get())) {
    return STATUS_INVALID_PARAMETER_2;  // the memory is some other live handle
  }
  packets[value] = std::move(packet);
  return STATUS_SUCCESS;
}

void DeviceCore::free_packet(const ApiCall& call, PacketObject& packet) {
  if (packet.state == PacketObject::State::kQueued ||
      packet.state == PacketObject::State::kInRing ||
      packet.state == PacketObject::State::kPlaced) {
    violate(ViolationCode::kFreePacketInFlight, call, packet.channel,
            "VmbPacketFree of a packet whose transaction has not completed; ignored");
    return;
  }
  const std::uintptr_t handle = packet.handle;
  HandleRegistry::instance().retire(handle, RetireReason::kFreed);
  packets.erase(handle);
}

NTSTATUS DeviceCore::send_packet(const ApiCall& call, PacketObject& packet, PVOID buffer,
                                 UINT32 length, const std::vector<const MDL*>& ranges,
                                 UINT32 flags) {
  Channel& ch = *packet.channel;
  TxItem item;
  const NTSTATUS status = make_data_item(ch, buffer, length, ranges, flags, &item);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  if (packet.state != PacketObject::State::kIdle &&
      packet.state != PacketObject::State::kCompleting) {
    violate(ViolationCode::kSendPacketInFlight, call, &ch,
            "VmbPacketSend of a packet object whose previous transaction is still in flight");
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (packet.completion_routine == nullptr) {
    violate(ViolationCode::kSendWithoutCompletionRoutine, call, &ch,
            "a VmbPacketInitialize'd packet must get VmbPacketSetCompletionRoutine before it is "
            "sent");
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (ch.state == ChannelState::kDisabled || ch.state == ChannelState::kClosing ||
      ch.state == ChannelState::kClosed) {
    // Queued all the same, as the docs say ("packets can be queued, but they
    // cannot be sent"), and cancelled at Disable or Cleanup.
    violate(ViolationCode::kSendOnChannelNotOpen, call, &ch,
            std::string("send on a channel that is ") + channel_state_name(ch.state) +
                " (the driver must stop sending at EvtChannelSuspend); queued");
  }
  packet.trans_id = ch.next_trans_id++;
  packet.wait_for_completion = (flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) != 0;
  packet.state = PacketObject::State::kQueued;
  item.packet = &packet;
  item.trans_id = packet.trans_id;
  if (tracing("send")) {
    trace("send", &ch, packet.handle, "trans_id " + std::to_string(packet.trans_id),
          {.trans_id = packet.trans_id});
  }
  enqueue_tx(ch, std::move(item));
  return STATUS_SUCCESS;
}

// --- The send queue --------------------------------------------------------------------------

void DeviceCore::enqueue_tx(Channel& ch, TxItem item) {
  ch.tx_queue.push_back(std::move(item));
  if (ch.wire_ready() && !ch.tx_blocked && !ch.tx_batched) {
    flush_tx(ch);
  }
}

void DeviceCore::flush_tx(Channel& ch) {
  if (!ch.wire_ready()) {
    return;
  }
  std::uint32_t written = 0;
  while (!ch.tx_queue.empty()) {
    TxItem& item = ch.tx_queue.front();
    const ring::OutgoingPacket out = outgoing_of(item);
    const std::uint32_t packet_bytes = ring::packet_bytes_for(out);
    VMBUS_CHECK(packet_bytes != 0, "a queued packet cannot be expressed");
    const ring::ReserveResult reserved = ch.writer->reserve(packet_bytes);
    if (reserved.status == ring::WriteStatus::kOk) {
      ch.writer->copy(reserved.reservation, out);
      note_placed(ch, reserved.reservation, item);
      ++written;
      TxItem done = std::move(item);
      ch.tx_queue.pop_front();
      note_written(ch, done);
      continue;
    }
    if (reserved.status == ring::WriteStatus::kTooLarge) {
      TxItem dropped = std::move(item);
      ch.tx_queue.pop_front();
      drop_too_large(ch, dropped);
      continue;
    }
    if (reserved.status == ring::WriteStatus::kCorrupt) {
      ch.tx_broken = true;
      protocol_error(
          ch, std::string("outgoing ring corrupt: ") + ring::corrupt_reason_name(reserved.reason));
      break;
    }
    // Not enough space. Publish what was copied first; the next DPC step
    // retries and, if the ring is still full, asks for a signal.
    if (written > 0) {
      ch.tx_wanted = true;
      break;
    }
    if (!wait_for_space(ch, packet_bytes)) {
      break;
    }
  }
  if (written == 0) {
    return;
  }
  if (ch.pending_send_size_set) {
    ch.writer->clear_pending_send_size();
    ch.pending_send_size_set = false;
    trace_ring(ch, {.op = "pending_send_sz"}, "cleared: the packets fit again");
  }
  publish_outgoing(ch);
}

void DeviceCore::publish_outgoing(Channel& ch) {
  const std::uint32_t published = ch.writer->publish();
  if (published > 0) {
    trace_ring(ch, {.op = "publish_write", .bytes = published, .publish = true}, "");
  }
  signal_after_publish(ch);
}

void DeviceCore::signal_after_publish(Channel& ch) {
  const std::uint64_t masked_before = ch.writer->counters().signals_masked;
  const bool signal = ch.writer->decide_signal();
  trace_ring(ch, {.op = signal ? "signal" : "no_signal", .reason = ch.writer->last_signal_reason()},
             "");
  if (signal) {
    trace("signal_peer", &ch, ch.handle, "outgoing ring went non-empty");
    ch.transport->signal_peer();
  } else if (ch.writer->counters().signals_masked != masked_before) {
    trace("interrupt_masked", &ch, ch.handle,
          "no signal: the peer has interrupt_mask set (it is draining and re-checks before it "
          "stops)");
  }
}

void DeviceCore::note_placed(Channel& ch, const ring::Reservation& reservation,
                             const TxItem& item) {
  const std::uint32_t header_bytes = std::uint32_t{item.offset8} * 8;
  ++ch.packets_written;
  ch.last_written =
      WrittenPacket{ch.writer->view().advance(reservation.start_index, header_bytes),
                    reservation.packet_bytes - header_bytes, item.trans_id, ch.packets_written};
}

void DeviceCore::note_written(Channel& ch, const TxItem& done) {
  if (done.packet == nullptr) {
    ++ch.stats.completions_sent;
    return;
  }
  PacketObject& packet = *done.packet;
  ++ch.stats.packets_sent;
  if (packet.wait_for_completion) {
    packet.state = PacketObject::State::kInRing;
    ch.in_flight[packet.trans_id] = &packet;
  } else if (packet.sync != nullptr) {
    packet.sync->done = true;  // "complete" means placed in the ring
    packet.sync->status = STATUS_SUCCESS;
    packet.state = PacketObject::State::kIdle;
  } else {
    packet.state = PacketObject::State::kPlaced;
    ch.placed.push_back(&packet);
  }
}

void DeviceCore::drop_too_large(Channel& ch, const TxItem& dropped) {
  // Only a completion larger than the peer's ring can get here (sends are
  // checked against the ring at VmbPacketSend).
  trace("send_too_large", &ch, dropped.packet ? dropped.packet->handle : 0,
        "trans_id " + std::to_string(dropped.trans_id) + " can never fit the ring; dropped",
        {.trans_id = dropped.trans_id});
  if (dropped.packet != nullptr && dropped.packet->sync == nullptr) {
    run_completion_routine(*dropped.packet, STATUS_INVALID_BUFFER_SIZE, {});
  } else if (dropped.packet != nullptr) {
    dropped.packet->sync->done = true;
    dropped.packet->sync->status = STATUS_BUFFER_OVERFLOW;
  }
}

bool DeviceCore::wait_for_space(Channel& ch, std::uint32_t packet_bytes) {
  const ring::WaitDecision decision = ch.writer->prepare_to_wait(packet_bytes);
  if (decision == ring::WaitDecision::kRetryNow) {
    trace_ring(ch, {.op = "pending_send_sz"},
               "set and cleared again: the reader freed space meanwhile; retry");
    return true;  // the reader freed space between reserve and pending_send_sz
  }
  if (decision == ring::WaitDecision::kWaitForSignal) {
    if (config.quirks.has(base::Quirk::kWriterSignalsWhenRingFull)) {
      // The quirk: no ring decision calls for this interrupt.
      trace("quirk", &ch, ch.handle,
            "writer_signals_when_ring_full: interrupting the reader of a full ring");
      ch.transport->signal_peer();
    }
    ch.tx_blocked = true;
    ch.pending_send_size_set = true;
    trace_ring(ch, {.op = "pending_send_sz"},
               "set: waiting for the reader to free " +
                   std::to_string(ring::ring_bytes_for_packet(packet_bytes)) + " bytes");
    trace(
        "send_blocked", &ch, ch.handle,
        "waiting for " + std::to_string(ring::ring_bytes_for_packet(packet_bytes)) + " free bytes");
  } else if (decision == ring::WaitDecision::kMustPoll) {
    ch.tx_wanted = true;  // no pending_send_sz feature: nobody will signal
  } else {
    ch.tx_broken = true;
    protocol_error(ch, "outgoing ring corrupt while waiting for space");
  }
  return false;
}

void DeviceCore::run_placed_completion(Channel& ch) {
  PacketObject* packet = ch.placed.front();
  ch.placed.pop_front();
  run_completion_routine(*packet, STATUS_SUCCESS, {});
}

void DeviceCore::run_completion_routine(PacketObject& packet, NTSTATUS status,
                                        std::span<const std::byte> payload) {
  const std::uintptr_t handle = packet.handle;
  Channel* ch = packet.channel;
  packet.state = PacketObject::State::kCompleting;
  if (tracing("callback")) {
    trace("callback", ch, handle,
          std::string("EvtVmbPacketCompletionRoutine trans_id ") + std::to_string(packet.trans_id) +
              " " + ntstatus_name(status),
          {.trans_id = packet.trans_id, .callback = "EvtVmbPacketCompletionRoutine"});
  }
  {
    CallbackScope scope(current_context(), {CallbackKind::kCompletionRoutine, ch, nullptr});
    packet.completion_routine(as_packet(handle), status,
                              payload.empty() ? nullptr : const_cast<std::byte*>(payload.data()),
                              static_cast<UINT32>(payload.size()));
  }
  // The routine may have freed the packet (the default one does) or sent it again.
  if (auto it = packets.find(handle); it != packets.end()) {
    if (it->second->state == PacketObject::State::kCompleting) {
      it->second->state = PacketObject::State::kIdle;
    }
  }
}

void DeviceCore::handle_completion_packet(Channel& ch, const ring::PacketView& view) {
  const std::uint64_t trans_id = view.descriptor.trans_id;
  auto it = ch.in_flight.find(trans_id);
  if (it == ch.in_flight.end() && !ch.in_flight.empty() &&
      config.quirks.has(base::Quirk::kGuestTrustsCompletionTransId)) {
    // The quirk: any id completes something -- the oldest request in flight
    // (KMCL's ids grow with each send).
    it = std::min_element(ch.in_flight.begin(), ch.in_flight.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; });
    trace("quirk", &ch, ch.handle,
          "guest_trusts_completion_trans_id: trans_id " + std::to_string(trans_id) +
              " completes the request with trans_id " + std::to_string(it->first));
  }
  if (it == ch.in_flight.end() && trans_id == 0 && !ch.in_flight.empty() &&
      config.quirks.has(base::Quirk::kGuestTakesTransIdZeroForARequest)) {
    // The quirk: id 0, which no send is given, is looked up as if it named
    // one, and the lookup's "nothing" is taken for a request -- here the
    // oldest in flight.
    it = std::min_element(ch.in_flight.begin(), ch.in_flight.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; });
    trace("quirk", &ch, ch.handle,
          "guest_takes_trans_id_zero_for_a_request: trans_id 0 completes the request with "
          "trans_id " +
              std::to_string(it->first));
  }
  if (it == ch.in_flight.end()) {
    // Peer data: a completion we never asked for (or for a cancelled
    // request). Dropped and counted, never trusted.
    ++ch.stats.unexpected_completions;
    trace("unexpected_completion", &ch, ch.handle, "trans_id " + std::to_string(trans_id),
          {.trans_id = trans_id});
    return;
  }
  PacketObject* packet = it->second;
  ch.in_flight.erase(it);
  ++ch.stats.completions_received;
  const std::span<const std::byte> payload = view.payload();
  if (packet->sync != nullptr) {
    packet->sync->completion.assign(payload.begin(), payload.end());
    packet->sync->status = STATUS_SUCCESS;
    packet->sync->done = true;
    packet->state = PacketObject::State::kIdle;
    return;
  }
  run_completion_routine(*packet, STATUS_SUCCESS, payload);
}

void DeviceCore::fail_sync_waiters(Channel& ch, NTSTATUS status) {
  auto finish = [status](PacketObject& packet) {
    packet.sync->done = true;
    packet.sync->status = status;
    packet.state = PacketObject::State::kIdle;
  };
  for (auto it = ch.tx_queue.begin(); it != ch.tx_queue.end();) {
    if (it->packet != nullptr && it->packet->sync != nullptr) {
      finish(*it->packet);
      it = ch.tx_queue.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = ch.in_flight.begin(); it != ch.in_flight.end();) {
    if (it->second->sync != nullptr) {
      finish(*it->second);
      it = ch.in_flight.erase(it);
    } else {
      ++it;
    }
  }
}

void DeviceCore::cancel_sends(Channel& ch, NTSTATUS status) {
  // Placed packets did reach the ring: their routine reports success.
  while (!ch.placed.empty()) {
    run_placed_completion(ch);
  }
  fail_sync_waiters(ch, STATUS_DEVICE_REMOVED);
  std::vector<PacketObject*> cancelled;
  std::uint64_t completions_dropped = 0;
  for (TxItem& item : ch.tx_queue) {
    if (item.packet != nullptr) {
      cancelled.push_back(item.packet);
    } else {
      ++completions_dropped;
    }
  }
  ch.tx_queue.clear();
  for (auto& [trans_id, packet] : ch.in_flight) {
    cancelled.push_back(packet);
  }
  ch.in_flight.clear();
  // in_flight is unordered: cancel in send order so runs are reproducible.
  std::sort(cancelled.begin(), cancelled.end(),
            [](const PacketObject* a, const PacketObject* b) { return a->trans_id < b->trans_id; });
  if (completions_dropped > 0) {
    trace("completions_dropped_at_close", &ch, ch.handle, std::to_string(completions_dropped));
  }
  for (PacketObject* packet : cancelled) {
    run_completion_routine(*packet, status, {});
  }
}

// --- Synchronous requests ------------------------------------------------------------------------

NTSTATUS DeviceCore::send_synchronous(const ApiCall& call, Channel& ch, PVOID buffer, UINT32 size,
                                      PMDL external_data, UINT32 flags, PVOID completion_buffer,
                                      PUINT32 completion_buffer_size, PLARGE_INTEGER timeout) {
  const bool wait = (flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) != 0;
  const bool zero_timeout = timeout != nullptr && timeout->QuadPart == 0;
  // [H] SAL: PASSIVE_LEVEL unless Timeout == 0 and no WAIT_FOR_COMPLETION.
  if ((!zero_timeout || wait) && !require_passive(call, &ch, IrqlRule::kDocumented)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (completion_buffer_size != nullptr && *completion_buffer_size % 8 != 0) {
    return STATUS_INVALID_PARAMETER_7;  // "must be a multiple of 8 or else the function fails"
  }
  if (completion_buffer_size != nullptr && *completion_buffer_size > 0 &&
      completion_buffer == nullptr) {
    return STATUS_INVALID_PARAMETER_6;
  }
  std::vector<const MDL*> ranges;
  for (const MDL* mdl = external_data; mdl != nullptr; mdl = mdl->Next) {
    ranges.push_back(mdl);
  }
  TxItem item;
  const NTSTATUS made = make_data_item(ch, buffer, size, ranges, flags, &item);
  if (!NT_SUCCESS(made)) {
    return made;
  }
  if (ch.state == ChannelState::kDisabled) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  if (ch.state == ChannelState::kClosing || ch.state == ChannelState::kClosed) {
    return STATUS_DEVICE_REMOVED;  // "the channel is shutting down"
  }
  item.trans_id = ch.next_trans_id++;
  if (completion_buffer_size != nullptr && !wait) {
    *completion_buffer_size = 0;
  }
  if (zero_timeout && !wait) {
    return send_now_or_overflow(ch, item);
  }
  SyncRequest sync;
  const NTSTATUS waited = send_and_wait(call, ch, std::move(item), wait, timeout, &sync);
  if (waited != STATUS_SUCCESS || !NT_SUCCESS(sync.status) || !wait) {
    if (completion_buffer_size != nullptr) {
      *completion_buffer_size = 0;
    }
    return waited != STATUS_SUCCESS ? waited : sync.status;
  }
  const std::size_t capacity = completion_buffer_size != nullptr ? *completion_buffer_size : 0;
  const std::size_t copied = std::min(capacity, sync.completion.size());
  if (copied > 0) {
    std::memcpy(completion_buffer, sync.completion.data(), copied);
  }
  if (completion_buffer_size != nullptr) {
    *completion_buffer_size = static_cast<UINT32>(copied);
  }
  // A completion larger than the caller's buffer: truncated, and said so.
  return sync.completion.size() > capacity ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

NTSTATUS DeviceCore::send_now_or_overflow(Channel& ch, const TxItem& item) {
  // "With a timeout of 0, a packet that does not fit in the ring is not queued."
  if (!ch.wire_ready() || !ch.tx_queue.empty() || ch.tx_blocked) {
    return STATUS_BUFFER_OVERFLOW;
  }
  const ring::OutgoingPacket out = outgoing_of(item);
  const ring::ReserveResult reserved = ch.writer->reserve(ring::packet_bytes_for(out));
  if (reserved.status != ring::WriteStatus::kOk) {
    return STATUS_BUFFER_OVERFLOW;
  }
  ch.writer->copy(reserved.reservation, out);
  note_placed(ch, reserved.reservation, item);
  ++ch.stats.packets_sent;
  publish_outgoing(ch);
  return STATUS_SUCCESS;
}

NTSTATUS DeviceCore::send_and_wait(const ApiCall& call, Channel& ch, TxItem item, bool wait,
                                   PLARGE_INTEGER timeout, SyncRequest* sync) {
  std::optional<std::uint64_t> deadline_ns;
  if (timeout != nullptr) {
    // KeWaitForSingleObject style, in 100 ns units: negative is relative,
    // positive is absolute on the device clock.
    const LONGLONG quad = timeout->QuadPart;
    deadline_ns = quad < 0 ? now_ns_ + static_cast<std::uint64_t>(-(quad + 1)) * 100 + 100
                           : static_cast<std::uint64_t>(quad) * 100;
    if (config.quirks.has(base::Quirk::kGuestWaitsWithoutTimeout)) {
      // The quirk: the caller's bound is dropped; only an answer or the
      // channel's end can wake this wait.
      deadline_ns.reset();
      trace("quirk", &ch, ch.handle,
            "guest_waits_without_timeout: synchronous request trans_id " +
                std::to_string(item.trans_id) + " waits with no timeout");
    }
  }
  PacketObject internal;
  internal.channel = &ch;
  internal.sync = sync;
  internal.trans_id = item.trans_id;
  internal.wait_for_completion = wait;
  internal.state = PacketObject::State::kQueued;
  item.packet = &internal;
  trace("send_synchronous", &ch, ch.handle, "trans_id " + std::to_string(internal.trans_id));
  enqueue_tx(ch, std::move(item));

  const WaitResult waited = block_context(
      *this, current_context(),
      BlockedState{call.api,
                   "the completion of synchronous request trans_id " +
                       std::to_string(internal.trans_id) + " on ch" + std::to_string(ch.index),
                   [sync] { return sync->done; }, deadline_ns, &ch, false});
  if (sync->done) {
    return STATUS_SUCCESS;
  }
  // Timed out (or refused): cancel. A completion arriving later finds no
  // request and is dropped as unexpected.
  std::erase_if(ch.tx_queue,
                [&internal](const TxItem& queued) { return queued.packet == &internal; });
  ch.in_flight.erase(internal.trans_id);
  trace("send_synchronous_cancelled", &ch, ch.handle,
        "trans_id " + std::to_string(internal.trans_id));
  return waited == WaitResult::kRefused ? STATUS_INVALID_DEVICE_STATE : STATUS_CANCELLED;
}

}  // namespace vmbus::kmcl::detail
