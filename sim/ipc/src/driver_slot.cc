#include "vmbus/ipc/driver_slot.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "vmbus/base/check.h"

namespace vmbus::ipc {
namespace {

// The slot's layout (little-endian, the host's byte order):
//   0 u32 magic   4 u32 sequence (odd while written)   8 u32 state   12 u32 0
//  16 i64 packet  24 i64 send   32 u16 lengths[4] (driver, callback, channel, detail)
//  40 driver[256]  296 callback[64]  360 channel[128]  488 detail[1024]   (1512 bytes)
constexpr std::uint32_t kMagic = 0x534C4456;  // "VDLS"
constexpr std::size_t kMagicAt = 0;
constexpr std::size_t kSequenceAt = 4;
constexpr std::size_t kStateAt = 8;
constexpr std::size_t kPacketAt = 16;
constexpr std::size_t kSendAt = 24;
constexpr std::size_t kLengthsAt = 32;
constexpr std::size_t kDriverAt = 40;
constexpr std::size_t kCallbackAt = kDriverAt + kDriverSlotDriverBytes;
constexpr std::size_t kChannelAt = kCallbackAt + kDriverSlotCallbackBytes;
constexpr std::size_t kDetailAt = kChannelAt + kDriverSlotChannelBytes;
constexpr std::size_t kEnd = kDetailAt + kDriverSlotDetailBytes;
static_assert(kEnd <= kDriverSlotBytes);

struct Field {
  std::size_t at;
  std::size_t capacity;
};
constexpr Field kFields[4] = {{kDriverAt, kDriverSlotDriverBytes},
                              {kCallbackAt, kDriverSlotCallbackBytes},
                              {kChannelAt, kDriverSlotChannelBytes},
                              {kDetailAt, kDriverSlotDetailBytes}};

template <typename T>
void put(std::byte* slot, std::size_t at, T value) {
  std::memcpy(slot + at, &value, sizeof(value));
}

template <typename T>
T get(const std::byte* slot, std::size_t at) {
  T value{};
  std::memcpy(&value, slot + at, sizeof(value));
  return value;
}

// Bytes from the page as text a message may show: printable ASCII only.
std::string printable(const std::byte* bytes, std::size_t length) {
  std::string text(reinterpret_cast<const char*>(bytes), length);
  for (char& c : text) {
    if (c < 0x20 || c > 0x7E) {
      c = '?';
    }
  }
  return text;
}

std::size_t slot_offset(DriverSlotSide side) {
  return side == DriverSlotSide::kHost ? 0 : kDriverSlotBytes;
}

}  // namespace

DriverSlotWriter::DriverSlotWriter(std::span<std::byte> page, DriverSlotSide side) {
  VMBUS_CHECK(page.size() >= kDriverSlotPageBytes, "the driver slot page is too small");
  slot_ = page.data() + slot_offset(side);
  put<std::uint32_t>(slot_, kMagicAt, kMagic);
  write(DriverSlotContents{});
}

void DriverSlotWriter::write(const DriverSlotContents& contents) {
  // A seqlock: the sequence is odd while the fields change, so a reader
  // that finds a slot the process died writing knows not to trust it.
  std::atomic_ref<std::uint32_t> sequence(*reinterpret_cast<std::uint32_t*>(slot_ + kSequenceAt));
  const std::uint32_t before = sequence.load(std::memory_order_relaxed);
  sequence.store(before + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  put<std::uint32_t>(slot_, kStateAt, static_cast<std::uint32_t>(contents.state));
  put<std::int64_t>(slot_, kPacketAt, contents.packet);
  put<std::int64_t>(slot_, kSendAt, contents.send);
  const std::string* texts[4] = {&contents.driver, &contents.callback, &contents.channel,
                                 &contents.detail};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto length = static_cast<std::uint16_t>(std::min(texts[i]->size(), kFields[i].capacity));
    put<std::uint16_t>(slot_, kLengthsAt + 2 * i, length);
    std::memcpy(slot_ + kFields[i].at, texts[i]->data(), length);
  }
  sequence.store(before + 2, std::memory_order_release);
}

std::optional<DriverSlotContents> read_driver_slot(std::span<const std::byte> page,
                                                   DriverSlotSide side) {
  if (page.size() < kDriverSlotPageBytes) {
    return std::nullopt;
  }
  // A private copy first: every check below reads the same bytes.
  std::byte slot[kEnd];
  std::memcpy(slot, page.data() + slot_offset(side), kEnd);
  if (get<std::uint32_t>(slot, kMagicAt) != kMagic ||
      get<std::uint32_t>(slot, kSequenceAt) % 2 != 0) {
    return std::nullopt;
  }
  const auto state = get<std::uint32_t>(slot, kStateAt);
  if (state > static_cast<std::uint32_t>(DriverSlotState::kEntryFailed)) {
    return std::nullopt;
  }
  DriverSlotContents contents;
  contents.state = static_cast<DriverSlotState>(state);
  contents.packet = std::max<std::int64_t>(get<std::int64_t>(slot, kPacketAt), -1);
  contents.send = std::max<std::int64_t>(get<std::int64_t>(slot, kSendAt), -1);
  std::string* texts[4] = {&contents.driver, &contents.callback, &contents.channel,
                           &contents.detail};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto length = get<std::uint16_t>(slot, kLengthsAt + 2 * i);
    if (length > kFields[i].capacity) {
      return std::nullopt;
    }
    *texts[i] = printable(slot + kFields[i].at, length);
  }
  return contents;
}

std::string driver_slot_who(const DriverSlotContents& contents, DriverSlotSide side) {
  return std::string(side == DriverSlotSide::kHost ? "host" : "guest") + " driver " +
         contents.driver;
}

std::string driver_slot_where(const DriverSlotContents& contents) {
  std::string where = "in " + contents.callback;
  if (!contents.channel.empty()) {
    where += " of channel '" + contents.channel + "'";
  }
  if (contents.packet >= 0) {
    where += ", packet #" + std::to_string(contents.packet);
  }
  if (contents.send >= 0) {
    where += ", send #" + std::to_string(contents.send);
  }
  return where;
}

}  // namespace vmbus::ipc
