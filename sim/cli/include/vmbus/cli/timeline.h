// The timeline of a run's trace that every viewer export draws (`vmbus-sim
// trace export`: Chrome JSON, Perfetto, the offline HTML page). The three
// writers only lay this model out in their format, so they show the same
// tracks, slices, flows and counters.
//
// Everything here comes from the records' fields, never from their rendered
// text (the text only appears as a label or an argument).
//
// Tracks. A process per partition -- host (pid 1), guest (pid 2) and the
// hypervisor (pid 3, the simulator) -- and a thread track per partition
// context that has a record ("msg", "isr", "kmcl/1/dpc/1"; "(no context)"
// for a partition's records made outside any context). The hypervisor's own
// records go to lanes by what they are: "scenario" (timeline steps),
// "messages host->guest" and "messages guest->host" (SynIC messages posted,
// queued, delivered, rejected), "signals host->guest" and "signals
// guest->host" (a sender's signal and the interrupt it raised), "faults",
// "processes" and "hypervisor" (anything else). Partition contexts sort by
// name with numbers compared by value ("dpc/2" before "dpc/10"); thread ids
// are dense from 10 in track order, unique across processes.
//
// Slices. Every record is one slice on its track. A scheduler step is the
// slice "step N" on the context it chose; the records that context made in
// the step are slices nested in it. Simulated time does not advance inside a
// step, so the records that share a time are laid out one after another in
// short slots from that time: a slot is at most 100 ns and shares the time
// to the next record time evenly (at least 1 ns; when even 1 ns per record
// does not fit, later records move later by the few ns needed). Within a
// step (or a scenario action), the partition's records come before the
// hypervisor's records of the hypercalls it made in that step (signals,
// messages posted, faults on them), so cause precedes effect. A step lasts
// until the next record time, at most 1 us (the simulator's step cost), and
// never past the next step or action. The record's own time is the argument
// "time_ns"; a slice's start is never earlier than it.
//
// Flows, each through the slices of its records in time order:
//  - "packet": one packet's life. The sender's KMCL send (transaction T on
//    relid R) starts it; the sender's next signal on R, the interrupt that
//    signal raised, the receiver's dequeue of T, every receiver record of
//    that packet (each delivery -- a Defer shows as a second delivery on the
//    PASSIVE context --, defer, fail, complete, violations), and, when a
//    completion comes back, the receiver's signal and interrupt and the
//    sender's completion routine and completion record join it. A dequeue
//    whose send the trace does not show starts its own flow.
//  - "message": a SynIC message posted, queued, delivered (again when
//    duplicated), and handled or ignored by the receiver.
//  - "ring data": a ring publish_write to the publish_read that consumed its
//    last byte (bytes counted on that ring since the channel opened).
// A flow of one slice is left out. Ids are dense from 1 in start order.
//
// Counters: "ring <relid> <ring>" per ring a ring record names, one sample
// per ring record at its slice's start: the bytes in use, (write_index -
// read_index) modulo the ring's data size (without a data size, write_index
// - read_index when not negative, else no sample).
//
// A fault on a message or an interrupt marks the slice it hit (`fault`): a
// message fault hits the message posted just before it, an interrupt drop
// or delay the signal just before it, an interrupt duplicate the signal just
// after it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

inline constexpr std::uint32_t kHostPid = 1;
inline constexpr std::uint32_t kGuestPid = 2;
inline constexpr std::uint32_t kHypervisorPid = 3;

struct TimelineTrack {
  std::uint32_t pid = 0;
  std::uint32_t tid = 0;
  std::string name;
};

// One argument of a slice: a number or a text.
struct TimelineArg {
  std::string key;
  std::string text;
  std::uint64_t number = 0;
  bool is_number = false;
};

struct TimelineSlice {
  std::size_t record = 0;  // index into the records
  std::size_t track = 0;   // index into Timeline::tracks
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  std::string name;
  // "step", "message", "signal", "interrupt", "ring", "kmcl", "callback",
  // "defer", "fail", "violation", "completion", "channel", "fault",
  // "action", "process", "note".
  std::string kind;
  std::string fault;  // the fault kind that hit this message or signal, if any
  std::vector<TimelineArg> args;
};

struct TimelineFlow {
  std::uint64_t id = 0;
  std::string name;                 // "packet", "message", "ring data"
  std::vector<std::size_t> slices;  // indices into Timeline::slices, in time order
};

struct TimelineCounter {
  std::string name;  // "ring 1 host_to_guest"
  std::uint32_t child_relid = 0;
  std::string ring;
  std::uint64_t data_size_bytes = 0;  // the largest a sample's record gave, 0 if none
};

struct CounterSample {
  std::size_t counter = 0;  // index into Timeline::counters
  std::size_t slice = 0;    // the ring record's slice
  std::uint64_t time_ns = 0;
  std::uint64_t bytes_used = 0;
};

struct Timeline {
  std::vector<TimelineTrack> tracks;      // pid order, then the order above
  std::vector<TimelineSlice> slices;      // by start time; no two starts are equal
  std::vector<TimelineFlow> flows;        // by id
  std::vector<TimelineCounter> counters;  // by relid, then ring
  std::vector<CounterSample> samples;     // by time
};

// `records` in sequence order, as read_trace returns them.
Timeline build_timeline(std::span<const proto::TraceRecord> records);

// "host", "guest", "hypervisor".
const char* timeline_process_name(std::uint32_t pid);

}  // namespace vmbus::cli
