#include "vmbus/kmcl/driver_recorder.h"

#include <algorithm>

#include "vmbus/base/check.h"

// Model bookkeeping only (the device a recorder watches, transaction ids).
#include "core.h"

namespace vmbus::kmcl {

DriverRecorder::DriverRecorder(Device& device, std::string driver, std::string channel_name)
    : device_(device), driver_(std::move(driver)), channel_name_(std::move(channel_name)) {
  VMBUS_CHECK(device_.core().recorder == nullptr, "a device with two driver recorders");
  device_.core().recorder = this;
}

DriverRecorder::~DriverRecorder() {
  device_.core().recorder = nullptr;
}

DriverPosition DriverRecorder::position(std::string callback) const {
  DriverPosition at;
  at.driver = driver_;
  at.callback = std::move(callback);
  at.channel = channel_name_;
  return at;
}

RingCounters DriverRecorder::ring_counters() const {
  return ring_counter_sum_.total(device_, channel_);
}

std::size_t DriverRecorder::record(std::string callback, std::int64_t packet, std::uintptr_t handle,
                                   std::string action) {
  if (!keep_records) {
    return SIZE_MAX;
  }
  records_.push_back(CallbackRecord{std::move(callback), packet, handle, KeGetCurrentIrql(),
                                    current_context_name(), std::move(action)});
  return records_.size() - 1;
}

DriverRecorder::Begun DriverRecorder::begin_channel_callback(const char* record_name,
                                                             const char* wdk_name) {
  return Begun{record(record_name, -1, 0, ""), position(wdk_name)};
}

void DriverRecorder::end_channel_callback(std::size_t token, const std::string& argument) {
  if (token < records_.size()) {
    records_[token].action = argument;
  }
}

DriverRecorder::Begun DriverRecorder::begin_process_packet(VMBPACKETCOMPLETION packet,
                                                           const void* buffer, UINT32 length,
                                                           UINT32 flags) {
  const auto key = reinterpret_cast<std::uintptr_t>(packet);
  const auto* bytes = static_cast<const std::byte*>(buffer);
  const std::span<const std::byte> payload(bytes, bytes == nullptr ? 0 : length);
  auto it = deliveries_.find(key);
  if (it == deliveries_.end()) {
    Delivery fresh;
    fresh.index = next_index_++;
    fresh.buffer = buffer;
    fresh.bytes.assign(payload.begin(), payload.end());
    fresh.flags = flags;
    it = deliveries_.emplace(key, std::move(fresh)).first;
  } else if (it->second.buffer != buffer || it->second.flags != flags ||
             !std::equal(payload.begin(), payload.end(), it->second.bytes.begin(),
                         it->second.bytes.end())) {
    ++redelivery_mismatches_;  // KMCL promises the same handle, buffer, bytes and flags
  }
  Delivery& delivery = it->second;
  delivery.words.clear();
  delivery.handed_back = false;
  // Made before the driver acts: callbacks its calls cause in-line follow it.
  delivery.open_token = record("ProcessPacket", static_cast<std::int64_t>(delivery.index), key, "");
  DriverPosition at = position("EvtVmbChannelProcessPacket");
  at.packet = static_cast<std::int64_t>(delivery.index);
  return Begun{delivery.open_token, std::move(at)};
}

void DriverRecorder::end_process_packet(std::size_t token, VMBPACKETCOMPLETION packet) {
  const auto it = deliveries_.find(reinterpret_cast<std::uintptr_t>(packet));
  VMBUS_CHECK(it != deliveries_.end(), "a ProcessPacket ended for a packet never delivered");
  Delivery& delivery = it->second;
  if (token < records_.size()) {
    records_[token].action = delivery.words.empty() ? "outstanding" : delivery.words;
  }
  delivery.open_token = SIZE_MAX;
  if (!delivery.handed_back) {
    note_processed(delivery.index);
  }
  if (delivery.retired) {
    deliveries_.erase(it);
  } else if (!delivery.handed_back && !delivery.kept) {
    delivery.kept = true;
    ++kept_;
  }
}

void DriverRecorder::note_processed(std::uint64_t index) {
  if (processed_packets_ != 0 && index <= last_processed_ && !first_order_break_) {
    first_order_break_ = OrderBreak{index, last_processed_};
  }
  in_index_order_ = in_index_order_ && index == processed_packets_;
  last_processed_ = index;
  ++processed_packets_;
}

void DriverRecorder::on_packet_call(const char* word, VMBPACKETCOMPLETION packet, bool retired,
                                    bool handed_back) {
  const auto it = deliveries_.find(reinterpret_cast<std::uintptr_t>(packet));
  if (it == deliveries_.end()) {
    return;  // not a packet this driver holds (a verifier record says so)
  }
  Delivery& delivery = it->second;
  const bool in_its_callback = delivery.open_token != SIZE_MAX;
  if (in_its_callback) {
    delivery.words += (delivery.words.empty() ? "" : "+") + std::string(word);
  }
  delivery.handed_back = delivery.handed_back || handed_back;
  if (!retired) {
    return;
  }
  ++retired_packets_;
  if (keep_history) {
    ++retirements_[delivery.index];
  }
  if (delivery.kept) {
    --kept_;
    delivery.kept = false;
  }
  if (in_its_callback) {
    delivery.retired = true;  // later calls in the callback still show in its record
  } else {
    deliveries_.erase(it);
  }
}

void DriverRecorder::on_send(VMBPACKET packet) {
  send_index_of_[reinterpret_cast<std::uintptr_t>(packet)] = next_send_index_++;
}

DriverRecorder::Begun DriverRecorder::begin_completion(VMBPACKET packet, NTSTATUS status,
                                                       const void* buffer, UINT32 length) {
  const auto key = reinterpret_cast<std::uintptr_t>(packet);
  DriverPosition at = position("EvtVmbPacketCompletionRoutine");
  const auto it = send_index_of_.find(key);
  if (it == send_index_of_.end()) {
    return Begun{SIZE_MAX, std::move(at)};
  }
  SendCompletion completion;
  completion.send_index = it->second;
  completion.status = status;
  const auto& packets = device_.core().packets;
  if (const auto object = packets.find(key); object != packets.end()) {
    completion.trans_id = object->second->trans_id;
  }
  if (buffer != nullptr && length > 0) {
    const auto* bytes = static_cast<const std::byte*>(buffer);
    completion.payload.assign(bytes, bytes + length);
  }
  completion.irql = KeGetCurrentIrql();
  completion.context = current_context_name();
  const std::size_t token =
      record("Completion", it->second, key,
             std::string(ntstatus_name(status)) + " " + std::to_string(length) + "B");
  at.send = it->second;
  send_completions_.push_back(std::move(completion));
  send_index_of_.erase(it);
  return Begun{token, std::move(at)};
}

std::uint64_t DriverRecorder::next_trans_id() const {
  return channel_ != nullptr ? device_.core().channel_of(channel_).next_trans_id : 0;
}

DriverRecorder::SyncBegun DriverRecorder::begin_synchronous_request() {
  return SyncBegun{next_send_index_++, next_trans_id()};
}

void DriverRecorder::end_synchronous_request(const SyncBegun& begun, NTSTATUS status,
                                             const void* answer, UINT32 answer_bytes) {
  SendCompletion completion;
  completion.send_index = begun.send_index;
  completion.status = status;
  if (answer != nullptr && answer_bytes > 0) {
    const auto* bytes = static_cast<const std::byte*>(answer);
    completion.payload.assign(bytes, bytes + answer_bytes);
  }
  completion.irql = KeGetCurrentIrql();
  completion.context = current_context_name();
  // The request took the channel's next transaction id before it could
  // block; if the counter moved, this request got the value it had.
  completion.trans_id = next_trans_id() != begun.trans_id_before ? begun.trans_id_before : 0;
  completion.synchronous = true;
  send_completions_.push_back(std::move(completion));
}

void DriverRecorder::before_rings_detach() {
  if (channel_ != nullptr) {
    ring_counter_sum_.add_closed(device_, channel_);
  }
}

}  // namespace vmbus::kmcl
