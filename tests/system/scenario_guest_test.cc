// The guest partition's part of scripted scenarios, end to end: the real
// vmbus-host and vmbus-guest under the simulator, driven by a small
// RunScript that plays a fixed timeline of proto::Steps (already compiled
// the way the scenario runner compiles them: child_relid set, payloads as
// raw bytes). Each test states the timeline and checks the guest's driver
// callbacks, the completions of its sends, the wire messages and its final
// report exactly.
//
// The tests that need the host to carry out scenario actions (host_send) are
// at the end; they skip, saying so, while the host refuses every action.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/proto/scenario.pb.h"
#include "vmbus/wire/messages.h"

#include "script_test_util.h"
#include "system_test_util.h"

namespace vmbus {
namespace {

using testing::base_config;
using testing::describe;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::ScriptStep;
using testing::TestScript;

// What the host says while it carries out no scenario actions.
constexpr const char* kHostRefusesActions = "this partition carries out no scenario actions";

// --- configurations and steps ------------------------------------------------------

proto::HostConfig host_with(proto::VspConfig::Kind kind) {
  proto::HostConfig host = testing::echo_host(1);
  host.mutable_channels(0)->mutable_vsp()->set_kind(kind);
  return host;
}

proto::GuestConfig scenario_guest() {
  proto::GuestConfig guest;
  auto* driver = guest.add_kmcl_drivers();
  driver->set_child_relid(1);
  driver->set_scenario(true);
  return guest;
}

proto::TimelineEntry guest_send(std::uint32_t count, bool request_completion) {
  proto::TimelineEntry step;
  auto* send = step.mutable_guest_send();
  send->set_child_relid(1);
  send->set_count(count);
  send->set_request_completion(request_completion);
  return step;
}

proto::TimelineEntry synchronous_send(std::uint64_t timeout_us) {
  proto::TimelineEntry step = guest_send(1, true);
  step.mutable_guest_send()->set_synchronous(true);
  step.mutable_guest_send()->set_timeout_us(timeout_us);
  return step;
}

proto::TimelineEntry host_send(std::uint32_t count) {
  proto::TimelineEntry step;
  auto* send = step.mutable_host_send();
  send->set_child_relid(1);
  send->set_count(count);
  return step;
}

proto::TimelineEntry channel_op(proto::ChannelOpAction::Op op, std::uint32_t value = 0) {
  proto::TimelineEntry step;
  step.mutable_channel_op()->set_child_relid(1);
  step.mutable_channel_op()->set_op(op);
  step.mutable_channel_op()->set_value(value);
  return step;
}

proto::TimelineEntry default_policy(proto::DriverAction::Kind kind) {
  proto::TimelineEntry step;
  step.mutable_set_policy()->set_child_relid(1);
  step.mutable_set_policy()->mutable_default_action()->set_kind(kind);
  return step;
}

// Defer the packet with this index on its first delivery; complete the rest.
proto::TimelineEntry defer_packet(std::uint64_t index) {
  proto::TimelineEntry step;
  step.mutable_set_policy()->set_child_relid(1);
  auto* rule = step.mutable_set_policy()->add_rule();
  rule->set_match_index(true);
  rule->set_packet_index(index);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_DEFER);
  return step;
}

bool is_driver_record(const proto::TraceRecord& record, const std::string& prefix) {
  return record.partition() == proto::PARTITION_GUEST && record.has_kmcl() &&
         record.kmcl().kind() == "driver" && record.kmcl().detail().rfind(prefix, 0) == 0;
}

// The first step waits until the driver's channel is open and started.
ScriptStep once_started(proto::TimelineEntry step, std::uint64_t after_us = 10) {
  return ScriptStep{std::move(step), after_us, [](const proto::TraceRecord& record) {
                      return is_driver_record(record, "PostStarted");
                    }};
}

ScriptStep later(proto::TimelineEntry step, std::uint64_t after_us = 200) {
  return ScriptStep{std::move(step), after_us, {}};
}

struct ScenarioRun {
  hypervisor::RunResult result;
  std::vector<proto::TraceRecord> records;
  std::vector<std::string> errors;

  // The guest's final report of its KMCL driver's channel 1.
  const proto::KmclChannelReport& kmcl() const {
    for (const proto::KmclChannelReport& channel : result.guest_final.kmcl_channels()) {
      if (channel.child_relid() == 1) {
        return channel;
      }
    }
    ADD_FAILURE() << "the guest's final report has no KMCL channel 1";
    return proto::KmclChannelReport::default_instance();
  }

  // What the guest's oracle `name` found on `child_relid` (0: the whole
  // guest), or "" if it did not fire.
  std::string finding(const std::string& name, std::uint32_t child_relid = 1) const {
    for (const proto::OracleFinding& finding : result.guest_final.findings()) {
      if (finding.name() == name && finding.child_relid() == child_relid) {
        return finding.what();
      }
    }
    return "";
  }

  // The driver's callbacks whose names are in `only` (all if empty), as
  // "<callback>[ #<packet>| send#<n>] <IRQL>[ <action>]".
  std::vector<std::string> callbacks(const std::vector<std::string>& only = {}) const {
    std::vector<std::string> calls;
    for (const proto::TraceRecord& record : records) {
      if (!is_driver_record(record, "")) {
        continue;
      }
      const std::string& detail = record.kmcl().detail();
      const std::string name = detail.substr(0, detail.find(' '));
      if (only.empty() || std::find(only.begin(), only.end(), name) != only.end()) {
        calls.push_back(detail);
      }
    }
    return calls;
  }

  // The guest's send completions as "trans_id status bytes".
  std::vector<std::string> completions() const {
    std::vector<std::string> done;
    for (const proto::TraceRecord& record : records) {
      if (record.partition() == proto::PARTITION_GUEST && record.has_completion()) {
        const proto::CompletionEvent& c = record.completion();
        EXPECT_EQ(c.child_relid(), 1u);
        done.push_back(std::to_string(c.trans_id()) + " " + c.status() + " " +
                       std::to_string(c.bytes()));
      }
    }
    return done;
  }

  // Control-plane messages of `type` the host received.
  int to_host(wire::MessageType type) const {
    int count = 0;
    for (const proto::TraceRecord& record : records) {
      if (record.has_message() &&
          record.message().stage() == proto::MessageEvent::STAGE_DELIVERED &&
          record.message().to() == proto::PARTITION_HOST &&
          record.message().msgtype() == static_cast<std::uint32_t>(type)) {
        ++count;
      }
    }
    return count;
  }

  // The context of the first driver record starting with `prefix`.
  std::string context_of(const std::string& prefix) const {
    for (const proto::TraceRecord& record : records) {
      if (is_driver_record(record, prefix)) {
        return record.context();
      }
    }
    return "<none>";
  }

  bool host_refused_actions() const {
    return std::find(errors.begin(), errors.end(), kHostRefusesActions) != errors.end();
  }
};

ScenarioRun run_scenario(const proto::HostConfig& host, const proto::GuestConfig& guest,
                         std::vector<ScriptStep> steps, std::uint64_t seed = 1) {
  TestScript script(std::move(steps));
  hypervisor::SimulationConfig config = base_config(host, guest, seed);
  config.script = &script;
  config.time_limit_ns = 1'000'000'000;  // 1 s simulated
  ScenarioRun out;
  out.result = hypervisor::run_simulation(config);
  out.records = script.records();
  out.errors = script.errors();
  return out;
}

std::string describe_run(const ScenarioRun& r) {
  std::string text = describe(r.result) + " | step errors:";
  for (const std::string& error : r.errors) {
    text += " [" + error + "]";
  }
  text += " | final: " + r.result.guest_final.ShortDebugString();
  return text;
}

// Every oracle the guest computes is quiet.
void expect_oracles_quiet(const ScenarioRun& r) {
  EXPECT_EQ(r.finding("retired_once"), "") << describe_run(r);
  EXPECT_EQ(r.finding("fifo"), "");
  EXPECT_EQ(r.finding("lost_wakeup"), "");
  EXPECT_EQ(r.finding("leak", 0), "");
}

const std::vector<std::string> kStateCallbacks = {"Opened", "Started", "PostStarted", "Suspend",
                                                  "Closed"};

// --- guest sends ---------------------------------------------------------------------

TEST(ScenarioGuestSend, CompletionRequestedFromACompletingVspEndsWithStatusSuccess) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_COMPLETE), scenario_guest(),
                                     {once_started(guest_send(2, true))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  ASSERT_TRUE(r.result.final_reports);
  EXPECT_THAT(r.errors, ElementsAre(""));
  // trans_ids 1 and 2; the VSP answers with an empty VM_PKT_COMP.
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_SUCCESS 0", "2 STATUS_SUCCESS 0"));
  EXPECT_THAT(r.callbacks({"Completion"}),
              ElementsAre("Completion send#0 DISPATCH STATUS_SUCCESS 0B",
                          "Completion send#1 DISPATCH STATUS_SUCCESS 0B"));
  EXPECT_EQ(r.kmcl().packets_sent(), 2u);
  EXPECT_EQ(r.kmcl().sends_completed(), 2u);
  EXPECT_EQ(r.kmcl().sends_in_flight(), 0u);
  EXPECT_EQ(r.kmcl().outgoing().packets(), 2u);
  EXPECT_EQ(r.kmcl().completions_received(), 2u);
  EXPECT_EQ(r.kmcl().channel_state(), "open");
  EXPECT_EQ(r.kmcl().queue_state(), "running");
  expect_oracles_quiet(r);
}

TEST(ScenarioGuestSend, OpenSequenceIsTracedAsDriverCallbacksAtPassive) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_COMPLETE), scenario_guest(),
                                     {once_started(guest_send(1, true))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks(kStateCallbacks),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE"));
  EXPECT_EQ(r.context_of("Opened"), "kmcl/1/passive");
  EXPECT_EQ(r.result.guest_final.negotiated_version(), "5.3");
}

TEST(ScenarioGuestSend, EchoedPacketsComeBackThroughProcessPacketAtDispatch) {
  // No completion asked: the echo VSP writes each packet back, and the
  // driver's default action completes it.
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(guest_send(3, false))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(
      r.callbacks({"ProcessPacket", "ProcessingComplete"}),
      ElementsAre("ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH complete",
                  "ProcessPacket #2 DISPATCH complete", "ProcessingComplete DISPATCH 3"));
  // Without WAIT_FOR_COMPLETION a send completes once it is in the ring.
  EXPECT_THAT(r.completions(),
              ElementsAre("1 STATUS_SUCCESS 0", "2 STATUS_SUCCESS 0", "3 STATUS_SUCCESS 0"));
  EXPECT_EQ(r.kmcl().dequeued(), 3u);
  EXPECT_EQ(r.kmcl().delivered(), 3u);
  EXPECT_EQ(r.kmcl().completed(), 3u);
  EXPECT_EQ(r.kmcl().retired(), 3u);
  EXPECT_EQ(r.kmcl().completions_sent(), 0u) << "the echoes asked for none";
  EXPECT_EQ(r.kmcl().incoming().packets(), 3u);
  expect_oracles_quiet(r);
}

TEST(ScenarioGuestSend, SynchronousRequestGetsItsAnswerOnADriverThread) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(synchronous_send(0))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  // The echo VSP answers with the request's 16 bytes.
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_SUCCESS 16"));
  bool from_thread = false;
  for (const proto::TraceRecord& record : r.records) {
    from_thread =
        from_thread || (record.has_completion() && record.context() == "kmcl/1/thread/sync1");
  }
  EXPECT_TRUE(from_thread);
  expect_oracles_quiet(r);
}

TEST(ScenarioGuestSend, SynchronousRequestNobodyAnswersTimesOutWithStatusCancelled) {
  // The discarding VSP never answers; the guest's clock lets the 50 us pass.
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_DISCARD), scenario_guest(),
                                     {once_started(synchronous_send(50))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_CANCELLED 0"));
  EXPECT_EQ(r.kmcl().sends_in_flight(), 0u);
  expect_oracles_quiet(r);
}

TEST(ScenarioGuestSend, ExternalPagesGoWithTheSendAndComeBackWhenItCompletes) {
  proto::TimelineEntry send = guest_send(2, false);  // external data implies WAIT_FOR_COMPLETION
  send.mutable_guest_send()->set_external_pages(2);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_COMPLETE), scenario_guest(),
                                     {once_started(send)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.errors, ElementsAre(""));
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_SUCCESS 0", "2 STATUS_SUCCESS 0"));
  EXPECT_EQ(r.kmcl().packets_sent(), 2u);
  expect_oracles_quiet(r);
}

TEST(ScenarioGuestSend, RefusesAGuestTransIdAndAChannelWithoutADriver) {
  proto::TimelineEntry with_trans_id = guest_send(1, true);
  with_trans_id.mutable_guest_send()->set_trans_id(7);
  proto::TimelineEntry unknown_channel = guest_send(1, true);
  unknown_channel.mutable_guest_send()->set_child_relid(7);
  proto::TimelineEntry op_unknown_channel = channel_op(proto::ChannelOpAction::PAUSE);
  op_unknown_channel.mutable_channel_op()->set_child_relid(7);
  proto::TimelineEntry bad_policy = default_policy(proto::DriverAction::KIND_COMPLETE);
  bad_policy.mutable_set_policy()->mutable_default_action()->set_kind(
      static_cast<proto::DriverAction::Kind>(99));
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_COMPLETE), scenario_guest(),
                                     {once_started(with_trans_id), later(unknown_channel, 1),
                                      later(op_unknown_channel, 1), later(bad_policy, 1)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.errors, ElementsAre("KMCL chooses its own trans_id; a driver's send cannot set one",
                                    "no KMCL driver on channel 7", "no KMCL driver on channel 7",
                                    "default action: unknown action kind 99"));
  EXPECT_THAT(r.completions(), IsEmpty());
}

// --- channel operations ----------------------------------------------------------------

TEST(ScenarioChannelOp, PauseSuspendsOnADriverThreadAndLeavesEchoesInTheRing) {
  const ScenarioRun r = run_scenario(
      host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
      {once_started(channel_op(proto::ChannelOpAction::PAUSE)), later(guest_send(2, false))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.errors, ElementsAre("", ""));
  EXPECT_THAT(r.callbacks(kStateCallbacks), ElementsAre("Opened PASSIVE", "Started PASSIVE",
                                                        "PostStarted PASSIVE", "Suspend PASSIVE"));
  EXPECT_EQ(r.context_of("Suspend"), "kmcl/1/thread/op1");
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), IsEmpty());
  EXPECT_EQ(r.kmcl().queue_state(), "paused");
  EXPECT_EQ(r.kmcl().dequeued(), 0u);
  // The echoes wait in the ring: no lost wakeup, the queue is paused.
  expect_oracles_quiet(r);
}

TEST(ScenarioChannelOp, StartAfterPauseDeliversWhatWaitedInTheRing) {
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(channel_op(proto::ChannelOpAction::PAUSE)),
                    later(guest_send(2, false)), later(channel_op(proto::ChannelOpAction::START))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks(kStateCallbacks),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "Suspend PASSIVE", "Started PASSIVE", "PostStarted PASSIVE"));
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 DISPATCH complete",
                                                          "ProcessPacket #1 DISPATCH complete"));
  EXPECT_EQ(r.kmcl().queue_state(), "running");
  EXPECT_EQ(r.kmcl().dequeued(), 2u);
  expect_oracles_quiet(r);
}

TEST(ScenarioChannelOp, DisableClosesTheChannelOnTheWireAndFreesItsRings) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(channel_op(proto::ChannelOpAction::DISABLE))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks(kStateCallbacks),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "Suspend PASSIVE", "Closed PASSIVE"));
  EXPECT_EQ(r.context_of("Closed"), "kmcl/1/thread/op1");
  EXPECT_EQ(r.to_host(wire::MessageType::kCloseChannel), 1);
  EXPECT_EQ(r.to_host(wire::MessageType::kGpadlTeardown), 1);
  EXPECT_EQ(r.to_host(wire::MessageType::kOpenChannel), 1);
  EXPECT_EQ(r.kmcl().channel_state(), "disabled");
  EXPECT_EQ(r.kmcl().queue_state(), "off");
  expect_oracles_quiet(r);  // oracle.leak.guest: the ring pages went back
}

TEST(ScenarioChannelOp, EnableAfterDisableReopensWithANewGpadlAndTheChannelWorks) {
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_COMPLETE), scenario_guest(),
                   {once_started(channel_op(proto::ChannelOpAction::CLOSE)),
                    later(channel_op(proto::ChannelOpAction::REOPEN)),
                    ScriptStep{guest_send(1, true), 10, [](const proto::TraceRecord& record) {
                                 return is_driver_record(record, "PostStarted");
                               }}});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.errors, ElementsAre("", "", ""));
  EXPECT_THAT(
      r.callbacks(kStateCallbacks),
      ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE", "Suspend PASSIVE",
                  "Closed PASSIVE", "Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE"));
  EXPECT_EQ(r.to_host(wire::MessageType::kGpadlHeader), 2);
  EXPECT_EQ(r.to_host(wire::MessageType::kOpenChannel), 2);
  EXPECT_EQ(r.to_host(wire::MessageType::kCloseChannel), 1);
  EXPECT_EQ(r.to_host(wire::MessageType::kGpadlTeardown), 1);
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_SUCCESS 0"));
  EXPECT_EQ(r.kmcl().channel_state(), "open");
  EXPECT_EQ(r.kmcl().queue_state(), "running");
  expect_oracles_quiet(r);
}

TEST(ScenarioChannelOp, LeftOutstandingPacketsStayUntilCompleteOutstanding) {
  const ScenarioRun kept =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(default_policy(proto::DriverAction::KIND_LEAVE_OUTSTANDING)),
                    later(guest_send(2, false), 1)});
  ASSERT_EQ(kept.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(kept);
  EXPECT_THAT(kept.callbacks({"ProcessPacket"}),
              ElementsAre("ProcessPacket #0 DISPATCH outstanding",
                          "ProcessPacket #1 DISPATCH outstanding"));
  EXPECT_EQ(kept.kmcl().outstanding(), 2u);
  EXPECT_EQ(kept.kmcl().live_packets(), 2u);
  // Kept on purpose: not a retirement failure.
  expect_oracles_quiet(kept);

  const ScenarioRun completed =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(default_policy(proto::DriverAction::KIND_LEAVE_OUTSTANDING)),
                    later(guest_send(2, false), 1),
                    later(channel_op(proto::ChannelOpAction::COMPLETE_OUTSTANDING, 0))});
  ASSERT_EQ(completed.result.outcome, hypervisor::RunOutcome::kCompleted)
      << describe_run(completed);
  EXPECT_EQ(completed.kmcl().outstanding(), 0u);
  EXPECT_EQ(completed.kmcl().completed(), 2u);
  EXPECT_EQ(completed.kmcl().live_packets(), 0u);
  expect_oracles_quiet(completed);
}

TEST(ScenarioChannelOp, QuotaAndPassiveDeliveryAreSetFromADriverThread) {
  const ScenarioRun r = run_scenario(
      host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
      {once_started(channel_op(proto::ChannelOpAction::SET_PASSIVE, 1)),
       later(channel_op(proto::ChannelOpAction::SET_QUOTA, 1)), later(guest_send(2, false))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 PASSIVE complete",
                                                          "ProcessPacket #1 PASSIVE complete"));
  EXPECT_EQ(r.kmcl().completed(), 2u);
  expect_oracles_quiet(r);
}

TEST(ScenarioChannelOp, DisableEndsAWaitingSynchronousRequestWithDeviceRemoved) {
  // Nobody answers and there is no timeout: only the close ends the wait.
  const ScenarioRun r = run_scenario(
      host_with(proto::VspConfig::KIND_DISCARD), scenario_guest(),
      {once_started(synchronous_send(0)), later(channel_op(proto::ChannelOpAction::DISABLE))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_DEVICE_REMOVED 0"));
  EXPECT_EQ(r.kmcl().channel_state(), "disabled");
  expect_oracles_quiet(r);
}

TEST(ScenarioChannelOp, DisableWaitsForPacketsTheDriverKeepsAndTheRunEndsQuietly) {
  // The Disable blocks on its driver thread until the kept packet is
  // retired, which never happens: the run goes quiet with the channel closing.
  const ScenarioRun r = run_scenario(
      host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
      {once_started(default_policy(proto::DriverAction::KIND_LEAVE_OUTSTANDING)),
       later(guest_send(1, false), 1), later(channel_op(proto::ChannelOpAction::DISABLE))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks(kStateCallbacks), ElementsAre("Opened PASSIVE", "Started PASSIVE",
                                                        "PostStarted PASSIVE", "Suspend PASSIVE"));
  EXPECT_EQ(r.kmcl().channel_state(), "closing");
  EXPECT_EQ(r.kmcl().outstanding(), 1u);
  EXPECT_EQ(r.to_host(wire::MessageType::kCloseChannel), 0);
  expect_oracles_quiet(r);  // kept on purpose; the rings are still in use
}

// --- policies --------------------------------------------------------------------------

// The echo VSP writes the three packets back in one batch; the driver
// defers #1 on its first delivery. The DPC reads one packet per step, so
// where #2 goes depends on the schedule (KMCL-SEMANTICS row 7): dequeued
// while #1 still waits in the parsing queue, it joins the queue behind it
// and is delivered at PASSIVE_LEVEL after it; dequeued once #1 was
// redelivered, it is delivered at DISPATCH_LEVEL again. ProcessingComplete
// counts the packets each pass processed, a deferral not included (row 10).
// The seed picks the schedule; both cases are pinned exactly.
TEST(ScenarioPolicy, PacketDequeuedBehindADeferredOneWaitsForItAtPassive) {
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(defer_packet(1)), later(guest_send(3, false), 1)}, /*seed=*/9);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket", "ProcessingComplete"}),
              ElementsAre("ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH defer",
                          "ProcessPacket #1 PASSIVE complete", "ProcessPacket #2 PASSIVE complete",
                          "ProcessingComplete PASSIVE 2", "ProcessingComplete DISPATCH 1"));
  EXPECT_EQ(r.context_of("ProcessPacket #1 PASSIVE"), "kmcl/1/passive");
  EXPECT_EQ(r.kmcl().deferred(), 1u);
  EXPECT_EQ(r.kmcl().delivered(), 4u);
  EXPECT_EQ(r.kmcl().redelivery_mismatches(), 0u);
  expect_oracles_quiet(r);
}

TEST(ScenarioPolicy, DispatchDeliveryResumesOnceTheDeferredPacketWasRedelivered) {
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(defer_packet(1)), later(guest_send(3, false), 1)}, /*seed=*/15);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket", "ProcessingComplete"}),
              ElementsAre("ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH defer",
                          "ProcessPacket #1 PASSIVE complete", "ProcessPacket #2 DISPATCH complete",
                          "ProcessingComplete DISPATCH 2", "ProcessingComplete PASSIVE 1"));
  expect_oracles_quiet(r);
}

// The rule behind both: on every schedule, #2 is delivered at PASSIVE_LEVEL
// exactly when KMCL dequeued it before #1's redelivery, and FIFO holds.
TEST(ScenarioPolicy, DeferralKeepsFifoOnEverySchedule) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const ScenarioRun r =
        run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                     {once_started(defer_packet(1)), later(guest_send(3, false), 1)}, seed);
    ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
    bool dequeued_behind = false;  // #2 dequeued before #1 came back
    bool redelivered = false;
    for (const proto::TraceRecord& record : r.records) {
      if (is_driver_record(record, "ProcessPacket #1 PASSIVE")) {
        redelivered = true;
      }
      if (record.has_kmcl() && record.kmcl().kind() == "dequeue" &&
          record.kmcl().detail().rfind("#2 ", 0) == 0) {
        dequeued_behind = !redelivered;
      }
    }
    const std::string irql = dequeued_behind ? "PASSIVE" : "DISPATCH";
    EXPECT_THAT(
        r.callbacks({"ProcessPacket"}),
        ElementsAre("ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH defer",
                    "ProcessPacket #1 PASSIVE complete", "ProcessPacket #2 " + irql + " complete"));
    expect_oracles_quiet(r);
  }
}

TEST(ScenarioPolicy, FailStopsTheQueueAndLeavesTheRestInTheRing) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(default_policy(proto::DriverAction::KIND_FAIL)),
                                      later(guest_send(3, false), 1)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_EQ(r.callbacks({"ProcessPacket"}).front(), "ProcessPacket #0 DISPATCH fail");
  EXPECT_EQ(r.kmcl().queue_state(), "stopped_by_fail");
  EXPECT_EQ(r.kmcl().stop_reason(), "VmbChannelPacketFail of packet #0");
  EXPECT_EQ(r.kmcl().failed(), 1u);
  EXPECT_EQ(r.kmcl().channel_state(), "open");
  // What is left in the ring waits for a restart: no lost wakeup.
  expect_oracles_quiet(r);
}

TEST(ScenarioPolicy, FailEscalatedToACloseClosesTheChannelOnTheWire) {
  proto::GuestConfig guest = scenario_guest();
  guest.mutable_kmcl_drivers(0)->set_escalate_fail_to_close(true);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), guest,
                                     {once_started(default_policy(proto::DriverAction::KIND_FAIL)),
                                      later(guest_send(1, false), 1)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 DISPATCH fail"));
  EXPECT_EQ(r.to_host(wire::MessageType::kCloseChannel), 1);
  EXPECT_EQ(r.to_host(wire::MessageType::kGpadlTeardown), 1);
  EXPECT_EQ(r.kmcl().channel_state(), "disabled");
  expect_oracles_quiet(r);
}

TEST(ScenarioPolicy, PayloadPrefixRuleChoosesTheActionOnEveryDelivery) {
  proto::TimelineEntry policy = default_policy(proto::DriverAction::KIND_COMPLETE);
  auto* rule = policy.mutable_set_policy()->add_rule();
  rule->set_payload_prefix(std::string("\x00\x01\x02", 3));
  rule->set_any_delivery(true);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_LEAVE_OUTSTANDING);
  proto::TimelineEntry other = guest_send(1, false);
  other.mutable_guest_send()->mutable_payload()->set_raw("another payload!");
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(policy), later(guest_send(1, false), 1), later(other)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  // The default payload is 16 counting bytes: the prefix rule keeps it.
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 DISPATCH outstanding",
                                                          "ProcessPacket #1 DISPATCH complete"));
  EXPECT_EQ(r.kmcl().outstanding(), 1u);
  expect_oracles_quiet(r);
}

// --- oracles and the final report ---------------------------------------------------------

TEST(ScenarioOracle, DroppedInterruptLeavesDataInTheRingAndIsALostWakeup) {
  proto::TimelineEntry drop;
  drop.mutable_interrupt_fault()->set_direction(proto::HOST_TO_GUEST);
  drop.mutable_interrupt_fault()->set_kind(proto::InterruptFault::DROP);
  drop.mutable_interrupt_fault()->set_count(1);
  drop.mutable_interrupt_fault()->set_child_relid(1);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(drop), later(guest_send(1, false), 1)});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), IsEmpty());
  // One 16-byte payload: 16-byte descriptor + payload + 8-byte trailer.
  EXPECT_EQ(r.finding("lost_wakeup"),
            "incoming ring of channel 1 holds 40 bytes, queue running, no interrupt coming");
  EXPECT_EQ(r.finding("retired_once"), "");
  EXPECT_EQ(r.finding("leak", 0), "");
}

TEST(ScenarioOracle, SendsQueuedBehindAFullRingAreBackPressureNotALostWakeup) {
  // A 2-page ring (4 KiB of data) towards a VSP that never reads: 40 ring
  // bytes per 16-byte packet, and a write needs more free space than the
  // packet, so 102 packets fit and the rest wait for a signal that the host
  // owes only once it reads.
  proto::GuestConfig guest = scenario_guest();
  guest.mutable_kmcl_drivers(0)->set_ring_pages(2);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_SINK_STALLED), guest,
                                     {once_started(guest_send(300, false))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_EQ(r.kmcl().packets_sent(), 102u);
  EXPECT_EQ(r.kmcl().queued_sends(), 198u);
  EXPECT_EQ(r.kmcl().outgoing().pending_send_sz_sets(), 1u);
  EXPECT_EQ(r.finding("lost_wakeup"), "");
  EXPECT_EQ(r.finding("leak", 0), "");
}

TEST(ScenarioFinalReport, DescribesTheDriverChannelAndTheConnection) {
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(guest_send(1, true))});

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  ASSERT_TRUE(r.result.final_reports);
  // One entry for the driver's channel, with both KMCL states; the version;
  // and no oracle finding (findings are present only when one fired).
  ASSERT_EQ(r.result.guest_final.kmcl_channels_size(), 1);
  EXPECT_EQ(r.kmcl().child_relid(), 1u);
  EXPECT_EQ(r.kmcl().channel_state(), "open");
  EXPECT_EQ(r.kmcl().queue_state(), "running");
  EXPECT_EQ(r.result.guest_final.negotiated_version(), "5.3");
  EXPECT_THAT(r.result.guest_final.findings(), IsEmpty());
  EXPECT_EQ(r.kmcl().violations(), 0u);
  EXPECT_EQ(r.kmcl().outgoing().signals(), 1u);
  // The guest never reports done in a scenario run.
  EXPECT_EQ(r.result.guest_value("result"), "");
}

// --- with the host's scenario actions -------------------------------------------------------

TEST(ScenarioWithHostSend, DeferredHostPacketIsRedeliveredAtPassiveBeforeThoseBehindIt) {
  // Seed 1 schedules the DPC's whole pass before the passive worker: #2 is
  // dequeued while #1 waits, so it follows #1 at PASSIVE_LEVEL.
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(defer_packet(1)), later(host_send(3), 1)}, /*seed=*/1);
  if (r.host_refused_actions()) {
    GTEST_SKIP() << "the host does not carry out scenario actions yet";
  }

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.errors, ElementsAre("", ""));
  EXPECT_THAT(r.callbacks({"ProcessPacket", "ProcessingComplete"}),
              ElementsAre("ProcessPacket #0 DISPATCH complete", "ProcessPacket #1 DISPATCH defer",
                          "ProcessingComplete DISPATCH 1", "ProcessPacket #1 PASSIVE complete",
                          "ProcessPacket #2 PASSIVE complete", "ProcessingComplete PASSIVE 2"));
  EXPECT_EQ(r.kmcl().dequeued(), 3u);
  EXPECT_EQ(r.kmcl().deferred(), 1u);
  expect_oracles_quiet(r);
}

TEST(ScenarioWithHostSend, PausedGuestLeavesHostPacketsInTheRingUntilStart) {
  const ScenarioRun r =
      run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                   {once_started(channel_op(proto::ChannelOpAction::PAUSE)), later(host_send(2)),
                    later(channel_op(proto::ChannelOpAction::START))});
  if (r.host_refused_actions()) {
    GTEST_SKIP() << "the host does not carry out scenario actions yet";
  }

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 DISPATCH complete",
                                                          "ProcessPacket #1 DISPATCH complete"));
  expect_oracles_quiet(r);
}

TEST(ScenarioWithHostSend, RescindEndsSendsInFlightWithDeviceRemovedAndFreesTheRings) {
  const ScenarioRun r = run_scenario(
      host_with(proto::VspConfig::KIND_DISCARD), scenario_guest(),
      {once_started(guest_send(1, true)), later(channel_op(proto::ChannelOpAction::RESCIND))});
  if (r.host_refused_actions()) {
    GTEST_SKIP() << "the host does not carry out scenario actions yet";
  }

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.completions(), ElementsAre("1 STATUS_DEVICE_REMOVED 0"));
  EXPECT_THAT(r.callbacks(kStateCallbacks),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "Suspend PASSIVE", "Closed PASSIVE"));
  EXPECT_EQ(r.context_of("Closed"), "kmcl/1/passive");
  EXPECT_EQ(r.kmcl().channel_state(), "disabled");
  EXPECT_EQ(r.result.guest_final.rescinds(), 1u);
  expect_oracles_quiet(r);  // the pages went back once the device's close finished
}

TEST(ScenarioWithHostSend, ExternalDataPendsThenIsFetchedAtPassive) {
  proto::GuestConfig guest = scenario_guest();
  guest.mutable_kmcl_drivers(0)->set_external_data_latency_steps(2);
  proto::TimelineEntry policy = default_policy(proto::DriverAction::KIND_COMPLETE);
  auto* rule = policy.mutable_set_policy()->add_rule();
  rule->set_any_delivery(true);
  rule->mutable_action()->set_kind(proto::DriverAction::KIND_GET_EXTERNAL_DATA);
  proto::TimelineEntry send = host_send(1);
  send.mutable_host_send()->set_external_pages(1);
  send.mutable_host_send()->set_request_completion(true);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), guest,
                                     {once_started(policy), later(send, 1)});
  if (r.host_refused_actions()) {
    GTEST_SKIP() << "the host does not carry out scenario actions yet";
  }

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}),
              ElementsAre("ProcessPacket #0 DISPATCH external-data-pending",
                          "ProcessPacket #0 PASSIVE external-data"));
  EXPECT_EQ(r.kmcl().completions_sent(), 1u);
  expect_oracles_quiet(r);
}

TEST(ScenarioWithHostSend, CompletionTextAnswersTheHostsRequest) {
  proto::TimelineEntry policy = default_policy(proto::DriverAction::KIND_COMPLETE);
  policy.mutable_set_policy()->mutable_default_action()->set_completion_text("done");
  proto::TimelineEntry send = host_send(1);
  send.mutable_host_send()->set_request_completion(true);
  const ScenarioRun r = run_scenario(host_with(proto::VspConfig::KIND_ECHO), scenario_guest(),
                                     {once_started(policy), later(send, 1)});
  if (r.host_refused_actions()) {
    GTEST_SKIP() << "the host does not carry out scenario actions yet";
  }

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << describe_run(r);
  EXPECT_THAT(r.callbacks({"ProcessPacket"}), ElementsAre("ProcessPacket #0 DISPATCH complete"));
  EXPECT_EQ(r.kmcl().completions_sent(), 1u);
  expect_oracles_quiet(r);
}

}  // namespace
}  // namespace vmbus
