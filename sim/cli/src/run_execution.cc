#include "run_execution.h"

#include "vmbus/cli/command.h"
#include "vmbus/hypervisor/interrupt.h"

namespace vmbus::cli {

Execution::Execution(const std::vector<runner::CompiledScenario>& scenarios, TicketSource source,
                     const runner::RunOptions& options, std::uint64_t jobs, bool stop_after_failure,
                     bool open_ended, ScenarioVariant variant)
    : scenarios_(scenarios),
      source_(std::move(source)),
      variant_(std::move(variant)),
      options_(options),
      stop_after_failure_(stop_after_failure),
      open_ended_(open_ended),
      started_(std::chrono::steady_clock::now()) {
  // No thread waits for the signal itself: every worker is either in a run,
  // which an interrupt ends at once, or between runs, where it looks at the
  // flag before starting the next; each then finishes and wakes next().
  workers_running_ = static_cast<std::size_t>(std::max<std::uint64_t>(jobs, 1));
  for (std::size_t t = 0; t < workers_running_; ++t) {
    threads_.emplace_back([this] { work_loop(); });
  }
}

Execution::~Execution() {
  // A caller that leaves early must not wait for the whole sweep.
  cancelled_.store(true);
  for (std::thread& thread : threads_) {
    thread.join();
  }
}

bool Execution::interrupted() const {
  return interrupted_.load() || hypervisor::interrupted();
}

double Execution::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Execution::work_loop() {
  while (!stopping()) {
    const std::uint64_t sequence = next_to_start_.fetch_add(1);
    std::optional<Ticket> ticket = source_(sequence);
    if (!ticket) {
      break;
    }
    Outcome outcome;
    outcome.ticket = std::move(*ticket);
    if (!stopping()) {
      run(outcome);
    }
    finish(std::move(outcome));
  }
  std::lock_guard lock(mutex_);
  --workers_running_;
  changed_.notify_all();
}

void Execution::run(Outcome& outcome) {
  runner::RunOptions options = options_;
  options.trace_path = outcome.ticket.trace_path;
  // The header's command line is this run's own: the same scenario and seed
  // give the same trace whatever else the sweep's command line said.
  options.command_line += " " + shell_quote(scenarios_[outcome.ticket.scenario].display_path) +
                          " --seed " + std::to_string(outcome.ticket.seed);
  outcome.started_s = elapsed_s();
  if (variant_) {
    const runner::CompiledScenario variant = variant_(outcome.ticket.scenario, outcome.ticket.seed);
    outcome.result = runner::run_scenario(variant, outcome.ticket.seed, options);
  } else {
    outcome.result =
        runner::run_scenario(scenarios_[outcome.ticket.scenario], outcome.ticket.seed, options);
  }
  outcome.wall_s = elapsed_s() - outcome.started_s;
  outcome.ran = true;
  if (outcome.result.run.outcome == hypervisor::RunOutcome::kInterrupted) {
    interrupted_.store(true);
  } else if (stop_after_failure_ && outcome.result.verdict != runner::Verdict::kPassed) {
    stopped_after_failure_.store(true);
  }
}

void Execution::finish(Outcome outcome) {
  std::lock_guard lock(mutex_);
  const std::uint64_t sequence = outcome.ticket.sequence;
  finished_.emplace(sequence, std::move(outcome));
  changed_.notify_all();
}

std::optional<Outcome> Execution::next() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(
        lock, [this] { return finished_.count(next_to_hand_out_) != 0 || workers_running_ == 0; });
    const auto it = finished_.find(next_to_hand_out_);
    if (it == finished_.end()) {
      break;  // every worker is done and this number never started
    }
    Outcome outcome = std::move(it->second);
    finished_.erase(it);
    ++next_to_hand_out_;
    // Open-ended work has no "rest" to report: what did not start is gone.
    if (outcome.ran || !open_ended_) {
      return outcome;
    }
  }
  if (open_ended_) {
    return std::nullopt;
  }
  lock.unlock();
  std::optional<Ticket> ticket = source_(next_to_hand_out_);
  if (!ticket) {
    return std::nullopt;
  }
  ++next_to_hand_out_;
  Outcome outcome;
  outcome.ticket = std::move(*ticket);
  return outcome;
}

}  // namespace vmbus::cli
