#include "stream_harness.h"

#include <atomic>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <vector>

#include "vmbus/shm/segment.h"

#include "child_process.h"
#include "signal_pipe.h"

namespace vmbus::shm::harness {
namespace {

using Word = std::atomic_ref<std::uint32_t>;

// How long the parent waits for the child to attach and, at the end, to exit
// by itself before it kills it.
constexpr int kChildAttachTimeoutMs = 10'000;
constexpr int kChildExitTimeoutMs = 5'000;
// The watchdog test: how often the consumer looks at the producer's phase
// while waiting for it to block, and how many times.
constexpr int kBlockedPollIntervalMs = 20;
constexpr int kBlockedPollAttempts = 250;

constexpr std::uint32_t round_up_to_8(std::uint32_t bytes) {
  return (bytes + 7) / 8 * 8;
}

ProducerReport* report_in(const SharedSegment& segment) {
  // The report page is our own layout in our own segment, zero-filled by
  // SharedSegment::create(); ProducerReport is trivially copyable.
  return reinterpret_cast<ProducerReport*>(segment.bytes().data() + kReportOffsetBytes);
}

void set_phase(ProducerReport& report, ProducerPhase phase) {
  // Release: a parent that sees kFinished also sees the counters stored before.
  Word(report.phase).store(static_cast<std::uint32_t>(phase), std::memory_order_release);
}

ProducerPhase phase_of(ProducerReport& report) {
  return static_cast<ProducerPhase>(Word(report.phase).load(std::memory_order_acquire));
}

std::uint32_t ring_region_bytes(const StreamConfig& config) {
  return ring::kHvPageSizeBytes + config.ring_data_bytes;
}

// ---------------------------------------------------------------------------
// Producer (the child)

enum class Step : std::uint8_t { kProgress, kBlocked, kFailed };

class StreamProducer {
 public:
  StreamProducer(ring::RingMemory& memory, SignalPipe& data_ready, SignalPipe& space_ready,
                 const StreamConfig& config, ProducerReport& report)
      : writer_(memory),
        data_ready_(data_ready),
        space_ready_(space_ready),
        config_(config),
        report_(report),
        shapes_(config.seed),
        content_rng_(config.seed ^ 0xc0ffee),
        batch_rng_(config.seed ^ 0xba7c4),
        payload_(kPayloadHeaderBytes + kBodyBytesMax),
        signals_before_(data_ready.signals_sent()) {}

  int run() {
    set_phase(report_, ProducerPhase::kRunning);
    while (sent_ < config_.packets) {
      const auto batch = static_cast<std::uint32_t>(1 + batch_rng_() % config_.max_batch_packets);
      Step step = batch == 1 ? write_one() : write_batch(batch);
      if (step == Step::kBlocked) {
        if (woken_) {
          ++report_.wakeups_without_space;
        }
        step = wait_for_space();
      } else {
        woken_ = false;
      }
      if (step == Step::kFailed) {
        return finish(exit_status_);
      }
    }
    return finish(kProducerExitOk);
  }

 private:
  // Draws packet `sent_`'s shape and body, once; a packet that did not fit
  // is retried as it is.
  void ensure_built() {
    if (built_) {
      return;
    }
    const PacketShape shape = shapes_.next();
    const std::uint64_t sequence = sent_;
    const std::span<std::byte> payload = std::span(payload_).first(shape.payload_bytes);
    const std::span<std::byte> body = payload.subspan(kPayloadHeaderBytes);
    for (std::size_t at = 0; at < body.size(); at += 8) {
      const std::uint64_t word = content_rng_();
      std::memcpy(body.data() + at, &word, std::min<std::size_t>(8, body.size() - at));
    }
    const std::uint64_t sum = checksum(body);
    std::memcpy(payload.data(), &sequence, 8);
    std::memcpy(payload.data() + 8, &sum, 8);
    const std::uint64_t extension = sequence ^ kExtensionTag;
    std::memcpy(extension_.data(), &extension, 8);

    packet_.type = shape.type;
    packet_.flags = shape.flags;
    packet_.trans_id = shape.trans_id;
    packet_.offset8 = shape.offset8;
    packet_.header_extension = shape.offset8 > ring::kMinOffset8
                                   ? std::span<const std::byte>(extension_)
                                   : std::span<const std::byte>();
    packet_.payload = payload;
    packet_bytes_ = ring::packet_bytes_for(packet_);
    built_ = true;
  }

  void packet_sent() {
    ++sent_;
    built_ = false;
    if (pending_send_size_set_) {
      writer_.clear_pending_send_size();
      pending_send_size_set_ = false;
    }
  }

  Step fail(int exit_status) {
    exit_status_ = exit_status;
    report_.at_failure = take_snapshot(writer_.view());
    return Step::kFailed;
  }

  Step signal_consumer() {
    if (config_.producer_drops_data_signals) {
      ++report_.signals_dropped;
      return Step::kProgress;
    }
    return data_ready_.signal() ? Step::kProgress : fail(kProducerExitSignalFailed);
  }

  Step write_one() {
    ensure_built();
    bool signal = false;
    switch (writer_.write(packet_, &signal)) {
      case ring::WriteStatus::kOk:
        packet_sent();
        return signal ? signal_consumer() : Step::kProgress;
      case ring::WriteStatus::kNotEnoughSpace:
        return Step::kBlocked;
      case ring::WriteStatus::kTooLarge:
      case ring::WriteStatus::kCorrupt:
        break;
    }
    return fail(kProducerExitRingCorrupt);
  }

  // Several reserve+copy, then one publish and one signal decision. A full
  // ring ends the batch early; what was copied is published first, or the
  // consumer could never free the space we are about to wait for.
  Step write_batch(std::uint32_t batch) {
    Step step = Step::kProgress;
    for (std::uint32_t i = 0; i < batch && sent_ < config_.packets; ++i) {
      ensure_built();
      const ring::ReserveResult reserved = writer_.reserve(packet_bytes_);
      if (reserved.status == ring::WriteStatus::kNotEnoughSpace) {
        step = Step::kBlocked;
        break;
      }
      if (reserved.status != ring::WriteStatus::kOk) {
        return fail(kProducerExitRingCorrupt);
      }
      writer_.copy(reserved.reservation, packet_);
      packet_sent();
    }
    // decide_signal() is owed once per non-empty publish.
    if (writer_.publish() > 0 && writer_.decide_signal() && signal_consumer() == Step::kFailed) {
      return Step::kFailed;
    }
    return step;
  }

  Step wait_for_space() {
    switch (writer_.prepare_to_wait(packet_bytes_)) {
      case ring::WaitDecision::kRetryNow:
        ++report_.retries_now;
        return Step::kProgress;
      case ring::WaitDecision::kWaitForSignal:
        break;
      case ring::WaitDecision::kMustPoll:
      case ring::WaitDecision::kCorrupt:
        return fail(kProducerExitRingCorrupt);
    }
    pending_send_size_set_ = true;
    ++report_.waits;
    // Keep the report current while blocked: a producer the parent has to
    // kill never reaches finish().
    report_.writer = writer_.counters();
    set_phase(report_, ProducerPhase::kWaitingForSpace);
    const WaitOutcome outcome = space_ready_.wait(config_.producer_wait_timeout_ms);
    set_phase(report_, ProducerPhase::kRunning);
    switch (outcome) {
      case WaitOutcome::kSignalled:
        woken_ = true;
        return Step::kProgress;
      case WaitOutcome::kTimedOut:
        return fail(kProducerExitTimedOutWaitingForSpace);
      case WaitOutcome::kPeerGone:
        return fail(kProducerExitConsumerGone);
    }
    return fail(kProducerExitConsumerGone);
  }

  int finish(int exit_status) {
    report_.exit_status = static_cast<std::uint32_t>(exit_status);
    report_.writer = writer_.counters();
    // Not counting the "attached" byte sent before the stream began.
    report_.signals_sent = data_ready_.signals_sent() - signals_before_;
    set_phase(report_, ProducerPhase::kFinished);
    return exit_status;
  }

  ring::RingWriter writer_;
  SignalPipe& data_ready_;
  SignalPipe& space_ready_;
  const StreamConfig& config_;
  ProducerReport& report_;
  PacketShapes shapes_;
  std::mt19937_64 content_rng_;
  std::mt19937_64 batch_rng_;
  std::vector<std::byte> payload_;
  std::uint64_t signals_before_;
  std::array<std::byte, kExtensionBytes> extension_{};
  ring::OutgoingPacket packet_;
  std::uint32_t packet_bytes_ = 0;
  bool built_ = false;
  std::uint64_t sent_ = 0;
  bool pending_send_size_set_ = false;
  bool woken_ = false;
  int exit_status_ = kProducerExitOk;
};

int producer_main(const std::string& segment_name, const StreamConfig& config,
                  SignalPipe& data_ready, SignalPipe& space_ready) {
  data_ready.close_read_end();
  // Without our copy of the write end, a consumer that dies shows up as
  // kPeerGone instead of an endless wait.
  space_ready.close_write_end();
  std::optional<SharedSegment> segment;
  try {
    segment.emplace(SharedSegment::open(segment_name));
  } catch (const std::exception&) {
    return kProducerExitSetupFailed;
  }
  SharedRingMemory memory(*segment, kRingOffsetBytes, ring_region_bytes(config));
  // "Attached": the parent removes the segment name once it sees this byte.
  if (!data_ready.signal()) {
    return kProducerExitSignalFailed;
  }
  StreamProducer producer(memory, data_ready, space_ready, config, *report_in(*segment));
  return producer.run();
}

// ---------------------------------------------------------------------------
// Consumer (the parent)

class StreamConsumer {
 public:
  StreamConsumer(ring::RingMemory& memory, SignalPipe& data_ready, SignalPipe& space_ready,
                 const StreamConfig& config, ProducerReport& producer_report)
      : reader_(memory, round_up_to_8(kMaxPacketBytes)),
        data_ready_(data_ready),
        space_ready_(space_ready),
        config_(config),
        producer_report_(producer_report),
        shapes_(config.seed) {}

  ConsumerReport run() {
    if (config_.consumer_drops_space_signals && !wait_until_producer_blocked()) {
      return finish();
    }
    while (report_.packets_verified < config_.packets) {
      reader_.begin_read();
      const bool drained = drain();
      commit();
      const bool more = reader_.end_read();
      if (!drained) {
        return finish();
      }
      if (more || report_.packets_verified == config_.packets) {
        continue;
      }
      ++report_.waits;
      const WaitOutcome outcome = data_ready_.wait(config_.consumer_wait_timeout_ms);
      if (outcome == WaitOutcome::kTimedOut) {
        report_.timed_out = true;
        fail("consumer timed out after " + std::to_string(config_.consumer_wait_timeout_ms) +
             " ms waiting for the producer's signal (lost wakeup)");
        return finish();
      }
      if (outcome == WaitOutcome::kPeerGone) {
        // It may have published its last packets and exited without a signal
        // only if it failed; drain once more so the report says what arrived.
        reader_.begin_read();
        drain();
        commit();
        reader_.end_read();
        if (report_.packets_verified < config_.packets) {
          report_.producer_gone = true;
          fail("producer exited after " + std::to_string(report_.packets_verified) + " of " +
               std::to_string(config_.packets) + " packets");
          return finish();
        }
      }
    }
    const ring::ReadResult extra = reader_.next();
    if (extra.status != ring::ReadStatus::kEmpty) {
      fail(std::string("ring not empty after the last packet: next() says ") +
           ring::read_status_name(extra.status));
    }
    return finish();
  }

 private:
  // Reads until the ring is empty (true) or a packet is bad (false).
  bool drain() {
    while (report_.packets_verified < config_.packets) {
      const ring::ReadResult result = reader_.next();
      if (result.status == ring::ReadStatus::kEmpty) {
        return true;
      }
      if (result.status == ring::ReadStatus::kCorrupt) {
        fail(std::string("ring corrupt at offset ") + std::to_string(result.offset) + ": " +
             ring::corrupt_reason_name(result.reason));
        return false;
      }
      const std::string problem = verify(result.packet);
      if (!problem.empty()) {
        fail("packet " + std::to_string(report_.packets_verified) + ": " + problem);
        return false;
      }
      ++report_.packets_verified;
      // Free space in the middle of a long drain too, so a blocked producer
      // can refill while we keep reading.
      if (report_.packets_verified % config_.consumer_publish_every_packets == 0) {
        commit();
      }
    }
    return true;
  }

  std::string verify(const ring::PacketView& packet) {
    const PacketShape shape = shapes_.next();
    const std::uint64_t sequence = report_.packets_verified;
    const ring::PacketDescriptor& d = packet.descriptor;
    if (d.type != shape.type || d.flags != shape.flags || d.trans_id != shape.trans_id ||
        d.offset8 != shape.offset8) {
      std::ostringstream problem;
      problem << "descriptor type=" << d.type << " flags=" << d.flags << " trans_id=" << d.trans_id
              << " offset8=" << d.offset8 << ", expected type=" << shape.type
              << " flags=" << shape.flags << " trans_id=" << shape.trans_id
              << " offset8=" << shape.offset8;
      return problem.str();
    }
    if (shape.offset8 > ring::kMinOffset8) {
      std::uint64_t extension = 0;
      std::memcpy(&extension, packet.bytes.data() + ring::kPacketDescriptorBytes, 8);
      if (extension != (sequence ^ kExtensionTag)) {
        return "header extension does not carry the sequence number";
      }
    }
    const std::span<const std::byte> payload = packet.payload();
    if (payload.size() != round_up_to_8(shape.payload_bytes)) {
      return "payload of " + std::to_string(payload.size()) + " bytes (padded), expected " +
             std::to_string(round_up_to_8(shape.payload_bytes));
    }
    std::uint64_t got_sequence = 0;
    std::uint64_t got_sum = 0;
    std::memcpy(&got_sequence, payload.data(), 8);
    std::memcpy(&got_sum, payload.data() + 8, 8);
    if (got_sequence != sequence) {
      return "sequence number " + std::to_string(got_sequence) + ", expected " +
             std::to_string(sequence);
    }
    const std::span<const std::byte> body =
        payload.subspan(kPayloadHeaderBytes, shape.payload_bytes - kPayloadHeaderBytes);
    if (checksum(body) != got_sum) {
      return "checksum mismatch over " + std::to_string(body.size()) + " body bytes";
    }
    for (const std::byte padding : payload.subspan(shape.payload_bytes)) {
      if (padding != std::byte{0}) {
        return "non-zero padding after the payload";
      }
    }
    return {};
  }

  void commit() {
    reader_.publish();
    if (!reader_.decide_signal()) {
      return;
    }
    if (config_.consumer_drops_space_signals) {
      ++report_.signals_dropped;
      return;
    }
    if (!space_ready_.signal()) {
      fail("cannot signal the producer");
    }
  }

  // The watchdog test starts draining only once the producer is blocked on
  // a full ring with pending_send_sz set; from then on only our signal (which
  // we drop) could wake it, so its timeout is certain, not a matter of timing.
  bool wait_until_producer_blocked() {
    for (int attempt = 0; attempt < kBlockedPollAttempts; ++attempt) {
      if (phase_of(producer_report_) == ProducerPhase::kWaitingForSpace) {
        return true;
      }
      if (data_ready_.wait(kBlockedPollIntervalMs) == WaitOutcome::kPeerGone) {
        report_.producer_gone = true;
        fail("producer exited before it ever blocked");
        return false;
      }
    }
    fail("producer never blocked on a full ring");
    return false;
  }

  void fail(const std::string& failure) {
    if (report_.failure.empty()) {
      report_.failure = failure;
      report_.at_failure = take_snapshot(reader_.view());
    }
  }

  ConsumerReport finish() {
    report_.reader = reader_.counters();
    report_.signals_sent = space_ready_.signals_sent();
    return report_;
  }

  ring::RingReader reader_;
  SignalPipe& data_ready_;
  SignalPipe& space_ready_;
  const StreamConfig& config_;
  ProducerReport& producer_report_;
  PacketShapes shapes_;
  ConsumerReport report_;
};

}  // namespace

std::size_t segment_bytes_for(std::uint32_t ring_data_bytes) {
  return kRingOffsetBytes + ring::kHvPageSizeBytes + ring_data_bytes;
}

RingSnapshot take_snapshot(const ring::RingView& view) {
  ring::RingControlPage& control = view.control();
  RingSnapshot snapshot;
  snapshot.write_index = Word(control.write_index).load(std::memory_order_relaxed);
  snapshot.read_index = Word(control.read_index).load(std::memory_order_relaxed);
  snapshot.interrupt_mask = Word(control.interrupt_mask).load(std::memory_order_relaxed);
  snapshot.pending_send_sz = Word(control.pending_send_sz).load(std::memory_order_relaxed);
  return snapshot;
}

std::string describe(const RingSnapshot& snapshot, std::uint32_t data_size_bytes) {
  std::ostringstream text;
  text << "write_index=" << snapshot.write_index << " read_index=" << snapshot.read_index;
  if (snapshot.write_index < data_size_bytes && snapshot.read_index < data_size_bytes) {
    const std::uint32_t to_read =
        ring::bytes_to_read(snapshot.write_index, snapshot.read_index, data_size_bytes);
    text << " (" << to_read << " bytes to read, " << data_size_bytes - to_read << " free)";
  }
  text << " interrupt_mask=" << snapshot.interrupt_mask
       << " pending_send_sz=" << snapshot.pending_send_sz;
  return text.str();
}

PacketShape PacketShapes::next() {
  const std::uint64_t bits = rng_();
  PacketShape shape;
  shape.type = static_cast<std::uint16_t>((bits & 1) != 0 ? ring::PacketType::kDataInband
                                                          : ring::PacketType::kComp);
  shape.flags = (bits & 2) != 0 ? ring::kPacketFlagCompletionRequested : 0;
  shape.offset8 = (bits & 0xc) == 0 ? ring::kMinOffset8 + 1 : ring::kMinOffset8;
  shape.trans_id = rng_();
  shape.payload_bytes =
      kPayloadHeaderBytes + static_cast<std::uint32_t>(rng_() % (kBodyBytesMax + 1));
  return shape;
}

std::uint64_t checksum(std::span<const std::byte> bytes) {
  std::uint64_t hash = 0x9e3779b97f4a7c15ULL ^ bytes.size();
  const auto mix = [&hash](std::uint64_t word) {
    hash = (hash ^ word) * 0xff51afd7ed558ccdULL;
    hash ^= hash >> 29;
  };
  std::size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + at, 8);
    mix(word);
  }
  if (at < bytes.size()) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, bytes.data() + at, bytes.size() - at);
    mix(tail);
  }
  return hash;
}

const char* producer_exit_name(int exit_status) {
  switch (exit_status) {
    case kProducerExitOk:
      return "ok";
    case kProducerExitTimedOutWaitingForSpace:
      return "timed_out_waiting_for_space";
    case kProducerExitConsumerGone:
      return "consumer_gone";
    case kProducerExitRingCorrupt:
      return "ring_corrupt";
    case kProducerExitSignalFailed:
      return "signal_failed";
    case kProducerExitSetupFailed:
      return "setup_failed";
    case ChildProcess::kExitUncaughtException:
      return "uncaught_exception";
    default:
      return "unknown_exit_status";
  }
}

StreamOutcome run_two_process_stream(const StreamConfig& config) {
  StreamOutcome outcome;
  outcome.ring_data_bytes = config.ring_data_bytes;
  outcome.segment_name = make_unique_segment_name("stream");
  SharedSegment segment =
      SharedSegment::create(outcome.segment_name, segment_bytes_for(config.ring_data_bytes));
  SharedRingMemory memory(segment, kRingOffsetBytes, ring_region_bytes(config));
  ring::initialize_ring(memory);
  SignalPipe data_ready;   // producer -> consumer: "the ring went non-empty"
  SignalPipe space_ready;  // consumer -> producer: "pending_send_sz bytes are free"

  ChildProcess child = ChildProcess::fork_and_run(
      [&] { return producer_main(outcome.segment_name, config, data_ready, space_ready); });
  // Our copy of the write end would hide the producer's exit from wait().
  data_ready.close_write_end();
  // space_ready's read end stays open here: a signal to a producer that has
  // already exited then fills the pipe instead of raising SIGPIPE.

  ProducerReport& report = *report_in(segment);
  if (data_ready.wait(kChildAttachTimeoutMs) != WaitOutcome::kSignalled) {
    outcome.consumer.failure = "producer did not attach to the segment";
  } else {
    // Both sides have it mapped: the name has done its job. Removing it now
    // means not even a SIGKILLed test leaves it behind in /dev/shm.
    remove_segment(outcome.segment_name);
    outcome.consumer = StreamConsumer(memory, data_ready, space_ready, config, report).run();
  }

  // Reap on every path: a healthy or failed producer exits by itself; one
  // that the consumer gave up on (timeout, bad packet) is killed.
  std::optional<int> status;
  if (outcome.consumer.failure.empty() || outcome.consumer.producer_gone) {
    status = child.wait_for(kChildExitTimeoutMs);
  }
  if (!status) {
    status = child.kill_and_reap();
    outcome.child_killed = true;
  }
  outcome.child_wait_status = *status;
  std::memcpy(&outcome.producer, &report, sizeof(report));
  outcome.at_end = take_snapshot(ring::RingView(memory));
  try {
    SharedSegment::open(outcome.segment_name);
  } catch (const std::runtime_error&) {
    outcome.segment_name_removed = true;
  }
  return outcome;
}

std::string describe(const StreamOutcome& outcome) {
  const ProducerReport& producer = outcome.producer;
  const ConsumerReport& consumer = outcome.consumer;
  const std::uint32_t data_size = outcome.ring_data_bytes;
  std::ostringstream text;
  text << "segment " << outcome.segment_name << ", ring of " << data_size << " data bytes\n";
  text << "consumer: " << (consumer.failure.empty() ? "ok" : consumer.failure) << "\n";
  if (!consumer.failure.empty()) {
    text << "  ring when the consumer failed: " << describe(consumer.at_failure, data_size) << "\n";
  }
  text << "  packets_verified=" << consumer.packets_verified
       << " signals_sent=" << consumer.signals_sent
       << " signals_dropped=" << consumer.signals_dropped << " waits=" << consumer.waits
       << " reader.signals=" << consumer.reader.signals
       << " reader.publishes=" << consumer.reader.publishes
       << " end_read_races=" << consumer.reader.end_read_races << "\n";
  const int status = outcome.child_wait_status;
  text << "producer: " << describe_wait_status(status);
  if (WIFEXITED(status)) {
    text << " (" << producer_exit_name(WEXITSTATUS(status)) << ")";
  }
  text << (outcome.child_killed ? ", killed by the parent" : "") << "\n";
  if (WIFEXITED(status) && WEXITSTATUS(status) != kProducerExitOk) {
    text << "  ring when the producer failed: " << describe(producer.at_failure, data_size) << "\n";
  }
  text << "  packets=" << producer.writer.packets << " publishes=" << producer.writer.publishes
       << " signals=" << producer.writer.signals
       << " signals_masked=" << producer.writer.signals_masked
       << " full_events=" << producer.writer.full_events
       << " pending_send_sz_sets=" << producer.writer.pending_send_sz_sets
       << " waits=" << producer.waits << " retries_now=" << producer.retries_now
       << " wakeups_without_space=" << producer.wakeups_without_space
       << " signals_dropped=" << producer.signals_dropped << "\n";
  text << "ring at the end: " << describe(outcome.at_end, data_size);
  return text.str();
}

}  // namespace vmbus::shm::harness
