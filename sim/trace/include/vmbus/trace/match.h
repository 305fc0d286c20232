// Whether a trace record is one a pattern describes, decided by the
// record's fields.
//
// The scenario engine compiles every condition (`when`, `wait_until`) and
// every trace expectation into a RecordPattern and asks matches() about each
// record of the run; `trace show --channel` asks concerns_channel(). Numbers
// and names are compared whole: a pattern on trans_id 1 never matches
// trans_id 10, kind "send" never matches "send_blocked". Only free text -- a
// note, a detail, a rejection reason -- is searched for a substring, and a
// pattern uses that only for what the record has no field for.
//
// A pattern never matches the scenario's own "scenario step" records
// (ActionEvent): a timeline entry's record would otherwise satisfy the
// condition it waits for.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::trace {

// Every member is one constraint; an empty string, an unset optional or an
// UNSPECIFIED stage or kind constrains nothing.

// A control message (MessageEvent).
struct MessagePattern {
  std::optional<std::uint32_t> msgtype;
  proto::MessageEvent::Stage stage = proto::MessageEvent::STAGE_UNSPECIFIED;
  std::optional<proto::Partition> from;
  std::optional<proto::Partition> to;
  // Fields of the decoded message as its one-line form writes them,
  // "child_relid=2" or "vmbus_version_requested=4.1": each must be a whole
  // field there (child_relid=2 is not child_relid=23; a version's value is
  // its number, before the hex in parentheses).
  std::vector<std::string> fields;
  std::string reason;  // in why it was rejected or ignored
};

// A signal (SignalRecord).
struct SignalPattern {
  proto::SignalRecord::Stage stage = proto::SignalRecord::STAGE_UNSPECIFIED;
  std::optional<proto::Partition> from;
  std::optional<proto::Partition> to;
  // The guest VP it went to; only records of a multi-VP guest name one.
  std::optional<std::uint32_t> vp;
};

// A ring event (RingEvent); the channel is RecordPattern::child_relid.
struct RingPattern {
  std::string ring;  // "host_to_guest" or "guest_to_host"
  std::string op;    // "publish_write", "begin_read", "signal", "pending_send_sz", ...
  std::optional<std::uint32_t> write_index;
  std::optional<std::uint32_t> read_index;
  std::string detail;  // in the record's detail
};

// A channel state change (ChannelEvent).
struct ChannelPattern {
  std::string state;   // "open", "closed", "failed", ...
  std::string detail;  // in the record's detail
};

// A KMCL record (KmclRecord). A "driver" record is one callback of the
// guest's scripted driver; its detail reads
//   <callback>[ #<packet>| send#<packet>] <PASSIVE|DISPATCH>[ <action>]
// ("ProcessPacket #1 DISPATCH defer", "Completion send#0 DISPATCH
// STATUS_SUCCESS 0B"), and callback, packet and action compare those parts.
struct KmclPattern {
  std::string kind;  // "fail", "dequeue", "violation", "driver", ...
  std::string code;  // a violation's verifier code
  std::string callback;
  std::optional<std::int64_t> packet;
  std::string action;
  std::optional<std::uint32_t> irql;  // 0 PASSIVE_LEVEL, 2 DISPATCH_LEVEL
  std::string detail;                 // in the record's detail
};

// An injected fault (FaultEvent).
struct FaultPattern {
  std::string kind;    // "interrupt_dropped", "message_delayed", ...
  std::string detail;  // in the record's detail
};

// A completion a sender learned of (CompletionEvent).
struct CompletionPattern {
  std::optional<std::uint64_t> trans_id;
  std::string status;  // "STATUS_SUCCESS", ...
  std::optional<std::uint32_t> bytes;
};

// A partition process event (ProcessEvent).
struct ProcessPattern {
  proto::ProcessEvent::Kind kind = proto::ProcessEvent::KIND_UNSPECIFIED;
  std::optional<proto::Partition> partition;  // whose process
  std::string detail;                         // in the record's detail
};

// A note (NoteEvent).
struct NotePattern {
  std::string text;  // in the note
};

using EventPattern =
    std::variant<MessagePattern, SignalPattern, RingPattern, ChannelPattern, KmclPattern,
                 FaultPattern, CompletionPattern, ProcessPattern, NotePattern>;

struct RecordPattern {
  EventPattern event;
  // The partition that wrote the record (PARTITION_UNSPECIFIED: the
  // hypervisor itself).
  std::optional<proto::Partition> partition;
  // A channel the record concerns (concerns_channel).
  std::optional<std::uint32_t> child_relid;
};

bool matches(const proto::TraceRecord& record, const RecordPattern& pattern);

// Whether `record` concerns channel `child_relid`: its ring, channel state,
// signals, completions, a context that names it ("dpc/1", "kmcl/1/..."), a
// control message with that child_relid field, or a fault whose detail
// names "relid N" or "child_relid=N".
bool concerns_channel(const proto::TraceRecord& record, std::uint32_t child_relid);

// A driver record's detail, in parts (see KmclPattern).
struct DriverCall {
  std::string callback;
  std::optional<std::int64_t> packet;
  std::string action;
};
DriverCall parse_driver_call(std::string_view detail);

// The values the string-typed kinds of records take, as the partitions and
// the hypervisor write them. A pattern naming any other value could never
// match; the scenario loader refuses it. A producer that writes a new value
// adds it here.
std::span<const std::string_view> ring_names();
std::span<const std::string_view> ring_ops();
std::span<const std::string_view> channel_states();
std::span<const std::string_view> kmcl_kinds();
std::span<const std::string_view> driver_callbacks();
std::span<const std::string_view> fault_kinds();

}  // namespace vmbus::trace
