// The V1 surface: the interface table, argument validation of the Init and
// accessor functions, and the defaults the model chose.
#include <array>
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

VOID ignore_packet(VMBCHANNEL, VMBPACKETCOMPLETION, PVOID, UINT32, UINT32) {}

TEST(KmclQueryInterface, FillsTheV1TableWithTheFreeFunctionsInDocumentedOrder) {
  KMCL_CLIENT_INTERFACE_V1 table{};
  ASSERT_EQ(KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, reinterpret_cast<PINTERFACE>(&table),
                               sizeof(table), KMCL_CLIENT_INTERFACE_VERSION_V1),
            STATUS_SUCCESS);
  EXPECT_EQ(table.InterfaceHeader.Size, 360);
  EXPECT_EQ(table.InterfaceHeader.Version, 1);
  EXPECT_EQ(table.VmbChannelAllocate, &VmbChannelAllocate);
  EXPECT_EQ(table.VmbChannelPacketDeferToPassive, &VmbChannelPacketDeferToPassive);
  EXPECT_EQ(table.VmbChannelPacketFail, &VmbChannelPacketFail);
  EXPECT_EQ(table.VmbChannelSendSynchronousRequest, &VmbChannelSendSynchronousRequest);
  EXPECT_EQ(table.VmbPacketSetPointer, &VmbPacketSetPointer);
  // Every one of the 41 slots is filled.
  std::array<void*, 41> slots{};
  std::memcpy(slots.data(), reinterpret_cast<const std::byte*>(&table) + sizeof(INTERFACE),
              sizeof(slots));
  for (std::size_t i = 0; i < slots.size(); ++i) {
    EXPECT_NE(slots[i], nullptr) << "slot " << i;
  }
}

TEST(KmclQueryInterface, RefusesAnotherTypeVersionOrASmallBuffer) {
  KMCL_CLIENT_INTERFACE_V1 table{};
  auto* header = reinterpret_cast<PINTERFACE>(&table);
  const GUID other{1, 2, 3, {4, 5, 6, 7, 8, 9, 10, 11}};
  EXPECT_EQ(KmclQueryInterface(&other, header, sizeof(table), 1), STATUS_NOT_SUPPORTED);
  EXPECT_EQ(KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, header, sizeof(table), 2),
            STATUS_NOT_SUPPORTED);
  EXPECT_EQ(KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, header, 0x100, 1),
            STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(KmclQueryInterface(nullptr, header, sizeof(table), 1), STATUS_INVALID_PARAMETER);
}

TEST(KmclQueryInterface, TableCallsDriveTheSameChannels) {
  KMCL_CLIENT_INTERFACE_V1 kmcl{};
  ASSERT_EQ(KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, reinterpret_cast<PINTERFACE>(&kmcl),
                               sizeof(kmcl), 1),
            STATUS_SUCCESS);
  Device device;
  VMBCHANNEL channel = nullptr;
  ASSERT_EQ(kmcl.VmbChannelAllocate(&device, FALSE, &channel), STATUS_SUCCESS);
  int context = 0;
  kmcl.VmbChannelSetPointer(channel, &context);
  EXPECT_EQ(VmbChannelGetPointer(channel), &context);
  kmcl.VmbChannelCleanup(channel);
  EXPECT_THAT(codes(device), IsEmpty());
}

TEST(VmbChannelAllocate, RefusesANullDeviceOrOutPointer) {
  Device device;
  VMBCHANNEL channel = nullptr;
  EXPECT_EQ(VmbChannelAllocate(nullptr, FALSE, &channel), STATUS_INVALID_PARAMETER_1);
  EXPECT_EQ(VmbChannelAllocate(&device, FALSE, nullptr), STATUS_INVALID_PARAMETER_3);
}

TEST(VmbChannelAllocate, StartsDisabledWithTheDocumentedDefaults) {
  Device device;
  VMBCHANNEL channel = nullptr;
  ASSERT_EQ(VmbChannelAllocate(&device, FALSE, &channel), STATUS_SUCCESS);
  EXPECT_EQ(device.channel_state(channel), ChannelState::kDisabled);
  EXPECT_EQ(device.queue_state(channel), QueueState::kOff);
  const ChannelConfig config = device.channel_config(channel);
  EXPECT_EQ(config.maximum_packet_size_bytes, kDefaultMaximumPacketSizeBytes);
  EXPECT_EQ(config.incoming_page_count, 16u);
  EXPECT_EQ(config.outgoing_page_count, 16u);
  EXPECT_EQ(device.channel_stats(channel).quota, 0xFFFFFFFFu);
  EXPECT_EQ(VmbChannelSizeofPacket(channel), 4096u + sizeof(void*) + kPacketObjectOverheadBytes);
}

TEST(VmbChannelInit, ValidatesEveryArgumentTheDocsConstrain) {
  Device device;
  VMBCHANNEL client = nullptr;
  VMBCHANNEL server = nullptr;
  ASSERT_EQ(VmbChannelAllocate(&device, FALSE, &client), STATUS_SUCCESS);
  ASSERT_EQ(VmbChannelAllocate(&device, TRUE, &server), STATUS_SUCCESS);
  EXPECT_EQ(VmbChannelInitSetMaximumPacketSize(client, 0), STATUS_INVALID_PARAMETER_2);
  EXPECT_EQ(VmbChannelInitSetMaximumPacketSize(client, 512), STATUS_SUCCESS);
  EXPECT_EQ(VmbChannelInitSetFlags(client, 0x2), STATUS_INVALID_PARAMETER_2);
  EXPECT_EQ(VmbChannelInitSetFlags(client, VMBUS_CHANNEL_INIT_FLAG_IS_PIPE), STATUS_SUCCESS);
  EXPECT_EQ(VmbChannelInitSetMaximumExternalData(client, 0, 1), STATUS_INVALID_PARAMETER_2);
  EXPECT_EQ(VmbChannelInitSetMaximumExternalData(client, 1, 0), STATUS_INVALID_PARAMETER_3);
  EXPECT_EQ(VmbChannelInitSetProcessPacketCallbacks(client, nullptr, nullptr),
            STATUS_INVALID_PARAMETER_2);
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  EXPECT_EQ(callbacks.Version, 1u);
  EXPECT_EQ(callbacks.Size, sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS));
  callbacks.Version = 2;
  EXPECT_EQ(VmbChannelInitSetStateChangeCallbacks(client, &callbacks), STATUS_INVALID_PARAMETER_2);
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.Size = 8;
  EXPECT_EQ(VmbChannelInitSetStateChangeCallbacks(client, &callbacks), STATUS_INVALID_PARAMETER_2);
  // The guest donates both rings: page counts are client-only.
  EXPECT_EQ(VmbClientChannelInitSetRingBufferPageCount(server, 4, 4), STATUS_INVALID_PARAMETER_1);
  EXPECT_EQ(VmbClientChannelInitSetRingBufferPageCount(client, 0, 4), STATUS_INVALID_PARAMETER_2);
  EXPECT_EQ(VmbClientChannelInitSetRingBufferPageCount(client, 4, 8), STATUS_SUCCESS);
  const ChannelConfig config = device.channel_config(client);
  EXPECT_EQ(config.maximum_packet_size_bytes, 512u);
  EXPECT_EQ(config.flags, VMBUS_CHANNEL_INIT_FLAG_IS_PIPE);
  EXPECT_EQ(config.incoming_page_count, 4u);
  EXPECT_EQ(config.outgoing_page_count, 8u);
  EXPECT_THAT(codes(device), IsEmpty());
}

TEST(VmbChannelEnable, TellsTheControlPlaneTheConfigurationIncludingNameAndTarget) {
  struct Recorder : ControlPlane {
    void on_channel_enabled(VMBCHANNEL, const ChannelConfig& c) override { config = c; }
    ChannelConfig config;
  } recorder;
  Device device;
  device.set_control_plane(&recorder);
  VMBCHANNEL channel = nullptr;
  ASSERT_EQ(VmbChannelAllocate(&device, FALSE, &channel), STATUS_SUCCESS);
  char16_t name[] = u"Network";
  UNICODE_STRING friendly{14, 16, name};
  ASSERT_EQ(VmbChannelInitSetFriendlyName(channel, &friendly), STATUS_SUCCESS);
  const GUID type{0x1234, 1, 2, {3, 4, 5, 6, 7, 8, 9, 10}};
  ASSERT_EQ(VmbClientChannelInitSetTargetPnp(channel, &type, nullptr, nullptr), STATUS_SUCCESS);
  // Enable needs a ProcessPacket callback: the model has no default handler.
  EXPECT_EQ(VmbChannelEnable(channel), STATUS_INVALID_DEVICE_STATE);
  ASSERT_EQ(VmbChannelInitSetProcessPacketCallbacks(channel, ignore_packet, nullptr),
            STATUS_SUCCESS);
  ASSERT_EQ(VmbChannelEnable(channel), STATUS_SUCCESS);
  EXPECT_EQ(device.channel_state(channel), ChannelState::kEnabled);
  EXPECT_EQ(recorder.config.friendly_name, u"Network");
  ASSERT_TRUE(recorder.config.target_interface_type.has_value());
  EXPECT_TRUE(*recorder.config.target_interface_type == type);
  EXPECT_FALSE(recorder.config.target_interface_instance.has_value());
  EXPECT_FALSE(recorder.config.is_server);
  // Enabling twice is a state error, not a verifier record.
  EXPECT_EQ(VmbChannelEnable(channel), STATUS_INVALID_DEVICE_STATE);
  EXPECT_THAT(codes(device), IsEmpty());
}

TEST(VmbPacket, AccessorsReturnWhatWasSetAndTheOwningChannel) {
  Device device;
  VMBCHANNEL channel = nullptr;
  ASSERT_EQ(VmbChannelAllocate(&device, FALSE, &channel), STATUS_SUCCESS);
  VMBPACKET packet = VmbPacketAllocate(channel);
  ASSERT_NE(packet, nullptr);
  int context = 0;
  VmbPacketSetPointer(packet, &context);
  EXPECT_EQ(VmbPacketGetPointer(packet), &context);
  EXPECT_EQ(VmbPacketGetChannel(packet), channel);
  VmbPacketFree(packet);
  EXPECT_THAT(codes(device), IsEmpty());
}

TEST(VmbPacketInitialize, NeedsMoreThanTheMaximumPacketSizePlusAPointer) {
  Device device;
  VMBCHANNEL channel = nullptr;
  ASSERT_EQ(VmbChannelAllocate(&device, FALSE, &channel), STATUS_SUCCESS);
  ASSERT_EQ(VmbChannelInitSetMaximumPacketSize(channel, 64), STATUS_SUCCESS);
  alignas(16) std::array<std::byte, 256> storage{};
  auto packet = reinterpret_cast<VMBPACKET>(storage.data());
  EXPECT_EQ(VmbPacketInitialize(channel, packet, 64 + sizeof(void*)), STATUS_INVALID_PARAMETER_3);
  EXPECT_EQ(VmbPacketInitialize(channel, nullptr, 256), STATUS_INVALID_PARAMETER_2);
  ASSERT_EQ(VmbPacketInitialize(channel, packet, VmbChannelSizeofPacket(channel)), STATUS_SUCCESS);
  EXPECT_EQ(VmbPacketGetChannel(packet), channel);
  VmbPacketFree(packet);
  EXPECT_THAT(codes(device), IsEmpty());
}

TEST(KeGetCurrentIrql, IsPassiveOutsideAnyStepAndNamesTheExternalContext) {
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(current_context_name(), "external");
}

TEST(KeGetCurrentIrql, AnswersForTheContextThatRuns) {
  Device device;
  KIRQL in_dpc_queue = 0xFF;
  KIRQL in_passive_queue = 0xFF;
  std::string dpc_name;
  device.create_work_queue("d", DISPATCH_LEVEL).post([&] {
    in_dpc_queue = KeGetCurrentIrql();
    dpc_name = current_context_name();
  });
  device.create_work_queue("p", PASSIVE_LEVEL).post([&] { in_passive_queue = KeGetCurrentIrql(); });
  EXPECT_THAT(device.ready_contexts(), ElementsAre("work/d", "work/p"));
  device.step("work/d");
  device.step("work/p");
  EXPECT_EQ(in_dpc_queue, DISPATCH_LEVEL);
  EXPECT_EQ(dpc_name, "work/d");
  EXPECT_EQ(in_passive_queue, PASSIVE_LEVEL);
  EXPECT_THAT(device.ready_contexts(), IsEmpty());
  EXPECT_EQ(device.steps(), 2u);
}

TEST(WorkQueue, RunsADelayedItemAfterThatManyOfItsOwnSteps) {
  Device device;
  bool ran = false;
  device.create_work_queue("later", DISPATCH_LEVEL).post([&] { ran = true; }, 2);
  device.step("work/later");
  device.step("work/later");
  EXPECT_FALSE(ran);
  device.step("work/later");
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
