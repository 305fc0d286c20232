// Exploration: a scenario with faults drawn from a seed (`vmbus-sim
// explore`), in the spirit of FoundationDB's BUGGIFY and TigerBeetle's
// swarm testing.
//
// A seed draws a fault plan: up to max_faults faults, each of a kind from
// the allowed list, on a channel of the topology, inserted at a drawn
// place in the timeline -- so it is armed (or the context held) right after
// the entry before it ran, at whatever phase of the rings' traffic that
// is. The entries wait for nothing themselves, so a plan never keeps the
// scenario's own steps from running. The faults are timeline entries of
// the scenario language, so the explored scenario is a scenario file like
// any other: its text goes into the trace header and `vmbus-sim replay`
// reruns it.
//
// A plan with faults changes what the scenario's expectations count, so
// those go (callbacks, states, counters, completions, trace matches, the
// negotiated version), and so does the rule that every timeline entry must
// have run (a condition the faults keep from holding); the outcome, the
// expected verifier violations and the oracles stay, and the oracles the
// scenario expects may fire (they are no longer required to). A dropped interrupt is a lost wakeup
// by construction: its channel's lost_wakeup may fire too. A plan without faults leaves the
// scenario as written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmbus/runner/scenario.h"

namespace vmbus::runner {

// Every fault kind: interrupt_delay, interrupt_duplicate, interrupt_drop,
// interrupt_old_vp (drawn only for a guest with more than one VP: the next
// interrupts of a channel being moved land on its old VP),
// spurious_interrupt, message_delay, message_duplicate, message_reorder,
// hold, and a hostile host's writes into a channel's rings:
// host_ring_write, host_raw_packet, host_set_index, host_tamper. Hostile
// kinds are drawn only for scenarios that expect a completed run without
// verifier violations (a corrupt ring stops a queue, and with it what such
// a scenario waits for); under them the host's refusal of a raw write (no
// open channel, indices left invalid) is no failure, and a write that
// withholds a wakeup lets its channel's lost_wakeup fire.
const std::vector<std::string>& explore_fault_names();
// What explore draws from unless told otherwise: the faults a correct
// driver and ring must survive on a real host -- interrupts delayed,
// duplicated, spurious or on a moved channel's old VP, contexts held -- and
// not drops, nor control messages duplicated, reordered or delayed (a
// delayed message is overtaken by the ones behind it, which VMBus never
// does).
const std::vector<std::string>& default_explore_faults();

struct FaultPlanOptions {
  std::vector<std::string> faults = default_explore_faults();
  std::uint32_t max_faults = 3;
  // A regression scenario runs with its quirks (the historical bug back)
  // or, false, without them (run --quirks off): explore --quirks.
  bool quirks = true;
};

struct ExploredScenario {
  LoadedScenario loaded;          // the scenario with its plan, text included
  std::vector<std::string> plan;  // each fault in words
  std::vector<proto::OracleExpectation> allowed_oracles;
  bool hostile = false;  // the plan has a hostile write (a host_* kind)
};

// `loaded` (a good scenario) with the fault plan of `seed`.
ExploredScenario with_fault_plan(const LoadedScenario& loaded, std::uint64_t seed,
                                 const FaultPlanOptions& options);

// `with_fault_plan`, compiled, with its allowed oracles.
CompiledScenario compile_explored(const LoadedScenario& loaded, std::uint64_t seed,
                                  const FaultPlanOptions& options);

}  // namespace vmbus::runner
