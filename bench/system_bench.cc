// system_bench: the three processes, against their floors.
//
// Measured in one run:
//   socket_pingpong            a raw Unix-socket ping-pong between two
//                              processes (8-byte messages): the floor of any
//                              message between partitions;
//   message_roundtrip          a message round trip through the simulator:
//                              the guest's HvPostMessage and the hypervisor's
//                              answer (a post to a connection id with no
//                              port), free-running: partition -> sim ->
//                              partition, each hop a framed protobuf message;
//   control_roundtrip          a guest MODIFYCHANNEL answered by the host's
//                              MODIFYCHANNEL_RESPONSE: guest -> sim -> host
//                              -> sim -> guest, two posts and two deliveries;
//   step_grant                 the wall-clock cost of one deterministic step
//                              (grant, the partition's step, StepDone), over
//                              an echo run;
//   echo_free_running          packets/s echoed guest -> host -> guest on one
//                              channel in free-running mode;
//   ring_stream                the ring library's own two-process stream at
//                              the same payload size (bench/ring_stream.h).
//
// Run costs (process start, handshake, channel open) are removed by timing
// each workload twice, with N and with 0 operations, and dividing the
// difference by N. After the benchmarks it prints the ratios against the
// floors. Timing uses the wall clock: this is a benchmark, not a run.
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"

#include "ring_stream.h"
#include "socket_echo.h"

namespace vmbus::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRepetitions = 5;
constexpr std::uint32_t kEchoPayloadBytes = 256;

std::map<std::string, double> g_medians;  // name -> median seconds per operation

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- the floor: a raw socket ping-pong ------------------------------------------

double socket_pingpong_seconds(std::uint64_t round_trips) {
  const std::optional<EchoPeer> peer = start_echo_peer();
  if (!peer) {
    throw std::runtime_error("socketpair or fork failed");
  }
  const Clock::time_point start = Clock::now();
  for (std::uint64_t i = 0; i < round_trips; ++i) {
    if (!echo_round_trip(peer->fd, i)) {
      throw std::runtime_error("ping-pong broke");
    }
  }
  const double elapsed = seconds_since(start);
  ::close(peer->fd);
  ::waitpid(peer->child, nullptr, 0);
  return elapsed;
}

void BM_SocketPingPong(benchmark::State& state) {
  const auto round_trips = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    const double elapsed = socket_pingpong_seconds(round_trips);
    state.SetIterationTime(elapsed);
    state.counters["us_per_round_trip"] = elapsed / static_cast<double>(round_trips) * 1e6;
  }
}

// --- runs of the real system ------------------------------------------------------

hypervisor::SimulationConfig system_config(const proto::GuestConfig& guest,
                                           proto::SchedulingMode mode) {
  proto::HostConfig host;
  auto* channel = host.add_channels();
  channel->set_child_relid(1);
  channel->mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
  hypervisor::SimulationConfig config;
  config.host_binary = VMBUS_HOST_BINARY;
  config.guest_binary = VMBUS_GUEST_BINARY;
  config.mode = mode;
  config.segment_size_bytes = 16ull << 20;
  config.host_config = host.SerializeAsString();
  config.guest_config = guest.SerializeAsString();
  return config;
}

struct TimedRun {
  double seconds = 0;
  hypervisor::RunResult result;
};

TimedRun timed_run(const hypervisor::SimulationConfig& config) {
  TimedRun run;
  const Clock::time_point start = Clock::now();
  run.result = hypervisor::run_simulation(config);
  run.seconds = seconds_since(start);
  if (run.result.outcome != hypervisor::RunOutcome::kCompleted ||
      run.result.guest_value("result") != "ok") {
    throw std::runtime_error(std::string("run failed: ") +
                             hypervisor::run_outcome_name(run.result.outcome) + " " +
                             run.result.detail + " " + run.result.guest_value("result"));
  }
  return run;
}

// Wall seconds per operation: the run with `count` operations minus the
// run with none, over `count`.
double seconds_per_operation(const proto::GuestConfig& with, const proto::GuestConfig& without,
                             std::uint64_t count) {
  const double elapsed =
      timed_run(system_config(with, proto::SCHEDULING_MODE_FREE_RUNNING)).seconds -
      timed_run(system_config(without, proto::SCHEDULING_MODE_FREE_RUNNING)).seconds;
  return std::max(elapsed, 1e-9) / static_cast<double>(count);
}

void BM_MessageRoundTrip(benchmark::State& state) {
  const auto probes = static_cast<std::uint64_t>(state.range(0));
  proto::GuestConfig with;
  with.set_hypercall_probes(probes);
  for (auto _ : state) {
    const double per_probe = seconds_per_operation(with, proto::GuestConfig{}, probes);
    state.SetIterationTime(per_probe * static_cast<double>(probes));
    state.counters["us_per_round_trip"] = per_probe * 1e6;
  }
}

void BM_ControlRoundTrip(benchmark::State& state) {
  const auto pings = static_cast<std::uint64_t>(state.range(0));
  proto::GuestConfig with;
  with.set_message_pings(pings);
  for (auto _ : state) {
    const double per_ping = seconds_per_operation(with, proto::GuestConfig{}, pings);
    state.SetIterationTime(per_ping * static_cast<double>(pings));
    state.counters["us_per_round_trip"] = per_ping * 1e6;
  }
}

proto::GuestConfig echo_guest(std::uint64_t packets) {
  proto::GuestConfig guest;
  guest.mutable_echo()->set_child_relid(1);
  guest.mutable_echo()->set_packets(packets);
  guest.mutable_echo()->set_max_payload_bytes(kEchoPayloadBytes);
  guest.mutable_echo()->set_window(64);
  return guest;
}

void BM_StepGrant(benchmark::State& state) {
  const auto packets = static_cast<std::uint64_t>(state.range(0));
  const hypervisor::SimulationConfig with =
      system_config(echo_guest(packets), proto::SCHEDULING_MODE_DETERMINISTIC);
  const hypervisor::SimulationConfig without =
      system_config(echo_guest(0), proto::SCHEDULING_MODE_DETERMINISTIC);
  for (auto _ : state) {
    const TimedRun run = timed_run(with);
    const TimedRun base = timed_run(without);
    const double elapsed = run.seconds - base.seconds;
    const auto steps = static_cast<double>(run.result.steps - base.result.steps);
    state.SetIterationTime(std::max(elapsed, 1e-9));
    state.counters["us_per_step"] = elapsed / steps * 1e6;
    state.counters["steps_per_packet"] = steps / static_cast<double>(packets);
  }
}

void BM_EchoFreeRunning(benchmark::State& state) {
  const auto packets = static_cast<std::uint64_t>(state.range(0));
  const hypervisor::SimulationConfig with =
      system_config(echo_guest(packets), proto::SCHEDULING_MODE_FREE_RUNNING);
  const hypervisor::SimulationConfig without =
      system_config(echo_guest(0), proto::SCHEDULING_MODE_FREE_RUNNING);
  for (auto _ : state) {
    const double elapsed = timed_run(with).seconds - timed_run(without).seconds;
    state.SetIterationTime(std::max(elapsed, 1e-9));
    // Each echoed packet crosses two rings; count ring transfers.
    state.counters["ring_packets_per_s"] = 2.0 * static_cast<double>(packets) / elapsed;
  }
}

void BM_RingStream(benchmark::State& state) {
  RingStreamOptions options;
  options.payload_bytes = kEchoPayloadBytes;
  options.packets = static_cast<std::uint64_t>(state.range(0));
  options.ring_data_bytes = 3 * 4096;  // the echo channel's ring: 4 pages, 3 of data
  options.publish_every_bytes = 0;
  for (auto _ : state) {
    RingStream stream(options);
    const Clock::time_point start = Clock::now();
    if (!stream.consume()) {
      state.SkipWithError(stream.error().c_str());
      return;
    }
    const double elapsed = seconds_since(start);
    RingStreamStats stats;
    stream.finish(&stats);
    state.SetIterationTime(elapsed);
    state.counters["ring_packets_per_s"] = static_cast<double>(options.packets) / elapsed;
  }
}

// Every benchmark: a fixed operation count, one timed iteration per
// repetition, medians over kRepetitions.
void register_benchmark(const char* name, void (*function)(benchmark::State&),
                        std::int64_t operations) {
  benchmark::RegisterBenchmark(name, function)
      ->Arg(operations)
      ->UseManualTime()
      ->Iterations(1)
      ->Repetitions(kRepetitions)
      ->ReportAggregatesOnly(true)
      ->Unit(benchmark::kMillisecond);
}

void register_benchmarks() {
  register_benchmark("BM_SocketPingPong", BM_SocketPingPong, 100'000);
  register_benchmark("BM_MessageRoundTrip", BM_MessageRoundTrip, 50'000);
  register_benchmark("BM_ControlRoundTrip", BM_ControlRoundTrip, 20'000);
  register_benchmark("BM_StepGrant", BM_StepGrant, 20'000);
  register_benchmark("BM_EchoFreeRunning", BM_EchoFreeRunning, 200'000);
  register_benchmark("BM_RingStream", BM_RingStream, 400'000);
}

// Keeps the medians of the counters the ratio table needs.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        for (const auto& [name, counter] : run.counters) {
          g_medians[run.run_name.function_name + "/" + name] = counter.value;
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

void print_ratios() {
  auto get = [](const std::string& key) {
    const auto it = g_medians.find(key);
    return it == g_medians.end() ? 0.0 : it->second;
  };
  const double floor_us = get("BM_SocketPingPong/us_per_round_trip");
  const double message_us = get("BM_MessageRoundTrip/us_per_round_trip");
  const double step_us = get("BM_StepGrant/us_per_step");
  const double echo_rate = get("BM_EchoFreeRunning/ring_packets_per_s");
  const double ring_rate = get("BM_RingStream/ring_packets_per_s");
  std::printf("\nRatios (medians of %d repetitions; targets are reported, not asserted)\n",
              kRepetitions);
  std::printf("  raw socket ping-pong:               %8.2f us per round trip (the floor)\n",
              floor_us);
  const double control_us = get("BM_ControlRoundTrip/us_per_round_trip");
  std::printf(
      "  message round trip via simulator:   %8.2f us = %.2fx the floor (target <= 2x: %s)\n",
      message_us, floor_us > 0 ? message_us / floor_us : 0.0,
      floor_us > 0 && message_us / floor_us <= 2.0 ? "PASS" : "MISS");
  std::printf(
      "  guest -> host -> guest control:     %8.2f us = %.2fx the floor (two posts, two "
      "deliveries)\n",
      control_us, floor_us > 0 ? control_us / floor_us : 0.0);
  std::printf("  deterministic step grant:           %8.2f us per step\n", step_us);
  std::printf(
      "  free-running echo:                  %8.0f ring packets/s = %.2fx the ring "
      "library's two-process stream (%.0f packets/s)\n",
      echo_rate, ring_rate > 0 ? echo_rate / ring_rate : 0.0, ring_rate);
}

}  // namespace
}  // namespace vmbus::bench

int main(int argc, char** argv) {
  vmbus::bench::register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  vmbus::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  vmbus::bench::print_ratios();
  return 0;
}
