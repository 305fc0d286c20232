// Overview of scheduling (deterministic mode)
//
// In deterministic mode the hypervisor is the only scheduler of both
// partitions. Every piece of partition work runs in a named context -- in the
// guest "kmcl/1" (a channel's DPC), "kmcl/1/passive" (its passive worker),
// "timer", ...; in the host the VSP loops and the control plane -- and a
// context does its work in bounded steps. A partition never runs on its own:
// it runs one step when the hypervisor grants it, and after every step,
// every delivery and every action it reports which of its contexts are
// ready, and when it wants to wake if it waits for a timeout (set_ready()).
//
// The main interface is choose(). The run loop calls it whenever no
// intervention and no event is due at the current simulated time, and it
// decides one of three things:
//   - kStep: grant one step to one ready context. The candidates are every
//     ready context of both partitions that no hold keeps back, the guest's
//     before the host's and each partition's in name order; one of them is
//     chosen with the run's seeded PRNG.
//   - kAdvance: nothing can run before a later time; the loop moves the
//     clock there and looks again. When nothing is ready that time is the
//     next event or timed intervention. When the only candidate is a
//     partition's "timer" context (a driver waiting for a timeout), the
//     clock jumps to the earlier of its deadline, the next event and the
//     next timed intervention instead of stepping through the wait; only
//     when the deadline comes first is the timer's step granted, at the
//     deadline (kStep with `run_at_ns`).
//   - kIdle: nothing is ready that may run and nothing is due later. The
//     loop then releases what faults hold back, then the holds
//     (release_holds()), and otherwise the run is over (or deadlocked).
//
// A hold (from a scenario) keeps one context -- or, as a prefix, every
// context below it: "kmcl/1" holds "kmcl/1/passive" but not
// "kmcl/10/passive" -- out of the candidates until it is released or until
// nothing else can run.
//
// Determinism rests on: the candidate list is a function of the reported
// ready sets (sorted, unique) and the holds alone; every granted step draws
// exactly one number from the run's PRNG (also when there is only one
// candidate), and the scheduler draws nothing else; the loop asks at the same
// points of every run; nothing here reads a wall clock. In free-running mode
// the scheduler is not used: contexts run on threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/base/prng.h"
#include "vmbus/hypervisor/side.h"

namespace vmbus::hypervisor {

struct Choice {
  enum class Kind { kStep, kAdvance, kIdle };
  Kind kind = Kind::kIdle;
  // kStep: the time the step runs at (now, or a lone timer's deadline);
  // kAdvance: the time to move the clock to.
  std::uint64_t run_at_ns = 0;
  // kStep: the context granted.
  Side side = Side::kHost;
  std::string context{};
  // kStep: every candidate as the trace names it ("guest:kmcl/1"), and the
  // index of the one chosen.
  std::vector<std::string> candidates{};
  std::uint32_t chosen = 0;
};

class Scheduler {
 public:
  // What `side` reported: its ready contexts and, if it waits for a
  // timeout, when it wants to wake (0: no timeout). Returns false, changing
  // nothing, when `ready` is not sorted and unique (the partition broke the
  // protocol).
  bool set_ready(Side side, std::vector<std::string> ready, std::uint64_t wake_at_ns);

  void hold(Side side, const std::string& context);
  void release(Side side, const std::string& context);
  // Whether a hold keeps `context` of `side` back.
  bool held(Side side, const std::string& context) const;

  // What the run loop does next at `now_ns`; see the overview. Draws from
  // `prng` exactly once when it returns kStep.
  Choice choose(std::uint64_t now_ns, std::optional<std::uint64_t> next_event_ns,
                std::optional<std::uint64_t> next_intervention_ns, base::Prng& prng) const;

  // When nothing else can run: lets every hold go if one keeps a ready
  // context back, and returns the holds' names ("guest:kmcl/1, host:vsp"),
  // else nullopt.
  std::optional<std::string> release_holds();

 private:
  struct Candidate {
    Side side;
    const std::string* context;
  };

  std::vector<Candidate> candidates() const;
  std::optional<Choice> jump_to_wake_time(const Candidate& lone, std::uint64_t now_ns,
                                          std::optional<std::uint64_t> next_event_ns,
                                          std::optional<std::uint64_t> next_intervention_ns) const;

  std::vector<std::string> ready_[2];  // by side: sorted context names
  std::uint64_t wake_at_ns_[2] = {0, 0};
  std::vector<std::string> holds_;  // "guest:kmcl/1/passive", ...; in the order given
};

}  // namespace vmbus::hypervisor
