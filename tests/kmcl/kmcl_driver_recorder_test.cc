// DriverRecorder (vmbus/kmcl/driver_recorder.h) and the driver positions
// (vmbus/kmcl/driver_position.h), watching the C driver of
// c_driver/request_driver.c at the C API boundary: the records read like a
// ScriptedDriver's, the bookkeeping the oracles read is right, and the
// position listener always names the callback that runs.
#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/kmcl/c_api.h"
#include "vmbus/kmcl/driver_position.h"
#include "vmbus/kmcl/driver_recorder.h"

#include "c_driver/request_driver.h"
#include "kmcl_driver_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> texts(const RecordedDriver& driver) {
  std::vector<std::string> lines;
  for (const CallbackRecord& record : driver.records()) {
    lines.push_back(to_scenario_text(record));
  }
  return lines;
}

// Every position change, as "<callback> #<packet>" / "send#<n>" / "-".
class PositionLog final : public DriverPositionListener {
 public:
  PositionLog() { set_driver_position_listener(this); }
  ~PositionLog() override { set_driver_position_listener(nullptr); }
  void on_driver_position(const DriverPosition* now) override {
    if (now == nullptr) {
      lines.emplace_back("-");
      return;
    }
    std::string line = now->driver + " " + now->callback + " '" + now->channel + "'";
    if (now->packet >= 0) {
      line += " #" + std::to_string(now->packet);
    }
    if (now->send >= 0) {
      line += " send#" + std::to_string(now->send);
    }
    lines.push_back(line);
  }
  void on_driver_exception(const DriverPosition&, const std::string&) override {}
  std::vector<std::string> lines;
};

class RecorderOnAClient : public ::testing::Test {
 protected:
  void add_and_open(const char* arguments = "") {
    RequestDriverResetLog();
    ASSERT_EQ(RequestDriverAdd(as_device_object(bed.guest), 0, arguments), STATUS_SUCCESS);
    recorder.set_channel(bed.guest.channels().front());
    bed.open();
  }
  DriverBed bed{false};
  DriverRecorder recorder{bed.guest, "librequest.so", "req"};
};

TEST_F(RecorderOnAClient, RecordsTheStateCallbacksAsTheScriptedDriverWords) {
  add_and_open();
  EXPECT_THAT(texts(recorder),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE"));
}

// Complete, Defer then complete at PASSIVE_LEVEL, Fail: each ProcessPacket
// record names what the driver called on its packet.
TEST_F(RecorderOnAClient, NamesWhatEachProcessPacketDidWithItsPacket) {
  add_and_open();
  ASSERT_GE(bed.peer.send(request(REQUEST_ECHO, 7), kWait), 0);
  ASSERT_GE(bed.peer.send(request(REQUEST_NEEDS_PASSIVE), kWait), 0);
  ASSERT_GE(bed.peer.send(request(REQUEST_COMPLETE_AFTER_FAIL), kWait), 0);
  bed.run_until_idle();
  EXPECT_THAT(
      texts(recorder),
      ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                  "ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH defer",
                  "ProcessingComplete DISPATCH 1", "ProcessPacket #1 PASSIVE complete",
                  "ProcessPacket #2 PASSIVE fail+complete", "ProcessingComplete PASSIVE 2"));
  // Three packets retired, each once: the Complete after the Fail did not
  // take effect (the verifier says so), and nothing is kept.
  EXPECT_EQ(recorder.retired_packets(), 3u);
  EXPECT_THAT(recorder.retirements(),
              ElementsAre(std::pair<const std::uint64_t, std::uint32_t>{0, 1},
                          std::pair<const std::uint64_t, std::uint32_t>{1, 1},
                          std::pair<const std::uint64_t, std::uint32_t>{2, 1}));
  EXPECT_EQ(recorder.outstanding_count(), 0u);
  EXPECT_TRUE(recorder.processed_in_index_order());
  EXPECT_EQ(recorder.redelivery_mismatches(), 0u);
  EXPECT_THAT(codes(bed.guest), ElementsAre("complete_after_fail"));
}

// The driver's own send from PostStarted is send#0; its completion routine
// is recorded like the scripted driver's, with the answer's size.
TEST_F(RecorderOnAClient, NumbersTheDriversSendsAndRecordsHowTheyEnded) {
  bed.peer.set_default_action(Action{PacketAction::kComplete, text_bytes("answer!!")});
  add_and_open("greet");
  bed.run_until_idle();
  ASSERT_EQ(recorder.send_completions().size(), 1u);
  const SendCompletion& done = recorder.send_completions().front();
  EXPECT_EQ(done.send_index, 0);
  EXPECT_EQ(done.status, STATUS_SUCCESS);
  EXPECT_EQ(done.payload, text_bytes("answer!!"));
  EXPECT_EQ(done.trans_id, 1u);
  EXPECT_FALSE(done.synchronous);
  EXPECT_EQ(recorder.sends_pending(), 0u);
  EXPECT_EQ(texts(recorder).back(), "Completion send#0 DISPATCH STATUS_SUCCESS 8B");
}

TEST_F(RecorderOnAClient, TellsTheListenerWhichCallbackRunsAndWhenNoneDoes) {
  PositionLog positions;
  add_and_open();
  ASSERT_GE(bed.peer.send(request(REQUEST_NEEDS_PASSIVE), kWait), 0);
  bed.run_until_idle();
  EXPECT_THAT(positions.lines,
              ElementsAre("librequest.so EvtChannelOpened 'req'", "-",
                          "librequest.so EvtChannelStarted 'req'", "-",
                          "librequest.so EvtChannelPostStarted 'req'", "-",
                          "librequest.so EvtVmbChannelProcessPacket 'req' #0", "-",
                          "librequest.so EvtVmbChannelProcessPacket 'req' #0", "-",
                          "librequest.so EvtVmbChannelProcessingComplete 'req'", "-"));
}

TEST(DriverRecorderWithoutRecorder, LeavesAnUnwatchedCDriverAlone) {
  DriverBed bed{false};
  PositionLog positions;
  RequestDriverResetLog();
  ASSERT_EQ(RequestDriverAdd(as_device_object(bed.guest), 0, ""), STATUS_SUCCESS);
  bed.open();
  EXPECT_THAT(positions.lines, IsEmpty());
}

// A packet the driver keeps (it returns without a call) is "outstanding"
// and counted as kept until it is completed.
class RecorderOnAServer : public ::testing::Test {
 protected:
  DriverBed bed{true};
  DriverRecorder recorder{bed.host, "librequest.so", "req"};
};

TEST_F(RecorderOnAServer, RecordsTheSameWordsOnTheServerEndpoint) {
  RequestDriverResetLog();
  ASSERT_EQ(RequestDriverAdd(as_device_object(bed.host), 1, ""), STATUS_SUCCESS);
  recorder.set_channel(bed.host.channels().front());
  bed.open();
  ASSERT_GE(bed.peer.send(request(REQUEST_ECHO, 1), kWait), 0);
  ASSERT_GE(bed.peer.send(request(REQUEST_MALFORMED), kWait), 0);
  bed.run_until_idle();
  EXPECT_THAT(texts(recorder),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH fail",
                          "ProcessingComplete DISPATCH 2"));
  EXPECT_EQ(recorder.retired_packets(), 2u);
}

}  // namespace
}  // namespace vmbus::kmcl::testing
