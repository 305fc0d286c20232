// Trace records against patterns: decided on record fields, numbers and
// names compared whole, free text searched only where a pattern asks.
#include "vmbus/trace/match.h"

#include <string>

#include <gtest/gtest.h>

namespace vmbus::trace {
namespace {

proto::TraceRecord completion(std::uint64_t trans_id, const std::string& status) {
  proto::TraceRecord record;
  record.set_partition(proto::PARTITION_HOST);
  record.set_context("chan/1");
  record.mutable_completion()->set_child_relid(1);
  record.mutable_completion()->set_trans_id(trans_id);
  record.mutable_completion()->set_status(status);
  return record;
}

proto::TraceRecord kmcl(const std::string& kind, const std::string& detail,
                        std::uint32_t irql = 2) {
  proto::TraceRecord record;
  record.set_partition(proto::PARTITION_GUEST);
  record.set_context("kmcl/1/dpc/1");
  record.mutable_kmcl()->set_kind(kind);
  record.mutable_kmcl()->set_detail(detail);
  record.mutable_kmcl()->set_irql(irql);
  return record;
}

proto::TraceRecord message(proto::MessageEvent::Stage stage, std::uint32_t msgtype,
                           const std::string& decoded) {
  proto::TraceRecord record;
  record.mutable_message()->set_stage(stage);
  record.mutable_message()->set_from(proto::PARTITION_GUEST);
  record.mutable_message()->set_to(proto::PARTITION_HOST);
  record.mutable_message()->set_msgtype(msgtype);
  record.mutable_message()->set_decoded(decoded);
  return record;
}

RecordPattern pattern(EventPattern event) {
  return RecordPattern{std::move(event), std::nullopt, std::nullopt};
}

TEST(TraceMatch, TransId1DoesNotMatchACompletionWithTransId10) {
  CompletionPattern trans_id_1;
  trans_id_1.trans_id = 1;

  EXPECT_TRUE(matches(completion(1, "STATUS_SUCCESS"), pattern(trans_id_1)));
  EXPECT_FALSE(matches(completion(10, "STATUS_SUCCESS"), pattern(trans_id_1)));
  EXPECT_FALSE(matches(completion(11, "STATUS_SUCCESS"), pattern(trans_id_1)));
}

TEST(TraceMatch, CompletionStatusIsComparedWhole) {
  CompletionPattern success;
  success.status = "STATUS_SUCCESS";

  EXPECT_TRUE(matches(completion(3, "STATUS_SUCCESS"), pattern(success)));
  EXPECT_FALSE(matches(completion(3, "STATUS_CANCELLED"), pattern(success)));
}

TEST(TraceMatch, KmclKindIsComparedWholeAndTheDetailAsAPart) {
  KmclPattern send;
  send.kind = "send";
  KmclPattern waiting;
  waiting.detail = "waiting for 264 free bytes";

  EXPECT_TRUE(matches(kmcl("send", "#0 trans_id 1"), pattern(send)));
  EXPECT_FALSE(matches(kmcl("send_blocked", "waiting for 264 free bytes"), pattern(send)));
  EXPECT_TRUE(matches(kmcl("send_blocked", "waiting for 264 free bytes"), pattern(waiting)));
  EXPECT_FALSE(matches(kmcl("send_blocked", "waiting for 96 free bytes"), pattern(waiting)));
}

TEST(TraceMatch, ViolationCodeAndIrqlAreRecordFields) {
  proto::TraceRecord violation = kmcl("violation", "", 0);
  violation.mutable_kmcl()->set_code("complete_twice");
  KmclPattern twice;
  twice.kind = "violation";
  twice.code = "complete_twice";
  KmclPattern at_dispatch = twice;
  at_dispatch.irql = 2;

  EXPECT_TRUE(matches(violation, pattern(twice)));
  EXPECT_FALSE(matches(violation, pattern(at_dispatch)));
}

TEST(TraceMatch, DriverRecordsMatchByCallbackPacketAndAction) {
  const proto::TraceRecord deferred = kmcl("driver", "ProcessPacket #1 DISPATCH defer");
  const proto::TraceRecord eleventh = kmcl("driver", "ProcessPacket #11 DISPATCH defer");
  const proto::TraceRecord started = kmcl("driver", "PostStarted PASSIVE", 0);
  const proto::TraceRecord callback = kmcl("callback", "EvtChannelPostStarted", 0);
  KmclPattern packet_1_deferred;
  packet_1_deferred.callback = "ProcessPacket";
  packet_1_deferred.packet = 1;
  packet_1_deferred.action = "defer";
  KmclPattern post_started;
  post_started.callback = "PostStarted";

  EXPECT_TRUE(matches(deferred, pattern(packet_1_deferred)));
  EXPECT_FALSE(matches(eleventh, pattern(packet_1_deferred)));
  EXPECT_TRUE(matches(started, pattern(post_started)));
  EXPECT_FALSE(matches(callback, pattern(post_started)));
}

TEST(TraceMatch, DriverCallsReadAsCallbackPacketIrqlAction) {
  const DriverCall process = parse_driver_call("ProcessPacket #3 PASSIVE complete");
  const DriverCall completion = parse_driver_call("Completion send#0 DISPATCH STATUS_SUCCESS 0B");
  const DriverCall pass = parse_driver_call("ProcessingComplete PASSIVE 2");
  const DriverCall started = parse_driver_call("PostStarted PASSIVE");

  EXPECT_EQ(process.callback, "ProcessPacket");
  EXPECT_EQ(process.packet, std::optional<std::int64_t>(3));
  EXPECT_EQ(process.action, "complete");
  EXPECT_EQ(completion.callback, "Completion");
  EXPECT_EQ(completion.packet, std::optional<std::int64_t>(0));
  EXPECT_EQ(completion.action, "STATUS_SUCCESS 0B");
  EXPECT_EQ(pass.packet, std::nullopt);
  EXPECT_EQ(pass.action, "2");
  EXPECT_EQ(started.callback, "PostStarted");
  EXPECT_EQ(started.action, "");
}

TEST(TraceMatch, MessageFieldsAreWholeFieldsOfTheDecodedMessage) {
  const proto::TraceRecord gpadl_12 = message(proto::MessageEvent::STAGE_POSTED, 8,
                                              "CHANNELMSG_GPADL_HEADER child_relid=12 gpadl=0x1");
  const proto::TraceRecord contact =
      message(proto::MessageEvent::STAGE_POSTED, 14,
              "CHANNELMSG_INITIATE_CONTACT vmbus_version_requested=4.1 (0x40001) target_vcpu=0");
  MessagePattern child_relid_1;
  child_relid_1.fields = {"child_relid=1"};
  MessagePattern child_relid_12 = child_relid_1;
  child_relid_12.fields = {"child_relid=12"};
  MessagePattern version_4_1;
  version_4_1.msgtype = 14;
  version_4_1.fields = {"vmbus_version_requested=4.1"};
  MessagePattern version_4 = version_4_1;
  version_4.fields = {"vmbus_version_requested=4"};

  EXPECT_FALSE(matches(gpadl_12, pattern(child_relid_1)));
  EXPECT_TRUE(matches(gpadl_12, pattern(child_relid_12)));
  EXPECT_TRUE(matches(contact, pattern(version_4_1)));
  EXPECT_FALSE(matches(contact, pattern(version_4)));
}

TEST(TraceMatch, MessageTypeStageAndDirectionAreRecordFields) {
  const proto::TraceRecord rejected =
      message(proto::MessageEvent::STAGE_REJECTED, 14, "CHANNELMSG_INITIATE_CONTACT");
  MessagePattern rejected_contact;
  rejected_contact.msgtype = 14;
  rejected_contact.stage = proto::MessageEvent::STAGE_REJECTED;
  rejected_contact.from = proto::PARTITION_GUEST;
  rejected_contact.to = proto::PARTITION_HOST;
  MessagePattern posted = rejected_contact;
  posted.stage = proto::MessageEvent::STAGE_POSTED;
  MessagePattern to_guest = rejected_contact;
  to_guest.to = proto::PARTITION_GUEST;
  MessagePattern response = rejected_contact;
  response.msgtype = 15;

  EXPECT_TRUE(matches(rejected, pattern(rejected_contact)));
  EXPECT_FALSE(matches(rejected, pattern(posted)));
  EXPECT_FALSE(matches(rejected, pattern(to_guest)));
  EXPECT_FALSE(matches(rejected, pattern(response)));
}

TEST(TraceMatch, SideAndChannelNarrowAnyKind) {
  const proto::TraceRecord on_1 = kmcl("fail", "");
  proto::TraceRecord on_12 = kmcl("fail", "");
  on_12.set_context("kmcl/12/dpc/1");
  KmclPattern fail;
  fail.kind = "fail";
  RecordPattern guest_on_1{fail, proto::PARTITION_GUEST, 1};
  RecordPattern from_host{fail, proto::PARTITION_HOST, std::nullopt};

  EXPECT_TRUE(matches(on_1, guest_on_1));
  EXPECT_FALSE(matches(on_12, guest_on_1));
  EXPECT_FALSE(matches(on_1, from_host));
}

TEST(TraceMatch, TheHypervisorIsThePartitionOfItsOwnRecords) {
  proto::TraceRecord dropped;
  dropped.mutable_fault()->set_kind("interrupt_dropped");
  dropped.mutable_fault()->set_detail("host->guest relid 1");
  FaultPattern fault;
  fault.kind = "interrupt_dropped";

  EXPECT_TRUE(matches(dropped, RecordPattern{fault, proto::PARTITION_UNSPECIFIED, 1}));
  EXPECT_FALSE(matches(dropped, RecordPattern{fault, proto::PARTITION_UNSPECIFIED, 12}));
  EXPECT_FALSE(matches(dropped, RecordPattern{fault, proto::PARTITION_GUEST, std::nullopt}));
}

TEST(TraceMatch, ScenarioStepRecordsNeverMatch) {
  proto::TraceRecord step;
  step.mutable_action()->set_step(2);
  step.mutable_action()->set_describe("note");
  proto::TraceRecord note;
  note.mutable_note()->set_text("connected at 4.0 (0x40000), messages on connection id 4");

  EXPECT_FALSE(matches(step, pattern(NotePattern{})));
  EXPECT_TRUE(matches(note, pattern(NotePattern{"connected at 4.0 (0x40000)"})));
  EXPECT_FALSE(matches(note, pattern(NotePattern{"connected at 5.0"})));
}

TEST(TraceMatch, RingOpAndIndicesAreRecordFields) {
  proto::TraceRecord read;
  read.mutable_ring()->set_child_relid(1);
  read.mutable_ring()->set_ring("guest_to_host");
  read.mutable_ring()->set_op("publish_read");
  read.mutable_ring()->set_write_index(1184);
  read.mutable_ring()->set_read_index(1184);
  RingPattern drained;
  drained.ring = "guest_to_host";
  drained.op = "publish_read";
  drained.read_index = 1184;
  RingPattern at_118 = drained;
  at_118.read_index = 118;
  RingPattern written = drained;
  written.op = "publish_write";

  EXPECT_TRUE(matches(read, pattern(drained)));
  EXPECT_FALSE(matches(read, pattern(at_118)));
  EXPECT_FALSE(matches(read, pattern(written)));
}

TEST(TraceMatch, ControlMessageFilterDoesNotConfuseRelid1With12) {
  proto::TraceRecord open_12;
  open_12.mutable_message()->set_decoded("CHANNELMSG_OPENCHANNEL child_relid=12 openid=12");

  EXPECT_FALSE(concerns_channel(open_12, 1));
  EXPECT_TRUE(concerns_channel(open_12, 12));
}

}  // namespace
}  // namespace vmbus::trace
