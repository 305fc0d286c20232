// Chrome trace-event JSON export of a run's trace (`vmbus-sim trace export`).
#pragma once

#include <iosfwd>
#include <span>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::cli {

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

}  // namespace vmbus::cli
