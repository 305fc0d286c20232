// The partition side of the simulated platform.
//
// vmbus-host and vmbus-guest are each a PartitionLogic (the VMBus server or
// client and what runs on it) driven by run_partition(), which speaks the
// IPC protocol of proto/schema/vmbus/proto/ipc.proto with vmbus-sim. The
// logic sees the simulator only through Hypervisor: the hypercalls
// (HvPostMessage, HvSignalEvent, EOM), the trace, and simulated time. It
// never reads a clock or a socket itself, which is what lets the simulator
// schedule it deterministically.
//
// Execution model. Partition work is split into named contexts ("control",
// "isr", "dpc/5", ...). A context does its work in bounded steps; step()
// must never block. In deterministic mode the simulator grants one step at a
// time; in free-running mode run_partition() runs ready contexts itself, as
// fast as they are ready, while the other partition does the same.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmbus/partition/guest_memory.h"
#include "vmbus/proto/ipc.pb.h"
#include "vmbus/proto/report.pb.h"

namespace vmbus::partition {

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // HvPostMessage (message type 1) on `connection_id`; the host's posts go to
  // the guest's VMBus SINT whatever the id. Returns the HV_STATUS.
  virtual std::uint32_t post_message(std::uint32_t connection_id,
                                     std::span<const std::byte> payload) = 0;

  // Guest: HvSignalEvent(connection_id). Host: interrupt the guest for
  // channel `child_relid` (event-flag bit on SINT2).
  virtual void signal_event(std::uint32_t connection_id, std::uint32_t child_relid) = 0;

  // Host: channel `child_relid`'s interrupts go to the guest's VP `vp` from
  // now on (the server opened or retargeted the channel's event port).
  virtual void set_event_target(std::uint32_t child_relid, std::uint32_t vp) = 0;

  // The partition freed its message slot for `sint`.
  virtual void end_of_message(std::uint32_t sint) = 0;

  // A partition-side trace event; the simulator adds time and sequence.
  virtual void trace(proto::TraceRecord record) = 0;

  // Results for the run summary; `done` ends the run (guest only).
  virtual void report(const std::vector<std::pair<std::string, std::string>>& values,
                      bool done) = 0;

  // Simulated time, in nanoseconds, at the start of the current step or delivery.
  virtual std::uint64_t now_ns() const = 0;
};

// One unit of partition work -- a context's step, a scenario action, a
// delivery -- and the hypervisor it calls. The trace records it writes name
// `context` ("" for a delivery, which runs in no context).
struct Work {
  Hypervisor& hv;
  std::string context;

  // A note in the trace, in this work's context.
  void note(const std::string& text) const;
};

struct StartInfo {
  proto::Partition role = proto::PARTITION_UNSPECIFIED;
  proto::SchedulingMode mode = proto::SCHEDULING_MODE_DETERMINISTIC;
  // Guest memory (the run's shared segment, or a test's flat buffer); not
  // owned, outlives the logic.
  GuestMemory* memory = nullptr;
  // The run's seed; every consumer seeds its own PRNG with
  // base::stream_seed(seed, "<its name>") so that no two share a stream.
  std::uint64_t seed = 0;
  std::string config;  // serialized partition configuration
};

class PartitionLogic {
 public:
  virtual ~PartitionLogic() = default;

  // Once, after the simulator's Hello. Returns an error text to refuse to
  // start (bad configuration, too little guest memory), or empty.
  virtual std::string start(const StartInfo& info, Hypervisor& hv) = 0;

  // Host only: the message connection ids the VMBus server listens on.
  virtual std::vector<std::uint32_t> message_connection_ids() const { return {}; }

  // Guest only: how many virtual processors the partition has.
  virtual std::uint32_t vp_count() const { return 1; }

  // The sorted names of the contexts that have work now.
  virtual std::vector<std::string> ready_contexts() const = 0;

  // The earliest simulated time at which a waiting context times out (a
  // driver blocked with a deadline), or 0 for none. The simulator may jump
  // its clock there when nothing else is going on.
  virtual std::uint64_t wake_at_ns() const { return 0; }

  // One bounded step of `context` (one of ready_contexts()).
  virtual void step(const std::string& context, Hypervisor& hv) = 0;

  // A SynIC message landed in the slot for `sint`: the 256-byte hv_message
  // as the hypervisor wrote it. Untrusted: copy, then validate.
  virtual void deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                               Hypervisor& hv) = 0;

  // Event flags were set (guest: child relids on VP `vp`'s SINT2; host:
  // signalled connection ids, vp 0) and the interrupt raised.
  virtual void deliver_event(std::span<const std::uint32_t> child_relids,
                             std::span<const std::uint32_t> connection_ids, std::uint32_t vp,
                             Hypervisor& hv) = 0;

  // A scenario action (deterministic mode only). Returns "" when carried out,
  // else why not ("no channel with child_relid 7", "channel 1 is not open").
  // Like a step, it must not block.
  virtual std::string perform(const proto::PartitionAction& action, Hypervisor& hv) {
    static_cast<void>(action);
    static_cast<void>(hv);
    return "this partition carries out no scenario actions";
  }

  // The end state, for a scenario's expectations and oracles
  // (proto/schema/vmbus/proto/report.proto documents every field).
  virtual proto::FinalReport final_report() { return {}; }
};

// Serves the simulator on the connected stream socket `ipc_fd` until it says
// Shutdown or the connection fails. Returns the process exit code: 0 after a
// clean shutdown, 1 on any protocol or logic failure (reported on stderr and,
// when possible, to the simulator).
int run_partition(int ipc_fd, proto::Partition role, PartitionLogic& logic);

// The whole main() of a partition executable: checks for "--ipc-fd FD",
// prints usage (exit 2) otherwise, and runs run_partition().
int partition_main(int argc, char** argv, proto::Partition role, PartitionLogic& logic);

}  // namespace vmbus::partition
