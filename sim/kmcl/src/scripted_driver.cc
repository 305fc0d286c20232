#include "vmbus/kmcl/scripted_driver.h"

#include <algorithm>
#include <cstring>

#include "vmbus/base/check.h"

// Model bookkeeping only (transaction ids and ring counters for reports and
// traces); the driver's behaviour goes through the V1 API alone.
#include "core.h"

namespace vmbus::kmcl {
namespace {

// A handle no device ever issued (issued ones live at 0xFFFFA...).
VMBPACKETCOMPLETION made_up_handle() {
  return reinterpret_cast<VMBPACKETCOMPLETION>(std::uintptr_t{0xDEAD0000});
}

}  // namespace

const char* packet_action_name(PacketAction action) {
  switch (action) {
    case PacketAction::kComplete:
      return "complete";
    case PacketAction::kCompleteLater:
      return "complete-later";
    case PacketAction::kLeaveOutstanding:
      return "outstanding";
    case PacketAction::kDefer:
      return "defer";
    case PacketAction::kFail:
      return "fail";
    case PacketAction::kGetExternalData:
      return "external-data";
    case PacketAction::kMisuse:
      return "misuse";
    case PacketAction::kEcho:
      return "echo";
  }
  return "unknown";
}

const char* misuse_name(Misuse misuse) {
  switch (misuse) {
    case Misuse::kCompleteTwice:
      return "complete-twice";
    case Misuse::kCompleteAfterDefer:
      return "complete-after-defer";
    case Misuse::kCompleteAfterFail:
      return "complete-after-fail";
    case Misuse::kDeferOutsideCallback:
      return "defer-outside-callback";
    case Misuse::kFailOutsideCallback:
      return "fail-outside-callback";
    case Misuse::kCompleteUnknownHandle:
      return "complete-unknown-handle";
    case Misuse::kPauseInline:
      return "pause-inline";
    case Misuse::kSendSyncInline:
      return "send-sync-inline";
    case Misuse::kInitAfterEnable:
      return "init-after-enable";
  }
  return "unknown";
}

ScriptedDriver::ScriptedDriver(Device& device, std::string name, std::uint64_t seed)
    : device_(device), name_(std::move(name)), random_(seed) {}

ScriptedDriver::~ScriptedDriver() = default;

NTSTATUS ScriptedDriver::create_channel(bool is_server,
                                        const std::function<void(VMBCHANNEL)>& configure) {
  VMBUS_CHECK(channel_ == nullptr, "a ScriptedDriver drives one channel");
  NTSTATUS status = VmbChannelAllocate(&device_, is_server ? TRUE : FALSE, &channel_);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VmbChannelSetPointer(channel_, this);
  status = VmbChannelInitSetProcessPacketCallbacks(channel_, &ScriptedDriver::process_packet,
                                                   &ScriptedDriver::processing_complete);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.EvtChannelOpened = &ScriptedDriver::opened;
  callbacks.EvtChannelClosed = &ScriptedDriver::closed;
  callbacks.EvtChannelSuspend = &ScriptedDriver::suspend;
  callbacks.EvtChannelStarted = &ScriptedDriver::started;
  callbacks.EvtChannelPostStarted = &ScriptedDriver::post_started;
  status = VmbChannelInitSetStateChangeCallbacks(channel_, &callbacks);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  if (configure) {
    configure(channel_);
  }
  return STATUS_SUCCESS;
}

void ScriptedDriver::add_rule(const PacketMatch& match, const Action& action) {
  rules_.emplace_back(match, action);
}

// --- Callbacks (plain function pointers, as KMCL wants them) ----------------------------

ScriptedDriver& ScriptedDriver::of(VMBCHANNEL channel) {
  auto* driver = static_cast<ScriptedDriver*>(VmbChannelGetPointer(channel));
  VMBUS_CHECK(driver != nullptr, "a ScriptedDriver callback for a channel it does not own");
  return *driver;
}

VOID ScriptedDriver::process_packet(VMBCHANNEL channel, VMBPACKETCOMPLETION packet, PVOID buffer,
                                    UINT32 length, UINT32 flags) {
  of(channel).on_packet(packet, buffer, length, flags);
}

VOID ScriptedDriver::processing_complete(VMBCHANNEL channel, UINT32 processed) {
  of(channel).record("ProcessingComplete", -1, 0, std::to_string(processed));
}

NTSTATUS ScriptedDriver::opened(VMBCHANNEL channel) {
  ScriptedDriver& driver = of(channel);
  driver.record("Opened", -1, 0,
                NT_SUCCESS(driver.opened_status) ? "" : ntstatus_name(driver.opened_status));
  return driver.opened_status;
}

VOID ScriptedDriver::closed(VMBCHANNEL channel) {
  ScriptedDriver& driver = of(channel);
  driver.record("Closed", -1, 0, "");
  // KMCL detaches the rings right after Closed returns: keep their counters.
  driver.ring_counter_sum_.add_closed(driver.device_, channel);
}

VOID ScriptedDriver::suspend(VMBCHANNEL channel) {
  ScriptedDriver& driver = of(channel);
  const bool retire = driver.retire_outstanding_on_close && !driver.outstanding_.empty() &&
                      driver.device_.channel_state(channel) == ChannelState::kClosing;
  driver.record("Suspend", -1, 0,
                retire ? "retire " + std::to_string(driver.outstanding_.size()) : "");
  if (retire) {
    driver.complete_outstanding();
  }
  if (driver.on_suspend) {
    driver.on_suspend(channel);
  }
}

VOID ScriptedDriver::started(VMBCHANNEL channel) {
  of(channel).record("Started", -1, 0, "");
}

VOID ScriptedDriver::post_started(VMBCHANNEL channel) {
  ScriptedDriver& driver = of(channel);
  driver.record("PostStarted", -1, 0, "");
  if (driver.on_post_started) {
    driver.on_post_started(channel);
  }
}

VOID ScriptedDriver::send_completed(VMBPACKET packet, NTSTATUS status, PVOID buffer,
                                    UINT32 length) {
  auto* driver = static_cast<ScriptedDriver*>(VmbPacketGetPointer(packet));
  VMBUS_CHECK(driver != nullptr, "a send completion for a packet of no ScriptedDriver");
  const auto key = reinterpret_cast<std::uintptr_t>(packet);
  const auto it = driver->send_index_of_.find(key);
  VMBUS_CHECK(it != driver->send_index_of_.end(), "a completion for a packet never sent");
  SendCompletion completion;
  completion.send_index = it->second;
  completion.status = status;
  const auto& packets = driver->device_.core().packets;
  if (const auto object = packets.find(key); object != packets.end()) {
    completion.trans_id = object->second->trans_id;
  }
  const auto* bytes = static_cast<const std::byte*>(buffer);
  if (length > 0) {
    completion.payload.assign(bytes, bytes + length);
  }
  completion.irql = KeGetCurrentIrql();
  completion.context = current_context_name();
  driver->record("Completion", it->second, key,
                 std::string(ntstatus_name(status)) + " " + std::to_string(length) + "B");
  driver->send_completions_.push_back(std::move(completion));
  driver->send_index_of_.erase(it);
  VmbPacketFree(packet);
}

// --- Sending -----------------------------------------------------------------------------------

std::int64_t ScriptedDriver::send(std::span<const std::byte> payload, UINT32 flags,
                                  PMDL external_data) {
  VMBPACKET packet = VmbPacketAllocate(channel_);
  if (packet == nullptr) {
    last_send_status_ = STATUS_INSUFFICIENT_RESOURCES;
    return -1;
  }
  VmbPacketSetPointer(packet, this);
  VmbPacketSetCompletionRoutine(packet, &ScriptedDriver::send_completed);
  const std::int64_t index = next_send_index_;
  send_index_of_[reinterpret_cast<std::uintptr_t>(packet)] = index;
  last_send_status_ =
      VmbPacketSend(packet, payload.empty() ? nullptr : const_cast<std::byte*>(payload.data()),
                    static_cast<UINT32>(payload.size()), external_data, flags);
  if (!NT_SUCCESS(last_send_status_)) {
    send_index_of_.erase(reinterpret_cast<std::uintptr_t>(packet));
    VmbPacketFree(packet);
    return -1;
  }
  ++next_send_index_;
  return index;
}

NTSTATUS ScriptedDriver::send_synchronous(std::span<const std::byte> payload, UINT32 flags,
                                          PMDL external_data,
                                          std::optional<LONGLONG> timeout_100ns) {
  const std::int64_t index = next_send_index_++;
  // The request takes the channel's next transaction id before it can block;
  // if the counter moved, this request got the value it had.
  const detail::Channel& ch = device_.core().channel_of(channel_);
  const std::uint64_t trans_id_before = ch.next_trans_id;
  std::vector<std::byte> answer(std::max<UINT32>(VmbChannelSizeofPacket(channel_), 8) / 8 * 8);
  auto answer_size = static_cast<UINT32>(answer.size());
  LARGE_INTEGER timeout{};
  if (timeout_100ns) {
    timeout.QuadPart = *timeout_100ns;
  }
  const NTSTATUS status = VmbChannelSendSynchronousRequest(
      channel_, payload.empty() ? nullptr : const_cast<std::byte*>(payload.data()),
      static_cast<UINT32>(payload.size()), external_data, flags, answer.data(), &answer_size,
      timeout_100ns ? &timeout : nullptr);
  SendCompletion completion;
  completion.send_index = index;
  completion.status = status;
  answer.resize(std::min<std::size_t>(answer_size, answer.size()));
  completion.payload = std::move(answer);
  completion.irql = KeGetCurrentIrql();
  completion.context = current_context_name();
  completion.trans_id = ch.next_trans_id != trans_id_before ? trans_id_before : 0;
  completion.synchronous = true;
  send_completions_.push_back(std::move(completion));
  return status;
}

ScriptedDriver::RingCounters ScriptedDriver::ring_counters() const {
  return ring_counter_sum_.total(device_, channel_);
}

// --- Receiving ----------------------------------------------------------------------------------

void ScriptedDriver::record(std::string callback, std::int64_t packet, std::uintptr_t handle,
                            std::string action) {
  if (!keep_records) {
    return;
  }
  records_.push_back(CallbackRecord{std::move(callback), packet, handle, KeGetCurrentIrql(),
                                    current_context_name(), std::move(action)});
}

std::vector<std::string> ScriptedDriver::log() const {
  std::vector<std::string> lines;
  lines.reserve(records_.size());
  for (const CallbackRecord& r : records_) {
    lines.push_back(to_string(r));
  }
  return lines;
}

void ScriptedDriver::forget_records(std::size_t count) {
  VMBUS_CHECK(count <= records_.size(), "forgetting callback records that do not exist");
  records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(count));
  records_forgotten_ += count;
}

std::vector<std::byte> ScriptedDriver::payload_of(std::uint64_t index) const {
  const auto it = payloads_.find(index);
  return it != payloads_.end() ? it->second : std::vector<std::byte>{};
}

const Action& ScriptedDriver::choose(const Seen& seen, std::span<const std::byte> payload,
                                     KIRQL irql) {
  for (const auto& [match, action] : rules_) {
    if (match.index && *match.index != seen.index) {
      continue;
    }
    if (match.every && (*match.every == 0 || seen.index % *match.every != 0)) {
      continue;
    }
    if (match.irql && *match.irql != irql) {
      continue;
    }
    if (match.delivery && *match.delivery != seen.deliveries) {
      continue;
    }
    if (!match.payload_prefix.empty() &&
        (payload.size() < match.payload_prefix.size() ||
         !std::equal(match.payload_prefix.begin(), match.payload_prefix.end(), payload.begin()))) {
      continue;
    }
    // Drawn only when everything else matched, so a seed gives one sequence
    // of decisions for one sequence of deliveries.
    if (match.percent < 100 && random_.below(100) >= match.percent) {
      continue;
    }
    return action;
  }
  return default_action_;
}

void ScriptedDriver::on_packet(VMBPACKETCOMPLETION packet, PVOID buffer, UINT32 length,
                               UINT32 flags) {
  const auto key = reinterpret_cast<std::uintptr_t>(packet);
  const std::span<const std::byte> payload(static_cast<const std::byte*>(buffer), length);
  auto it = seen_.find(key);
  if (it == seen_.end()) {
    Seen fresh{next_index_++, buffer, {payload.begin(), payload.end()}, flags, 0};
    if (keep_history) {
      payloads_[fresh.index] = fresh.bytes;
    }
    it = seen_.emplace(key, std::move(fresh)).first;
  } else if (it->second.buffer != buffer || it->second.flags != flags ||
             !std::equal(payload.begin(), payload.end(), it->second.bytes.begin(),
                         it->second.bytes.end())) {
    ++redelivery_mismatches_;  // DESIGN 4: identical handle, bytes and flags
  }
  Seen& seen = it->second;
  ++seen.deliveries;
  const Action action = choose(seen, payload, KeGetCurrentIrql());
  // Record before acting: what the packet's callback did shows in order
  // even when the action makes other callbacks run in-line.
  std::size_t slot = SIZE_MAX;
  if (keep_records) {
    records_.push_back(CallbackRecord{"ProcessPacket", static_cast<std::int64_t>(seen.index), key,
                                      KeGetCurrentIrql(), current_context_name(), ""});
    slot = records_forgotten_ + records_.size() - 1;
  }
  const std::uint64_t index = seen.index;
  const std::string what = perform(action, packet, seen, payload);
  if (slot != SIZE_MAX) {
    records_[slot - records_forgotten_].action = what;
  }
  const bool requeued =
      what == "defer" || what == "external-data-pending" || what == "misuse:complete-after-defer";
  if (!requeued) {
    note_processed(index);
  }
}

void ScriptedDriver::note_processed(std::uint64_t index) {
  if (processed_packets_ != 0 && index <= last_processed_ && !first_order_break_) {
    first_order_break_ = OrderBreak{index, last_processed_};
  }
  in_index_order_ = in_index_order_ && index == processed_packets_;
  last_processed_ = index;
  ++processed_packets_;
  if (keep_history) {
    processed_order_.push_back(index);
  }
}

void ScriptedDriver::note_retired(VMBPACKETCOMPLETION packet, std::uint64_t index) {
  // Counted once per packet: a second retirement shows in retirements().
  if (!keep_history || ++retirements_[index] == 1) {
    ++retired_packets_;
  }
  seen_.erase(reinterpret_cast<std::uintptr_t>(packet));
}

void ScriptedDriver::complete(VMBPACKETCOMPLETION packet, std::uint64_t index, const Action& action,
                              std::span<const std::byte> payload) {
  std::vector<std::byte> body = action.echo_payload
                                    ? std::vector<std::byte>(payload.begin(), payload.end())
                                    : action.completion;
  note_retired(packet, index);
  VmbChannelPacketComplete(packet, body.empty() ? nullptr : body.data(),
                           static_cast<UINT32>(body.size()));
}

std::string ScriptedDriver::echo(VMBPACKETCOMPLETION packet, std::uint64_t index,
                                 std::span<const std::byte> payload) {
  // KMCL does not tell a driver whether the sender wants a completion (a
  // real VSP knows from its protocol); the model's introspection does.
  if (!device_.completion_requested(packet)) {
    // The default completion routine frees the packet once it is placed.
    VMBPACKET reply = VmbPacketAllocate(channel_);
    if (reply == nullptr) {
      return "echo-failed";
    }
    const NTSTATUS sent =
        VmbPacketSend(reply, payload.empty() ? nullptr : const_cast<std::byte*>(payload.data()),
                      static_cast<UINT32>(payload.size()), nullptr, 0);
    if (!NT_SUCCESS(sent)) {
      VmbPacketFree(reply);
      complete(packet, index, Action{}, payload);
      return std::string("echo-failed ") + ntstatus_name(sent);
    }
    ++echoes_sent_;
  }
  Action answer;
  answer.echo_payload = true;
  complete(packet, index, answer, payload);
  return "echo";
}

WorkQueue& ScriptedDriver::later_queue(KIRQL irql) {
  return device_.create_work_queue(name_ + (irql == PASSIVE_LEVEL ? "-passive" : "-dpc"), irql);
}

std::string ScriptedDriver::perform(const Action& action, VMBPACKETCOMPLETION packet,
                                    const Seen& seen, std::span<const std::byte> payload) {
  const std::uint64_t index = seen.index;
  switch (action.kind) {
    case PacketAction::kComplete:
      complete(packet, index, action, payload);
      return "complete";
    case PacketAction::kCompleteLater: {
      // The buffer is only promised until retirement; keep our own copy.
      std::vector<std::byte> copy(payload.begin(), payload.end());
      later_queue(action.later_irql)
          .post(
              [this, packet, index, action, copy] {
                record("Later", static_cast<std::int64_t>(index),
                       reinterpret_cast<std::uintptr_t>(packet), "complete");
                complete(packet, index, action, copy);
              },
              action.later_steps);
      return "complete-later";
    }
    case PacketAction::kLeaveOutstanding:
      outstanding_.emplace_back(packet, index);
      return "outstanding";
    case PacketAction::kDefer:
      VmbChannelPacketDeferToPassive(packet);
      return "defer";
    case PacketAction::kFail:
      note_retired(packet, index);
      VmbChannelPacketFail(packet);
      return "fail";
    case PacketAction::kGetExternalData:
      return use_external_data(action, packet, index, payload);
    case PacketAction::kEcho:
      return echo(packet, index, payload);
    case PacketAction::kMisuse:
      break;
  }
  misuse(action, packet, index, payload);
  return std::string("misuse:") + misuse_name(action.misuse);
}

std::string ScriptedDriver::use_external_data(const Action& action, VMBPACKETCOMPLETION packet,
                                              std::uint64_t index,
                                              std::span<const std::byte> payload) {
  PMDL mdl = nullptr;
  const NTSTATUS status = VmbChannelPacketGetExternalData(packet, 0, &mdl);
  if (status == STATUS_PENDING) {
    return "external-data-pending";
  }
  if (NT_SUCCESS(status)) {
    std::uint64_t ranges = 0;
    std::uint64_t bytes = 0;
    std::uint64_t pfns = 0;
    for (const MDL* m = mdl; m != nullptr; m = m->Next) {
      ++ranges;
      bytes += m->ByteCount;
      pfns += m->PfnArray.size();
    }
    external_data_seen_.push_back("ranges=" + std::to_string(ranges) + " bytes=" +
                                  std::to_string(bytes) + " pfns=" + std::to_string(pfns));
  }
  // As vmswitch does: on success use the data; on any other error complete.
  complete(packet, index, action, payload);
  return NT_SUCCESS(status) ? "external-data"
                            : std::string("external-data-error ") + ntstatus_name(status);
}

void ScriptedDriver::misuse(const Action& action, VMBPACKETCOMPLETION packet, std::uint64_t index,
                            std::span<const std::byte> payload) {
  switch (action.misuse) {
    case Misuse::kCompleteTwice:
      complete(packet, index, action, payload);
      VmbChannelPacketComplete(packet, nullptr, 0);
      break;
    case Misuse::kCompleteAfterDefer:
      VmbChannelPacketDeferToPassive(packet);
      VmbChannelPacketComplete(packet, nullptr, 0);  // ignored: KMCL still owns it
      break;
    case Misuse::kCompleteAfterFail:
      note_retired(packet, index);
      VmbChannelPacketFail(packet);
      VmbChannelPacketComplete(packet, nullptr, 0);
      break;
    case Misuse::kDeferOutsideCallback:
    case Misuse::kFailOutsideCallback: {
      const bool defer = action.misuse == Misuse::kDeferOutsideCallback;
      std::vector<std::byte> copy(payload.begin(), payload.end());
      later_queue(action.later_irql)
          .post(
              [this, packet, index, action, copy, defer] {
                record("Later", static_cast<std::int64_t>(index),
                       reinterpret_cast<std::uintptr_t>(packet),
                       defer ? "defer+complete" : "fail+complete");
                if (defer) {
                  VmbChannelPacketDeferToPassive(packet);
                } else {
                  VmbChannelPacketFail(packet);
                }
                complete(packet, index, action, copy);
              },
              action.later_steps);
      break;
    }
    case Misuse::kCompleteUnknownHandle:
      VmbChannelPacketComplete(made_up_handle(), nullptr, 0);
      complete(packet, index, action, payload);
      break;
    case Misuse::kPauseInline:
      VmbChannelPause(channel_);
      complete(packet, index, action, payload);
      break;
    case Misuse::kSendSyncInline: {
      std::uint64_t request = 0;
      std::uint64_t response = 0;
      UINT32 response_size = sizeof(response);
      VmbChannelSendSynchronousRequest(channel_, &request, sizeof(request), nullptr,
                                       VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION, &response,
                                       &response_size, nullptr);
      complete(packet, index, action, payload);
      break;
    }
    case Misuse::kInitAfterEnable:
      VmbChannelInitSetMaximumPacketSize(channel_, 128);
      complete(packet, index, action, payload);
      break;
  }
}

void ScriptedDriver::complete_outstanding(std::span<const std::byte> payload, std::size_t count) {
  const std::size_t taken = std::min(count, outstanding_.size());
  std::vector<std::pair<VMBPACKETCOMPLETION, std::uint64_t>> packets(
      outstanding_.begin(), outstanding_.begin() + static_cast<std::ptrdiff_t>(taken));
  outstanding_.erase(outstanding_.begin(),
                     outstanding_.begin() + static_cast<std::ptrdiff_t>(taken));
  Action action;
  action.completion.assign(payload.begin(), payload.end());
  for (const auto& [packet, index] : packets) {
    complete(packet, index, action, {});
  }
}

}  // namespace vmbus::kmcl
