// ring_bench: the VMBus ring across two processes, against its baselines.
//
// Measured in one run, each with a fixed packet count, one iteration per
// repetition, real time, and aggregates over the repetitions:
//   ring_stream/<variant>/<payload>  producer in a forked child, consumer here,
//                                    one ring in a shared-memory segment,
//                                    signalling through pipes (RingStream);
//   spsc_queue/<payload>             boost::lockfree::spsc_queue of the same
//                                    payloads in shared memory, spinning;
//   memcpy/<payload>                 the same bytes copied in payload-sized
//                                    chunks through a ring-sized buffer, one
//                                    process: the ceiling.
// Variants: "plain" is the protocol as Linux drivers use it by default (one
// write() per packet, read_index published every 8 packets, a blocked writer
// asks for one packet, both sides sleep at once); "tuned" batches writes and
// read_index stores, asks for half the ring when blocked and polls the ring
// a while before sleeping. Both follow the signal rules exactly.
//
// After the benchmarks it prints the target ratios (PASS/MISS; reported, not
// asserted). Usual Google Benchmark flags apply (--benchmark_out=FILE
// --benchmark_out_format=json, --benchmark_filter=...,
// --benchmark_repetitions=N instead of the default 7); --quick runs one
// repetition of a tenth of the packets, for smoke tests.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <vector>

#include <benchmark/benchmark.h>

#include "cpu_pinning.h"
#include "ring_stream.h"
#include "spsc_stream.h"

namespace vmbus::bench {
namespace {

constexpr std::uint32_t kRingDataBytes = 256 * 1024;
constexpr int kRepetitions = 7;

struct PayloadCase {
  std::uint32_t payload_bytes;
  std::uint64_t packets;
};

// About 0.05 to 1 s per run on the reference machine; the whole program
// takes well under a minute.
constexpr std::array<PayloadCase, 3> kCases{{{64, 4'000'000}, {1024, 2'000'000}, {4096, 500'000}}};

std::uint64_t g_packet_divisor = 1;  // --quick: 10
bool g_repetitions_given = false;    // --benchmark_repetitions=N on the command line

RingStreamOptions plain_options(std::uint32_t payload_bytes, std::uint64_t packets) {
  RingStreamOptions options;
  options.payload_bytes = payload_bytes;
  options.packets = packets;
  options.ring_data_bytes = kRingDataBytes;
  options.write_batch_packets = 1;
  options.publish_every_bytes = 8 * ring_bytes_per_packet(payload_bytes);
  options.pending_send_bytes = 0;
  options.spin_polls = 0;
  return options;
}

// Batching only: ~16 KiB of packets per write_index store, read_index stored
// every ring/8 bytes freed, and a blocked producer asks for half the ring, so
// each sleep of either side covers many packets. Both still sleep at once.
RingStreamOptions batched_options(std::uint32_t payload_bytes, std::uint64_t packets) {
  RingStreamOptions options = plain_options(payload_bytes, packets);
  const std::uint32_t packet_ring_bytes = ring_bytes_per_packet(payload_bytes);
  options.write_batch_packets = std::max<std::uint32_t>(1, 16 * 1024 / packet_ring_bytes);
  options.publish_every_bytes = std::max(kRingDataBytes / 8, packet_ring_bytes);
  options.pending_send_bytes = kRingDataBytes / 2;
  return options;
}

// Batching, plus polling the ring (with sched_yield) up to 2000 times before
// sleeping: the consumer with interrupt_mask still set, the producer before
// it sets pending_send_sz, so the other side's decisions say "no signal".
RingStreamOptions tuned_options(std::uint32_t payload_bytes, std::uint64_t packets) {
  RingStreamOptions options = batched_options(payload_bytes, packets);
  options.spin_polls = 2000;
  return options;
}

double per_packet(std::uint64_t count, std::uint64_t packets) {
  return packets == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(packets);
}

// Involuntary context switches of this process and its reaped children: how
// often something else took a CPU from the benchmark. On a shared 2-CPU
// machine this is the first thing to look at when a repetition is slow.
class PreemptionCount {
 public:
  PreemptionCount() : start_(now()) {}
  double since_start() const { return static_cast<double>(now() - start_); }

 private:
  static long now() {
    rusage self{};
    rusage children{};
    ::getrusage(RUSAGE_SELF, &self);
    ::getrusage(RUSAGE_CHILDREN, &children);
    return self.ru_nivcsw + children.ru_nivcsw;
  }
  long start_;
};

void set_throughput(benchmark::State& state, std::uint64_t packets, std::uint64_t bytes) {
  state.SetItemsProcessed(static_cast<std::int64_t>(packets));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void ring_stream(benchmark::State& state, RingStreamOptions options) {
  options.packets /= g_packet_divisor;
  const PreemptionCount preemptions;
  std::optional<RingStream> stream;
  try {
    stream.emplace(options);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  bool ok = true;
  for (auto _ : state) {
    ok = stream->consume();
  }
  RingStreamStats stats;
  ok = stream->finish(&stats) && ok;
  if (!ok) {
    state.SkipWithError(stream->error().c_str());
    return;
  }
  set_throughput(state, stats.packets, stats.payload_bytes);
  const double to_consumer = per_packet(stats.writer.signals, stats.packets);
  const double to_producer = per_packet(stats.reader.signals, stats.packets);
  state.counters["signals_per_packet"] = to_consumer + to_producer;
  state.counters["p2c_signals_per_packet"] = to_consumer;
  state.counters["c2p_signals_per_packet"] = to_producer;
  state.counters["producer_sleeps"] = static_cast<double>(stats.producer_waits);
  state.counters["consumer_sleeps"] = static_cast<double>(stats.consumer_waits);
  state.counters["read_publishes"] = static_cast<double>(stats.reader.publishes);
  state.counters["preemptions"] = preemptions.since_start();
}

template <std::size_t kPayloadBytes>
void spsc_queue(benchmark::State& state, std::uint64_t packets) {
  packets /= g_packet_divisor;
  const PreemptionCount preemptions;
  using Stream = SpscStream<kPayloadBytes, kRingDataBytes>;
  std::optional<Stream> stream;
  try {
    stream.emplace(packets);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  bool ok = true;
  for (auto _ : state) {
    ok = stream->consume();
  }
  ok = stream->finish() && ok;
  if (!ok) {
    state.SkipWithError(stream->error().c_str());
    return;
  }
  set_throughput(state, packets, packets * kPayloadBytes);
  state.counters["preemptions"] = preemptions.since_start();
}

// Writer and reader in one thread on private memory: reserve+copy 16
// packets, publish, decide_signal, then next() 16 times, publish,
// decide_signal. No second core, no shared cache lines, no signals: what is
// left is the ring library's own CPU cost per packet (both sides together).
void ring_loopback(benchmark::State& state, std::uint32_t payload_bytes, std::uint64_t packets) {
  packets /= g_packet_divisor;
  const PreemptionCount preemptions;
  constexpr std::uint64_t kBatchPackets = 16;
  ring::FlatRingMemory memory(kRingDataBytes);
  ring::initialize_ring(memory);
  ring::RingWriter writer(memory);
  ring::RingReader reader(memory, ring::kPacketDescriptorBytes + (payload_bytes + 7) / 8 * 8);
  std::vector<std::byte> payload(payload_bytes, std::byte{0x5a});
  ring::OutgoingPacket packet;
  packet.payload = payload;
  const std::uint32_t packet_bytes = ring::packet_bytes_for(packet);
  std::uint64_t received = 0;
  for (auto _ : state) {
    for (std::uint64_t sent = 0; sent < packets; sent += kBatchPackets) {
      for (std::uint64_t i = 0; i < kBatchPackets; ++i) {
        const ring::ReserveResult reserved = writer.reserve(packet_bytes);
        if (reserved.status != ring::WriteStatus::kOk) {
          state.SkipWithError("loopback reserve failed");
          return;
        }
        packet.trans_id = sent + i;
        writer.copy(reserved.reservation, packet);
      }
      writer.publish();
      benchmark::DoNotOptimize(writer.decide_signal());
      for (std::uint64_t i = 0; i < kBatchPackets; ++i) {
        const ring::ReadResult result = reader.next();
        received += result.status == ring::ReadStatus::kPacket ? 1 : 0;
        benchmark::DoNotOptimize(result.packet.bytes.data());
      }
      reader.publish();
      benchmark::DoNotOptimize(reader.decide_signal());
    }
  }
  if (received != packets / kBatchPackets * kBatchPackets) {
    state.SkipWithError("loopback lost packets");
    return;
  }
  set_throughput(state, received, received * payload_bytes);
  state.counters["preemptions"] = preemptions.since_start();
}

// Page-aligned bytes, so that the ceiling does not depend on where malloc
// happens to put the buffers (see below).
struct PageAlignedBytes {
  explicit PageAlignedBytes(std::size_t size_bytes)
      : bytes(static_cast<std::byte*>(::operator new (size_bytes, std::align_val_t{4096}))),
        size(size_bytes) {
    std::memset(bytes, 0x5a, size);
  }
  PageAlignedBytes(const PageAlignedBytes&) = delete;
  PageAlignedBytes& operator=(const PageAlignedBytes&) = delete;
  ~PageAlignedBytes() { ::operator delete (bytes, std::align_val_t{4096}); }
  std::byte* bytes;
  std::size_t size;
};

// The same payload bytes copied into a ring-sized buffer at the offsets where
// the ring puts them (one packet footprint apart, 16 bytes into each), in one
// process. Pinning the layout matters on this machine: 4 KiB copies whose
// source and destination differ by a few bytes modulo 4096 run at ~2 GB/s
// instead of ~30 GB/s (4K aliasing under `rep movsb`), and plain vectors
// landed in exactly that case.
void memcpy_ceiling(benchmark::State& state, std::uint32_t payload_bytes, std::uint64_t packets) {
  packets /= g_packet_divisor;
  const PreemptionCount preemptions;
  const PageAlignedBytes source(payload_bytes);
  const PageAlignedBytes buffer(kRingDataBytes);
  const std::uint32_t stride = ring_bytes_per_packet(payload_bytes);
  for (auto _ : state) {
    std::size_t packet_offset = 0;
    for (std::uint64_t i = 0; i < packets; ++i) {
      if (packet_offset + stride > buffer.size) {
        packet_offset = 0;
      }
      std::memcpy(buffer.bytes + packet_offset + 16, source.bytes, payload_bytes);
      benchmark::ClobberMemory();
      packet_offset += stride;
    }
    benchmark::DoNotOptimize(buffer.bytes);
  }
  set_throughput(state, packets, packets * payload_bytes);
  state.counters["preemptions"] = preemptions.since_start();
}

// kRepetitions each (one with --quick), unless --benchmark_repetitions says
// otherwise: a per-benchmark setting would override the flag.
template <typename Fn, typename... Args>
void add(const std::string& name, Fn fn, Args... args) {
  benchmark::internal::Benchmark* registered =
      benchmark::RegisterBenchmark(name.c_str(), fn, args...)
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  if (!g_repetitions_given) {
    registered->Repetitions(g_packet_divisor == 1 ? kRepetitions : 1);
  }
}

void register_benchmarks() {
  for (const PayloadCase& c : kCases) {
    const std::string size = std::to_string(c.payload_bytes);
    add("memcpy/" + size, memcpy_ceiling, c.payload_bytes, c.packets);
    switch (c.payload_bytes) {
      case 64:
        add("spsc_queue/" + size, spsc_queue<64>, c.packets);
        break;
      case 1024:
        add("spsc_queue/" + size, spsc_queue<1024>, c.packets);
        break;
      case 4096:
        add("spsc_queue/" + size, spsc_queue<4096>, c.packets);
        break;
      default:
        break;
    }
    add("ring_loopback/" + size, ring_loopback, c.payload_bytes, c.packets);
    add("ring_stream/plain/" + size, ring_stream, plain_options(c.payload_bytes, c.packets));
    add("ring_stream/batched/" + size, ring_stream, batched_options(c.payload_bytes, c.packets));
    add("ring_stream/tuned/" + size, ring_stream, tuned_options(c.payload_bytes, c.packets));
  }
}

// ---------------------------------------------------------------------------
// Ratios

struct Figures {
  double packets_per_second = 0;
  double bytes_per_second = 0;
  double signals_per_packet = 0;
};

// The console shows the aggregates (every repetition goes to the JSON file);
// this also keeps each repetition's figures for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> shown;
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) {
        runs_[run.run_name.function_name].push_back(Figures{counter(run, "items_per_second"),
                                                            counter(run, "bytes_per_second"),
                                                            counter(run, "signals_per_packet")});
      }
      if (run.run_type == Run::RT_Aggregate || run.repetitions <= 1 || run.error_occurred) {
        shown.push_back(run);
      }
    }
    if (!shown.empty()) {
      ConsoleReporter::ReportRuns(shown);
    }
  }

  // Each figure's median over the repetitions.
  std::optional<Figures> median(const std::string& name) const {
    const auto found = runs_.find(name);
    if (found == runs_.end() || found->second.empty()) {
      return std::nullopt;
    }
    const std::vector<Figures>& all = found->second;
    return Figures{median_of(all, &Figures::packets_per_second),
                   median_of(all, &Figures::bytes_per_second),
                   median_of(all, &Figures::signals_per_packet)};
  }

  // The repetition with the highest packet rate: the least disturbed by
  // whatever else the machine was doing.
  std::optional<Figures> best(const std::string& name) const {
    const auto found = runs_.find(name);
    if (found == runs_.end() || found->second.empty()) {
      return std::nullopt;
    }
    return *std::max_element(found->second.begin(), found->second.end(),
                             [](const Figures& a, const Figures& b) {
                               return a.packets_per_second < b.packets_per_second;
                             });
  }

  std::size_t repetitions() const {
    std::size_t most = 0;
    for (const auto& [name, all] : runs_) {
      most = std::max(most, all.size());
    }
    return most;
  }

 private:
  static double counter(const Run& run, const char* name) {
    const auto found = run.counters.find(name);
    return found == run.counters.end() ? 0.0 : found->second.value;
  }

  static double median_of(const std::vector<Figures>& all, double Figures::*field) {
    std::vector<double> values;
    for (const Figures& f : all) {
      values.push_back(f.*field);
    }
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  }

  std::map<std::string, std::vector<Figures>> runs_;
};

constexpr std::array<const char*, 3> kVariants{"tuned", "batched", "plain"};

const char* verdict(bool met) {
  return met ? "PASS" : "MISS";
}

using Field = double Figures::*;

// `target` <= 0: an informational row without a verdict.
void print_ratio(const RatioReporter& reporter, const std::string& what,
                 const std::string& numerator, const std::string& denominator, Field field,
                 double target) {
  const auto top = reporter.median(numerator);
  const auto bottom = reporter.median(denominator);
  const auto top_best = reporter.best(numerator);
  const auto bottom_best = reporter.best(denominator);
  if (!top || !bottom || !top_best || !bottom_best || (*bottom).*field <= 0 ||
      (*bottom_best).*field <= 0) {
    std::printf("  %-48s n/a (benchmark not run)\n", what.c_str());
    return;
  }
  const double ratio = (*top).*field / (*bottom).*field;
  const double best_ratio = (*top_best).*field / (*bottom_best).*field;
  std::printf("  %-48s %6.3f [best %5.3f]", what.c_str(), ratio, best_ratio);
  if (target > 0) {
    std::printf("  target >= %.2f  %s", target, verdict(ratio >= target));
  }
  std::printf("\n");
}

// The targets (docs/PERFORMANCE.md): the ring across processes against
// boost::lockfree::spsc_queue moving the same payloads between the same two
// CPUs, 64 B packets/s >= 1.0x and 4 KiB bytes/s >= 0.9x; the memcpy rows
// are the ceiling, for information.
void print_ratios(const RatioReporter& reporter) {
  std::printf(
      "\nRatios: medians over %zu repetitions [best repetition of each]; reported, not asserted\n",
      reporter.repetitions());
  for (const char* variant : kVariants) {
    const std::string ring = std::string("ring_stream/") + variant + "/";
    print_ratio(reporter, std::string("ring ") + variant + " 64 B packets/s / spsc_queue 64 B",
                ring + "64", "spsc_queue/64", &Figures::packets_per_second, 1.0);
    print_ratio(reporter, std::string("ring ") + variant + " 4 KiB bytes/s / spsc_queue 4 KiB",
                ring + "4096", "spsc_queue/4096", &Figures::bytes_per_second, 0.9);
  }
  print_ratio(reporter, "(info) ring tuned 4 KiB bytes/s / memcpy 4 KiB", "ring_stream/tuned/4096",
              "memcpy/4096", &Figures::bytes_per_second, 0);
  print_ratio(reporter, "(info) spsc_queue 4 KiB bytes/s / memcpy 4 KiB", "spsc_queue/4096",
              "memcpy/4096", &Figures::bytes_per_second, 0);
  constexpr double kSignalTarget = 0.01;
  for (const char* variant : kVariants) {
    double worst = -1;
    std::string detail;
    for (const PayloadCase& c : kCases) {
      const std::string size = std::to_string(c.payload_bytes);
      const auto f = reporter.median(std::string("ring_stream/") + variant + "/" + size);
      if (!f) {
        continue;
      }
      worst = std::max(worst, f->signals_per_packet);
      char item[64];
      std::snprintf(item, sizeof(item), " %s B: %.4f", size.c_str(), f->signals_per_packet);
      detail += item;
    }
    if (worst < 0) {
      std::printf("  ring %s signals per packet: n/a (benchmark not run)\n", variant);
      continue;
    }
    std::printf("  ring %-7s signals per packet, worst %6.4f      target <= %.2f  %s  [%s ]\n",
                variant, worst, kSignalTarget, verdict(worst <= kSignalTarget), detail.c_str());
  }
  for (const PayloadCase& c : kCases) {
    const std::string size = std::to_string(c.payload_bytes);
    const auto loopback = reporter.median("ring_loopback/" + size);
    const auto spsc = reporter.median("spsc_queue/" + size);
    if (loopback && loopback->packets_per_second > 0) {
      std::printf("  (info) %4s B packet: ring library CPU, write+read in one thread %.1f ns",
                  size.c_str(), 1e9 / loopback->packets_per_second);
      if (spsc && spsc->packets_per_second > 0) {
        std::printf("; spsc_queue across processes %.1f ns", 1e9 / spsc->packets_per_second);
      }
      std::printf("\n");
    }
  }
}

}  // namespace
}  // namespace vmbus::bench

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      vmbus::bench::g_packet_divisor = 10;
    } else {
      if (std::strncmp(argv[i], "--benchmark_repetitions=", 24) == 0) {
        vmbus::bench::g_repetitions_given = true;
      }
      args.push_back(argv[i]);
    }
  }
  int arg_count = static_cast<int>(args.size());
  benchmark::Initialize(&arg_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(arg_count, args.data())) {
    return 1;
  }
  vmbus::bench::CpuPlan& plan = vmbus::bench::cpu_plan();
  const std::optional<int> first = vmbus::bench::allowed_cpu(0);
  const std::optional<int> second = vmbus::bench::allowed_cpu(1);
  if (first && second && vmbus::bench::pin_to_cpu(*first)) {
    plan.consumer_cpu = *first;
    plan.producer_cpu = *second;
    benchmark::AddCustomContext("cpu_pinning", "consumer cpu " + std::to_string(*first) +
                                                   ", producer cpu " + std::to_string(*second));
  } else {
    benchmark::AddCustomContext("cpu_pinning", "none (fewer than 2 CPUs allowed)");
  }
  if (std::FILE* loadavg = std::fopen("/proc/loadavg", "r")) {
    char line[128] = {};
    if (std::fgets(line, sizeof(line), loadavg) != nullptr) {
      std::string text(line);
      text.erase(text.find_last_not_of(" \n") + 1);
      benchmark::AddCustomContext("load_average_at_start", text);
    }
    std::fclose(loadavg);
  }
  benchmark::AddCustomContext("ring_data_bytes", std::to_string(vmbus::bench::kRingDataBytes));
  vmbus::bench::register_benchmarks();
  vmbus::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  vmbus::bench::print_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}
