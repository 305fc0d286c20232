// What a script may ask of the simulated world, in the hypervisor's own
// words.
//
// A scenario's timeline is written in the scenario language
// (proto/schema/vmbus/proto/scenario.proto); the scenario engine compiles
// each timeline action into one Intervention, and the hypervisor carries it
// out without knowing the language. Partition actions travel on as the
// IPC's PartitionAction; everything else is the hypervisor's own business:
// faults armed on its SynIC paths, held contexts, its clock, crashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "vmbus/hypervisor/side.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::hypervisor {

// Ask a partition to carry out an action now (a send, a raw ring write, a
// channel operation, a policy change); it answers with ActionDone, and with
// its new ready set, as after a step.
struct RequestAction {
  Side side = Side::kHost;
  proto::PartitionAction action;
};

// The next `count` interrupts in `direction` (of `child_relid`, 0 = any
// channel) are dropped, delayed by `delay_us`, or delivered twice.
//
// kOldVp (host to guest): an interrupt of a channel whose retarget has not
// taken effect yet (no interrupt reached its new VP since the host moved it)
// still lands on the old VP; other interrupts pass the rule untouched.
struct ArmSignalFault {
  enum class Kind { kDrop, kDelay, kDuplicate, kOldVp };
  Direction direction = Direction::kHostToGuest;
  Kind kind = Kind::kDrop;
  std::uint32_t count = 1;
  std::uint64_t delay_us = 0;
  std::uint32_t child_relid = 0;
};

// An interrupt nobody signalled: the guest's SINT2 with the channel's bit
// set, or an event on the channel's connection id at the host.
struct InjectSpuriousInterrupt {
  Direction direction = Direction::kHostToGuest;
  std::uint32_t child_relid = 0;
};

// The next `count` control messages in `direction` of type `msgtype` (any
// when unset) are dropped, delayed by `delay_us`, delivered twice, held back
// behind the next message, or have `corrupt_bytes` written at
// `corrupt_offset`.
struct ArmMessageFault {
  enum class Kind { kDrop, kDelay, kDuplicate, kReorder, kCorrupt };
  Direction direction = Direction::kHostToGuest;
  Kind kind = Kind::kDrop;
  std::optional<std::uint32_t> msgtype;
  std::uint32_t count = 1;
  std::uint64_t delay_us = 0;
  std::uint32_t corrupt_offset = 0;
  std::string corrupt_bytes;
};

// Kill a partition's process (SIGKILL), as a crash would. The run ends.
struct CrashPartition {
  Side side = Side::kHost;
};

// The scheduler leaves a context -- or, as a prefix, every context below it
// ("kmcl/1" holds "kmcl/1/passive") -- alone until it is released or nothing
// else can run.
struct HoldContext {
  Side side = Side::kHost;
  std::string context;
};
struct ReleaseContext {
  Side side = Side::kHost;
  std::string context;
};

// Move the simulated clock forward.
struct AdvanceTime {
  std::uint64_t ns = 0;
};

// Write a note into the trace.
struct WriteNote {
  std::string text;
};

// Nothing to do: a timeline entry that only waits (for a time or a
// condition) is over once it is due.
struct NoIntervention {};

using Intervention = std::variant<NoIntervention, RequestAction, ArmSignalFault,
                                  InjectSpuriousInterrupt, ArmMessageFault, CrashPartition,
                                  HoldContext, ReleaseContext, AdvanceTime, WriteNote>;

// An intervention that has come due, with what the trace says about it.
struct DueIntervention {
  Intervention what;
  std::uint32_t number = 0;  // 1-based position in the timeline
  std::string label;         // the timeline entry's label, if any
  std::string describe;      // the action in words
};

}  // namespace vmbus::hypervisor
