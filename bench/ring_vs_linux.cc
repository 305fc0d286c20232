// ring_vs_linux: the ring library's CPU cost per packet, one thread writing
// packets and reading them back, against a baseline that follows the
// algorithm of Linux's userspace VMBus ring (linux_style_ring.h) on the same
// wire format.
//
//   ring_vs_linux [PACKETS] [REPETITIONS]
//
// For 64 B, 1 KiB and 4 KiB payloads, two ways:
//   single   write one packet, publish, decide the signal; read it, publish,
//            decide the signal (the library); send one, receive one (the
//            baseline, which publishes every packet and has no signals)
//   batch16  16 packets written, one publish and signal decision, 16 read,
//            one publish and decision (the library); 16 sends, 16 receives
//            (the baseline)
// Each repetition times PACKETS (default 2,000,000) packets of the library
// and then of the baseline in thread CPU time (CLOCK_THREAD_CPUTIME_ID: a
// preemption by another tenant does not count), so the two alternate;
// printed are the medians in ns per packet and the median of the
// per-repetition ratios library / baseline (target <= 1.0; reported, not
// asserted). Every packet read is checked (transaction id and length), so
// a broken ring fails the program (exit 1) instead of being fast.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

#include "bench_util.h"
#include "linux_style_ring.h"

namespace {

using namespace vmbus;

constexpr std::uint32_t kRingDataBytes = 256 * 1024;
constexpr std::uint64_t kBatch = 16;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "ring_vs_linux: %s\n", what.c_str());
  std::exit(1);
}

// Nanoseconds per packet of the library.
double library_ns(std::uint32_t payload_bytes, std::uint64_t packets, std::uint64_t batch) {
  ring::FlatRingMemory memory(kRingDataBytes);
  ring::initialize_ring(memory);
  ring::RingWriter writer(memory);
  ring::RingReader reader(memory, ring::kPacketDescriptorBytes + (payload_bytes + 7) / 8 * 8);
  const std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  ring::OutgoingPacket packet;
  packet.payload = payload;
  const std::uint32_t packet_bytes = ring::packet_bytes_for(packet);
  std::uint64_t signals = 0;
  const double start = bench::thread_seconds();
  for (std::uint64_t sent = 0; sent < packets; sent += batch) {
    for (std::uint64_t i = 0; i < batch; ++i) {
      const ring::ReserveResult reserved = writer.reserve(packet_bytes);
      if (reserved.status != ring::WriteStatus::kOk) {
        fail("library: reserve failed");
      }
      packet.trans_id = sent + i;
      writer.copy(reserved.reservation, packet);
    }
    writer.publish();
    signals += writer.decide_signal() ? 1u : 0u;
    for (std::uint64_t i = 0; i < batch; ++i) {
      const ring::ReadResult result = reader.next();
      if (result.status != ring::ReadStatus::kPacket ||
          result.packet.descriptor.trans_id != sent + i ||
          result.packet.payload().size() < payload_bytes) {
        fail("library: packet " + std::to_string(sent + i) + " not read back");
      }
    }
    reader.publish();
    signals += reader.decide_signal() ? 1u : 0u;
  }
  const double seconds = bench::thread_seconds() - start;
  if (signals > packets) {
    fail("library: more signals than packets");
  }
  return seconds * 1e9 / static_cast<double>(packets);
}

// Nanoseconds per packet of the baseline.
double baseline_ns(std::uint32_t payload_bytes, std::uint64_t packets, std::uint64_t batch) {
  ring::FlatRingMemory memory(kRingDataBytes);
  ring::initialize_ring(memory);
  bench::LinuxStyleRing ring(memory.region());
  const std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  std::vector<std::byte> out(ring::kPacketDescriptorBytes + (payload_bytes + 7) / 8 * 8);
  const double start = bench::thread_seconds();
  for (std::uint64_t sent = 0; sent < packets; sent += batch) {
    for (std::uint64_t i = 0; i < batch; ++i) {
      if (!ring.send(payload, sent + i)) {
        fail("baseline: send failed");
      }
    }
    for (std::uint64_t i = 0; i < batch; ++i) {
      ring::PacketDescriptor descriptor;
      if (ring.receive(out) != static_cast<std::int64_t>(out.size()) ||
          (std::memcpy(&descriptor, out.data(), sizeof(descriptor)), descriptor.trans_id) !=
              sent + i) {
        fail("baseline: packet " + std::to_string(sent + i) + " not read back");
      }
    }
  }
  const double seconds = bench::thread_seconds() - start;
  return seconds * 1e9 / static_cast<double>(packets);
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t packets =
      bench::positive_argument("ring_vs_linux", argc > 1 ? argv[1] : nullptr, 2'000'000) / kBatch *
      kBatch;
  const std::uint64_t repetitions =
      bench::positive_argument("ring_vs_linux", argc > 2 ? argv[2] : nullptr, 9);
  std::printf(
      "one thread, write + read per packet; medians of %llu interleaved repetitions of "
      "%llu packets, thread CPU time\n",
      static_cast<unsigned long long>(repetitions), static_cast<unsigned long long>(packets));
  std::printf("%-8s %8s %14s %14s %18s\n", "mode", "payload", "library ns", "baseline ns",
              "library/baseline");
  for (const std::uint64_t batch : {std::uint64_t{1}, kBatch}) {
    for (const std::uint32_t payload_bytes : {64u, 1024u, 4096u}) {
      std::vector<double> ours;
      std::vector<double> theirs;
      std::vector<double> ratios;
      for (std::uint64_t r = 0; r < repetitions; ++r) {
        ours.push_back(library_ns(payload_bytes, packets, batch));
        theirs.push_back(baseline_ns(payload_bytes, packets, batch));
        ratios.push_back(ours.back() / theirs.back());
      }
      const double ratio = bench::median(ratios);
      std::printf("%-8s %6u B %14.1f %14.1f %17.2fx  target <= 1.00  %s\n",
                  batch == 1 ? "single" : "batch16", payload_bytes, bench::median(ours),
                  bench::median(theirs), ratio, ratio <= 1.0 ? "PASS" : "MISS");
    }
  }
  return 0;
}
