// RecordedDriver: what a driver on one KMCL channel did, in the words the
// partitions report and scenarios expect -- its callbacks, its sends and
// how they ended, the packets it retired and in what order.
//
// Two kinds of driver keep this record. ScriptedDriver (scripted_driver.h)
// keeps its own, as it acts. A driver loaded from a shared library cannot
// be asked, so DriverRecorder (driver_recorder.h) keeps the same record
// from outside it, at the C API boundary. The partitions read either
// through this interface and never need to know which runs; the words of a
// record (to_scenario_text) are the same for both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/kmcl/kmcl.h"
#include "vmbus/ring/ring.h"

namespace vmbus::kmcl {

class Device;

// One callback as the driver saw it.
struct CallbackRecord {
  std::string callback;      // ProcessPacket, ProcessingComplete, Opened, Started, PostStarted,
                             // Suspend, Closed, Completion, Later
  std::int64_t packet = -1;  // the driver's packet index, or the send index for Completion
  std::uintptr_t handle = 0;
  KIRQL irql = PASSIVE_LEVEL;
  std::string context;
  std::string action;  // what the driver did, or the callback's argument
};

// "ProcessPacket #3 DISPATCH dpc/1 defer", "ProcessingComplete PASSIVE passive 2", ...
std::string to_string(const CallbackRecord& record);
// The same without the context: "ProcessPacket #3 DISPATCH defer",
// "Completion send#0 DISPATCH STATUS_SUCCESS 0B" (what scenario expectations
// and the guest's "driver" trace records name).
std::string to_scenario_text(const CallbackRecord& record);

// How one of the driver's sends ended: its completion routine ran, or its
// synchronous request returned.
struct SendCompletion {
  std::int64_t send_index = -1;
  NTSTATUS status = STATUS_SUCCESS;
  std::vector<std::byte> payload;
  KIRQL irql = PASSIVE_LEVEL;
  std::string context;
  // The transaction id KMCL gave the send (0 if it never got one). Model
  // bookkeeping for traces: a real driver never sees it.
  std::uint64_t trans_id = 0;
  bool synchronous = false;  // VmbChannelSendSynchronousRequest returned
};

// The ring library's counters of a channel's two rings.
struct RingCounters {
  ring::ReaderCounters incoming;
  ring::WriterCounters outgoing;
};

// The first packet processed after one with the same or a later index.
struct OrderBreak {
  std::uint64_t index = 0;
  std::uint64_t after = 0;
};

class RecordedDriver {
 public:
  virtual ~RecordedDriver() = default;

  // The driver's channel (nullptr before it has one).
  virtual VMBCHANNEL channel() const = 0;
  // Every callback, in the order they began (empty unless records are kept).
  virtual const std::vector<CallbackRecord>& records() const = 0;
  // Every send that ended, in the order they ended.
  virtual const std::vector<SendCompletion>& send_completions() const = 0;
  // Sends that ended so far, including completions an owner let the driver
  // forget once traced (ScriptedDriver::forget_send_completions).
  virtual std::uint64_t sends_completed() const = 0;
  // Asynchronous sends whose completion routine has not run yet.
  virtual std::size_t sends_pending() const = 0;
  // Packets the driver retired (Complete or Fail that took effect).
  virtual std::uint64_t retired_packets() const = 0;
  // Retirements by packet index (empty unless the history is kept); more
  // than one for an index is a packet retired twice.
  virtual const std::map<std::uint64_t, std::uint32_t>& retirements() const = 0;
  // Packets the driver keeps on purpose: delivered, not retired, not
  // handed back to KMCL.
  virtual std::size_t outstanding_count() const = 0;
  // Redeliveries whose handle, buffer address, bytes or flags differed.
  virtual std::uint64_t redelivery_mismatches() const = 0;
  virtual const std::optional<OrderBreak>& first_order_break() const = 0;
  // Packets were processed in index order 0, 1, 2, ...
  virtual bool processed_in_index_order() const = 0;
  // The channel's ring counters, summed over every open so far.
  virtual RingCounters ring_counters() const = 0;
};

// The ring counters of a channel across its opens: a close adds the
// counters of the rings KMCL is about to detach (call it from
// EvtChannelClosed, while they are still attached).
class RingCounterSum {
 public:
  void add_closed(Device& device, VMBCHANNEL channel);
  RingCounters total(Device& device, VMBCHANNEL channel) const;

 private:
  RingCounters closed_;
};

}  // namespace vmbus::kmcl
