// The off-the-shelf baseline: boost::lockfree::spsc_queue across two processes.
//
// A SpscStream<kPayloadBytes> placement-constructs a fixed-capacity
// spsc_queue of kPayloadBytes-sized slots in an anonymous MAP_SHARED mapping
// (compile-time capacity keeps the storage inline, so the queue holds no
// pointers and works at the same address in parent and child), forks a
// producer that pushes `packets` slots, and pops them in this process. Both
// sides spin, yielding the CPU, while the queue is empty or full: there is no
// sleeping and therefore no signalling at all. The queue holds as many
// payload bytes as the ring it is compared with.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>

#include <boost/lockfree/spsc_queue.hpp>

#include "child_process.h"
#include "cpu_pinning.h"
#include "signal_pipe.h"

namespace vmbus::bench {

// Cache-line aligned, so that the producer's slot and the queue's storage
// never differ by a few bytes modulo 4096 (a 4K-aliasing slow path for large
// copies on this machine; see memcpy_ceiling in ring_bench.cc).
template <std::size_t kPayloadBytes>
struct alignas(64) Slot {
  static_assert(kPayloadBytes >= 8, "the first 8 bytes carry the sequence number");
  std::array<std::byte, kPayloadBytes> payload;
};

template <std::size_t kPayloadBytes, std::size_t kQueueBytes>
class SpscStream {
 public:
  // One slot is always kept free by spsc_queue, as one byte is by the ring.
  static constexpr std::size_t kCapacity = kQueueBytes / kPayloadBytes;
  using Queue =
      boost::lockfree::spsc_queue<Slot<kPayloadBytes>, boost::lockfree::capacity<kCapacity>>;

  // Maps and constructs the queue, forks the producer and waits until it is
  // ready. Throws std::runtime_error on failure.
  explicit SpscStream(std::uint64_t packets) : packets_(packets) {
    void* mapping =
        ::mmap(nullptr, sizeof(Queue), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
      throw std::runtime_error("mmap of the spsc_queue failed");
    }
    queue_ = new (mapping) Queue();
    child_.emplace(shm::harness::ChildProcess::fork_and_run([this] { return produce(); }));
    ready_.close_write_end();
    if (ready_.wait(10'000) != shm::harness::WaitOutcome::kSignalled) {
      throw std::runtime_error("spsc_queue producer did not start");
    }
  }
  SpscStream(const SpscStream&) = delete;
  SpscStream& operator=(const SpscStream&) = delete;

  ~SpscStream() {
    child_.reset();  // kills and reaps a producer that is still running
    queue_->~Queue();
    ::munmap(queue_, sizeof(Queue));
  }

  // Lets the producer go and pops every packet: the part to time.
  bool consume() {
    if (!go_.signal()) {
      error_ = "cannot start the producer";
      return false;
    }
    Slot<kPayloadBytes> slot;
    std::uint64_t empty_polls = 0;
    for (std::uint64_t received = 0; received < packets_;) {
      if (!queue_->pop(slot)) {
        // A dead producer would leave us spinning: look every ~64k polls.
        if (++empty_polls % 65536 == 0 && child_->wait_for(0)) {
          error_ = "producer exited after " + std::to_string(received) + " packets";
          return false;
        }
        ::sched_yield();
        continue;
      }
      std::uint64_t sequence = 0;
      std::memcpy(&sequence, slot.payload.data(), sizeof(sequence));
      if (sequence != received) {
        error_ =
            "packet " + std::to_string(received) + " carries sequence " + std::to_string(sequence);
        return false;
      }
      ++received;
    }
    return true;
  }

  bool finish() {
    const std::optional<int> status = child_->wait_for(5000);
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      if (error_.empty()) {
        error_ = "spsc_queue producer did not exit cleanly";
      }
      return false;
    }
    return error_.empty();
  }

  const std::string& error() const { return error_; }

 private:
  int produce() {
    pin_producer();
    ready_.close_read_end();
    go_.close_write_end();
    if (!ready_.signal() || go_.wait(10'000) != shm::harness::WaitOutcome::kSignalled) {
      return 1;
    }
    Slot<kPayloadBytes> slot;
    for (std::size_t i = 0; i < kPayloadBytes; ++i) {
      slot.payload[i] = static_cast<std::byte>(i * 131 + 7);
    }
    for (std::uint64_t sequence = 0; sequence < packets_; ++sequence) {
      std::memcpy(slot.payload.data(), &sequence, sizeof(sequence));
      while (!queue_->push(slot)) {
        ::sched_yield();
      }
    }
    return 0;
  }

  std::uint64_t packets_;
  Queue* queue_ = nullptr;
  shm::harness::SignalPipe ready_;  // producer -> consumer: mapped and waiting
  shm::harness::SignalPipe go_;     // consumer -> producer: start pushing
  std::optional<shm::harness::ChildProcess> child_;
  std::string error_;
};

}  // namespace vmbus::bench
