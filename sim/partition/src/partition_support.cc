#include "vmbus/partition/partition_support.h"

#include <atomic>
#include <cstring>

#include "vmbus/wire/synic.h"

namespace vmbus::partition {

bool MessageSlot::fill(std::span<const std::byte> hv_message) {
  if (message_ || hv_message.size() != sizeof(wire::HvMessage)) {
    return false;
  }
  wire::HvMessage copy;
  std::memcpy(&copy, hv_message.data(), sizeof(copy));
  message_ = copy;
  return true;
}

void MessageSlot::deliver(std::uint32_t sint, std::span<const std::byte> hv_message,
                          Hypervisor& hv) {
  if (sint != wire::kVmbusMessageSint || !fill(hv_message)) {
    hv.trace(trace_note(
        "", "dropped a message for SINT " + std::to_string(sint) + " (slot busy or malformed)"));
  }
}

wire::HvMessage MessageSlot::take(Hypervisor& hv) {
  const wire::HvMessage message = *message_;
  message_.reset();
  hv.end_of_message(wire::kVmbusMessageSint);
  return message;
}

void Work::note(const std::string& text) const {
  hv.trace(trace_note(context, text));
}

void Outbox::push(std::uint32_t connection_id, const wire::Message& message) {
  queue_.push_back(Entry{connection_id, wire::encode_message(message)});
}

void Outbox::push_raw(std::uint32_t connection_id, std::vector<std::byte> payload) {
  queue_.push_back(Entry{connection_id, std::move(payload)});
}

Outbox::Posted Outbox::post_one(Hypervisor& hv) {
  Posted posted;
  posted.payload = queue_.front().payload;
  posted.hv_status = hv.post_message(queue_.front().connection_id, posted.payload);
  if (posted.hv_status != wire::kHvStatusInsufficientBuffers) {
    queue_.pop_front();
  }
  return posted;
}

proto::TraceRecord trace_note(const std::string& context, const std::string& text) {
  proto::TraceRecord record;
  record.set_context(context);
  record.mutable_note()->set_text(text);
  return record;
}

proto::TraceRecord trace_channel(const std::string& context, std::uint32_t child_relid,
                                 const std::string& state, const std::string& detail) {
  proto::TraceRecord record;
  record.set_context(context);
  auto* event = record.mutable_channel();
  event->set_child_relid(child_relid);
  event->set_state(state);
  event->set_detail(detail);
  return record;
}

proto::TraceRecord trace_ring(const std::string& context, std::uint32_t child_relid,
                              const std::string& ring, const std::string& op,
                              const ring::RingView& view, std::uint32_t bytes,
                              std::uint32_t packets, const std::string& detail) {
  proto::TraceRecord record;
  record.set_context(context);
  auto* event = record.mutable_ring();
  event->set_child_relid(child_relid);
  event->set_ring(ring);
  event->set_op(op);
  // A snapshot for the trace only; relaxed loads, no decision depends on them.
  event->set_write_index(
      std::atomic_ref<std::uint32_t>(view.control().write_index).load(std::memory_order_relaxed));
  event->set_read_index(
      std::atomic_ref<std::uint32_t>(view.control().read_index).load(std::memory_order_relaxed));
  event->set_interrupt_mask(std::atomic_ref<std::uint32_t>(view.control().interrupt_mask)
                                .load(std::memory_order_relaxed));
  event->set_pending_send_sz(std::atomic_ref<std::uint32_t>(view.control().pending_send_sz)
                                 .load(std::memory_order_relaxed));
  event->set_bytes(bytes);
  event->set_packets(packets);
  event->set_data_size(view.data_size_bytes());
  event->set_detail(detail);
  return record;
}

proto::TraceRecord trace_message_handled(const std::string& context,
                                         proto::MessageEvent::Stage stage,
                                         const wire::HvMessage& slot, const std::string& reason) {
  proto::TraceRecord record;
  record.set_context(context);
  auto* event = record.mutable_message();
  event->set_stage(stage);
  const std::size_t size = std::min<std::size_t>(slot.payload_size, sizeof(slot.payload));
  const auto payload = std::as_bytes(std::span(slot.payload, size));
  std::uint32_t msgtype = 0;
  if (size >= sizeof(msgtype)) {
    std::memcpy(&msgtype, slot.payload, sizeof(msgtype));
  }
  event->set_msgtype(msgtype);
  event->set_connection_id(static_cast<std::uint32_t>(slot.sender & wire::kConnectionIdMask));
  event->set_decoded(wire::describe_payload(payload));
  event->set_reason(reason);
  return record;
}

}  // namespace vmbus::partition
