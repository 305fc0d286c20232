#include "ring_stream.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <sched.h>
#include <stdexcept>
#include <sys/wait.h>
#include <vector>

#include "vmbus/shm/segment.h"

#include "child_process.h"
#include "cpu_pinning.h"
#include "signal_pipe.h"

namespace vmbus::bench {
namespace {

using shm::harness::ChildProcess;
using shm::harness::SignalPipe;
using shm::harness::WaitOutcome;

constexpr std::size_t kStatsOffsetBytes = 0;
constexpr std::size_t kRingOffsetBytes = ring::kHvPageSizeBytes;
constexpr int kChildExitTimeoutMs = 5000;

// Producer exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitNoGo = 20;
constexpr int kExitTimedOutWaitingForSpace = 21;
constexpr int kExitConsumerGone = 22;
constexpr int kExitRingError = 23;
constexpr int kExitSignalFailed = 24;
constexpr int kExitSetupFailed = 25;

const char* exit_name(int status) {
  switch (status) {
    case kExitOk:
      return "ok";
    case kExitNoGo:
      return "no_go_signal";
    case kExitTimedOutWaitingForSpace:
      return "timed_out_waiting_for_space";
    case kExitConsumerGone:
      return "consumer_gone";
    case kExitRingError:
      return "ring_error";
    case kExitSignalFailed:
      return "signal_failed";
    case kExitSetupFailed:
      return "setup_failed";
    default:
      return "unknown";
  }
}

// Written by the producer before it exits; page 0 of the segment.
struct ProducerStats {
  ring::WriterCounters writer;
  std::uint64_t waits = 0;
};

ProducerStats* stats_in(const shm::SharedSegment& segment) {
  return reinterpret_cast<ProducerStats*>(segment.bytes().data() + kStatsOffsetBytes);
}

std::uint32_t ring_region_bytes(const RingStreamOptions& options) {
  return ring::kHvPageSizeBytes + options.ring_data_bytes;
}

// Both sides poll the same way while they spin.
void relax() {
  ::sched_yield();
}

// ---------------------------------------------------------------------------
// Producer (the child)

class Producer {
 public:
  Producer(ring::RingMemory& memory, SignalPipe& data_ready, SignalPipe& space_ready,
           const RingStreamOptions& options)
      : writer_(memory),
        data_ready_(data_ready),
        space_ready_(space_ready),
        options_(options),
        payload_(options.payload_bytes) {
    for (std::size_t i = 0; i < payload_.size(); ++i) {
      payload_[i] = static_cast<std::byte>(i * 131 + 7);
    }
    packet_.payload = payload_;
    packet_bytes_ = ring::packet_bytes_for(packet_);
    const std::uint32_t asked = options.pending_send_bytes;
    pending_request_bytes_ = asked > ring::ring_bytes_for_packet(packet_bytes_)
                                 ? asked - ring::kPacketTrailerBytes
                                 : packet_bytes_;
  }

  int run(ProducerStats& stats) {
    // The consumer starts the clock, then says "go" on the same pipe that
    // later carries its space signals.
    if (space_ready_.wait(options_.wait_timeout_ms) != WaitOutcome::kSignalled) {
      return kExitNoGo;
    }
    int status = kExitOk;
    std::uint32_t spins = 0;
    while (sent_ < options_.packets && status == kExitOk) {
      const Step step = options_.write_batch_packets <= 1 ? write_one() : write_batch();
      if (step == Step::kFailed) {
        status = failure_;
      } else if (step == Step::kProgress) {
        spins = 0;
      } else if (spins < options_.spin_polls) {
        ++spins;
        relax();
      } else {
        spins = 0;
        status = wait_for_space();
      }
    }
    stats.writer = writer_.counters();
    stats.waits = waits_;
    return status;
  }

 private:
  enum class Step : std::uint8_t { kProgress, kBlocked, kFailed };

  void stamp() {
    const std::uint64_t sequence = sent_;
    std::memcpy(payload_.data(), &sequence, sizeof(sequence));
    packet_.trans_id = sequence;
  }

  void sent_one() {
    ++sent_;
    if (pending_set_) {
      writer_.clear_pending_send_size();
      pending_set_ = false;
    }
  }

  Step fail(int status) {
    failure_ = status;
    return Step::kFailed;
  }

  Step signal_consumer() {
    return data_ready_.signal() ? Step::kProgress : fail(kExitSignalFailed);
  }

  Step write_one() {
    stamp();
    bool signal = false;
    switch (writer_.write(packet_, &signal)) {
      case ring::WriteStatus::kOk:
        sent_one();
        return signal ? signal_consumer() : Step::kProgress;
      case ring::WriteStatus::kNotEnoughSpace:
        return Step::kBlocked;
      case ring::WriteStatus::kTooLarge:
      case ring::WriteStatus::kCorrupt:
        break;
    }
    return fail(kExitRingError);
  }

  Step write_batch() {
    std::uint32_t copied = 0;
    while (copied < options_.write_batch_packets && sent_ < options_.packets) {
      const ring::ReserveResult reserved = writer_.reserve(packet_bytes_);
      if (reserved.status == ring::WriteStatus::kNotEnoughSpace) {
        break;
      }
      if (reserved.status != ring::WriteStatus::kOk) {
        return fail(kExitRingError);
      }
      stamp();
      writer_.copy(reserved.reservation, packet_);
      sent_one();
      ++copied;
    }
    // Publish what we have before any wait: the consumer can only free space
    // it has seen. decide_signal() is owed once per non-empty publish.
    if (writer_.publish() > 0 && writer_.decide_signal() && signal_consumer() == Step::kFailed) {
      return Step::kFailed;
    }
    return copied > 0 ? Step::kProgress : Step::kBlocked;
  }

  int wait_for_space() {
    switch (writer_.prepare_to_wait(pending_request_bytes_)) {
      case ring::WaitDecision::kRetryNow:
        return kExitOk;
      case ring::WaitDecision::kWaitForSignal:
        break;
      case ring::WaitDecision::kMustPoll:
      case ring::WaitDecision::kCorrupt:
        return kExitRingError;
    }
    pending_set_ = true;
    ++waits_;
    switch (space_ready_.wait(options_.wait_timeout_ms)) {
      case WaitOutcome::kSignalled:
        return kExitOk;
      case WaitOutcome::kTimedOut:
        return kExitTimedOutWaitingForSpace;
      case WaitOutcome::kPeerGone:
        return kExitConsumerGone;
    }
    return kExitConsumerGone;
  }

  ring::RingWriter writer_;
  SignalPipe& data_ready_;
  SignalPipe& space_ready_;
  const RingStreamOptions& options_;
  std::vector<std::byte> payload_;
  ring::OutgoingPacket packet_;
  std::uint32_t packet_bytes_ = 0;
  std::uint32_t pending_request_bytes_ = 0;  // passed to prepare_to_wait()
  std::uint64_t sent_ = 0;
  std::uint64_t waits_ = 0;
  bool pending_set_ = false;
  int failure_ = kExitOk;
};

int producer_main(const std::string& segment_name, const RingStreamOptions& options,
                  SignalPipe& data_ready, SignalPipe& space_ready) {
  pin_producer();
  data_ready.close_read_end();
  space_ready.close_write_end();
  std::optional<shm::SharedSegment> segment;
  try {
    segment.emplace(shm::SharedSegment::open(segment_name));
  } catch (const std::exception&) {
    return kExitSetupFailed;
  }
  shm::SharedRingMemory memory(*segment, kRingOffsetBytes, ring_region_bytes(options));
  if (!data_ready.signal()) {  // "attached"
    return kExitSignalFailed;
  }
  Producer producer(memory, data_ready, space_ready, options);
  return producer.run(*stats_in(*segment));
}

}  // namespace

std::uint32_t ring_bytes_per_packet(std::uint32_t payload_bytes) {
  return ring::ring_bytes_for_packet(ring::kPacketDescriptorBytes + (payload_bytes + 7) / 8 * 8);
}

// ---------------------------------------------------------------------------
// Consumer (this process)

struct RingStream::State {
  explicit State(const RingStreamOptions& stream_options)
      : options(stream_options),
        segment(shm::SharedSegment::create(shm::make_unique_segment_name("bench"),
                                           kRingOffsetBytes + ring_region_bytes(stream_options))),
        memory(segment, kRingOffsetBytes, ring_region_bytes(stream_options)) {
    ring::initialize_ring(memory);
  }

  RingStreamOptions options;
  shm::SharedSegment segment;
  shm::SharedRingMemory memory;
  SignalPipe data_ready;   // producer -> consumer
  SignalPipe space_ready;  // consumer -> producer (and the "go")
  std::optional<ChildProcess> child;
  std::optional<ring::RingReader> reader;
  std::uint64_t received = 0;
  std::uint64_t consumer_waits = 0;
};

RingStream::RingStream(const RingStreamOptions& options)
    : state_(std::make_unique<State>(options)) {
  State& s = *state_;
  const std::string name = s.segment.name();
  s.child.emplace(ChildProcess::fork_and_run(
      [&s, &name] { return producer_main(name, s.options, s.data_ready, s.space_ready); }));
  s.data_ready.close_write_end();
  if (s.data_ready.wait(10'000) != WaitOutcome::kSignalled) {
    throw std::runtime_error("ring stream producer did not attach");
  }
  shm::remove_segment(name);
  s.reader.emplace(s.memory, ring::kPacketDescriptorBytes + (options.payload_bytes + 7) / 8 * 8);
}

RingStream::~RingStream() = default;

bool RingStream::consume() {
  State& s = *state_;
  ring::RingReader& reader = *s.reader;
  const RingStreamOptions& options = s.options;
  const std::uint32_t packet_ring_bytes = ring_bytes_per_packet(options.payload_bytes);
  std::uint32_t freed = 0;

  const auto commit = [&] {
    freed = 0;
    reader.publish();
    return !reader.decide_signal() || s.space_ready.signal();
  };
  // Reads until the ring is empty and stays empty for spin_polls polls.
  const auto drain = [&]() -> bool {
    std::uint32_t spins = 0;
    while (s.received < options.packets) {
      const ring::ReadResult result = reader.next();
      if (result.status == ring::ReadStatus::kPacket) {
        std::uint64_t sequence = 0;
        std::memcpy(&sequence, result.packet.payload().data(), sizeof(sequence));
        if (sequence != s.received) {
          error_ = "packet " + std::to_string(s.received) + " carries sequence " +
                   std::to_string(sequence);
          return false;
        }
        ++s.received;
        spins = 0;
        freed += packet_ring_bytes;
        if (freed >= options.publish_every_bytes && !commit()) {
          error_ = "cannot signal the producer";
          return false;
        }
        continue;
      }
      if (result.status == ring::ReadStatus::kCorrupt) {
        error_ = std::string("ring corrupt: ") + ring::corrupt_reason_name(result.reason);
        return false;
      }
      if (!commit()) {
        error_ = "cannot signal the producer";
        return false;
      }
      if (spins >= options.spin_polls) {
        break;
      }
      ++spins;
      relax();
    }
    return commit();
  };

  if (!s.space_ready.signal()) {  // "go"
    error_ = "cannot start the producer";
    return false;
  }
  while (s.received < options.packets) {
    reader.begin_read();
    const bool ok = drain();
    const bool more = reader.end_read();
    if (!ok) {
      return false;
    }
    if (more || s.received == options.packets) {
      continue;
    }
    ++s.consumer_waits;
    const WaitOutcome outcome = s.data_ready.wait(options.wait_timeout_ms);
    if (outcome == WaitOutcome::kTimedOut) {
      error_ = "consumer timed out waiting for the producer's signal after " +
               std::to_string(s.received) + " packets (lost wakeup)";
      return false;
    }
    if (outcome == WaitOutcome::kPeerGone && reader.end_read() == false) {
      error_ = "producer exited after " + std::to_string(s.received) + " packets";
      return false;
    }
  }
  return true;
}

bool RingStream::finish(RingStreamStats* stats) {
  State& s = *state_;
  std::optional<int> status = s.child->wait_for(error_.empty() ? kChildExitTimeoutMs : 0);
  if (!status) {
    status = s.child->kill_and_reap();
  }
  const ProducerStats* producer = stats_in(s.segment);
  stats->packets = s.received;
  stats->payload_bytes = s.received * s.options.payload_bytes;
  std::memcpy(&stats->writer, &producer->writer, sizeof(stats->writer));
  stats->producer_waits = producer->waits;
  stats->reader = s.reader->counters();
  stats->consumer_waits = s.consumer_waits;
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != kExitOk) {
    if (error_.empty()) {
      error_ = "producer " + shm::harness::describe_wait_status(*status);
    }
    if (WIFEXITED(*status)) {
      error_ += std::string(" (producer: ") + exit_name(WEXITSTATUS(*status)) + ")";
    }
    return false;
  }
  return error_.empty();
}

}  // namespace vmbus::bench
