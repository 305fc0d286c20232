// The KMCL C API (<vmbuskernelmodeclientlibapi.h>, sim/kmcl/src/c_api.cc)
// driven by a C driver, c_driver/request_driver.c, linked into this test:
// its channel on one endpoint of a DriverBed, a ScriptedDriver on the other.
// Each test states the exact callbacks the C driver logged, the verifier's
// records and what the peer received -- the same outcomes the C++ API gives
// (docs/KMCL-SEMANTICS.md), reached through C types and C callbacks.
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/kmcl/c_api.h"

#include "c_driver/request_driver.h"
#include "kmcl_driver_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> driver_log() {
  std::vector<std::string> lines;
  std::istringstream text(RequestDriverLog());
  for (std::string line; std::getline(text, line);) {
    lines.push_back(line);
  }
  return lines;
}

// A payload as the receiver sees it: the wire carries lengths in 8-byte units.
std::vector<std::byte> on_the_wire(const std::string& text) {
  std::vector<std::byte> bytes = text_bytes(text);
  bytes.resize((bytes.size() + 7) / 8 * 8);
  return bytes;
}

bool same(const GUID& a, const GUID& b) {
  return std::memcmp(&a, &b, sizeof(GUID)) == 0;
}

constexpr GUID kRequestType = {REQUEST_DRIVER_INTERFACE_DATA1,
                               REQUEST_DRIVER_INTERFACE_DATA2,
                               REQUEST_DRIVER_INTERFACE_DATA3,
                               {1, 2, 3, 4, 5, 6, 7, 8}};
constexpr GUID kRequestInstance = {REQUEST_DRIVER_INTERFACE_DATA1 + 1,
                                   REQUEST_DRIVER_INTERFACE_DATA2,
                                   REQUEST_DRIVER_INTERFACE_DATA3,
                                   {1, 2, 3, 4, 5, 6, 7, 8}};

std::vector<NTSTATUS> statuses_of(const ScriptedDriver& driver) {
  std::vector<NTSTATUS> statuses;
  for (const auto& completion : driver.send_completions()) {
    statuses.push_back(completion.status);
  }
  return statuses;
}

// The C driver is the guest's VSC; the host runs a scripted VSP.
class CDriverAsClient : public ::testing::Test {
 protected:
  void add_and_open(const char* arguments = "") {
    RequestDriverResetLog();
    ASSERT_EQ(RequestDriverAdd(as_device_object(bed.guest), 0, arguments), STATUS_SUCCESS);
    bed.open();
  }
  void host_sends(const std::vector<std::byte>& payload, UINT32 flags = kWait,
                  PMDL external = nullptr) {
    ASSERT_GE(bed.peer.send(payload, flags, external), 0);
  }
  DriverBed bed{false};
};

TEST_F(CDriverAsClient, RunsItsStateCallbacksAtPassiveAndTargetsTheInterfaceItWasGiven) {
  add_and_open();
  EXPECT_THAT(driver_log(),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE"));
  const ChannelConfig config = bed.guest.channel_config(bed.driver_channel());
  EXPECT_FALSE(config.is_server);
  EXPECT_EQ(config.friendly_name, u"req");
  ASSERT_TRUE(config.target_interface_type.has_value());
  EXPECT_TRUE(same(*config.target_interface_type, kRequestType));
  ASSERT_TRUE(config.target_interface_instance.has_value());
  EXPECT_TRUE(same(*config.target_interface_instance, kRequestInstance));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// Complete in-line, DeferToPassive then complete at PASSIVE_LEVEL, and Fail,
// which stops the queue: the packet behind it is never delivered.
TEST_F(CDriverAsClient, CompletesDefersAndFailsPacketsAsItsProtocolSays) {
  add_and_open();
  RequestDriverResetLog();
  host_sends(request(REQUEST_ECHO, 7));
  host_sends(request(REQUEST_NEEDS_PASSIVE));
  host_sends(request(REQUEST_MALFORMED));
  host_sends(request(REQUEST_ECHO, 8));
  bed.run_until_idle();
  EXPECT_THAT(
      driver_log(),
      ElementsAre("ProcessPacket DISPATCH echo", "ProcessPacket DISPATCH defer",
                  "ProcessingComplete DISPATCH 1", "ProcessPacket PASSIVE complete-at-passive",
                  "ProcessPacket PASSIVE fail", "ProcessingComplete PASSIVE 2"));
  // The echo answers with the request; the deferred one with the IRQL it
  // ran at (PASSIVE_LEVEL = 0), as the wire carries it (8-byte units).
  ASSERT_EQ(bed.peer.send_completions().size(), 2u);
  EXPECT_EQ(bed.peer.send_completions()[0].payload, request(REQUEST_ECHO, 7));
  EXPECT_EQ(bed.peer.send_completions()[1].payload, std::vector<std::byte>(8));
  EXPECT_THAT(statuses_of(bed.peer), ElementsAre(STATUS_SUCCESS, STATUS_SUCCESS));
  EXPECT_EQ(bed.guest.queue_state(bed.driver_channel()), QueueState::kStoppedByFail);
  const ChannelStats stats = bed.guest.channel_stats(bed.driver_channel());
  EXPECT_EQ(stats.packets_completed, 2u);
  EXPECT_EQ(stats.defers, 1u);
  EXPECT_EQ(stats.packets_failed, 1u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST_F(CDriverAsClient, CompleteAfterFailIsAVerifierRecordAndSendsNoCompletion) {
  add_and_open();
  RequestDriverResetLog();
  host_sends(request(REQUEST_COMPLETE_AFTER_FAIL));
  bed.run_until_idle();
  EXPECT_THAT(driver_log(), ElementsAre("ProcessPacket DISPATCH fail-then-complete",
                                        "ProcessingComplete DISPATCH 1"));
  EXPECT_THAT(codes(bed.guest), ElementsAre("complete_after_fail"));
  ASSERT_EQ(bed.guest.violations().size(), 1u);
  EXPECT_EQ(bed.guest.violations()[0].api, "VmbChannelPacketComplete");
  EXPECT_EQ(bed.guest.violations()[0].context, "dpc/1");
  EXPECT_THAT(bed.peer.send_completions(), IsEmpty());
}

// A send with WAIT_FOR_COMPLETION from EvtChannelPostStarted; its C
// completion routine gets the answer and frees the packet.
TEST_F(CDriverAsClient, SendsARequestAndItsCompletionRoutineGetsTheAnswer) {
  Action echo;
  echo.kind = PacketAction::kComplete;
  echo.echo_payload = true;
  bed.peer.set_default_action(echo);
  add_and_open("greet");
  EXPECT_THAT(driver_log(), ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                                        "SendCompleted DISPATCH status=0x00000000 bytes=8"));
  EXPECT_EQ(bed.peer.payload_of(0), on_the_wire("hello"));
  EXPECT_EQ(bed.guest.channel_stats(bed.driver_channel()).packets_sent, 1u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// Without WAIT_FOR_COMPLETION the routine runs once the packet is in the ring.
TEST_F(CDriverAsClient, SendsFromProcessPacketWithoutAskingForACompletion) {
  add_and_open();
  RequestDriverResetLog();
  host_sends(request(REQUEST_SEND_BACK));
  bed.run_until_idle();
  EXPECT_THAT(driver_log(),
              ElementsAre("ProcessPacket DISPATCH send-back", "ProcessingComplete DISPATCH 1",
                          "SendCompleted DISPATCH status=0x00000000 bytes=0"));
  EXPECT_EQ(bed.peer.payload_of(0), on_the_wire("reply"));
  EXPECT_THAT(statuses_of(bed.peer), ElementsAre(STATUS_SUCCESS));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// GetExternalData hands the C driver a C MDL: header, then the PFN array.
TEST_F(CDriverAsClient, GetsExternalDataAsAWindowsLayoutMdl) {
  add_and_open();
  RequestDriverResetLog();
  MDL page;
  page.ByteCount = 4096;
  page.PfnArray = {0x42};
  host_sends(request(REQUEST_EXTERNAL_DATA), kWait, &page);
  bed.run_until_idle();
  EXPECT_THAT(driver_log(),
              ElementsAre("ExternalData DISPATCH bytes=4096 offset=0 pfn0=0x42 next=no",
                          "ProcessingComplete DISPATCH 1"));
  EXPECT_THAT(statuses_of(bed.peer), ElementsAre(STATUS_SUCCESS));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// VmbPacketSend with a C MDL: its header and PFN array reach the peer as one
// GPA range of two pages.
TEST_F(CDriverAsClient, SendsExternalDataDescribedByAWindowsLayoutMdl) {
  add_and_open();
  RequestDriverResetLog();
  PacketMatch external;
  external.payload_prefix = text_bytes("ext");
  bed.peer.add_rule(external, action_of(PacketAction::kGetExternalData));
  host_sends(request(REQUEST_SEND_EXTERNAL_DATA));
  bed.run_until_idle();
  EXPECT_THAT(driver_log(),
              ElementsAre("ProcessPacket DISPATCH sent-external", "ProcessingComplete DISPATCH 1",
                          "SendCompleted DISPATCH status=0x00000000 bytes=0"));
  EXPECT_THAT(bed.peer.external_data_seen(), ElementsAre("ranges=1 bytes=4096 pfns=2"));
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST_F(CDriverAsClient, HostRescindRunsSuspendThenClosedAtPassive) {
  add_and_open();
  RequestDriverResetLog();
  bed.host.spawn_passive_thread("disable", [&] { VmbChannelDisable(bed.host_channel()); });
  bed.run_until_idle();
  EXPECT_THAT(driver_log(), ElementsAre("Suspend PASSIVE", "Closed PASSIVE"));
  EXPECT_EQ(bed.guest.channel_state(bed.driver_channel()), ChannelState::kDisabled);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

// The C driver as the host's VSP: it offers with its interface id, starts
// its channel, and answers the guest's requests.
TEST(CDriverAsServer, OffersWithItsInterfaceIdAndAnswersTheGuest) {
  DriverBed bed(true);
  RequestDriverResetLog();
  ASSERT_EQ(RequestDriverAdd(as_device_object(bed.host), 1, ""), STATUS_SUCCESS);
  bed.open();
  const ChannelConfig config = bed.host.channel_config(bed.driver_channel());
  EXPECT_TRUE(config.is_server);
  ASSERT_TRUE(config.target_interface_type.has_value());
  EXPECT_TRUE(same(*config.target_interface_type, kRequestType));
  ASSERT_GE(bed.peer.send(request(REQUEST_ECHO, 3), kWait), 0);
  bed.run_until_idle();
  EXPECT_THAT(driver_log(),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "ProcessPacket DISPATCH echo", "ProcessingComplete DISPATCH 1"));
  ASSERT_EQ(bed.peer.send_completions().size(), 1u);
  EXPECT_EQ(bed.peer.send_completions()[0].payload, request(REQUEST_ECHO, 3));
  EXPECT_THAT(codes(bed.host), IsEmpty());
}

TEST(CDriverInterface, QueryInterfaceAnswersLikeTheModelAndAddsTheServerTable) {
  std::int32_t statuses[8] = {};
  ASSERT_EQ(RequestDriverQueryInterfaceStatuses(statuses, 8), 6u);
  EXPECT_THAT(std::vector<std::int32_t>(statuses, statuses + 6),
              ElementsAre(STATUS_SUCCESS,            // client table
                          STATUS_BUFFER_TOO_SMALL,   // 8 bytes short
                          STATUS_NOT_SUPPORTED,      // version 2
                          STATUS_NOT_SUPPORTED,      // another interface
                          STATUS_SUCCESS,            // server table
                          STATUS_INVALID_PARAMETER)  // no interface type
  );
  EXPECT_EQ(RequestDriverTableMatchesTheExports(), 1);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
