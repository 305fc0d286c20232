// The driver slots (vmbus/ipc/driver_slot.h) and a partition's DriverWatch
// writing its own: what the watch writes is what the simulator reads, each
// side in its own half; a torn, foreign or scribbled-on slot reads as
// nothing known, never as garbage.
#include "vmbus/partition/driver_watch.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/ipc/driver_slot.h"
#include "vmbus/kmcl/driver_position.h"

namespace vmbus::partition {
namespace {

using ipc::DriverSlotSide;
using ipc::DriverSlotState;

kmcl::DriverPosition position(std::int64_t packet) {
  kmcl::DriverPosition at;
  at.driver = "libkvs_vsc.so";
  at.callback = "EvtVmbChannelProcessPacket";
  at.channel = "net";
  at.packet = packet;
  return at;
}

TEST(DriverWatch, WritesTheRunningPositionIntoItsSideOfThePage) {
  std::vector<std::byte> page(ipc::kDriverSlotPageBytes);
  DriverWatch watch(page, DriverSlotSide::kGuest);
  {
    const kmcl::DriverCodeScope scope(position(4));
    const auto slot = ipc::read_driver_slot(page, DriverSlotSide::kGuest);
    ASSERT_TRUE(slot.has_value());
    EXPECT_EQ(slot->state, DriverSlotState::kInDriver);
    EXPECT_EQ(ipc::driver_slot_who(*slot, DriverSlotSide::kGuest), "guest driver libkvs_vsc.so");
    EXPECT_EQ(ipc::driver_slot_where(*slot),
              "in EvtVmbChannelProcessPacket of channel 'net', packet #4");
    // The other half is not the watch's.
    EXPECT_FALSE(ipc::read_driver_slot(page, DriverSlotSide::kHost).has_value());
  }
  const auto left = ipc::read_driver_slot(page, DriverSlotSide::kGuest);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->state, DriverSlotState::kOutside);
}

TEST(DriverWatch, ANestedCallbackAndItsReturnAreBothWritten) {
  std::vector<std::byte> page(ipc::kDriverSlotPageBytes);
  DriverWatch watch(page, DriverSlotSide::kHost);
  const kmcl::DriverCodeScope outer(position(1));
  {
    kmcl::DriverPosition inner = position(-1);
    inner.callback = "EvtChannelSuspend";
    const kmcl::DriverCodeScope scope(inner);
    EXPECT_EQ(ipc::read_driver_slot(page, DriverSlotSide::kHost)->callback, "EvtChannelSuspend");
  }
  EXPECT_EQ(ipc::read_driver_slot(page, DriverSlotSide::kHost)->packet, 1);
}

TEST(DriverWatch, AFailedEntryPointIsWrittenWithItsReason) {
  std::vector<std::byte> page(ipc::kDriverSlotPageBytes);
  DriverWatch watch(page, DriverSlotSide::kGuest);
  kmcl::DriverPosition entry = position(-1);
  entry.callback = "VmbusSimDriverEntry";
  DriverWatch::entry_failed(entry, "returned STATUS_NOT_SUPPORTED");
  const auto slot = ipc::read_driver_slot(page, DriverSlotSide::kGuest);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->state, DriverSlotState::kEntryFailed);
  EXPECT_EQ(slot->detail, "returned STATUS_NOT_SUPPORTED");
  EXPECT_EQ(ipc::driver_slot_where(*slot), "in VmbusSimDriverEntry of channel 'net'");
}

TEST(DriverSlot, LongTextIsCutAndUnprintableBytesShowAsQuestionMarks) {
  std::vector<std::byte> page(ipc::kDriverSlotPageBytes);
  ipc::DriverSlotWriter writer(page, DriverSlotSide::kHost);
  ipc::DriverSlotContents contents;
  contents.state = DriverSlotState::kExceptionEscaped;
  contents.driver = std::string(1000, 'd');
  contents.detail = std::string("bad\x01\xff");
  writer.write(contents);
  const auto slot = ipc::read_driver_slot(page, DriverSlotSide::kHost);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->driver, std::string(ipc::kDriverSlotDriverBytes, 'd'));
  EXPECT_EQ(slot->detail, "bad??");
}

TEST(DriverSlot, ATornOrScribbledSlotReadsAsNothingKnown) {
  std::vector<std::byte> page(ipc::kDriverSlotPageBytes);
  ipc::DriverSlotWriter writer(page, DriverSlotSide::kHost);
  writer.write(
      ipc::DriverSlotContents{DriverSlotState::kInDriver, "lib.so", "cb", "net", 1, -1, ""});
  ASSERT_TRUE(ipc::read_driver_slot(page, DriverSlotSide::kHost).has_value());
  // Mid-write: the sequence (bytes 4..7) is odd.
  std::vector<std::byte> torn = page;
  torn[4] = static_cast<std::byte>(std::to_integer<int>(torn[4]) | 1);
  EXPECT_FALSE(ipc::read_driver_slot(torn, DriverSlotSide::kHost).has_value());
  // A length beyond its field (bytes 32..33: the driver name's).
  std::vector<std::byte> scribbled = page;
  scribbled[33] = std::byte{0xFF};
  EXPECT_FALSE(ipc::read_driver_slot(scribbled, DriverSlotSide::kHost).has_value());
  // An unknown state (bytes 8..11).
  std::vector<std::byte> unknown = page;
  unknown[8] = std::byte{9};
  EXPECT_FALSE(ipc::read_driver_slot(unknown, DriverSlotSide::kHost).has_value());
  // A page too small, and one no partition wrote.
  EXPECT_FALSE(ipc::read_driver_slot(std::span(page).first(100), DriverSlotSide::kHost));
  EXPECT_FALSE(ipc::read_driver_slot(std::vector<std::byte>(ipc::kDriverSlotPageBytes),
                                     DriverSlotSide::kGuest));
}

}  // namespace
}  // namespace vmbus::partition
