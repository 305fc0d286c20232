// One side of a channel's rings, driven in scheduler steps.
//
// A channel has two rings; each partition writes one and reads the other.
// RingSender and RingReceiver wrap RingWriter and RingReader in small state
// machines whose every step() is one phase of the ring protocol, so that the
// simulator can run a step of the other partition between any two phases:
//
//   RingSender:   reserve+copy (a batch) | publish | decide-to-signal
//   RingReceiver: begin_read + read (a batch) | publish | decide-to-signal |
//                 end_read (and go round again if data arrived meanwhile)
//
// Neither signals anyone itself: a step returns whether the peer must be
// signalled, and the partition turns that into a hypercall. Both report
// corrupt rings as errors instead of going on.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/ring/ring.h"

namespace vmbus::partition {

// A packet waiting to be written, owning its bytes.
struct QueuedPacket {
  std::uint16_t type = static_cast<std::uint16_t>(ring::PacketType::kDataInband);
  std::uint16_t flags = 0;
  std::uint64_t trans_id = 0;
  std::vector<std::byte> payload;
  // ring::OutgoingPacket's header extension (e.g. a GPA-direct range list)
  // and the offset8 that makes room for it.
  std::uint16_t offset8 = ring::kMinOffset8;
  std::vector<std::byte> header_extension;
};

// Where the sender last copied a packet into the ring (for a scenario that
// tampers with it afterwards).
struct CopiedPacket {
  std::uint32_t start_index = 0;   // ring data offset of the descriptor
  std::uint32_t packet_bytes = 0;  // len8 * 8
  std::uint32_t header_bytes = 0;  // offset8 * 8: the payload starts here
  std::uint64_t trans_id = 0;
};

struct SendStep {
  bool signal_peer = false;  // interrupt the reader now
  std::uint32_t packets_copied = 0;
  std::uint32_t bytes_published = 0;
  std::optional<ring::CorruptReason> corrupt;  // the reader's index is bad: stop
  bool too_large = false;                      // the head packet can never fit: stop
  std::string phase;  // for the trace: "copy", "publish", "signal", "block"
};

class RingSender {
 public:
  RingSender(ring::RingMemory& memory, std::uint32_t batch_packets);

  void enqueue(QueuedPacket packet) { queue_.push_back(std::move(packet)); }
  std::size_t queued() const { return queue_.size(); }

  // Whether step() has something to do. False while blocked on a full ring
  // until on_space_signal().
  bool ready() const;
  SendStep step();

  // The reader said space was freed (its decide-to-signal answered yes).
  void on_space_signal() { blocked_ = false; }
  bool blocked() const { return blocked_; }

  // No batch in flight: the next step() starts a new copy phase, and every
  // packet copied so far has been published and had its signal decision.
  bool idle() const { return phase_ == Phase::kCopy; }

  // Re-attaches the writer to the shared write_index, for a partition that
  // wrote the ring behind the writer's back (a scenario's malicious host):
  // the next packet goes where that write left the index. Only between
  // batches (idle(), checked). The writer's counters start again from zero.
  void resync();

  // len8 * 8 of the packet at the head of the queue; 0 if the queue is empty.
  std::uint32_t head_packet_bytes() const;

  // The last packet copied into the ring, if any since construction.
  const std::optional<CopiedPacket>& last_copied() const { return last_copied_; }

  const ring::RingWriter& writer() const { return writer_; }

 private:
  enum class Phase { kCopy, kPublish, kSignal };

  ring::RingMemory* memory_;
  ring::RingWriter writer_;
  std::uint32_t batch_packets_;
  std::deque<QueuedPacket> queue_;
  Phase phase_ = Phase::kCopy;
  bool blocked_ = false;
  std::optional<CopiedPacket> last_copied_;
};

struct ReceiveStep {
  bool signal_peer = false;  // the writer was blocked and now has space
  std::uint32_t packets = 0;
  std::uint32_t bytes_published = 0;
  std::optional<ring::ReadResult> corrupt;  // stop: the ring is corrupt
  std::string phase;                        // "read", "publish", "signal", "end_read"
};

class RingReceiver {
 public:
  using PacketHandler = std::function<void(const ring::PacketView& packet)>;

  RingReceiver(ring::RingMemory& memory, std::uint32_t max_packet_bytes,
               std::uint32_t batch_packets);

  // An interrupt arrived for this ring: start a drain pass unless one runs.
  void schedule() { scheduled_ = true; }

  bool ready() const { return scheduled_ && !stopped_; }

  // One phase of the drain pass; `handler` sees each packet read.
  ReceiveStep step(const PacketHandler& handler);

  bool stopped() const { return stopped_; }
  const ring::RingReader& reader() const { return reader_; }

 private:
  enum class Phase { kBegin, kRead, kPublish, kSignal, kEndRead };

  ring::RingReader reader_;
  std::uint32_t batch_packets_;
  Phase phase_ = Phase::kBegin;
  bool drained_ = false;  // the last read phase found the ring empty
  bool scheduled_ = false;
  bool stopped_ = false;
};

}  // namespace vmbus::partition
