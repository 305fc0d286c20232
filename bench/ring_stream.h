// Cross-process streaming through one VMBus ring, for the benchmarks.
//
// A RingStream creates a fresh shared-memory segment holding one ring, forks
// a producer child that writes `packets` packets of `payload_bytes` each, and
// lets the benchmark process consume them. The two processes wake each other
// through the stream test's SignalPipes (tests/shm) and only when the ring's
// signal decisions say so; every wait has a timeout, so a lost wakeup ends
// the run with an error instead of hanging the benchmark.
//
// The options choose how much work each side does per signal and per shared
// index store, without ever bending the protocol:
//   - write_batch_packets: reserve+copy several packets, then one publish and
//     one decide_signal (1 = RingWriter::write() per packet);
//   - publish_every_bytes: the consumer stores read_index (and decides
//     whether to wake the producer) after freeing this many bytes, and always
//     when the ring runs empty;
//   - pending_send_bytes: how much free space a blocked producer asks for in
//     pending_send_sz (at least its packet; more is hysteresis, as hv_sock
//     does by asking for a whole send buffer);
//   - spin_polls: how often a side that found the ring empty (consumer, with
//     interrupt_mask still set) or full (producer, before setting
//     pending_send_sz) polls it again, yielding the CPU in between, before it
//     goes to sleep. While it polls, the other side's decisions say "no
//     signal", so polling trades CPU for system calls.
//
// Ownership: the RingStream owns the segment and the child. Its destructor
// kills a child that is still running and reaps it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "vmbus/ring/ring.h"

namespace vmbus::bench {

struct RingStreamOptions {
  std::uint32_t payload_bytes = 64;  // at least 8: the sequence number
  std::uint64_t packets = 1'000'000;
  std::uint32_t ring_data_bytes = 256 * 1024;
  std::uint32_t write_batch_packets = 1;
  std::uint32_t publish_every_bytes = 0;  // 0: after every packet
  std::uint32_t pending_send_bytes = 0;   // 0: just the packet that did not fit
  std::uint32_t spin_polls = 0;
  int wait_timeout_ms = 5000;
};

// Ring footprint of one benchmark packet: descriptor, padded payload, trailer.
std::uint32_t ring_bytes_per_packet(std::uint32_t payload_bytes);

struct RingStreamStats {
  std::uint64_t packets = 0;        // verified by the consumer
  std::uint64_t payload_bytes = 0;  // packets * payload_bytes
  ring::WriterCounters writer;      // the producer's, copied back through the segment
  ring::ReaderCounters reader;
  std::uint64_t producer_waits = 0;  // slept on a full ring
  std::uint64_t consumer_waits = 0;  // slept on an empty ring
};

class RingStream {
 public:
  // Creates the segment and the ring, forks the producer and waits until it
  // has attached. Throws std::runtime_error if any of that fails.
  explicit RingStream(const RingStreamOptions& options);
  RingStream(const RingStream&) = delete;
  RingStream& operator=(const RingStream&) = delete;
  ~RingStream();

  // Lets the producer go and consumes every packet: the part to time.
  // False on a timeout, a bad packet or a producer that died; see error().
  bool consume();

  // Reaps the producer and gathers both sides' counters. False if the
  // producer did not finish cleanly; see error().
  bool finish(RingStreamStats* stats);

  const std::string& error() const { return error_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string error_;
};

}  // namespace vmbus::bench
