// The driver slots: one page of shared memory in which each partition says
// which code of a loaded driver it runs, so that the simulator can name the
// driver, callback, channel and packet after the partition crashed or hung.
//
// vmbus-sim creates the page (an anonymous memfd, like the guest memory)
// and hands it to both partitions as descriptor 5 (Hello.driver_slot_name);
// the host writes the first half, the guest the second. A partition writes
// its slot before it enters driver code and when it leaves it (and when a
// fiber hand-off changes what runs) -- from ordinary code, never from a
// signal handler, so nothing async-signal-unsafe is needed: when the process
// dies, the slot already says where. The simulator reads the slot only
// once the partition has crashed, hung, or failed to start.
//
// The page is untrusted when read: a crashing driver may have scribbled on
// it. Every field is bounded and checked; a slot caught mid-write (its
// sequence odd) or with a wrong magic reads as "nothing known".
//
// Who uses it: sim/partition (DriverSlotWriter), sim/hypervisor
// (read_driver_slot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace vmbus::ipc {

inline constexpr std::size_t kDriverSlotPageBytes = 4096;
inline constexpr std::size_t kDriverSlotBytes = kDriverSlotPageBytes / 2;

enum class DriverSlotSide : std::uint8_t { kHost = 0, kGuest = 1 };

enum class DriverSlotState : std::uint32_t {
  kOutside = 0,           // no driver code runs
  kInDriver = 1,          // driver code runs at the position below
  kExceptionEscaped = 2,  // an exception escaped the driver code below (`detail` says which)
  kEntryFailed = 3,       // the driver's entry point returned an error (`detail`)
};

// What a slot says.
struct DriverSlotContents {
  DriverSlotState state = DriverSlotState::kOutside;
  std::string driver;    // the library's file name
  std::string callback;  // "EvtVmbChannelProcessPacket", "VmbusSimDriverEntry", ...
  std::string channel;   // the scenario's name for the channel
  std::int64_t packet = -1;
  std::int64_t send = -1;
  std::string detail;
};

// Field limits (longer values are cut).
inline constexpr std::size_t kDriverSlotDriverBytes = 256;
inline constexpr std::size_t kDriverSlotCallbackBytes = 64;
inline constexpr std::size_t kDriverSlotChannelBytes = 128;
inline constexpr std::size_t kDriverSlotDetailBytes = 1024;

// A partition's own slot in the mapped page.
class DriverSlotWriter {
 public:
  // `page` is the whole mapped page (kDriverSlotPageBytes, checked).
  DriverSlotWriter(std::span<std::byte> page, DriverSlotSide side);
  void write(const DriverSlotContents& contents);

 private:
  std::byte* slot_;
};

// `side`'s slot in `page`, or nullopt when it is torn, unset or not a slot.
std::optional<DriverSlotContents> read_driver_slot(std::span<const std::byte> page,
                                                   DriverSlotSide side);

// "guest driver libmyvsc.so", "in EvtVmbChannelProcessPacket of channel
// 'net', packet #4" -- the words of a report.
std::string driver_slot_who(const DriverSlotContents& contents, DriverSlotSide side);
std::string driver_slot_where(const DriverSlotContents& contents);

}  // namespace vmbus::ipc
