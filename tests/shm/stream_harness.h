// Two processes streaming packets through one VMBus ring in shared memory.
//
// run_two_process_stream() creates a uniquely named segment (page 0: the
// producer's report, then one ring), forks, and lets the child produce while
// the parent consumes and verifies. The two sides share nothing but the
// segment and two SignalPipes, and they wake each other only when the ring's
// signal decisions say so:
//
//   producer: write() or reserve+copy... -> publish -> decide_signal; when the
//             ring is full, prepare_to_wait(); kWaitForSignal -> wait for the
//             consumer's signal, then retry and clear pending_send_sz.
//   consumer: begin_read -> next()... (publish + decide_signal every few
//             packets) -> publish -> decide_signal -> end_read; end_read()
//             false -> wait for the producer's signal.
//
// Every wait has a timeout, so a wrong decision (a lost wakeup) ends the run
// with a report of which side timed out and the ring's control words at that
// moment, instead of hanging. The parent always reaps the child and removes
// the segment name.
//
// The child produces and the parent consumes because the consumer is where
// the verification happens: its findings stay in the process that reports
// them (GoogleTest assertions only work there), and the child's only
// outcomes are "finished" or one exit status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>

#include "vmbus/ring/ring.h"

namespace vmbus::shm::harness {

// --- Shared-segment layout ---------------------------------------------------

inline constexpr std::size_t kReportOffsetBytes = 0;
inline constexpr std::size_t kRingOffsetBytes = ring::kHvPageSizeBytes;

// Report page plus control page plus data area.
std::size_t segment_bytes_for(std::uint32_t ring_data_bytes);

// The ring's control words at one moment, for failure messages.
struct RingSnapshot {
  std::uint32_t write_index = 0;
  std::uint32_t read_index = 0;
  std::uint32_t interrupt_mask = 0;
  std::uint32_t pending_send_sz = 0;
};

RingSnapshot take_snapshot(const ring::RingView& view);

// "write_index=... read_index=... (N bytes to read) interrupt_mask=... pending_send_sz=..."
std::string describe(const RingSnapshot& snapshot, std::uint32_t data_size_bytes);

// --- Packets -----------------------------------------------------------------

// Everything about packet N except its body bytes. Both sides draw the same
// sequence from the seed, so the consumer knows what each packet must be.
struct PacketShape {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint64_t trans_id = 0;
  std::uint16_t offset8 = ring::kMinOffset8;  // 3: an 8-byte header extension
  std::uint32_t payload_bytes = 0;            // header + body, not padded
};

// Payload = [u64 sequence][u64 checksum of the body][body].
inline constexpr std::uint32_t kPayloadHeaderBytes = 16;
inline constexpr std::uint32_t kBodyBytesMax = 1008;  // payloads of 16 .. 1024 bytes
inline constexpr std::uint32_t kExtensionBytes = 8;
// The header extension of packet N holds N ^ kExtensionTag.
inline constexpr std::uint64_t kExtensionTag = 0x5eedfacecafef00dULL;
// len8 * 8 of the largest packet: descriptor, extension, padded payload.
inline constexpr std::uint32_t kMaxPacketBytes =
    ring::kPacketDescriptorBytes + kExtensionBytes + kPayloadHeaderBytes + kBodyBytesMax;

class PacketShapes {
 public:
  explicit PacketShapes(std::uint64_t seed) : rng_(seed) {}
  PacketShape next();

 private:
  std::mt19937_64 rng_;
};

// A word-at-a-time mixing checksum; any flipped, lost or moved byte changes it.
std::uint64_t checksum(std::span<const std::byte> bytes);

// --- The producer's report, in page 0 of the segment ---------------------------

enum class ProducerPhase : std::uint32_t {
  kNotStarted = 0,
  kRunning = 1,
  kWaitingForSpace = 2,  // pending_send_sz set, blocked in SignalPipe::wait()
  kFinished = 3,
};

// Exit statuses of the producer child.
inline constexpr int kProducerExitOk = 0;
inline constexpr int kProducerExitTimedOutWaitingForSpace = 10;
inline constexpr int kProducerExitConsumerGone = 11;
inline constexpr int kProducerExitRingCorrupt = 12;
inline constexpr int kProducerExitSignalFailed = 13;
inline constexpr int kProducerExitSetupFailed = 14;

// "timed_out_waiting_for_space", ...
const char* producer_exit_name(int exit_status);

// Written by the child, read by the parent once the child is reaped (phase
// also while it runs). Trivially copyable; the segment starts zeroed.
struct ProducerReport {
  std::uint32_t phase = 0;  // ProducerPhase; accessed through std::atomic_ref
  std::uint32_t exit_status = 0;
  ring::WriterCounters writer;
  std::uint64_t waits = 0;                  // blocked in wait() after kWaitForSignal
  std::uint64_t retries_now = 0;            // prepare_to_wait() said kRetryNow
  std::uint64_t wakeups_without_space = 0;  // woken, and the packet still did not fit
  std::uint64_t signals_sent = 0;           // bytes written to the consumer
  std::uint64_t signals_dropped = 0;        // decide_signal() said yes, fault injection said no
  RingSnapshot at_failure;                  // when exit_status != 0
};

// --- Running a stream ----------------------------------------------------------

struct StreamConfig {
  std::uint64_t seed = 20261121;
  std::uint64_t packets = 1'000'000;
  std::uint32_t ring_data_bytes = 16 * 1024;
  std::uint32_t max_batch_packets = 8;  // batch sizes are 1 .. this; 1 uses write()
  std::uint32_t consumer_publish_every_packets = 8;
  int producer_wait_timeout_ms = 5000;
  int consumer_wait_timeout_ms = 5000;
  // Fault injection for the watchdog test: the consumer waits until the
  // producer is blocked, then never sends the signals decide_signal() asks for.
  bool consumer_drops_space_signals = false;
  // The mirror image: the producer never sends the signals its
  // decide_signal() asks for, so the consumer's watchdog must fire.
  bool producer_drops_data_signals = false;
};

struct ConsumerReport {
  ring::ReaderCounters reader;
  std::uint64_t packets_verified = 0;
  std::uint64_t signals_sent = 0;     // bytes written to the producer
  std::uint64_t signals_dropped = 0;  // decide_signal() said yes, fault injection said no
  std::uint64_t waits = 0;            // blocked in wait() after end_read() said false
  bool timed_out = false;             // our wait for the producer's signal timed out
  bool producer_gone = false;         // the producer exited before sending everything
  std::string failure;                // empty when every packet arrived intact
  RingSnapshot at_failure;
};

struct StreamOutcome {
  std::string segment_name;
  ConsumerReport consumer;
  ProducerReport producer;  // copied out of the segment after the child was reaped
  int child_wait_status = 0;
  bool child_killed = false;  // the parent had to SIGKILL it
  bool segment_name_removed = false;
  std::uint32_t ring_data_bytes = 0;
  RingSnapshot at_end;
};

StreamOutcome run_two_process_stream(const StreamConfig& config);

// Everything a failure message needs: both sides' findings and counters.
std::string describe(const StreamOutcome& outcome);

}  // namespace vmbus::shm::harness
