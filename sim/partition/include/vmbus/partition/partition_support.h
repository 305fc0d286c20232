// Pieces both partitions need: the SynIC message slot, an outbox of control
// messages with hypercall retry, and trace helpers.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/partition/partition.h"
#include "vmbus/proto/trace.pb.h"
#include "vmbus/ring/ring.h"
#include "vmbus/wire/codec.h"

namespace vmbus::partition {

// The partition's VMBus message slot (SINT2). Holds at most one message:
// the simulator delivers the next only after end_of_message().
class MessageSlot {
 public:
  // Copies the delivered bytes; false (and nothing stored) if the slot was
  // already full or the size is not a whole hv_message.
  bool fill(std::span<const std::byte> hv_message);
  // PartitionLogic::deliver_message(): the message for `sint` lands in the
  // slot, or is dropped with a note in the trace (another SINT, the slot
  // busy, not a whole hv_message).
  void deliver(std::uint32_t sint, std::span<const std::byte> hv_message, Hypervisor& hv);
  bool full() const { return message_.has_value(); }

  // Takes the message out and frees the slot (EOM to the hypervisor).
  wire::HvMessage take(Hypervisor& hv);

 private:
  std::optional<wire::HvMessage> message_;
};

// Control messages waiting to be posted, one per step. A post the
// hypervisor refuses for lack of buffers stays at the head for a later step.
class Outbox {
 public:
  void push(std::uint32_t connection_id, const wire::Message& message);
  void push_raw(std::uint32_t connection_id, std::vector<std::byte> payload);
  bool empty() const { return queue_.empty(); }

  struct Posted {
    std::uint32_t hv_status = 0;
    std::vector<std::byte> payload;
  };
  // Posts the head message. On INSUFFICIENT_BUFFERS it stays queued.
  Posted post_one(Hypervisor& hv);

 private:
  struct Entry {
    std::uint32_t connection_id;
    std::vector<std::byte> payload;
  };
  std::deque<Entry> queue_;
};

// Trace record builders (the simulator adds time and sequence).
proto::TraceRecord trace_note(const std::string& context, const std::string& text);
proto::TraceRecord trace_channel(const std::string& context, std::uint32_t child_relid,
                                 const std::string& state, const std::string& detail);
proto::TraceRecord trace_ring(const std::string& context, std::uint32_t child_relid,
                              const std::string& ring, const std::string& op,
                              const ring::RingView& view, std::uint32_t bytes,
                              std::uint32_t packets, const std::string& detail);
proto::TraceRecord trace_message_handled(const std::string& context,
                                         proto::MessageEvent::Stage stage,
                                         const wire::HvMessage& slot, const std::string& reason);

}  // namespace vmbus::partition
