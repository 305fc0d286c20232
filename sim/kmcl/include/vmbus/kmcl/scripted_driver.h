// ScriptedDriver: a KMCL client driver (a VSC on a client channel, a VSP on
// a server channel) whose EvtVmbChannelProcessPacket does what a policy says,
// packet by packet, and that records every callback it gets.
//
// It uses only the V1 API, the way a real driver would: it registers plain
// function-pointer callbacks, finds itself again through VmbChannelGetPointer
// / VmbPacketGetPointer, and reads KeGetCurrentIrql(). Scenarios (and the
// tests) choose per packet -- by the driver's packet index, by a payload
// prefix, by IRQL or delivery number, or with a seeded probability -- to
// complete now (with a completion payload), complete later from another
// context, leave the packet outstanding, defer, fail, fetch external data, or
// break a rule on purpose.
//
// Randomness comes only from the seed the owner gives (base::Prng, splitmix64); there is
// no clock and no global random source, so a seed replays a run exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmbus/base/prng.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/kmcl.h"
#include "vmbus/kmcl/recorded_driver.h"
#include "vmbus/ring/ring.h"

namespace vmbus::kmcl {

enum class PacketAction : std::uint8_t {
  kComplete,          // VmbChannelPacketComplete in-line, with Action::completion
  kCompleteLater,     // complete after Action::later_steps steps of a driver work queue
  kLeaveOutstanding,  // keep it; the test completes it with complete_outstanding()
  kDefer,             // VmbChannelPacketDeferToPassive
  kFail,              // VmbChannelPacketFail
  kGetExternalData,   // GetExternalData: return on STATUS_PENDING, else complete
  kMisuse,            // break a contract on purpose (Action::misuse)
  // Answer with the packet's own payload: as its completion if the sender
  // asked for one, else as a new packet (VmbPacketSend, no completion
  // wanted); then complete it. The echo VSP of the host.
  kEcho,
};

enum class Misuse : std::uint8_t {
  kCompleteTwice,          // Complete, Complete
  kCompleteAfterDefer,     // Defer, Complete (in-line)
  kCompleteAfterFail,      // Fail, Complete (in-line)
  kDeferOutsideCallback,   // leave it; later (work queue) Defer, then Complete
  kFailOutsideCallback,    // leave it; later (work queue) Fail, then Complete
  kCompleteUnknownHandle,  // Complete a made-up handle, then the real one
  kPauseInline,            // VmbChannelPause in-line (wrong IRQL at DISPATCH), then Complete
  kSendSyncInline,         // VmbChannelSendSynchronousRequest in-line, then Complete
  kInitAfterEnable,        // VmbChannelInitSetMaximumPacketSize in-line, then Complete
};

const char* packet_action_name(PacketAction action);
const char* misuse_name(Misuse misuse);

struct PacketMatch {
  std::optional<std::uint64_t> index;     // the driver's packet index (order of first delivery)
  std::optional<std::uint64_t> every;     // index % every == 0 (every > 0)
  std::vector<std::byte> payload_prefix;  // the payload starts with these bytes
  std::optional<KIRQL> irql;              // delivered at this IRQL
  std::optional<std::uint32_t> delivery;  // the n-th delivery of this packet (1 = first)
  std::uint32_t percent = 100;            // then matches with this probability (seeded)
};

struct Action {
  PacketAction kind = PacketAction::kComplete;
  std::vector<std::byte> completion;  // the completion payload
  bool echo_payload = false;          // complete with the packet's own payload instead
  std::uint32_t later_steps = 1;      // kCompleteLater and the *OutsideCallback misuses
  KIRQL later_irql = DISPATCH_LEVEL;  // which driver work queue does it
  Misuse misuse = Misuse::kCompleteTwice;
};

class ScriptedDriver final : public RecordedDriver {
 public:
  // `seed` feeds the probability rules only.
  ScriptedDriver(Device& device, std::string name, std::uint64_t seed);
  ~ScriptedDriver() override;
  ScriptedDriver(const ScriptedDriver&) = delete;
  ScriptedDriver& operator=(const ScriptedDriver&) = delete;

  // VmbChannelAllocate + the Init calls with this driver's callbacks;
  // `configure` may make more Init calls before the channel is returned. Does
  // not Enable.
  NTSTATUS create_channel(bool is_server, const std::function<void(VMBCHANNEL)>& configure = {});
  VMBCHANNEL channel() const override { return channel_; }
  Device& device() { return device_; }
  const std::string& name() const { return name_; }

  // --- Policy: the first matching rule decides; otherwise the default. ----------
  void add_rule(const PacketMatch& match, const Action& action);
  void set_default_action(const Action& action) { default_action_ = action; }
  void clear_rules() { rules_.clear(); }

  // Keep a CallbackRecord per callback -- off for very long runs; the rest of
  // the bookkeeping below (processed_order, retirements) stays.
  bool keep_records = true;
  // Keep each packet's history -- processed_order, retirements, payload_of
  // -- which grows with every packet; off where nothing asks (long runs).
  // retired_packets() counts either way.
  bool keep_history = true;

  // --- Hooks for scenario code (all optional) ------------------------------------------
  NTSTATUS opened_status = STATUS_SUCCESS;  // what EvtChannelOpened returns
  std::function<void(VMBCHANNEL)> on_post_started;
  std::function<void(VMBCHANNEL)> on_suspend;
  // At an EvtChannelSuspend that comes from a close (the peer closed or
  // rescinded, or a Disable), complete every packet left outstanding -- what
  // a VSP must do when the guest goes away, since the guest will never
  // answer for them. Its Suspend record then says "retire <n>".
  bool retire_outstanding_on_close = false;

  // --- Sending ------------------------------------------------------------------------
  // VmbPacketAllocate + SetCompletionRoutine + VmbPacketSend. Returns the
  // send index (completions are recorded under it) or -1 if the send failed
  // (last_send_status() says why).
  std::int64_t send(std::span<const std::byte> payload, UINT32 flags, PMDL external_data = nullptr);
  NTSTATUS last_send_status() const { return last_send_status_; }
  // Asynchronous sends (send()) whose completion routine has not run yet.
  std::size_t sends_pending() const override { return send_index_of_.size(); }
  // Packets sent back by kEcho (not sends: nothing records their completion).
  std::uint64_t echoes_sent() const { return echoes_sent_; }

  // VmbChannelSendSynchronousRequest from the calling (PASSIVE_LEVEL) context;
  // `timeout_100ns` is the KeWaitForSingleObject-style timeout (negative:
  // relative), nullopt waits forever. The outcome is recorded as a send
  // completion (synchronous = true) with the answer's bytes, and returned.
  NTSTATUS send_synchronous(std::span<const std::byte> payload, UINT32 flags,
                            PMDL external_data = nullptr,
                            std::optional<LONGLONG> timeout_100ns = std::nullopt);

  using SendCompletion = kmcl::SendCompletion;
  const std::vector<SendCompletion>& send_completions() const override { return send_completions_; }
  std::uint64_t sends_completed() const override {
    return sends_forgotten_ + send_completions_.size();
  }
  // Drops the completions kept so far (an owner that has read them, in a
  // run that keeps no history).
  void forget_send_completions() {
    sends_forgotten_ += send_completions_.size();
    send_completions_.clear();
  }

  // --- What happened -------------------------------------------------------------------
  // The records kept (all of them unless forget_records dropped some).
  const std::vector<CallbackRecord>& records() const override { return records_; }
  std::vector<std::string> log() const;
  void clear_log() { records_.clear(); }

  // Packet indexes in the order their delivery was processed (not requeued).
  const std::vector<std::uint64_t>& processed_order() const { return processed_order_; }
  // Complete/Fail calls the driver made (misuses excluded), by packet index.
  const std::map<std::uint64_t, std::uint32_t>& retirements() const override {
    return retirements_;
  }
  // Packets the driver retired (Complete or Fail, misuses excluded).
  std::uint64_t retired_packets() const override { return retired_packets_; }
  // The same facts as processed_order, kept as they happen (memory flat):
  // how many packets were processed, the first one processed after a packet
  // with the same or a later index, and whether the order was 0, 1, 2, ...
  using OrderBreak = kmcl::OrderBreak;
  std::uint64_t processed_packets() const { return processed_packets_; }
  const std::optional<OrderBreak>& first_order_break() const override { return first_order_break_; }
  bool processed_in_index_order() const override { return in_index_order_; }
  // The first payload seen for a packet index (empty unless keep_history).
  // Drops the oldest `count` records (an owner that has traced them, so
  // that a long scenario run's memory stays flat). A ProcessPacket record
  // whose action has not returned yet must not be among them.
  void forget_records(std::size_t count);
  std::vector<std::byte> payload_of(std::uint64_t index) const;
  // Redeliveries whose handle, buffer address, bytes or flags differed.
  std::uint64_t redelivery_mismatches() const override { return redelivery_mismatches_; }
  std::uint64_t packets_seen() const { return next_index_; }
  std::size_t outstanding_count() const override { return outstanding_.size(); }
  // Completes the oldest `count` packets left outstanding (all by default),
  // from the calling context.
  void complete_outstanding(std::span<const std::byte> payload = {}, std::size_t count = SIZE_MAX);
  // The MDL chain GetExternalData gave, as "ranges=N bytes=M pfns=P".
  const std::vector<std::string>& external_data_seen() const { return external_data_seen_; }

  // The ring library's counters of this channel's two rings, summed over
  // every open so far (a close snapshots them before KMCL detaches the
  // rings). Model introspection for reports, not a KMCL call.
  using RingCounters = kmcl::RingCounters;
  RingCounters ring_counters() const override;

 private:
  struct Seen {
    std::uint64_t index;
    const void* buffer;
    std::vector<std::byte> bytes;
    UINT32 flags;
    std::uint32_t deliveries;
  };

  static VOID process_packet(VMBCHANNEL channel, VMBPACKETCOMPLETION packet, PVOID buffer,
                             UINT32 length, UINT32 flags);
  static VOID processing_complete(VMBCHANNEL channel, UINT32 processed);
  static NTSTATUS opened(VMBCHANNEL channel);
  static VOID closed(VMBCHANNEL channel);
  static VOID suspend(VMBCHANNEL channel);
  static VOID started(VMBCHANNEL channel);
  static VOID post_started(VMBCHANNEL channel);
  static VOID send_completed(VMBPACKET packet, NTSTATUS status, PVOID buffer, UINT32 length);
  static ScriptedDriver& of(VMBCHANNEL channel);

  void on_packet(VMBPACKETCOMPLETION packet, PVOID buffer, UINT32 length, UINT32 flags);
  const Action& choose(const Seen& seen, std::span<const std::byte> payload, KIRQL irql);
  std::string perform(const Action& action, VMBPACKETCOMPLETION packet, const Seen& seen,
                      std::span<const std::byte> payload);
  // kGetExternalData: map the packet's external data, then complete it.
  std::string use_external_data(const Action& action, VMBPACKETCOMPLETION packet,
                                std::uint64_t index, std::span<const std::byte> payload);
  // kMisuse: break the KMCL contract the way action.misuse says.
  void misuse(const Action& action, VMBPACKETCOMPLETION packet, std::uint64_t index,
              std::span<const std::byte> payload);
  // Counts a packet the driver finished processing (it did not requeue it).
  void note_processed(std::uint64_t index);
  // Counts a retirement and forgets the packet's delivery state.
  void note_retired(VMBPACKETCOMPLETION packet, std::uint64_t index);
  void complete(VMBPACKETCOMPLETION packet, std::uint64_t index, const Action& action,
                std::span<const std::byte> payload);
  // kEcho: the payload back to the sender, then complete.
  std::string echo(VMBPACKETCOMPLETION packet, std::uint64_t index,
                   std::span<const std::byte> payload);
  void record(std::string callback, std::int64_t packet, std::uintptr_t handle, std::string action);
  WorkQueue& later_queue(KIRQL irql);

  Device& device_;
  std::string name_;
  base::Prng random_;
  VMBCHANNEL channel_ = nullptr;
  std::vector<std::pair<PacketMatch, Action>> rules_;
  Action default_action_;
  std::map<std::uintptr_t, Seen> seen_;  // by VMBPACKETCOMPLETION, until retired
  std::uint64_t next_index_ = 0;
  std::vector<CallbackRecord> records_;
  std::size_t records_forgotten_ = 0;  // dropped from the front of records_
  std::vector<std::uint64_t> processed_order_;
  std::map<std::uint64_t, std::uint32_t> retirements_;
  std::uint64_t retired_packets_ = 0;
  std::uint64_t processed_packets_ = 0;
  std::uint64_t last_processed_ = 0;
  std::optional<OrderBreak> first_order_break_;
  bool in_index_order_ = true;
  std::map<std::uint64_t, std::vector<std::byte>> payloads_;
  std::uint64_t redelivery_mismatches_ = 0;
  std::vector<std::pair<VMBPACKETCOMPLETION, std::uint64_t>> outstanding_;
  std::vector<std::string> external_data_seen_;
  std::map<std::uintptr_t, std::int64_t> send_index_of_;  // by VMBPACKET
  std::int64_t next_send_index_ = 0;
  NTSTATUS last_send_status_ = STATUS_SUCCESS;
  std::uint64_t echoes_sent_ = 0;
  std::vector<SendCompletion> send_completions_;
  std::uint64_t sends_forgotten_ = 0;
  RingCounterSum ring_counter_sum_;  // of the opens that ended
};

}  // namespace vmbus::kmcl
