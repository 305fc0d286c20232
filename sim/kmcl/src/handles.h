// The process-wide table of every KMCL handle ever issued.
//
// Handles are keys, never addresses of our objects: a driver's handle is
// looked up here before anything is touched, so a garbage, freed or
// wrong-type handle becomes a verifier record instead of undefined
// behaviour. Issued values look like x64 kernel pointers (0xFFFFA...),
// 16-byte aligned, and are never reused, so a retired handle is always
// recognisable as stale. The one exception is VmbPacketInitialize, whose
// handle is the caller's own memory: that address is adopted as a key.
//
// Retired entries are remembered (with the reason) so that, e.g., a second
// VmbChannelPacketComplete is reported as complete_twice and not merely as an
// unknown handle -- the most recent kRetiredRemembered of them, so that a long
// run's memory stays flat; an issued value retired before those is still
// known to have been issued (forgotten()). A device forgets all its entries
// when it is destroyed.
//
// The table is shared by every Device of the process, hence the mutex; the
// contention is nil because only one thread runs at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace vmbus::kmcl::detail {

class DeviceCore;

enum class HandleKind : std::uint8_t { kChannel, kPacket, kCompletion };
// "VMBCHANNEL", "VMBPACKET", "VMBPACKETCOMPLETION".
const char* handle_kind_name(HandleKind kind);

enum class RetireReason : std::uint8_t {
  kCompleted,  // VmbChannelPacketComplete
  kFailed,     // VmbChannelPacketFail
  kFreed,      // VmbPacketFree (or the default completion routine)
  kCleanedUp,  // VmbChannelCleanup
  kDropped,    // dropped when its channel closed
};
const char* retire_reason_name(RetireReason reason);

struct HandleEntry {
  DeviceCore* device = nullptr;
  HandleKind kind = HandleKind::kChannel;
  void* object = nullptr;  // valid only while live
  bool live = true;
  RetireReason reason = RetireReason::kCompleted;  // when !live
  std::uint64_t retirement = 0;                    // its number among retirements, when !live
};

class HandleRegistry {
 public:
  static HandleRegistry& instance();

  std::uintptr_t issue(DeviceCore* device, HandleKind kind, void* object);
  // Makes `value` (caller memory) a live handle. False if it is live already.
  bool adopt(std::uintptr_t value, DeviceCore* device, HandleKind kind, void* object);
  void retire(std::uintptr_t value, RetireReason reason);
  std::optional<HandleEntry> find(std::uintptr_t value) const;
  // An issued value whose retired entry was dropped to keep memory flat.
  bool forgotten(std::uintptr_t value) const;
  static constexpr std::size_t kRetiredRemembered = std::size_t{1} << 16;

  void add_device(DeviceCore* device);
  // Drops every entry of the device, live or retired.
  void remove_device(DeviceCore* device);
  // The only live device, or nullptr if there are none or several.
  DeviceCore* sole_device() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_serial_ = 1;
  std::unordered_map<std::uintptr_t, HandleEntry> entries_;
  // The remembered retirements, oldest first: (value, its retirement number).
  std::deque<std::pair<std::uintptr_t, std::uint64_t>> retired_;
  std::uint64_t retirements_ = 0;
  bool dropped_any_ = false;
  std::unordered_set<DeviceCore*> devices_;
};

}  // namespace vmbus::kmcl::detail
