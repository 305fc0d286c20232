// The timeline's actions, one row each: the one place that knows, for every
// action a scenario file can write, who carries it out, how it is checked,
// how it reads and what it compiles to.
//
// The loader checks each entry's action with its row, the trace and failure
// messages describe it with its row, and the compiler resolves its names and
// payloads and turns it into a hypervisor::Intervention with its row.
// Adding an action is one field in TimelineEntry's `action` oneof
// (proto/schema/vmbus/proto/scenario.proto), one row here, and one executor
// in its owner (the host's or guest's PartitionLogic::perform, or the
// hypervisor's carry_out for a new Intervention).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "vmbus/hypervisor/intervention.h"
#include "vmbus/proto/scenario.pb.h"
#include "vmbus/runner/scenario.h"

#include "check.h"

namespace vmbus::runner {

// Who carries an action out.
enum class Owner {
  kHost,        // the host partition, as a PartitionAction
  kGuest,       // the guest partition, as a PartitionAction
  kHypervisor,  // the simulator itself (faults, holds, its clock, crashes)
};

struct ActionRow {
  proto::TimelineEntry::ActionCase action;
  // The field that writes it in a file: "host_send".
  std::string_view name;
  // Who carries it out (most rows: always the same owner).
  Owner (*owner)(const proto::TimelineEntry& entry);
  // Load time: the action's own fields, at `where` (the action's field).
  void (*check)(const proto::TimelineEntry& entry, const Where& where, Checks& checks);
  // The action in words, for the trace's "scenario step" records and for
  // failure messages (of a resolved entry: payload sizes are known).
  std::string (*describe)(const proto::TimelineEntry& entry);
  // Compile time: channel names -> relids, payloads -> bytes, message
  // names -> types, in place.
  void (*resolve)(proto::TimelineEntry& entry, const CompiledScenario& scenario);
  // A resolved entry in the hypervisor's words, carried out by `owner`.
  hypervisor::Intervention (*compile)(const proto::TimelineEntry& entry, Owner owner);
};

// Every row, in the order of TimelineEntry's `action` oneof.
std::span<const ActionRow> action_table();

// The row of `action`, or nullptr (an entry without an action only waits).
const ActionRow* find_action(proto::TimelineEntry::ActionCase action);

}  // namespace vmbus::runner
