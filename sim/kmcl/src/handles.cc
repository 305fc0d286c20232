#include "handles.h"

#include "vmbus/base/check.h"

namespace vmbus::kmcl::detail {
namespace {

// High half of the x64 address space: never a user-space address, so an
// issued value cannot collide with an adopted (caller-memory) one.
constexpr std::uintptr_t kIssuedHandleBase = 0xFFFFA00000000000ull;
constexpr std::uintptr_t kIssuedHandleStride = 16;

}  // namespace

const char* handle_kind_name(HandleKind kind) {
  switch (kind) {
    case HandleKind::kChannel:
      return "VMBCHANNEL";
    case HandleKind::kPacket:
      return "VMBPACKET";
    case HandleKind::kCompletion:
      return "VMBPACKETCOMPLETION";
  }
  return "unknown";
}

const char* retire_reason_name(RetireReason reason) {
  switch (reason) {
    case RetireReason::kCompleted:
      return "completed";
    case RetireReason::kFailed:
      return "failed";
    case RetireReason::kFreed:
      return "freed";
    case RetireReason::kCleanedUp:
      return "cleaned up";
    case RetireReason::kDropped:
      return "dropped at close";
  }
  return "unknown";
}

HandleRegistry& HandleRegistry::instance() {
  static HandleRegistry registry;
  return registry;
}

std::uintptr_t HandleRegistry::issue(DeviceCore* device, HandleKind kind, void* object) {
  std::lock_guard lock(mutex_);
  const std::uintptr_t value = kIssuedHandleBase + next_serial_++ * kIssuedHandleStride;
  entries_[value] = HandleEntry{device, kind, object, true, RetireReason::kCompleted};
  return value;
}

bool HandleRegistry::adopt(std::uintptr_t value, DeviceCore* device, HandleKind kind,
                           void* object) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(value);
  if (it != entries_.end() && it->second.live) {
    return false;
  }
  entries_[value] = HandleEntry{device, kind, object, true, RetireReason::kCompleted};
  return true;
}

void HandleRegistry::retire(std::uintptr_t value, RetireReason reason) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(value);
  VMBUS_CHECK(it != entries_.end() && it->second.live, "retire of a handle that is not live");
  it->second.live = false;
  it->second.object = nullptr;
  it->second.reason = reason;
  it->second.retirement = ++retirements_;
  retired_.emplace_back(value, retirements_);
  if (retired_.size() > kRetiredRemembered) {
    const auto [oldest, number] = retired_.front();
    retired_.pop_front();
    // Unless it was adopted again (or its device destroyed) since.
    const auto old = entries_.find(oldest);
    if (old != entries_.end() && !old->second.live && old->second.retirement == number) {
      entries_.erase(old);
      dropped_any_ = true;
    }
  }
}

bool HandleRegistry::forgotten(std::uintptr_t value) const {
  std::lock_guard lock(mutex_);
  if (!dropped_any_ || value < kIssuedHandleBase ||
      (value - kIssuedHandleBase) % kIssuedHandleStride != 0) {
    return false;
  }
  const std::uintptr_t serial = (value - kIssuedHandleBase) / kIssuedHandleStride;
  return serial >= 1 && serial < next_serial_ && !entries_.contains(value);
}

std::optional<HandleEntry> HandleRegistry::find(std::uintptr_t value) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(value);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void HandleRegistry::add_device(DeviceCore* device) {
  std::lock_guard lock(mutex_);
  devices_.insert(device);
}

void HandleRegistry::remove_device(DeviceCore* device) {
  std::lock_guard lock(mutex_);
  devices_.erase(device);
  std::erase_if(entries_, [device](const auto& entry) { return entry.second.device == device; });
}

DeviceCore* HandleRegistry::sole_device() const {
  std::lock_guard lock(mutex_);
  return devices_.size() == 1 ? *devices_.begin() : nullptr;
}

}  // namespace vmbus::kmcl::detail
