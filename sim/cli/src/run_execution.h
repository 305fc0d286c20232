// The runs of `vmbus-sim run`, `jobs` at a time, handed back in order.
//
// Each run has a sequence number; a TicketSource says which scenario,
// seed, pass and repetition that number is (or that there is none, which
// ends the work). Worker threads take numbers in order and run them; the
// caller takes the outcomes in sequence order (next()) while later ones
// still run, so a sweep of any length needs memory only for the runs under
// way and the ones finished ahead of a slow one.
//
// The execution stops starting runs once the process is interrupted
// (SIGINT or SIGTERM, caught for the whole life of vmbus-sim:
// hypervisor/interrupt.h) and, when asked to (--fail-fast, --until-fail),
// after the first run that does not pass. Runs already under way finish; an
// interrupted one ends at once with its partial trace. Runs that never
// started come back as not run, in order, up to the source's end -- except
// for an open-ended source (--until-fail), whose work simply ends there.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "vmbus/runner/scenario.h"

namespace vmbus::cli {

struct Ticket {
  std::uint64_t sequence = 0;
  std::size_t scenario = 0;  // index into the compiled scenarios
  std::uint64_t position = 0;
  std::uint64_t seed = 0;
  std::uint32_t pass = 1;
  std::uint32_t repetition = 1;
  std::filesystem::path trace_path;
};

// The ticket of a sequence number, or nullopt when the work ends before it
// (for every later number too).
using TicketSource = std::function<std::optional<Ticket>(std::uint64_t sequence)>;

// The scenario a ticket runs when it is not the compiled one as written
// (`explore`: the scenario with the seed's fault plan). Called on the
// worker threads: it must only read shared state.
using ScenarioVariant =
    std::function<runner::CompiledScenario(std::size_t scenario, std::uint64_t seed)>;

struct Outcome {
  Ticket ticket;
  bool ran = false;  // false: never started (interrupted, or stopped after a failure)
  runner::ScenarioResult result;
  double started_s = 0;  // since the execution began
  double wall_s = 0;
};

class Execution {
 public:
  Execution(const std::vector<runner::CompiledScenario>& scenarios, TicketSource source,
            const runner::RunOptions& options, std::uint64_t jobs, bool stop_after_failure,
            bool open_ended, ScenarioVariant variant = {});
  ~Execution();
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // The next outcome in sequence order, waiting for it; nullopt at the end.
  std::optional<Outcome> next();

  // The process was interrupted, or a run ended interrupted.
  bool interrupted() const;
  // A run did not pass and stop_after_failure stopped the rest.
  bool stopped_after_failure() const { return stopped_after_failure_.load(); }
  double elapsed_s() const;

 private:
  void work_loop();
  void run(Outcome& outcome);
  void finish(Outcome outcome);
  bool stopping() const {
    return interrupted() || stopped_after_failure_.load() || cancelled_.load();
  }

  const std::vector<runner::CompiledScenario>& scenarios_;
  const TicketSource source_;
  const ScenarioVariant variant_;
  const runner::RunOptions options_;
  const bool stop_after_failure_;
  const bool open_ended_;
  const std::chrono::steady_clock::time_point started_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::uint64_t, Outcome> finished_;  // guarded by mutex_
  std::size_t workers_running_ = 0;            // guarded by mutex_
  std::uint64_t next_to_hand_out_ = 0;         // next() only

  std::atomic<std::uint64_t> next_to_start_{0};
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> stopped_after_failure_{false};
  std::atomic<bool> cancelled_{false};
  std::vector<std::thread> threads_;
};

}  // namespace vmbus::cli
