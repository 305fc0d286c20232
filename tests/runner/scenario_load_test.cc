// Scenario files are checked before anything runs: every problem comes back
// as "file:line:col: message", with the exact position of the field.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/runner/scenario.h"

#include "tally.h"

namespace vmbus::runner {
namespace {

std::vector<std::string> problems_of(const std::string& text) {
  const LoadedScenario loaded = load_scenario_text(text, "s.textproto");
  std::vector<std::string> out;
  for (const ScenarioProblem& problem : loaded.problems) {
    out.push_back(problem.to_string());
  }
  return out;
}

constexpr char kGoodTopology[] = R"(name: "x"
topology {
  channel { name: "net" }
  channel { name: "disk" relid: 7 }
}
)";

TEST(ScenarioLoad, GoodFileHasNoProblems) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + R"(
step { at_us: 10 host_send { channel: "net" payload { hex: "de ad be ef" } count: 3 } }
step { when { event { kmcl { kind: "dequeue" } channel: "net" } count: 2 } channel_op { channel: "disk" op: PAUSE } }
step { after_us: 5 interrupt_fault { direction: HOST_TO_GUEST kind: DROP } }
step { message_fault { kind: CORRUPT message: "OPENCHANNEL_RESULT" corrupt_bytes { hex: "ff" } } }
expect {
  counter { channel: "net" name: "delivered" value: 3 }
  violation { code: "complete_twice" }
  oracle { name: "lost_wakeup" channel: "net" }
  callbacks { channel: "net" call: "ProcessPacket #0 DISPATCH complete" }
}
)"),
            std::vector<std::string>{});
}

TEST(ScenarioLoad, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(problems_of("name: \"x\"\ntopology { channel { name: \"net\" ring_size: 4 } }\n"),
            std::vector<std::string>{"s.textproto:2:43: Message type \"vmbus.proto.ChannelSpec\" "
                                     "has no field named \"ring_size\"."});
  EXPECT_EQ(problems_of("name: \"x\"\nseed: \"seven\"\n"),
            std::vector<std::string>{"s.textproto:2:7: Expected integer, got: \"seven\""});
  EXPECT_EQ(problems_of("name: \"x\"\ntopology {\n"),
            std::vector<std::string>{"s.textproto:3:1: Expected identifier, got: "});
}

// Protobuf counts a tab as up to 8 columns; the loader reports byte columns,
// as editors and terminals count them.
TEST(ScenarioLoad, ColumnsCountBytesEvenAfterATab) {
  EXPECT_EQ(problems_of("name: \"x\"\n\tseed: \"seven\"\n"),
            std::vector<std::string>{"s.textproto:2:8: Expected integer, got: \"seven\""});
  EXPECT_EQ(
      problems_of("\t\tname: \"a\tb\n"),
      std::vector<std::string>{"s.textproto:1:13: String literals cannot cross line boundaries."});
}

TEST(ScenarioLoad, UnknownChannelIsNamedWithTheKnownOnes) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) + "step {\n  guest_send { channel: \"nte\" }\n}\n"),
      std::vector<std::string>{"s.textproto:7:16: unknown channel 'nte' (the topology has "
                               "'disk', 'net')"});
}

TEST(ScenarioLoad, StepsOutOfTimeOrderAreImpossible) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        "step { at_us: 200 note: \"a\" }\nstep { at_us: 100 note: \"b\" }\n"),
            std::vector<std::string>{
                "s.textproto:7:8: step 2 at 100 us comes before step 1 at 200 us; steps run in "
                "file order"});
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + "time_limit_us: 50\nstep { at_us: 60 }\n"),
            std::vector<std::string>{
                "s.textproto:7:8: step 1 at 60 us is after the time limit of 50 us"});
}

TEST(ScenarioLoad, ContradictoryExpectations) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) + R"(expect {
  counter { channel: "net" name: "delivered" value: 1 }
  counter { channel: "net" name: "delivered" value: 2 }
  state { channel: "net" queue_state: "running" }
  state { channel: "net" queue_state: "paused" }
  trace { event { note { text: "x" } } count: 2 absent: true }
}
)"),
      (std::vector<std::string>{
          "s.textproto:8:46: counter delivered of channel 'net' is expected to be 2 here but 1 "
          "at line 7",
          "s.textproto:10:11: a second state expectation for channel 'net' contradicts the one "
          "at line 9",
          "s.textproto:11:49: absent contradicts count 2"}));
}

TEST(ScenarioLoad, BadValuesAreNamed) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) +
                  R"(step { host_send { channel: "net" payload { hex: "abc" } } }
step { guest_send { channel: "net" trans_id: 5 } }
step { message_fault { message: "OPENCHANNEL_RESULTS" } }
step { crash { } }
expect {
  counter { channel: "net" name: "deliverd" value: 1 }
  violation { code: "complete_thrice" }
  oracle { name: "lost_wakup" }
  state { channel: "net" queue_state: "stopped" }
}
)"),
      (std::vector<std::string>{
          "s.textproto:6:45: hex payload has an odd number of digits (3)",
          "s.textproto:7:36: KMCL chooses its own trans_id (1, 2, 3, ... per channel); a "
          "raw_packet carries any",
          "s.textproto:8:24: unknown message type 'OPENCHANNEL_RESULTS' (a CHANNELMSG name such "
          "as OPENCHANNEL_RESULT, or a number 0..24)",
          "s.textproto:9:8: crash needs side: HOST or GUEST",
          "s.textproto:11:28: unknown counter 'deliverd' (known: dequeued delivered deferred "
          "failed completed completions_sent packets_sent dropped protocol_errors "
          "unexpected_completions outstanding redelivery_mismatches sends_in_flight queued_sends "
          "host_packets_received host_packets_sent host_completions_received "
          "host_pending_transactions interrupts_suppressed signals_host_to_guest "
          "signals_guest_to_host interrupts_to_guest interrupts_to_host violations)",
          "s.textproto:12:15: unknown verifier code 'complete_thrice' (docs/KMCL-SEMANTICS.md "
          "lists them)",
          "s.textproto:13:12: unknown oracle 'lost_wakup' (lost_wakeup, spurious_signal, "
          "retired_once, fifo, leak, rescind_order, resume_hang)",
          "s.textproto:14:26: unknown queue_state 'stopped' (off, running, quota_blocked, "
          "pausing, paused, stopped_by_fail, stopped_by_protocol_error)"}));
}

// Numbers that would make the simulator allocate or wait without bound are
// refused by the loader, before a payload is built or a process started.
TEST(ScenarioLoad, FaultAndSendSizesThatCouldNotRunAreRefusedBeforeAnythingIsBuilt) {
  EXPECT_EQ(
      problems_of(
          std::string(kGoodTopology) +
          R"(step { message_fault { kind: DROP corrupt_bytes { pattern { size: 4294967295 } } } }
step { message_fault { kind: DUPLICATE corrupt_offset: 4 } }
step { message_fault { kind: DELAY delay_us: 18446744073709551 } }
step { interrupt_fault { kind: DELAY delay_us: 1000001 } }
step { host_send { channel: "net" count: 20000 payload { pattern { size: 65536 } } } }
step { guest_send { channel: "net" count: 1000000 payload { text: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" } } }
step { host_send { channel: "net" count: 1000000 payload { pattern { size: 68 } } } }
)"),
      (std::vector<std::string>{
          "s.textproto:6:35: corrupt_bytes and corrupt_offset belong to a CORRUPT fault, not DROP",
          "s.textproto:7:40: corrupt_bytes and corrupt_offset belong to a CORRUPT fault, not "
          "DUPLICATE",
          "s.textproto:8:36: delay_us 18446744073709551 is longer than the time limit of 1000000 "
          "us",
          "s.textproto:9:38: delay_us 1000001 is longer than the time limit of 1000000 us",
          "s.textproto:10:35: 20000 packets of 65536 bytes are 1310720000 bytes; one send action "
          "queues at most 67108864 bytes (64 MiB)",
          "s.textproto:12:35: 1000000 packets of 68 bytes are 68000000 bytes; one send action "
          "queues at most 67108864 bytes (64 MiB)"}));
}

TEST(ScenarioLoad, TraceMatchesNameARecordKindAndValuesItCanHave) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) + R"(step { when { event { side: GUEST } } note: "a" }
step { wait_until { event { message { type: "OPENCHANNEL_RESULTS" field: "child_relid 1" } } } }
expect {
  trace { event { kmcl { kind: "defered" } } }
  trace { event { kmcl { kind: "dequeue" callback: "ProcessPacket" } } }
  trace { event { kmcl { kind: "fail" code: "complete_twice" } } }
  trace { event { kmcl { code: "complete_thrice" callback: "ProcessPackt" } } }
  trace { event { ring { ring: "inward" op: "publish" } } }
  trace { event { fault { kind: "interrupt_lost" } } }
  trace { event { channel_state { state: "opened" } } }
  trace { event { process { partition: HYPERVISOR } } }
  trace { event { note { text: "x" } channel: "nte" } }
  trace { event { message { stage: STAGE_HANDLED direction: HOST_TO_GUEST } } }
}
)"),
      (std::vector<std::string>{
          "s.textproto:6:15: a trace match names the kind of record: message, signal, ring, "
          "channel_state, kmcl, fault, completion, process or note",
          "s.textproto:7:39: unknown message type 'OPENCHANNEL_RESULTS' (a CHANNELMSG name "
          "such as OPENCHANNEL_RESULT, or a number 0..24)",
          "s.textproto:7:67: field 'child_relid 1' is not name=value as the trace writes it "
          "(e.g. \"child_relid=1\")",
          "s.textproto:9:26: unknown KMCL record kind 'defered' (auto_pause, callback, "
          "channel_allocated, channel_cleaned_up, channel_enabled, channel_open, close_begin, "
          "close_end, close_ignored, close_requested, complete, completions_dropped_at_close, "
          "defer, defer_at_passive, dequeue, discarded_at_close, drain_pass_begin, "
          "drain_pass_end, driver, dropped_at_close, external_data_pending, "
          "external_data_ready, fail, incoming_processing_at_passive, interrupt_ignored, "
          "interrupt_masked, not_supported, open_failed, passive_pass_begin, passive_pass_end, "
          "pause, "
          "protocol_error, queue_enabled, queue_stopped, quirk, quota_hit, quota_restart, send, "
          "send_blocked, send_synchronous, send_synchronous_cancelled, send_too_large, "
          "signal_peer, start, transaction_quota, unexpected_completion, violation)",
          "s.textproto:10:42: callback, packet and action belong to kind \"driver\", not "
          "\"dequeue\"",
          "s.textproto:11:39: code belongs to kind \"violation\", not \"fail\"",
          "s.textproto:12:26: unknown verifier code 'complete_thrice' "
          "(docs/KMCL-SEMANTICS.md lists them)",
          "s.textproto:12:50: unknown driver callback 'ProcessPackt' (ProcessPacket, "
          "ProcessingComplete, Opened, Started, PostStarted, Suspend, Closed, Completion, "
          "Later)",
          "s.textproto:13:26: unknown ring 'inward' (host_to_guest, guest_to_host)",
          "s.textproto:13:41: unknown ring op 'publish' (begin_read, publish_read, end_read, "
          "publish_write, signal, no_signal, pending_send_sz, corrupt, interrupt_masked, resume, "
          "raw_write, raw_packet, tamper, set_index, snapshot, image_loaded)",
          "s.textproto:14:27: unknown fault kind 'interrupt_lost' (interrupt_dropped, "
          "interrupt_delayed, interrupt_duplicated, interrupt_spurious, message_dropped, "
          "message_delayed, message_duplicated, message_reordered, message_corrupted, "
          "message_released, hold_released, crash, interrupt_on_old_vp)",
          "s.textproto:15:35: unknown channel state 'opened' (offered, opening, open, "
          "closing, closed, failed, released, rescinded, missing, retargeted)",
          "s.textproto:16:29: a process is the HOST's or the GUEST's",
          "s.textproto:17:38: unknown channel 'nte' (the topology has 'disk', 'net')",
          "s.textproto:18:50: a handled or ignored message is the receiver's record and "
          "has no direction; name the receiver with side"}));
}

TEST(ScenarioLoad, AFieldOfAnotherRecordKindDoesNotParse) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        "expect { trace { event { ring { type: \"OPENCHANNEL\" } } } }\n"),
            std::vector<std::string>{"s.textproto:6:37: Message type \"vmbus.proto.RingMatch\" "
                                     "has no field named \"type\"."});
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        "expect { trace { event { kmcl { } ring { } } } }\n"),
            std::vector<std::string>{"s.textproto:6:40: Field \"ring\" is specified along with "
                                     "field \"kmcl\", another member of oneof \"record\"."});
}

TEST(ScenarioLoad, TopologyMistakes) {
  EXPECT_EQ(problems_of(R"(name: "has space"
topology {
  channel { name: "a" relid: 3 }
  channel { name: "a" relid: 3 ring_pages: 1 }
  channel { }
}
)"),
            (std::vector<std::string>{
                "s.textproto:1:1: name 'has space' must not contain spaces or slashes",
                "s.textproto:4:13: channel name 'a' is used twice",
                "s.textproto:4:23: relid 3 is used twice",
                "s.textproto:4:32: ring_pages 1 must be 2..256 (the control page plus at least "
                "one data page)",
                "s.textproto:5:3: channel 3 has no name"}));
  EXPECT_EQ(problems_of("name: \"x\"\n"),
            std::vector<std::string>{"s.textproto:1:1: the topology has no channel"});
}

TEST(ScenarioLoad, SubchannelsAreBoundedNamedAfterTheirChannelAndOfferedOnRequestOnlyIfAsked) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel { name: "a" subchannels: 17 }
  channel { name: "b" subchannels_on_request: true }
  channel { name: "c/1" }
  channel { name: "c" subchannels: 1 }
}
step { offer_subchannels { channel: "c" } }
step { offer_subchannels { channel: "nope" child_relid: 3 } }
)"),
            (std::vector<std::string>{
                "s.textproto:3:23: subchannels 17 is outside 0..16",
                "s.textproto:4:23: subchannels_on_request needs subchannels (how many the host "
                "offers)",
                "s.textproto:6:23: subchannel name 'c/1' is already a channel's name",
                "s.textproto:8:28: channel 'c' has no subchannels waiting for a request "
                "(subchannels_on_request)",
                "s.textproto:9:28: unknown channel 'nope' (the topology has 'a', 'b', 'c', 'c/1')",
                "s.textproto:9:44: child_relid is set by the runner; name the channel instead"}));
}

TEST(ScenarioLoad, CompileGivesSubchannelsTheirOwnRelidsAndThePrimarysDeviceAndDriver) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  channel { name: "disk" subchannels: 2 quota: 3 }
  channel { name: "net" relid: 3 subchannels: 1 subchannels_on_request: true }
}
step { offer_subchannels { channel: "net" } }
step { guest_send { channel: "disk/2" } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  ASSERT_EQ(compiled.channels.size(), 5u);
  EXPECT_EQ(compiled.relid_of("disk/1"), 2u);
  EXPECT_EQ(compiled.relid_of("disk/2"), 4u);
  EXPECT_EQ(compiled.relid_of("net/1"), 5u);
  EXPECT_EQ(compiled.timeline[0].entry.offer_subchannels().child_relid(), 3u);
  EXPECT_EQ(compiled.timeline[1].entry.guest_send().child_relid(), 4u);
  const proto::ChannelOfferConfig& sub = compiled.host.channels(3);
  EXPECT_EQ(sub.child_relid(), 4u);
  EXPECT_EQ(sub.primary_relid(), 1u);
  EXPECT_EQ(sub.sub_channel_index(), 2u);
  EXPECT_FALSE(sub.offer_on_request());
  EXPECT_EQ(sub.instance_guid(), compiled.host.channels(0).instance_guid());
  EXPECT_TRUE(compiled.host.channels(4).offer_on_request());
  EXPECT_EQ(compiled.guest.kmcl_drivers(3).child_relid(), 4u);
  EXPECT_EQ(compiled.guest.kmcl_drivers(3).quota(), 3u);
  EXPECT_EQ(compiled.guest.open_relids(3), 4u);
}

TEST(ScenarioLoad, HoldNeedsASideAndAContext) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + "step { hold { context: \"kmcl/1/\" } }\n"),
            (std::vector<std::string>{
                "s.textproto:6:8: hold needs side: HOST or GUEST",
                "s.textproto:6:15: a context name such as \"kmcl/1/passive\" is needed"}));
}

TEST(ScenarioLoad, PinsGoInIncreasingStepOrderAndNameAPartitionsContext) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) + "pin { step: 4 context: \"guest:isr\" }\n"
                                               "pin { step: 4 context: \"host:kmcl/1/external\" }\n"
                                               "pin { step: 0 context: \"isr\" }\n"
                                               "pin { step: 100000001 context: \"guest:\" }\n"),
      (std::vector<std::string>{
          "s.textproto:7:7: pin step 4 does not come after step 4 (pins go in increasing "
          "step order)",
          "s.textproto:8:7: pin step 0 is outside 1..100000000",
          "s.textproto:8:15: pin context 'isr' is not '<partition>:<context>' with "
          "partition host or guest (as the trace names it: \"guest:kmcl/1/dpc/1\")",
          "s.textproto:9:7: pin step 100000001 is outside 1..100000000",
          "s.textproto:9:23: pin context 'guest:' is not '<partition>:<context>' with "
          "partition host or guest (as the trace names it: \"guest:kmcl/1/dpc/1\")"}));
  EXPECT_TRUE(problems_of(std::string(kGoodTopology) +
                          "pin { step: 3 context: \"guest:isr\" }\n"
                          "pin { step: 9 context: \"host:kmcl/1/external\" }\n")
                  .empty());
}

TEST(ScenarioLoad, RunnerFieldsCannotBeWritten) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        "step { host_send { channel: \"net\" child_relid: 1 payload { raw: \"x\" } "
                        "} }\n"),
            (std::vector<std::string>{
                "s.textproto:6:35: child_relid is set by the runner; name the channel instead",
                "s.textproto:6:60: raw is set by the runner; write text, hex or pattern"}));
}

TEST(ScenarioLoad, CompileResolvesNamesAndPayloads) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
step { host_send { channel: "disk" payload { pattern { size: 4 counting: true } } } }
step { message_fault { message: "10" } }
step { message_fault { } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  ASSERT_EQ(compiled.channels.size(), 2u);
  EXPECT_EQ(compiled.channels[0].relid, 1u);
  EXPECT_EQ(compiled.channels[1].relid, 7u);
  EXPECT_EQ(compiled.timeline[0].entry.host_send().child_relid(), 7u);
  EXPECT_EQ(compiled.timeline[0].entry.host_send().payload().raw(),
            std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ(compiled.timeline[1].entry.message_fault().msgtype(), 10u);
  EXPECT_FALSE(compiled.timeline[1].entry.message_fault().any_type());
  EXPECT_TRUE(compiled.timeline[2].entry.message_fault().any_type());
  EXPECT_EQ(compiled.host.channels(1).child_relid(), 7u);
  EXPECT_EQ(compiled.guest.kmcl_drivers(1).child_relid(), 7u);
  EXPECT_TRUE(compiled.guest.kmcl_drivers(0).scenario());
  EXPECT_EQ(compiled.time_limit_ns, 1'000'000'000u);
}

TEST(ScenarioLoad, CompiledTraceMatchesCompareRecordFieldsWhole) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
step { when { event { completion { trans_id: 1 } side: HOST channel: "disk" } } note: "a" }
expect { trace { event { kmcl { kind: "send" } } count: 1 } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  proto::TraceRecord trans_id_1;
  trans_id_1.set_partition(proto::PARTITION_HOST);
  trans_id_1.mutable_completion()->set_child_relid(7);
  trans_id_1.mutable_completion()->set_trans_id(1);
  proto::TraceRecord trans_id_10 = trans_id_1;
  trans_id_10.mutable_completion()->set_trans_id(10);
  proto::TraceRecord on_net = trans_id_1;
  on_net.mutable_completion()->set_child_relid(1);
  proto::TraceRecord send_blocked;
  send_blocked.mutable_kmcl()->set_kind("send_blocked");

  ASSERT_TRUE(compiled.timeline[0].when.has_value());
  EXPECT_TRUE(trace::matches(trans_id_1, *compiled.timeline[0].when));
  EXPECT_FALSE(trace::matches(trans_id_10, *compiled.timeline[0].when));
  EXPECT_FALSE(trace::matches(on_net, *compiled.timeline[0].when));
  ASSERT_EQ(compiled.expected_trace.size(), 1u);
  EXPECT_FALSE(trace::matches(send_blocked, compiled.expected_trace[0]));
}

TEST(ScenarioLoad, AnAfterIsATraceMatchCheckedLikeTheEvent) {
  EXPECT_EQ(
      problems_of(std::string(kGoodTopology) + R"(expect {
  trace { event { kmcl { kind: "close_end" } } after { kmcl { kind: "closed_end" } } absent: true }
}
)"),
      (std::vector<std::string>{
          "s.textproto:7:63: unknown KMCL record kind 'closed_end' (auto_pause, callback, "
          "channel_allocated, channel_cleaned_up, channel_enabled, channel_open, "
          "close_begin, close_end, close_ignored, close_requested, complete, "
          "completions_dropped_at_close, defer, defer_at_passive, dequeue, "
          "discarded_at_close, drain_pass_begin, drain_pass_end, driver, dropped_at_close, "
          "external_data_pending, external_data_ready, fail, "
          "incoming_processing_at_passive, interrupt_ignored, interrupt_masked, "
          "not_supported, open_failed, passive_pass_begin, passive_pass_end, pause, "
          "protocol_error, queue_enabled, queue_stopped, quirk, quota_hit, quota_restart, send, "
          "send_blocked, send_synchronous, send_synchronous_cancelled, send_too_large, "
          "signal_peer, start, transaction_quota, unexpected_completion, violation)"}));
}

TEST(ScenarioLoad, ATraceExpectationWithAfterCountsOnlyRecordsAfterTheFirstAfterRecord) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
expect {
  trace { event { kmcl { kind: "send" } } after { note { text: "released" } } count: 2 }
  trace { event { kmcl { kind: "send" } } count: 3 }
  trace { event { kmcl { kind: "send" } } after { note { text: "never" } } absent: true }
  trace { event { note { text: "released" } } after { note { text: "released" } } count: 1 }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  proto::TraceRecord send;
  send.mutable_kmcl()->set_kind("send");
  proto::TraceRecord released;
  released.mutable_note()->set_text("relid released");
  TraceTally tally(compiled);
  for (const proto::TraceRecord* record : {&send, &released, &send, &released, &send}) {
    tally.add(*record);
  }
  tally.finish();

  // The record that arms an `after` is not counted as one after it.
  EXPECT_EQ(tally.trace_matches(), (std::vector<std::uint32_t>{2, 3, 0, 1}));
}

TEST(ScenarioLoad, AHostMessageNamesATypeOrANumberAndFitsOneSynicMessage) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        R"(step { host_message { type: "TL_CONNECT_RESULT" } }
step { host_message { type: "30" payload { hex: "01" } } }
step { host_message { type: "256" } }
step { host_message { type: "TL_CONNECT_RESULTS" payload { pattern { size: 233 } } } }
step { host_message { type: "1" msgtype: 1 } }
)"),
            (std::vector<std::string>{
                "s.textproto:8:23: unknown message type '256' (a CHANNELMSG name such as "
                "TL_CONNECT_RESULT, or a number 0..255)",
                "s.textproto:9:23: unknown message type 'TL_CONNECT_RESULTS' (a CHANNELMSG "
                "name such as TL_CONNECT_RESULT, or a number 0..255)",
                "s.textproto:9:50: a control message carries at most 232 bytes after its "
                "header, not 233",
                "s.textproto:10:33: msgtype is set by the runner; write type"}));
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
step { host_message { type: "MODIFYCHANNEL_RESPONSE" payload { hex: "01 00" } } }
step { host_message { type: "30" } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  EXPECT_EQ(compiled.timeline[0].entry.host_message().msgtype(), 24u);
  EXPECT_EQ(compiled.timeline[0].entry.host_message().payload().raw(), std::string("\x01\x00", 2));
  EXPECT_EQ(compiled.timeline[1].entry.host_message().msgtype(), 30u);
}

TEST(ScenarioLoad, ADuplicateOfferNamesAChannelOfTheTopologyAndGetsItsRelid) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        R"(step { duplicate_offer { channel: "disk" } }
step { duplicate_offer { channel: "nte" } }
step { duplicate_offer { channel: "net" child_relid: 1 } }
step { duplicate_offer { } }
)"),
            (std::vector<std::string>{
                "s.textproto:7:26: unknown channel 'nte' (the topology has 'disk', 'net')",
                "s.textproto:8:41: child_relid is set by the runner; name the channel instead",
                "s.textproto:9:8: no channel named (channel: \"...\")"}));
  const LoadedScenario loaded = load_scenario_text(
      std::string(kGoodTopology) + "step { duplicate_offer { channel: \"disk\" } }\n",
      "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  EXPECT_EQ(compiled.timeline[0].entry.duplicate_offer().child_relid(), 7u);
}

TEST(ScenarioLoad, OpenedStatusIsAKnownFailureOfTheHostsScriptedVsp) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel { name: "a" host_driver { opened_status: "STATUS_INSUFFICIENT_RESOURCES" } }
  channel { name: "b" host_driver { opened_status: "STATUS_SUCCESS" } }
  channel { name: "c" guest_driver { opened_status: "STATUS_UNSUCCESSFUL" } }
}
)"),
            (std::vector<std::string>{
                "s.textproto:4:37: opened_status 'STATUS_SUCCESS' is not one of "
                "STATUS_UNSUCCESSFUL, STATUS_INSUFFICIENT_RESOURCES, STATUS_NOT_SUPPORTED, "
                "STATUS_DEVICE_REMOVED",
                "s.textproto:5:38: opened_status is the host VSP's (host_driver): the host "
                "answers the guest's OPENCHANNEL with it"}));
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology { channel { name: "a" host_driver { opened_status: "STATUS_DEVICE_REMOVED" } } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);
  ASSERT_EQ(compiled.host.channels_size(), 1);
  EXPECT_EQ(compiled.host.channels(0).driver().opened_status(), 0xC00002B6u);
}

TEST(ScenarioLoad, HostDriverSpeaksTheGuestsRuleLanguageAndIsCheckedTheSameWay) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel {
    name: "net"
    host_driver {
      rule { payload_prefix: "BAD" action { kind: KIND_FAIL later_steps: 2 } }
      rule { percent: 101 action { kind: KIND_DEFER completion_text: "no" } }
      default_action { kind: 99 }
    }
    guest_driver { default_action { kind: KIND_COMPLETE echo_payload: true completion_text: "x" } }
  }
}
step { set_policy { channel: "net" side: HOST rule { action { kind: KIND_ECHO echo_payload: true } } } }
step { set_policy { channel: "nte" side: HOST } }
)"),
            (std::vector<std::string>{
                "s.textproto:6:61: later_steps is for KIND_COMPLETE_LATER and the "
                "*_OUTSIDE_CALLBACK misuses, not KIND_FAIL",
                "s.textproto:7:14: percent 101 is above 100",
                "s.textproto:7:53: completion_text is for an action that completes; KIND_DEFER "
                "does not",
                "s.textproto:8:24: unknown action kind 99 (KIND_COMPLETE, KIND_COMPLETE_LATER, "
                "KIND_DEFER, KIND_FAIL, KIND_ECHO, ...)",
                "s.textproto:10:76: echo_payload and completion_text contradict each other",
                "s.textproto:13:79: echo_payload is for an action that completes; KIND_ECHO does "
                "not",
                "s.textproto:14:21: unknown channel 'nte' (the topology has 'net')"}));
}

TEST(ScenarioLoad, DriverOptionsAreWrittenOnceAndWithinKmclsLimits) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel {
    name: "net"
    quota: 2
    guest_driver { quota: 3 require_passive: true }
    host_driver { quota: 0 max_packet_size: 300000 escalate_fail_to_close: true }
  }
}
)"),
            (std::vector<std::string>{
                "s.textproto:6:20: quota is set on the channel too (line 5); write it once",
                "s.textproto:7:19: quota 0 is an invalid parameter to KMCL; leave it out for none",
                "s.textproto:7:28: max_packet_size 300000 is outside 1..262144 "
                "(VmbChannelInitSetMaximumPacketSize)"}));
}

TEST(ScenarioLoad, ActionsAndExpectationsNameASideTheyCanHave) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) +
                        R"(step { channel_op { channel: "net" op: RESCIND side: GUEST } }
step { channel_op { channel: "net" op: ENABLE side: HOST } }
step { set_policy { channel: "net" side: HYPERVISOR } }
step { host_send { channel: "net" trans_id: 9 synchronous: true } }
step { raw_packet { channel: "net" side: HYPERVISOR } }
expect {
  counter { channel: "net" name: "host_packets_sent" value: 1 side: GUEST }
  counter { channel: "net" name: "signals_host_to_guest" value: 1 side: HOST }
  callbacks { channel: "net" side: HYPERVISOR call: "Opened PASSIVE" }
  state { channel: "net" side: HOST queue_state: "stopped_by_fail" }
  state { channel: "net" queue_state: "running" }
  counter { channel: "net" name: "failed" value: 1 side: HOST }
  counter { channel: "net" name: "failed" value: 0 }
  counter { channel: "net" name: "host_packets_sent" value: 1 side: HOST }
  violation { code: "complete_twice" side: HOST }
}
)"),
            (std::vector<std::string>{
                "s.textproto:6:48: RESCIND is the host's (its VSP revokes the offer)",
                "s.textproto:7:36: the host's VSP enables its channel when the host starts; a "
                "revoked offer is not offered again",
                "s.textproto:8:36: set_policy takes side: HOST or GUEST",
                "s.textproto:9:35: KMCL chooses its own trans_id (1, 2, 3, ... per channel); a "
                "raw_packet carries any",
                "s.textproto:10:36: a raw ring write is a malicious host's (HOST, the default) or "
                "guest's (GUEST), not the simulator's",
                "s.textproto:12:63: counter host_packets_sent is the host VSP's; it takes no side",
                "s.textproto:13:67: counter signals_host_to_guest counts the trace's signal "
                "records; it takes no side",
                "s.textproto:14:30: callbacks takes side: HOST or GUEST"}));
}

TEST(ScenarioLoad, CompileGivesEachDriverItsPolicyAndOptions) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  channel {
    name: "net"
    quota: 2
    host_vsp { kind: KIND_DISCARD }
    host_driver {
      rule { payload_prefix: "BAD" action { kind: KIND_FAIL } }
      max_packet_size: 128
      escalate_fail_to_close: true
    }
    guest_driver { require_passive: true }
  }
  channel { name: "disk" host_driver { default_action { kind: KIND_DEFER } quota: 1 } }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems[0].to_string();
  const CompiledScenario compiled = compile_scenario(loaded);

  const proto::KmclDriverConfig& net_host = compiled.host.channels(0).driver();
  ASSERT_EQ(net_host.rules_size(), 1);
  EXPECT_EQ(net_host.rules(0).action().kind(), proto::DriverAction::KIND_FAIL);
  EXPECT_FALSE(net_host.has_default_action()) << "the VSP kind's, decided by the host";
  EXPECT_EQ(net_host.maximum_packet_size(), 128u);
  EXPECT_TRUE(net_host.escalate_fail_to_close());
  EXPECT_EQ(net_host.quota(), 0u) << "the channel's quota is the guest driver's";
  EXPECT_TRUE(net_host.scenario());
  const proto::KmclDriverConfig& net_guest = compiled.guest.kmcl_drivers(0);
  EXPECT_EQ(net_guest.quota(), 2u);
  EXPECT_TRUE(net_guest.require_passive());
  EXPECT_EQ(net_guest.rules_size(), 0);
  EXPECT_EQ(net_guest.maximum_packet_size(), 0u);
  const proto::KmclDriverConfig& disk_host = compiled.host.channels(1).driver();
  EXPECT_EQ(disk_host.default_action().kind(), proto::DriverAction::KIND_DEFER);
  EXPECT_EQ(disk_host.quota(), 1u);
}

TEST(ScenarioLoad, MissingFile) {
  const LoadedScenario loaded = load_scenario("/nonexistent/x.textproto", "x.textproto");
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(loaded.problems[0].to_string(), "x.textproto: cannot open the file");
}

// A driver library runs one end of a channel: the scripted driver's policy
// and KMCL calls cannot be given beside it, nor can actions only the
// scripted driver carries out on that end.
constexpr char kLoadedTopology[] = R"(name: "x"
topology {
  channel { name: "net" guest_driver { library: "libvsc.so" args: "a b" } host_driver { library: "libvsp.so" } }
  channel { name: "disk" }
}
)";

TEST(ScenarioLoad, ADriverLibraryWithoutTheScriptedDriversOptionsHasNoProblems) {
  EXPECT_EQ(problems_of(std::string(kLoadedTopology) + R"(
step { guest_send { channel: "disk" } }
step { channel_op { channel: "net" op: PAUSE } }
expect { callbacks { channel: "net" call: "ProcessPacket #0 DISPATCH complete" } }
)"),
            std::vector<std::string>{});
}

TEST(ScenarioLoad, TheScriptedDriversPolicyAndKmclCallsCannotSitBesideALibrary) {
  EXPECT_EQ(
      problems_of(R"(name: "x"
topology { channel { name: "net" quota: 2
  guest_driver { library: "l.so" rule { action { kind: KIND_DEFER } } max_packet_size: 64 }
  host_vsp { kind: KIND_DISCARD } host_driver { library: "v.so" default_action { } } } }
)"),
      (std::vector<std::string>{
          "s.textproto:2:34: quota is the guest driver's KMCL call; guest_driver's library makes "
          "its own",
          "s.textproto:3:34: rule is the scripted driver's; a driver library makes its own KMCL "
          "calls",
          "s.textproto:3:71: max_packet_size is the scripted driver's; a driver library makes its "
          "own KMCL calls",
          "s.textproto:4:3: host_vsp chooses a scripted VSP; with host_driver's library, the "
          "library is the VSP",
          "s.textproto:4:65: default_action is the scripted driver's; a driver library makes its "
          "own KMCL calls"}));
  EXPECT_EQ(
      problems_of("name: \"x\"\ntopology { channel { name: \"n\" guest_driver { args: \"a\" } "
                  "} }\n"),
      std::vector<std::string>{
          "s.textproto:2:47: args are a driver library's; name the library too"});
}

TEST(ScenarioLoad, WhatOnlyTheScriptedDriverDoesIsRefusedOnALibrarysEnd) {
  EXPECT_EQ(problems_of(std::string(kLoadedTopology) + R"(step { host_send { channel: "net" } }
step { set_policy { channel: "net" } }
step { channel_op { channel: "net" op: COMPLETE_OUTSTANDING side: HOST } }
)"),
            (std::vector<std::string>{
                "s.textproto:6:20: host_send needs the scripted driver, but the host end of 'net' "
                "runs the driver libvsp.so, which decides that for itself",
                "s.textproto:7:21: set_policy needs the scripted driver, but the guest end of "
                "'net' runs the driver libvsc.so, which decides that for itself",
                "s.textproto:8:36: COMPLETE_OUTSTANDING needs the scripted driver, but the host "
                "end of 'net' runs the driver libvsp.so, which decides that for itself"}));
}

TEST(ScenarioLoad, AnExpectedDriverCrashNeedsALibraryOnThatSideAndAKnownCallback) {
  EXPECT_EQ(
      problems_of(std::string(kLoadedTopology) +
                  "expect { driver_crash { side: GUEST callback: \"EvtVmbChannelProcessPacket\" "
                  "channel: \"net\" packet: 3 reason: \"SIGSEGV\" } }\n"),
      std::vector<std::string>{});
  const std::vector<std::string> problems = problems_of(
      std::string(kLoadedTopology) +
      "expect { driver_crash { side: HOST channel: \"disk\" callback: \"ProcessPacket\" }\n"
      "  counter { channel: \"net\" name: \"delivered\" value: 1 } }\n");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0],
            "s.textproto:6:25: a run expected to end in a driver crash has no final "
            "state: callbacks, state, counter and negotiated_version expectations "
            "cannot be checked");
  EXPECT_EQ(problems[1],
            "s.textproto:6:36: the host end of 'disk' runs the scripted driver; only "
            "a driver library can crash");
  EXPECT_EQ(problems[2].substr(0, 78),
            "s.textproto:6:52: unknown driver callback 'ProcessPacket' (VmbusSimDriverEntry");
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + "expect { driver_crash { side: GUEST } }\n"),
            std::vector<std::string>{"s.textproto:6:25: no guest driver of this scenario is a "
                                     "library; only a driver library can crash"});
}

TEST(ScenarioLoad, UnknownQuirkIsNamedAtItsPositionWithTheKnownOnes) {
  const auto problems =
      problems_of(std::string(kGoodTopology) + R"(guest_quirks: "reader_signals_on_old_test"
host_quirks: "no_such_bug"
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("s.textproto:7:1: unknown quirk 'no_such_bug' (known: ", 0), 0u)
      << problems[0];
  EXPECT_NE(problems[0].find("reader_signals_on_old_test"), std::string::npos);
}

TEST(ScenarioLoad, AQuirkListedTwiceIsAProblem) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + R"(guest_quirks: "reader_signals_on_old_test"
guest_quirks: "reader_signals_on_old_test"
)"),
            std::vector<std::string>{
                "s.textproto:7:1: quirk 'reader_signals_on_old_test' is listed twice"});
}

TEST(ScenarioLoad, ModeExpectationsNeedQuirksAndCannotNest) {
  const auto problems = problems_of(std::string(kGoodTopology) + R"(
expect { with_quirks { without_quirks { } } }
)");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0],
            "s.textproto:7:10: with_quirks applies only to a scenario with guest_quirks or "
            "host_quirks");
  EXPECT_EQ(problems[1], "s.textproto:7:10: with_quirks cannot hold another mode's expectations");
}

TEST(ScenarioLoad, EachModeCompilesToItsOwnExpectationsAndQuirks) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
guest_quirks: "reader_signals_on_old_test"
host_quirks: "reader_signals_when_free_equals_pending"
expect {
  counter { channel: "net" name: "delivered" value: 3 }
  with_quirks { oracle { name: "lost_wakeup" channel: "net" } }
  without_quirks { counter { channel: "net" name: "dequeued" value: 3 } }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();

  const CompiledScenario with = compile_scenario(loaded);
  EXPECT_FALSE(with.quirks_off);
  ASSERT_EQ(with.guest.quirks_size(), 1);
  EXPECT_EQ(with.guest.quirks(0), "reader_signals_on_old_test");
  ASSERT_EQ(with.host.quirks_size(), 1);
  EXPECT_EQ(with.host.quirks(0), "reader_signals_when_free_equals_pending");
  ASSERT_EQ(with.expect.counter_size(), 1);
  ASSERT_EQ(with.expect.oracle_size(), 1);
  EXPECT_FALSE(with.expect.has_with_quirks());

  const CompiledScenario without = compile_scenario(loaded, {.quirks = false});
  EXPECT_TRUE(without.quirks_off);
  EXPECT_EQ(without.guest.quirks_size(), 0);
  EXPECT_EQ(without.host.quirks_size(), 0);
  ASSERT_EQ(without.expect.counter_size(), 2);
  EXPECT_EQ(without.expect.counter(1).name(), "dequeued");
  EXPECT_EQ(without.expect.oracle_size(), 0);
}

TEST(ScenarioLoad, AScenarioWithoutQuirksIsTheSameInBothModes) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology), "s.textproto");
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(compile_scenario(loaded, {.quirks = false}).quirks_off);
  EXPECT_EQ(compile_scenario(loaded, {.quirks = false}).guest.quirks_size(), 0);
}

TEST(ScenarioLoad, GuestQuirksAlwaysStayOnInBothModes) {
  const LoadedScenario loaded = load_scenario_text(std::string(kGoodTopology) + R"(
guest_quirks_always: "guest_drops_interrupts_before_open_result"
host_quirks: "host_never_unsticks"
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  for (const bool quirks : {true, false}) {
    const CompiledScenario c = compile_scenario(loaded, {.quirks = quirks});
    ASSERT_EQ(c.guest.quirks_size(), 1);
    EXPECT_EQ(c.guest.quirks(0), "guest_drops_interrupts_before_open_result");
    EXPECT_EQ(c.host.quirks_size(), quirks ? 1 : 0);
  }
}

TEST(ScenarioLoad, GuestQuirksAlwaysAreGuestQuirksNamedOnce) {
  EXPECT_EQ(problems_of(std::string(kGoodTopology) + R"(guest_quirks: "reader_signals_on_old_test"
guest_quirks_always: "reader_signals_on_old_test"
guest_quirks_always: "host_never_unsticks"
)"),
            (std::vector<std::string>{
                "s.textproto:7:1: quirk 'reader_signals_on_old_test' is listed twice (also in "
                "guest_quirks)",
                "s.textproto:8:1: quirk 'host_never_unsticks' applies to the host only"}));
}

TEST(ScenarioLoad, HostUnstickDelayCompilesAndIsBoundedByTheTimeLimit) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  host_unstick_delay_us: 500
  channel { name: "net" }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  EXPECT_EQ(compile_scenario(loaded).host.unstick_delay_us(), 500u);
  EXPECT_EQ(
      compile_scenario(load_scenario_text(kGoodTopology, "s.textproto")).host.unstick_delay_us(),
      0u);

  EXPECT_EQ(problems_of(R"(name: "x"
time_limit_us: 400
topology {
  host_unstick_delay_us: 500
  channel { name: "net" }
}
)"),
            std::vector<std::string>{"s.textproto:4:3: host_unstick_delay_us 500 is longer than "
                                     "the time limit of 400 us"});
}

TEST(ScenarioLoad, GuestResumeTimeoutCompilesAndIsBoundedByTheTimeLimit) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  guest_resume_timeout_us: 2000
  channel { name: "net" }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  EXPECT_EQ(compile_scenario(loaded).guest.resume_timeout_us(), 2000u);

  EXPECT_EQ(problems_of(R"(name: "x"
time_limit_us: 400
topology {
  guest_resume_timeout_us: 500
  channel { name: "net" }
}
)"),
            std::vector<std::string>{"s.textproto:4:3: guest_resume_timeout_us 500 is longer than "
                                     "the time limit of 400 us"});
}

TEST(ScenarioLoad, InstanceGuidAfterUnloadReachesTheHostsOfferAndMustBeAnotherGuid) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  channel { name: "net" instance_guid_after_unload: "0000000a-0000-0000-0000-000000000001" }
}
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  EXPECT_EQ(compile_scenario(loaded).host.channels(0).instance_guid_after_unload(),
            "0000000a-0000-0000-0000-000000000001");

  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel { name: "net" instance_guid_after_unload: "not-a-guid" }
}
)"),
            std::vector<std::string>{"s.textproto:3:25: instance_guid_after_unload 'not-a-guid' "
                                     "is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"});
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  channel { name: "net" instance_guid_after_unload: "00000000-0000-0000-0000-000000000001" }
}
)"),
            std::vector<std::string>{"s.textproto:3:25: instance_guid_after_unload "
                                     "'00000000-0000-0000-0000-000000000001' is the channel's own "
                                     "instance GUID"});
}

TEST(ScenarioLoad, HibernateAndResumeAreGuestActionsWithNoFields) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology { channel { name: "net" } }
step { hibernate { } }
step { resume { } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  const CompiledScenario compiled = compile_scenario(loaded);
  ASSERT_EQ(compiled.timeline.size(), 2u);
}

TEST(ScenarioLoad, GuestVpsAndTargetVpsCompileIntoBothPartitionsAndSubchannelsTakeTheirChannels) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology {
  guest_vps: 3
  channel { name: "disk" target_vp: 2 subchannels: 1 }
  channel { name: "net" }
}
step { modify_channel { channel: "net" target_vp: 1 } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  const CompiledScenario compiled = compile_scenario(loaded);
  EXPECT_EQ(compiled.guest.vp_count(), 3u);
  EXPECT_EQ(compiled.host.guest_vp_count(), 3u);
  ASSERT_EQ(compiled.guest.kmcl_drivers_size(), 3);
  EXPECT_EQ(compiled.guest.kmcl_drivers(0).target_vp(), 2u);  // disk
  EXPECT_EQ(compiled.guest.kmcl_drivers(1).target_vp(), 0u);  // net
  EXPECT_EQ(compiled.guest.kmcl_drivers(2).target_vp(), 2u);  // disk/1
  const proto::ModifyChannelAction& modify = compiled.timeline[0].entry.modify_channel();
  EXPECT_EQ(modify.child_relid(), 2u);
  EXPECT_EQ(modify.target_vp(), 1u);

  const CompiledScenario one_vp =
      compile_scenario(load_scenario_text(kGoodTopology, "s.textproto"));
  EXPECT_EQ(one_vp.guest.vp_count(), 0u);  // the partitions' default: one VP
  EXPECT_EQ(one_vp.host.guest_vp_count(), 0u);
}

TEST(ScenarioLoad, GuestVpsAreBoundedAndEveryTargetVpNamesOneOfThem) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  guest_vps: 5
  channel { name: "net" }
}
)"),
            std::vector<std::string>{"s.textproto:3:3: guest_vps 5 is outside 1..4"});
  EXPECT_EQ(problems_of(R"(name: "x"
topology {
  guest_vps: 2
  channel { name: "net" target_vp: 2 }
}
step { modify_channel { channel: "net" target_vp: 7 } }
step { modify_channel { channel: "nope" child_relid: 1 } }
)"),
            (std::vector<std::string>{
                "s.textproto:4:25: target_vp 2 is not one of the guest's 2 VP(s) (topology "
                "guest_vps)",
                "s.textproto:6:40: target_vp 7 is not one of the guest's 2 VP(s) (topology "
                "guest_vps)",
                "s.textproto:7:25: unknown channel 'nope' (the topology has 'net')",
                "s.textproto:7:41: child_relid is set by the runner; name the channel instead"}));
}

TEST(ScenarioLoad, AnOldVpFaultNeedsHostToGuestInterruptsAndASecondVp) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology { channel { name: "net" } }
step { interrupt_fault { kind: OLD_VP } }
)"),
            std::vector<std::string>{
                "s.textproto:3:26: an OLD_VP fault moves host -> guest interrupts between the "
                "guest's VPs: it needs direction HOST_TO_GUEST and topology guest_vps of 2 or "
                "more"});
  EXPECT_EQ(problems_of(R"(name: "x"
topology { guest_vps: 2 channel { name: "net" } }
step { interrupt_fault { direction: GUEST_TO_HOST kind: OLD_VP } }
)")
                .size(),
            1u);
  EXPECT_TRUE(problems_of(R"(name: "x"
topology { guest_vps: 2 channel { name: "net" } }
step { interrupt_fault { kind: OLD_VP channel: "net" } }
)")
                  .empty());
}

TEST(ScenarioLoad, ASignalMatchNamesAVpOnlyOfAGuestWithSeveral) {
  EXPECT_EQ(problems_of(R"(name: "x"
topology { channel { name: "net" } }
expect { trace { event { signal { vp: 0 } } count: 1 } }
)"),
            std::vector<std::string>{"s.textproto:3:35: a signal record names a VP only when the "
                                     "guest has more than one (topology guest_vps)"});
  EXPECT_EQ(problems_of(R"(name: "x"
topology { guest_vps: 2 channel { name: "net" } }
expect { trace { event { signal { vp: 2 } } count: 1 } }
)"),
            std::vector<std::string>{"s.textproto:3:35: vp 2 is not one of the guest's 2 VP(s) "
                                     "(topology guest_vps)"});
  EXPECT_TRUE(problems_of(R"(name: "x"
topology { guest_vps: 2 channel { name: "net" } }
expect { trace { event { signal { vp: 1 } } count: 1 } }
)")
                  .empty());
}

}  // namespace
}  // namespace vmbus::runner
