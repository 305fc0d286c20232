// `vmbus-sim trace`: reading the trace files runs write.
//
//   trace show     a run's trace as a timeline a person can read;
//   trace export   the same trace as Chrome trace-event JSON, for Perfetto UI
//                  (ui.perfetto.dev) and chrome://tracing.
//
// Both are functions of the trace alone: the same trace file gives the same
// bytes out, so their output can be compared across runs and machines.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

#include "vmbus/proto/trace.pb.h"
#include "vmbus/tools/command.h"

namespace vmbus::tools {

const Command& trace_command();

// One trace record as one timeline line (without the trailing newline):
// sequence, simulated time in microseconds, partition, context, IRQL (where
// the record knows it) and then trace_event_text(record).
std::string format_trace_record(const proto::TraceRecord& record);

// The event of `record` in words: the EVENT column of `trace show`, after the
// IRQL column. Scenario conditions are matched against this text, so it is a
// stable format: change a wording only together with the scenarios and tests
// that match it. The three kinds of trace format 3 read
//   fault <kind>[: <detail>]
//   scenario step <step>[ '<label>'][: <describe>][ -- error: <error>]
//   completion relid <child_relid> trans_id <trans_id>[ <status>] <bytes> bytes
// e.g. "fault interrupt_dropped: host->guest relid 1",
// "scenario step 3 'burst': host_send on 'c' x4",
// "completion relid 1 trans_id 5 STATUS_SUCCESS 16 bytes".
std::string trace_event_text(const proto::TraceRecord& record);

// Whether `record` concerns channel `child_relid` (its ring, channel state,
// signals, completions, KMCL context, a control message naming it, or a
// fault whose detail names "relid N" or "child_relid=N").
bool trace_record_concerns_channel(const proto::TraceRecord& record, std::uint32_t child_relid);

// Writes a whole trace (`records` in sequence order, as read_trace returns
// them) as one Chrome trace-event JSON object ("JSON Object Format"):
//
//   {"displayTimeUnit":"ns","otherData":{...},"traceEvents":[ ...one event a line... ]}
//
// Tracks. Each partition is a process (pid 1 host, 2 guest, 3 hypervisor, the
// simulator itself) and each context a thread of it, named after the context
// ("msg", "isr", "kmcl/1/dpc/1", "hypervisor" for the simulator's own records,
// "(no context)" for partition records made outside any context). Thread ids
// are dense from 10 in (pid, context) order with numbers compared by value
// ("dpc/2" before "dpc/10"); they are unique across processes because Perfetto
// keys threads by tid alone, and never equal a pid. "M" events name the
// processes and threads and set process_sort_index = pid and
// thread_sort_index = tid.
//
// Events. Times are microseconds with 3 decimals (time_ns / 1000, exact). A
// scheduler record is a complete event ("X", "step N") on the track of the
// context it chose, lasting until the next scheduler record (1 us for the
// last). Every other record is a thread-scoped instant ("i", "s":"t") on its
// own track, named by its kind ("message delivered", "signal signalled",
// "ring publish_write", "kmcl callback", "fault interrupt_dropped", ...), with
// args {"event": trace_event_text, "sequence": N}.
//
// Ring occupancy. After each ring record, a counter ("C") named
// "ring <relid> <inbound|outbound>" on the hypervisor process with args
// {"bytes_used": N}. The ring's data size S is the record's data_size; in
// traces written before records carried it, S is learnt from the control
// messages of the trace: the GPADL_HEADER
// of gpadl G gives its byte_count B, and an OPENCHANNEL of relid R over G with
// downstream_ringbuffer_pageoffset O splits it into the outbound ring (first
// O pages) and the inbound ring (the rest), each a 4096-byte control page and
// its data area. With the data size S known, N = (write_index - read_index)
// mod S; without it N = write_index - read_index when write_index >=
// read_index, and no sample is written otherwise (nor when an index is not
// below S).
//
// Flows ("s", then "t", then "f" with "bp":"e"), bound to the instants of the
// records they join:
//  - "packet": the KMCL records of one packet. A KMCL "send" or "dequeue"
//    record with a nonzero handle starts a flow; every later KMCL record of
//    the same partition, kmcl/<relid> device, channel and handle joins it
//    (deliveries, defers, redeliveries, completion, verifier violations)
//    until the next "send" or "dequeue" of that handle starts a new one
//    (packet objects are reused across sends). The channel's own handle never
//    appears in a send or dequeue, so channel-wide records join no flow. A
//    completion record (relid R, trans_id T) of partition P ends the flow of
//    the packet P sent with that trans_id: a guest send ("trans_id T") for
//    the guest, a guest dequeue ("trans_id T") of a host packet for the host.
//  - "ring data": a ring publish_write and the publish_read that consumes
//    its last byte, matched by the bytes published and consumed on that ring
//    of that channel since the channel's OPENCHANNEL.
// A flow of a single record is not written.
void write_chrome_trace(const proto::TraceHeader& header,
                        std::span<const proto::TraceRecord> records, std::ostream& out);

}  // namespace vmbus::tools
