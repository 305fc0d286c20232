// One run of the simulated system: the hypervisor between vmbus-host and
// vmbus-guest.
//
// run_simulation() creates the run's shared-memory segment (the guest's
// memory), starts both partition processes, and then plays the hypervisor:
// every SynIC message and event signal between the partitions passes through
// it, and in deterministic mode it is also the only scheduler (one step of
// one partition context at a time, chosen with the seeded PRNG, in simulated
// time). Everything it creates -- processes, sockets, the segment -- is gone
// when it returns, on every path.
//
// Inside, the hypervisor is small parts and a loop: the clock and event
// queue (event_queue.h), the scheduler (scheduler.h), the SynIC model
// (synic.h) and the fault rules (faults.h) decide and return effects
// (effect.h) without doing I/O; the partition links own the processes and
// sockets; and the run loop (simulation.cc) carries the effects out and
// writes the trace.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/hypervisor/intervention.h"
#include "vmbus/hypervisor/side.h"
#include "vmbus/proto/ipc.pb.h"
#include "vmbus/proto/trace.pb.h"

namespace vmbus::hypervisor {

// A scenario's hand on a run (deterministic mode only). The simulation asks
// it, before every scheduling decision, whether an intervention is due,
// carries it out (a partition action, a fault, a clock jump, ...), and
// shows it every trace record so that conditions ("when the guest has
// deferred twice") can be evaluated. With a script the run does not end when
// the guest reports done but when the system goes quiet -- nothing ready,
// nothing in flight, no timed intervention left -- and then both partitions
// are asked for their final report.
class RunScript {
 public:
  virtual ~RunScript() = default;
  // Every trace record, after the simulation has stamped it.
  virtual void on_record(const proto::TraceRecord& record) = 0;
  // The intervention due at `now_ns` (its time has come or its condition
  // holds), or nullopt. The simulation carries it out and then calls
  // intervention_done().
  virtual std::optional<DueIntervention> due(std::uint64_t now_ns) = 0;
  // The intervention due() returned was carried out; `error` is non-empty
  // when a partition refused it.
  virtual void intervention_done(std::uint64_t now_ns, const std::string& error) = 0;
  // When the next intervention waits for a time: that time; else nullopt.
  virtual std::optional<std::uint64_t> next_time_ns() const = 0;
  // Whether the run should stop now (a user quit step mode): the run ends
  // as an interrupted one does, its partitions stopped and its trace closed.
  virtual bool stop_requested() const { return false; }
};

struct SimulationConfig {
  std::filesystem::path host_binary;
  std::filesystem::path guest_binary;
  proto::SchedulingMode mode = proto::SCHEDULING_MODE_DETERMINISTIC;
  std::uint64_t seed = 1;
  std::uint64_t segment_size_bytes = 64ull << 20;
  std::string host_config;   // serialized vmbus.proto.HostConfig
  std::string guest_config;  // serialized vmbus.proto.GuestConfig
  std::string scenario_name;
  std::filesystem::path trace_path;  // empty: no trace file

  // Supervision (wall clock, never shapes the run): a partition that does not
  // answer within this time is declared hung.
  std::chrono::milliseconds response_timeout{10'000};

  // Simulated-time model.
  std::uint64_t step_cost_ns = 1'000;
  std::uint64_t message_latency_ns = 5'000;
  std::uint64_t signal_latency_ns = 2'000;
  std::uint64_t latency_jitter_ns = 1'000;          // + PRNG-drawn [0, jitter)
  std::uint64_t time_limit_ns = 60'000'000'000ull;  // 60 s simulated

  // Test hook: called in deterministic mode before each step is granted,
  // with the step number and the partitions' process ids (to kill one
  // mid-run, for instance). Never set by the product.
  std::function<void(std::uint64_t step, int host_pid, int guest_pid)> before_step;

  // A scenario's timeline (deterministic mode); not owned. Null: the run
  // ends when the guest reports done.
  RunScript* script = nullptr;

  // What the trace header says about the run beyond what the simulation
  // fills in itself (format, seed, name, mode, build, schedule): the
  // scenario's text, a simulate run's configurations, the command line.
  // Copied into the header as given, so a replay can run it again.
  proto::TraceHeader provenance;

  // A pinned schedule (deterministic mode): the context to grant at each
  // step, in step order; after the last the seed decides. Or, when the
  // decisions carry step numbers (a scenario's pins), the context to grant
  // at those steps only. Each step still draws its number from the PRNG,
  // so what the seed decides besides the schedule (latency jitter) stays as
  // it was. A pinned context that is not ready (or held) at its step ends
  // the run as kScheduleDiverged.
  std::vector<proto::PinnedDecision> schedule;
};

enum class RunOutcome {
  kCompleted,         // the guest reported done
  kDeadlock,          // nothing ready, nothing in flight, guest not done
  kTimeLimit,         // simulated time ran out
  kPartitionFailed,   // a partition reported a failure and stopped
  kPartitionCrashed,  // a partition exited or was killed unexpectedly
  kPartitionHung,     // a partition stopped answering
  kProtocolError,     // a partition broke the IPC protocol (bad frame, bad order)
  kInterrupted,       // SIGINT or SIGTERM
  kSetupFailed,       // the run could not start (binary, segment, socket)
  // A driver loaded from a shared library crashed, hung or failed its entry
  // point: the partition died (or stopped) in the user's code, not the
  // simulator's (RunResult::driver_fault says where).
  kDriverFault,
  // A pinned schedule named a context that is not ready at its step: the
  // schedule does not fit this scenario (RunResult::detail says which
  // decision, by its record number in the trace it came from).
  kScheduleDiverged,
};

const char* run_outcome_name(RunOutcome outcome);

// Where a loaded driver's code failed, from the partition's driver slot
// (vmbus/ipc/driver_slot.h).
struct DriverFault {
  enum class Kind { kCrashed, kHung, kFailed };
  Side side = Side::kGuest;
  Kind kind = Kind::kCrashed;
  std::string driver;    // the library's file name
  std::string callback;  // "EvtVmbChannelProcessPacket", "VmbusSimDriverEntry", ...
  std::string channel;   // the scenario's name for the channel
  std::int64_t packet = -1;
  std::int64_t send = -1;
  // How: "SIGSEGV", "uncaught C++ exception std::runtime_error: boom",
  // "no answer within 10000 ms", "returned STATUS_NOT_SUPPORTED".
  std::string reason;
  // "guest driver libmyvsc.so crashed (SIGSEGV) in EvtVmbChannelProcessPacket
  // of channel 'net', packet #4".
  std::string describe() const;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The value of `key` in a report, or nullopt if the report has none.
std::optional<std::string> find_value(const KeyValues& values, const std::string& key);

struct RunResult {
  RunOutcome outcome = RunOutcome::kSetupFailed;
  // Which partition, in what state, at which step; empty when completed.
  std::string detail;
  KeyValues host_report;
  KeyValues guest_report;
  // With a script: the partitions' answers to FinalReportRequest, if the
  // run got that far (final_reports).
  proto::HostReport host_final;
  proto::GuestReport guest_final;
  bool final_reports = false;
  // With kDriverFault: which driver, where, and how.
  std::optional<DriverFault> driver_fault;
  // What the run created, so a caller can check it is all gone: the
  // anonymous segments' names (a descriptor of this process's that still
  // shows "/memfd:<name>" is a leak) -- the guest memory and the driver
  // slots -- and the partitions' process ids.
  std::string segment_name;
  std::string driver_slot_segment_name;
  int host_pid = -1;
  int guest_pid = -1;
  std::uint64_t steps = 0;
  std::uint64_t time_ns = 0;
  std::uint64_t trace_records = 0;

  // 0 completed; 1 a loaded driver failed (kDriverFault); 2 the pinned
  // schedule does not fit (kScheduleDiverged); 3 the
  // simulation itself failed (crash, hang, lost child, protocol error,
  // deadlock, setup); 130 interrupted.
  int exit_code() const;

  // The value of `key` in a report, or "" if absent.
  std::string host_value(const std::string& key) const;
  std::string guest_value(const std::string& key) const;
};

inline constexpr int kExitDriverFault = 1;
inline constexpr int kExitScheduleDiverged = 2;
inline constexpr int kExitSimulatorFailure = 3;
inline constexpr int kExitInterrupted = 130;

RunResult run_simulation(const SimulationConfig& config);

// Removes named shared-memory segments left in /dev/shm by vmbus-sim runs
// whose owner process no longer exists: builds before the run's segment
// became anonymous left them when killed with SIGKILL. Returns the names
// removed.
std::vector<std::string> remove_stale_segments();

}  // namespace vmbus::hypervisor
