// DriverRecorder: the record (recorded_driver.h) of a driver loaded from a
// shared library, kept from outside it.
//
// A loaded driver is C code the simulator cannot ask what it did. Its
// callbacks reach it through the C API's trampolines and its calls come
// back through the C functions (src/c_api.cc); both tell the recorder of
// the driver's device, so that the driver's record reads exactly like the
// scripted driver's:
//
//  * every callback, when it begins: "Opened PASSIVE", "ProcessPacket #3
//    DISPATCH defer", "ProcessingComplete DISPATCH 2", "Completion send#0
//    DISPATCH STATUS_SUCCESS 8B", "Suspend PASSIVE retire 2" (it completed
//    two packets in EvtChannelSuspend);
//  * what a ProcessPacket did is the driver's calls on that packet during
//    the callback, in order, joined by '+': "complete", "defer", "fail",
//    "external-data-pending", "fail+complete", "complete+complete"; none
//    at all is "outstanding" (the driver kept it);
//  * its sends (VmbPacketSend* of a packet with a completion routine of
//    its own, and VmbChannelSendSynchronousRequest), numbered in order, and
//    how each ended;
//  * the packets it retired: a Complete or Fail that took effect, counted
//    once per packet (a second one is a verifier record, not a retirement),
//    the processing order and redeliveries, as the oracles read them.
//
// It also names each call into the driver for driver_position.h, so a crash
// or a hang in driver code is reported as the driver's.
//
// The recorder must exist before the driver's entry point runs on the
// device, and outlive every callback of it (it detaches in its destructor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/driver_position.h"
#include "vmbus/kmcl/recorded_driver.h"

namespace vmbus::kmcl {

class DriverRecorder final : public RecordedDriver {
 public:
  // `driver` (the library's file name) and `channel_name` name the
  // positions of its code.
  DriverRecorder(Device& device, std::string driver, std::string channel_name);
  ~DriverRecorder() override;
  DriverRecorder(const DriverRecorder&) = delete;
  DriverRecorder& operator=(const DriverRecorder&) = delete;

  // As ScriptedDriver's: keep a CallbackRecord per callback; keep each
  // packet's history (retirements by index).
  bool keep_records = true;
  bool keep_history = true;

  const std::string& driver() const { return driver_; }
  const std::string& channel_name() const { return channel_name_; }
  // The position of a call into the driver outside any callback (its entry point).
  DriverPosition position(std::string callback) const;

  // The channel the driver allocated; the owner sets it once the entry
  // point returned.
  void set_channel(VMBCHANNEL channel) { channel_ = channel; }

  // --- RecordedDriver ------------------------------------------------------------------
  VMBCHANNEL channel() const override { return channel_; }
  const std::vector<CallbackRecord>& records() const override { return records_; }
  const std::vector<SendCompletion>& send_completions() const override { return send_completions_; }
  std::uint64_t sends_completed() const override { return send_completions_.size(); }
  std::size_t sends_pending() const override { return send_index_of_.size(); }
  std::uint64_t retired_packets() const override { return retired_packets_; }
  const std::map<std::uint64_t, std::uint32_t>& retirements() const override {
    return retirements_;
  }
  std::size_t outstanding_count() const override { return kept_; }
  std::uint64_t redelivery_mismatches() const override { return redelivery_mismatches_; }
  const std::optional<OrderBreak>& first_order_break() const override { return first_order_break_; }
  bool processed_in_index_order() const override { return in_index_order_; }
  RingCounters ring_counters() const override;

  // --- What the C API tells it (src/c_api.cc) ------------------------------------------
  // A callback begins: its record is made (the token names it for the end)
  // and the position it runs at is returned. `record_name` is the record's
  // word ("Opened"), `wdk_name` the callback's WDK name ("EvtChannelOpened").
  struct Begun {
    std::size_t token;
    DriverPosition position;
  };
  Begun begin_channel_callback(const char* record_name, const char* wdk_name);
  // `argument` is the record's action ("" for none).
  void end_channel_callback(std::size_t token, const std::string& argument);
  Begun begin_process_packet(VMBPACKETCOMPLETION packet, const void* buffer, UINT32 length,
                             UINT32 flags);
  void end_process_packet(std::size_t token, VMBPACKETCOMPLETION packet);
  // A completion routine of one of the driver's sends; `send` -1 for a
  // packet the recorder did not see sent.
  Begun begin_completion(VMBPACKET packet, NTSTATUS status, const void* buffer, UINT32 length);
  // EvtChannelSuspend: the record says how many packets the driver retired in it.
  std::uint64_t retired_so_far() const { return retired_packets_; }

  // The driver called `word` ("complete", "fail", "defer", "external-data",
  // "external-data-pending") on an incoming packet. `retired`: the call
  // retired it; `handed_back`: it went back to KMCL (a Defer or a pending
  // GetExternalData that took effect).
  void on_packet_call(const char* word, VMBPACKETCOMPLETION packet, bool retired, bool handed_back);
  // The driver sent `packet`, which has a completion routine of its own.
  void on_send(VMBPACKET packet);
  // A VmbChannelSendSynchronousRequest of the driver begins (it takes the
  // next send index, and the channel's next transaction id before it can
  // block), and how it ended.
  struct SyncBegun {
    std::int64_t send_index;
    std::uint64_t trans_id_before;
  };
  SyncBegun begin_synchronous_request();
  void end_synchronous_request(const SyncBegun& begun, NTSTATUS status, const void* answer,
                               UINT32 answer_bytes);
  // EvtChannelClosed: the rings are still attached and about to go.
  void before_rings_detach();

 private:
  struct Delivery {
    std::uint64_t index = 0;
    const void* buffer = nullptr;
    std::vector<std::byte> bytes;
    UINT32 flags = 0;
    std::size_t open_token = SIZE_MAX;  // its ProcessPacket runs
    std::string words;                  // its calls during that ProcessPacket
    bool handed_back = false;
    bool kept = false;     // counted in kept_
    bool retired = false;  // in its open ProcessPacket; forgotten when that ends
  };

  std::uint64_t next_trans_id() const;
  std::size_t record(std::string callback, std::int64_t packet, std::uintptr_t handle,
                     std::string action);
  void note_processed(std::uint64_t index);

  Device& device_;
  std::string driver_;
  std::string channel_name_;
  VMBCHANNEL channel_ = nullptr;
  std::vector<CallbackRecord> records_;
  std::map<std::uintptr_t, Delivery> deliveries_;  // by VMBPACKETCOMPLETION, until retired
  std::uint64_t next_index_ = 0;
  std::size_t kept_ = 0;
  std::uint64_t retired_packets_ = 0;
  std::map<std::uint64_t, std::uint32_t> retirements_;
  std::uint64_t processed_packets_ = 0;
  std::uint64_t last_processed_ = 0;
  std::optional<OrderBreak> first_order_break_;
  bool in_index_order_ = true;
  std::uint64_t redelivery_mismatches_ = 0;
  std::map<std::uintptr_t, std::int64_t> send_index_of_;  // by VMBPACKET, until it completes
  std::int64_t next_send_index_ = 0;
  std::vector<SendCompletion> send_completions_;
  RingCounterSum ring_counter_sum_;
};

}  // namespace vmbus::kmcl
