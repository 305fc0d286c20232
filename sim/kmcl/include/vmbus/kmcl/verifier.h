// The KMCL model's verifier: every breach of the KMCL contract by driver code
// becomes one structured Violation record with a stable code, and the
// library's observable decisions become TraceEvents.
//
// Who owns what: each Device (vmbus/kmcl/device.h) keeps its violations and
// hands every record, as it happens, to the TraceSink its owner installed
// (the guest process turns them into trace records). A violation never
// crashes the process: in kRecordAndContinue mode the offending call is
// ignored as described per code in docs/KMCL-SEMANTICS.md and the run goes
// on; in kStop mode the device also stops like a bug check (no context is
// ready any more, every later API call returns at once) and reports.
//
// VMBUS_CHECK is not used for any of these: they are the driver's bugs, not
// the model's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmbus/kmcl/ntdef.h"

namespace vmbus::kmcl {

// Stable codes: the names (violation_code_name) appear in traces and tests.
enum class ViolationCode : std::uint8_t {
  kDeferOutsideCallback,         // DeferToPassive not in-line in ProcessPacket for that packet
  kFailOutsideCallback,          // Fail not in-line in ProcessPacket for that packet
  kExternalDataOutsideCallback,  // GetExternalData not in-line in ProcessPacket
  kCompleteTwice,                // Complete of a packet already completed
  kCompleteAfterFail,            // Complete of a packet that was failed
  kCompleteAfterDefer,           // Complete of a packet deferred (or pending external data)
                                 // and not yet redelivered
  kUnknownHandle,                // never issued, null, or a handle of another type
  kStaleHandle,                  // issued once, since freed / cleaned up / dropped at close
  kWrongIrql,                    // API called at an IRQL its contract forbids
  kPacketNotRetiredAtClose,      // a delivered packet was never retired and the channel's
                                 // close (or pause, or cleanup) can therefore never finish
  kDeferLivelock,         // one packet deferred more than VerifierConfig::defer_livelock_limit
  kSendOnChannelNotOpen,  // send while Disabled, closing or closed (queued anyway)
  kInitAfterEnable,       // VmbChannelInit* after the first VmbChannelEnable
  kStateCallInCallback,   // Pause/Start/Enable/Disable from within this channel's callbacks
  kWaitNeverSatisfied,    // a blocked context can never wake up (deadlock)
  kSendPacketInFlight,    // VmbPacketSend of a packet object already in flight
  kFreePacketInFlight,    // VmbPacketFree of a packet object still in flight
  kSendWithoutCompletionRoutine,  // VmbPacketInitialize'd packet sent before SetCompletionRoutine
  kCleanupWhileEnabled,           // VmbChannelCleanup of a channel that is not Disabled
  kCompletionBufferTooLarge,      // Complete with a payload above the channel's maximum packet size
  kInvalidParameter,              // a VOID function given a value its contract excludes
};
inline constexpr std::size_t kViolationCodeCount = 21;

// "defer_outside_callback", ...
const char* violation_code_name(ViolationCode code);

enum class VerifierMode : std::uint8_t {
  kRecordAndContinue,  // record, ignore the offending call, go on
  kStop,               // record, then stop the device (bug check)
};

struct VerifierConfig {
  VerifierMode mode = VerifierMode::kRecordAndContinue;
  // A packet deferred more than this many times is a defer_livelock (once).
  std::uint32_t defer_livelock_limit = 16;
  // IRQL rules we inferred where the documentation says nothing (e.g.
  // VmbChannelEnable at PASSIVE_LEVEL; docs/KMCL-SEMANTICS.md lists them)
  // are enforced only when this is set; documented ones always are.
  bool enforce_inferred_irql = true;
};

struct Violation {
  ViolationCode code{};
  std::string api;             // "VmbChannelPacketComplete"
  std::uintptr_t handle = 0;   // the handle passed (packet, completion or channel), 0 if none
  std::string device;          // DeviceConfig::name
  std::uint32_t channel = 0;   // the channel's device-local index, 0 if unknown
  std::string context;         // "dpc/1", "passive", "thread/x", "work/x", "external"
  KIRQL irql = PASSIVE_LEVEL;  // of that context at the time of the call
  std::string detail;          // human explanation
  std::uint64_t step = 0;      // the device's step counter
  std::uint64_t now_ns = 0;    // the device's clock
};

// "wrong_irql VmbChannelPause handle=0x... ch=1 dpc/1@DISPATCH_LEVEL: <detail>"
std::string to_string(const Violation& violation);

// The packet and callback an event is about: the transaction id on the wire
// (a send, a dequeue, a completion), the packet's index on its channel (the
// "#N" of the detail), which delivery of the packet a ProcessPacket callback
// is (2 after a Defer), and the callback invoked. Every member has an
// initializer, so that facts can be written naming only those they know.
struct TracePacketFacts {
  std::optional<std::uint64_t> trans_id{};
  std::optional<std::uint64_t> packet{};
  std::uint32_t delivery = 0;
  std::string callback{};
};

// A ring operation of one of the device's channels (event kind "ring"):
// which ring, what was done to it, and its control words right after. The
// device reads its incoming ring and writes its outgoing one; the trace sink
// names them by direction from its end of the channel.
struct TraceRingFacts {
  bool incoming = false;
  // "begin_read", "publish_read", "signal", "no_signal", "end_read" on the
  // incoming ring; "publish_write", "signal", "no_signal",
  // "pending_send_sz" on the outgoing one.
  std::string op{};
  std::uint32_t write_index = 0;
  std::uint32_t read_index = 0;
  // A publish: the index it moved, before it moved.
  std::optional<std::uint32_t> index_before{};
  // A publish: the bytes it made visible (written) or freed (read);
  // end_read: the bytes its re-check found unread.
  std::uint32_t bytes = 0;
  std::uint32_t data_size = 0;
  std::uint32_t interrupt_mask = 0;
  std::uint32_t pending_send_sz = 0;
  // A signal decision: ring::signal_reason_name of its reason.
  std::string reason{};
};

// Something the library decided that a trace should show: a callback
// invoked, a packet dequeued, dropped or discarded, a protocol error that
// stopped a queue, a signal sent, a quota hit. `kind` is a stable name.
struct TraceEvent {
  std::string kind;
  std::string device;
  std::uint32_t channel = 0;
  std::uintptr_t handle = 0;
  std::string context;
  KIRQL irql = PASSIVE_LEVEL;
  std::string detail;
  std::uint64_t step = 0;
  std::uint64_t now_ns = 0;
  // What the detail says in words, as fields a program can read, where the
  // event is about one packet or one callback (unset or empty otherwise).
  TracePacketFacts facts;
  // Kind "ring": the ring operation.
  std::optional<TraceRingFacts> ring{};
};

std::string to_string(const TraceEvent& event);

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void on_violation(const Violation& violation) = 0;
  virtual void on_event(const TraceEvent& event) { static_cast<void>(event); }
  // Whether on_event wants events of `kind` at all; the device builds no
  // event (nor its detail, on the busiest paths) for a kind it does not.
  virtual bool wants(std::string_view kind) const {
    static_cast<void>(kind);
    return true;
  }
};

// Violations that no device can be blamed for: an unknown handle passed
// from outside any scheduled context while no device (or several) exist.
// They are kept here (and given to the sink, if one is set).
void set_unattributed_violation_sink(TraceSink* sink);
std::vector<Violation> take_unattributed_violations();

}  // namespace vmbus::kmcl
