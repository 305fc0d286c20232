// The host side of scripted scenarios, end to end: timeline steps carried out
// by the real vmbus-host (VmbusServer::perform) against the real vmbus-guest
// running a KMCL driver, judged from the trace and the host's final report.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/ring/layout.h"

#include "script_test_util.h"
#include "system_test_util.h"

namespace vmbus {
namespace {

using testing::base_config;
using testing::TestScript;

constexpr std::uint32_t kRelid = 1;
// The channel is open well before this (connect, offer, GPADL, open take
// some tens of simulated microseconds).
constexpr std::uint64_t kOpenUs = 1'000;
// Guest rings: 4 pages each, so 3 pages of data.
constexpr std::uint32_t kDataBytes = 3 * 4096;

proto::HostConfig host_config(proto::VspConfig::Kind kind = proto::VspConfig::KIND_ECHO) {
  proto::HostConfig host = testing::echo_host(1);
  host.mutable_channels(0)->mutable_vsp()->set_kind(kind);
  return host;
}

proto::GuestConfig guest_config(const proto::DriverAction& action = {}, std::uint32_t quota = 0) {
  proto::GuestConfig guest;
  proto::KmclDriverConfig* driver = guest.add_kmcl_drivers();
  driver->set_child_relid(kRelid);
  driver->set_scenario(true);
  // Without scenario mode the driver reports done after this many packets;
  // with a script the run ends when the system goes quiet anyway.
  driver->set_expect_packets(1'000'000);
  driver->set_quota(quota);
  *driver->mutable_default_action() = action;
  return guest;
}

struct HostRun {
  hypervisor::RunResult result;
  std::vector<proto::TraceRecord> records;
  std::vector<std::string> errors;

  // The host's final report of channel kRelid.
  const proto::HostChannelReport& channel() const {
    for (const proto::HostChannelReport& channel : result.host_final.channels()) {
      if (channel.child_relid() == kRelid) {
        return channel;
      }
    }
    ADD_FAILURE() << "the host's final report has no channel " << kRelid;
    return proto::HostChannelReport::default_instance();
  }

  // What the host's oracle `name` found on `child_relid` (0: the whole
  // host), or "" if it did not fire.
  std::string finding(const std::string& name, std::uint32_t child_relid = kRelid) const {
    for (const proto::OracleFinding& finding : result.host_final.findings()) {
      if (finding.name() == name && finding.child_relid() == child_relid) {
        return finding.what();
      }
    }
    return "";
  }

  std::vector<proto::CompletionEvent> completions() const {
    std::vector<proto::CompletionEvent> out;
    for (const proto::TraceRecord& record : records) {
      if (record.has_completion() && record.partition() == proto::PARTITION_HOST) {
        out.push_back(record.completion());
      }
    }
    return out;
  }

  // The KMCL records of `side`'s devices (the guest's by default).
  std::vector<proto::KmclRecord> kmcl(const std::string& kind,
                                      proto::Partition side = proto::PARTITION_GUEST) const {
    std::vector<proto::KmclRecord> out;
    for (const proto::TraceRecord& record : records) {
      if (record.has_kmcl() && record.kmcl().kind() == kind && record.partition() == side) {
        out.push_back(record.kmcl());
      }
    }
    return out;
  }

  std::vector<proto::RingEvent> host_ring(const std::string& op,
                                          proto::Partition side = proto::PARTITION_HOST) const {
    std::vector<proto::RingEvent> out;
    for (const proto::TraceRecord& record : records) {
      if (record.partition() == side && record.has_ring() && record.ring().op() == op) {
        out.push_back(record.ring());
      }
    }
    return out;
  }

  std::string describe() const {
    std::string text =
        testing::describe(result) + " | host final: " + result.host_final.ShortDebugString();
    text += " | step errors:";
    for (const std::string& error : errors) {
      text += " [" + error + "]";
    }
    return text;
  }
};

HostRun run_script(const proto::HostConfig& host, const proto::GuestConfig& guest,
                   TestScript& script) {
  hypervisor::SimulationConfig config = base_config(host, guest);
  config.script = &script;
  config.time_limit_ns = 1'000'000'000;  // 1 s simulated
  HostRun out;
  out.result = hypervisor::run_simulation(config);
  out.records = script.take_records();
  out.errors = script.errors();
  return out;
}

std::string bytes_of(const std::vector<std::byte>& bytes) {
  std::string text(bytes.size(), '\0');
  std::memcpy(text.data(), bytes.data(), bytes.size());
  return text;
}

proto::TimelineEntry host_send(std::uint32_t count, bool request_completion,
                               std::optional<std::uint64_t> trans_id = std::nullopt,
                               const std::string& payload = "") {
  proto::TimelineEntry step;
  proto::SendAction* send = step.mutable_host_send();
  send->set_child_relid(kRelid);
  send->set_count(count);
  send->set_request_completion(request_completion);
  if (trans_id) {
    send->set_trans_id(*trans_id);
  }
  if (!payload.empty()) {
    send->mutable_payload()->set_raw(payload);
  }
  return step;
}

proto::TimelineEntry raw_packet(std::uint32_t offset8, std::uint32_t len8,
                                const std::string& payload, proto::Side side = proto::HOST) {
  proto::TimelineEntry step;
  proto::RawPacketAction* raw = step.mutable_raw_packet();
  raw->set_side(side);
  raw->set_child_relid(kRelid);
  raw->set_offset8(offset8);
  raw->set_len8(len8);
  raw->set_trans_id(42);
  raw->mutable_payload()->set_raw(payload);
  return step;
}

proto::TimelineEntry set_write_index(std::uint32_t value) {
  proto::TimelineEntry step;
  proto::SetIndexAction* set = step.mutable_set_index();
  set->set_child_relid(kRelid);
  set->set_ring(proto::HOST_TO_GUEST_RING);
  set->set_index(proto::SetIndexAction::WRITE_INDEX);
  set->set_value(value);
  set->set_signal(true);
  return step;
}

proto::TimelineEntry channel_op(proto::ChannelOpAction::Op op, std::uint32_t relid = kRelid) {
  proto::TimelineEntry step;
  step.mutable_channel_op()->set_child_relid(relid);
  step.mutable_channel_op()->set_op(op);
  return step;
}

struct GuestPacket {
  std::uint16_t type;
  std::uint16_t flags;
  std::uint64_t trans_id;
  std::string payload;
};

// Bytes of packets as a guest writer would lay them out from ring offset 0:
// descriptor, payload padded to 8, trailer.
std::string guest_packets(const std::vector<GuestPacket>& packets) {
  std::vector<std::byte> ring;
  for (const auto& [type, flags, trans_id, payload] : packets) {
    const std::size_t start = ring.size();
    const std::size_t padded = (payload.size() + 7) / 8 * 8;
    const ring::PacketDescriptor descriptor{
        type, ring::kMinOffset8, static_cast<std::uint16_t>((16 + padded) / 8), flags, trans_id};
    ring.resize(start + 16 + padded + 8);
    std::memcpy(ring.data() + start, &descriptor, sizeof(descriptor));
    std::memcpy(ring.data() + start + 16, payload.data(), payload.size());
    const std::uint64_t trailer = std::uint64_t{start} << 32;
    std::memcpy(ring.data() + start + 16 + padded, &trailer, sizeof(trailer));
  }
  return bytes_of(ring);
}

// The guest "sends" `packets` by a ring_write into the guest->host ring
// (offset 0, the ring is still empty) with the matching write_index.
proto::TimelineEntry guest_packets_step(const std::string& bytes) {
  proto::TimelineEntry step;
  proto::RingWriteAction* write = step.mutable_ring_write();
  write->set_child_relid(kRelid);
  write->set_ring(proto::GUEST_TO_HOST_RING);
  write->set_offset(0);
  write->mutable_bytes()->set_raw(bytes);
  write->set_write_index(static_cast<std::uint32_t>(bytes.size()));
  write->set_signal(true);
  return step;
}

void expect_no_step_errors(const HostRun& r) {
  for (const std::string& error : r.errors) {
    EXPECT_EQ(error, "") << r.describe();
  }
}

void expect_oracles_quiet(const HostRun& r) {
  EXPECT_EQ(r.finding("lost_wakeup"), "") << r.describe();
  EXPECT_EQ(r.finding("leak", 0), "") << r.describe();
}

// --- sends and completions ----------------------------------------------------

TEST(ScenarioHost, SendsWithCompletionAreCompletedInOrderWithCountingTransIds) {
  TestScript script;
  script.at(kOpenUs, host_send(3, true));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  ASSERT_TRUE(r.result.final_reports);
  expect_no_step_errors(r);
  const std::vector<proto::CompletionEvent> completions = r.completions();
  ASSERT_EQ(completions.size(), 3u) << r.describe();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(completions[i].child_relid(), kRelid);
    EXPECT_EQ(completions[i].trans_id(), i + 1);
    EXPECT_EQ(completions[i].status(), "STATUS_SUCCESS");
    EXPECT_EQ(completions[i].bytes(), 0u);
  }
  EXPECT_EQ(r.channel().state(), proto::HostChannelReport::STATE_OPEN);
  EXPECT_EQ(r.channel().packets_sent(), 3u);
  EXPECT_EQ(r.channel().completions_received(), 3u);
  EXPECT_EQ(r.channel().unknown_completions(), 0u);
  EXPECT_EQ(r.channel().pending_transactions(), 0u);
  EXPECT_EQ(r.channel().queued_sends(), 0u);
  EXPECT_FALSE(r.channel().send_blocked());
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 3u * (32 + 8));
  EXPECT_EQ(r.channel().host_to_guest().read_index(), 3u * (32 + 8));
  EXPECT_EQ(r.channel().guest_to_host().write_index(), 3u * (16 + 8));
  EXPECT_EQ(r.channel().guest_to_host().read_index(), 3u * (16 + 8));
  expect_oracles_quiet(r);
}

// The host's VSP sends through KMCL, which chooses the transaction ids: a
// send that names one is refused, and the ids count on from 1.
TEST(ScenarioHost, ASendNamingATransIdIsRefusedAndKmclCountsItsOwn) {
  TestScript script;
  script.at(kOpenUs, host_send(2, true, 77));
  script.at(kOpenUs + 200, host_send(1, true));
  script.at(kOpenUs + 400, host_send(1, false));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  ASSERT_EQ(r.errors.size(), 3u) << r.describe();
  EXPECT_EQ(r.errors[0], "KMCL chooses its own trans_id; a driver's send cannot set one");
  EXPECT_EQ(r.errors[1], "");
  EXPECT_EQ(r.errors[2], "");
  const std::vector<proto::CompletionEvent> completions = r.completions();
  ASSERT_EQ(completions.size(), 2u) << r.describe();
  EXPECT_EQ(completions[0].trans_id(), 1u);
  EXPECT_EQ(completions[0].status(), "STATUS_SUCCESS");
  // Without WAIT_FOR_COMPLETION a send completes once it is in the ring.
  EXPECT_EQ(completions[1].trans_id(), 2u);
  EXPECT_EQ(completions[1].status(), "STATUS_SUCCESS");
  EXPECT_EQ(r.channel().packets_sent(), 2u);
  EXPECT_EQ(r.channel().completions_received(), 1u);
  EXPECT_EQ(r.channel().pending_transactions(), 0u);
  expect_oracles_quiet(r);
}

TEST(ScenarioHost, CompletionCarriesTheGuestsCompletionPayloadSize) {
  proto::DriverAction action;
  action.set_completion_text("complete");  // 8 bytes: a payload padded to 8 would hide a length
  TestScript script;
  script.at(kOpenUs, host_send(1, true));
  const HostRun r = run_script(host_config(), guest_config(action), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  const std::vector<proto::CompletionEvent> completions = r.completions();
  ASSERT_EQ(completions.size(), 1u) << r.describe();
  EXPECT_EQ(completions[0].status(), "STATUS_SUCCESS");
  EXPECT_EQ(completions[0].bytes(), 8u);
}

TEST(ScenarioHost, ExternalPagesSendAGpaDirectPacketTheGuestAccepts) {
  TestScript script;
  proto::TimelineEntry step = host_send(1, true);
  step.mutable_host_send()->set_external_pages(3);
  script.at(kOpenUs, step);
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_TRUE(r.kmcl("protocol_error").empty()) << r.kmcl("protocol_error")[0].detail();
  ASSERT_EQ(r.completions().size(), 1u) << r.describe();
  EXPECT_EQ(r.completions()[0].status(), "STATUS_SUCCESS");
  // descriptor 16 + reserved/range_cnt 8 + range 8 + 3 PFNs 24 + payload 16 + trailer 8.
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 80u);
}

// --- VSP kinds ------------------------------------------------------------------

// Two guest packets, the first asking for a completion, put on the
// guest->host ring; then a completion for a trans_id the host never sent.
HostRun run_guest_packets(proto::VspConfig::Kind kind) {
  TestScript script;
  script.at(kOpenUs,
            guest_packets_step(guest_packets({{6, ring::kPacketFlagCompletionRequested, 501, "one"},
                                              {6, 0, 502, "two"},
                                              {11, 0, 99, ""}})));
  return run_script(host_config(kind), guest_config(), script);
}

TEST(ScenarioHost, CompleteKindAnswersOnlyRequestsWithAnEmptyCompletion) {
  const HostRun r = run_guest_packets(proto::VspConfig::KIND_COMPLETE);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_EQ(r.channel().packets_received(), 2u);
  EXPECT_EQ(r.channel().packets_sent(), 1u);
  EXPECT_EQ(r.channel().completions_received(), 1u);
  EXPECT_EQ(r.channel().unknown_completions(), 1u);
  EXPECT_TRUE(r.completions().empty());
  // The guest's KMCL never sent 501, so the host's completion is unexpected to it.
  const std::vector<proto::KmclRecord> unexpected = r.kmcl("unexpected_completion");
  ASSERT_EQ(unexpected.size(), 1u) << r.describe();
  EXPECT_EQ(unexpected[0].detail(), "trans_id 501");
  // One COMP, no payload: descriptor + trailer.
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 24u);
  expect_oracles_quiet(r);
}

TEST(ScenarioHost, DiscardKindReadsEverythingAndAnswersNothing) {
  const HostRun r = run_guest_packets(proto::VspConfig::KIND_DISCARD);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_EQ(r.channel().packets_received(), 2u);
  EXPECT_EQ(r.channel().packets_sent(), 0u);
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 0u);
  EXPECT_EQ(r.channel().guest_to_host().read_index(), r.channel().guest_to_host().write_index());
  EXPECT_TRUE(r.kmcl("unexpected_completion").empty());
  expect_oracles_quiet(r);
}

TEST(ScenarioHost, EchoKindStillEchoesAndCompletes) {
  const HostRun r = run_guest_packets(proto::VspConfig::KIND_ECHO);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  EXPECT_EQ(r.channel().packets_received(), 2u);
  EXPECT_EQ(r.channel().packets_sent(), 2u);
  expect_oracles_quiet(r);
}

// --- the VSP's own driver policy ---------------------------------------------------

// The host's final KMCL report of channel kRelid's VSP.
const proto::KmclChannelReport& host_kmcl(const HostRun& r) {
  for (const proto::KmclChannelReport& channel : r.result.host_final.kmcl_channels()) {
    if (channel.child_relid() == kRelid) {
      return channel;
    }
  }
  ADD_FAILURE() << "the host's final report has no KMCL channel " << kRelid;
  return proto::KmclChannelReport::default_instance();
}

TEST(ScenarioHost, APacketAboveTheServersMaximumIsAProtocolErrorOnTheHostAsOnTheGuest) {
  proto::HostConfig host = host_config();
  host.mutable_channels(0)->mutable_driver()->set_maximum_packet_size(128);
  host.mutable_channels(0)->mutable_driver()->set_scenario(true);
  TestScript script;
  script.at(kOpenUs, guest_packets_step(guest_packets(
                         {{6, ring::kPacketFlagCompletionRequested, 1, std::string(512, 'x')},
                          {6, ring::kPacketFlagCompletionRequested, 2, "ok"}})));
  const HostRun r = run_script(host, guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::KmclRecord> errors = r.kmcl("protocol_error", proto::PARTITION_HOST);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_EQ(errors[0].detail(),
            "packet of 512 payload bytes exceeds the channel's maximum packet size 128 "
            "(trans_id 1)");
  // Not delivered, no completion; the queue stops as for Fail, so the
  // request behind it stays in the ring.
  EXPECT_EQ(host_kmcl(r).queue_state(), "stopped_by_protocol_error");
  EXPECT_EQ(host_kmcl(r).protocol_errors(), 1u);
  EXPECT_EQ(host_kmcl(r).delivered(), 0u);
  EXPECT_TRUE(r.channel().vsp_stopped());
  EXPECT_EQ(r.channel().packets_sent(), 0u);
  EXPECT_EQ(r.channel().state(), proto::HostChannelReport::STATE_OPEN);
}

TEST(ScenarioHost, AVspPolicyFailsTheRequestItNamesAndLeavesTheRestInTheRing) {
  proto::HostConfig host = host_config();
  proto::KmclDriverConfig& driver = *host.mutable_channels(0)->mutable_driver();
  driver.set_scenario(true);
  proto::DriverRule& rule = *driver.add_rules();
  rule.set_payload_prefix("BAD");
  rule.mutable_action()->set_kind(proto::DriverAction::KIND_FAIL);
  TestScript script;
  script.at(kOpenUs, guest_packets_step(
                         guest_packets({{6, ring::kPacketFlagCompletionRequested, 1, "good"},
                                        {6, ring::kPacketFlagCompletionRequested, 2, "BAD!"},
                                        {6, ring::kPacketFlagCompletionRequested, 3, "good"}})));
  const HostRun r = run_script(host, guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  // The default action stays the VSP kind's (echo): #0 is answered, #1
  // failed, #2 never dequeued.
  std::vector<std::string> calls;
  for (const proto::TraceRecord& record : r.records) {
    if (record.partition() == proto::PARTITION_HOST && record.has_kmcl() &&
        record.kmcl().kind() == "driver" && record.kmcl().detail().rfind("ProcessPacket", 0) == 0) {
      calls.push_back(record.kmcl().detail());
    }
  }
  EXPECT_EQ(calls, (std::vector<std::string>{"ProcessPacket #0 DISPATCH echo",
                                             "ProcessPacket #1 DISPATCH fail"}));
  EXPECT_EQ(host_kmcl(r).queue_state(), "stopped_by_fail");
  EXPECT_EQ(host_kmcl(r).failed(), 1u);
  EXPECT_EQ(r.channel().packets_received(), 2u);
  EXPECT_EQ(r.channel().packets_sent(), 1u);
  EXPECT_NE(r.channel().guest_to_host().read_index(), r.channel().guest_to_host().write_index());
}

// --- a malicious host -------------------------------------------------------------

TEST(ScenarioHost, RawPacketWithLen8BelowOffset8IsAGuestProtocolError) {
  TestScript script;
  script.at(kOpenUs, raw_packet(2, 1, "payload!"));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::KmclRecord> errors = r.kmcl("protocol_error");
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_NE(errors[0].detail().find("offset8_beyond_len8"), std::string::npos)
      << errors[0].detail();
  const std::vector<proto::RingEvent> raw = r.host_ring("raw_packet");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].write_index(), 32u);  // descriptor + 8 payload bytes + trailer
  EXPECT_NE(raw[0].detail().find("offset8 2 len8 1"), std::string::npos) << raw[0].detail();
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 32u);
}

TEST(ScenarioHost, RawPacketWithHonestFieldsIsDeliveredAndTheSenderFollowsIt) {
  TestScript script;
  script.at(kOpenUs, raw_packet(2, 3, "payload!"));
  script.at(kOpenUs + 200, host_send(1, true));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_TRUE(r.kmcl("protocol_error").empty()) << r.describe();
  // The raw packet (32 bytes) and then the sender's packet right behind it.
  EXPECT_EQ(r.channel().host_to_guest().write_index(), 32u + 40);
  ASSERT_EQ(r.completions().size(), 1u) << r.describe();
  EXPECT_EQ(r.completions()[0].trans_id(), 1u);
}

TEST(ScenarioHost, WriteIndexOutOfRangeIsAGuestProtocolError) {
  TestScript script;
  script.at(kOpenUs, set_write_index(kDataBytes + 8));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::KmclRecord> errors = r.kmcl("protocol_error");
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_NE(errors[0].detail().find("write_index_out_of_range"), std::string::npos)
      << errors[0].detail();
  const std::vector<proto::RingEvent> set = r.host_ring("set_index");
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].write_index(), kDataBytes + 8);
  EXPECT_NE(set[0].detail().find("before: write_index 0"), std::string::npos) << set[0].detail();
  EXPECT_EQ(r.channel().host_to_guest().write_index(), kDataBytes + 8);
}

TEST(ScenarioHost, TamperAfterDeliveryChangesTheRingButNotWhatTheGuestRead) {
  TestScript script;
  script.at(kOpenUs, host_send(1, true, std::nullopt, "original"));
  script.at(kOpenUs + 500, [] {
    proto::TimelineEntry step;
    step.mutable_tamper()->set_child_relid(kRelid);
    step.mutable_tamper()->mutable_bytes()->set_raw("TAMPERED");
    return step;
  }());
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_TRUE(r.kmcl("protocol_error").empty());
  ASSERT_EQ(r.completions().size(), 1u);
  const std::vector<proto::RingEvent> tamper = r.host_ring("tamper");
  ASSERT_EQ(tamper.size(), 1u);
  EXPECT_EQ(tamper[0].bytes(), 8u);
  EXPECT_NE(tamper[0].detail().find("trans_id 1 at offset 16"), std::string::npos)
      << tamper[0].detail();
  // Delivered and consumed before the tamper: the indexes did not move.
  EXPECT_EQ(tamper[0].write_index(), 32u);
  EXPECT_EQ(tamper[0].read_index(), 32u);
}

TEST(ScenarioHost, BadActionsAreRefusedWithAReason) {
  TestScript script;
  proto::TimelineEntry out_of_bounds;
  proto::RingWriteAction* write = out_of_bounds.mutable_ring_write();
  write->set_child_relid(kRelid);
  write->set_ring(proto::HOST_TO_GUEST_RING);
  write->set_offset(kDataBytes - 4);
  write->mutable_bytes()->set_raw("12345678");
  script.at(kOpenUs, out_of_bounds);
  proto::TimelineEntry tamper;
  tamper.mutable_tamper()->set_child_relid(kRelid);
  tamper.mutable_tamper()->mutable_bytes()->set_raw("x");
  script.at(kOpenUs, tamper);
  proto::TimelineEntry unknown = host_send(1, false);
  unknown.mutable_host_send()->set_child_relid(7);
  script.at(kOpenUs, unknown);
  script.at(kOpenUs, channel_op(proto::ChannelOpAction::RESCIND));
  script.at(kOpenUs + 200, host_send(1, false));
  script.at(kOpenUs + 200, channel_op(proto::ChannelOpAction::RESCIND));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  ASSERT_EQ(r.errors.size(), 6u) << r.describe();
  EXPECT_EQ(r.errors[0],
            "ring_write of 8 bytes at offset 12284 does not fit the 12288-byte data area of the "
            "host_to_guest ring");
  EXPECT_EQ(r.errors[1], "the host has written no packet on channel 1 since it opened");
  EXPECT_EQ(r.errors[2], "no channel with child_relid 7");
  EXPECT_EQ(r.errors[3], "");
  // Rescinded and released by the guest: gone.
  EXPECT_EQ(r.errors[4], "no channel with child_relid 1");
  EXPECT_EQ(r.errors[5], "no channel with child_relid 1");
  EXPECT_TRUE(r.host_ring("raw_write").empty());
  EXPECT_EQ(r.channel().state(), proto::HostChannelReport::STATE_RESCINDED);
  expect_oracles_quiet(r);
}

// --- a malicious guest --------------------------------------------------------------
// The same raw actions with side: GUEST: the guest writes into the
// guest->host ring the VSP's KMCL reads, and into the control page of the
// ring the VSP writes.

proto::TimelineEntry guest_send(std::uint32_t count, const std::string& payload) {
  proto::TimelineEntry step;
  proto::SendAction* send = step.mutable_guest_send();
  send->set_child_relid(kRelid);
  send->set_count(count);
  send->set_request_completion(true);
  send->mutable_payload()->set_raw(payload);
  return step;
}

TEST(ScenarioHostileGuest, RawPacketWithLen8BelowOffset8IsAHostProtocolError) {
  TestScript script;
  script.at(kOpenUs, raw_packet(2, 1, "payload!", proto::GUEST));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::KmclRecord> errors = r.kmcl("protocol_error", proto::PARTITION_HOST);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_NE(errors[0].detail().find("offset8_beyond_len8"), std::string::npos)
      << errors[0].detail();
  EXPECT_TRUE(r.kmcl("protocol_error").empty()) << "the guest's own KMCL saw nothing wrong";
  const std::vector<proto::RingEvent> raw = r.host_ring("raw_packet", proto::PARTITION_GUEST);
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].ring(), "guest_to_host");
  EXPECT_EQ(raw[0].write_index(), 32u);  // descriptor + 8 payload bytes + trailer
  EXPECT_EQ(r.channel().guest_to_host().write_index(), 32u);
  EXPECT_EQ(r.channel().packets_received(), 0u);
}

TEST(ScenarioHostileGuest, RawPacketWithHonestFieldsIsReadAndTheGuestsSenderFollowsIt) {
  TestScript script;
  script.at(kOpenUs, raw_packet(2, 3, "payload!", proto::GUEST));
  script.at(kOpenUs + 200, guest_send(1, "request!"));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  EXPECT_TRUE(r.kmcl("protocol_error", proto::PARTITION_HOST).empty()) << r.describe();
  // The raw packet (32 bytes), then the guest KMCL's packet right behind it.
  EXPECT_EQ(r.channel().guest_to_host().write_index(), 32u + 32);
  EXPECT_EQ(r.channel().packets_received(), 2u);
}

TEST(ScenarioHostileGuest, AReadIndexOutOfRangeInTheHostsRingIsAHostProtocolError) {
  TestScript script;
  proto::TimelineEntry set;
  set.mutable_set_index()->set_side(proto::GUEST);
  set.mutable_set_index()->set_child_relid(kRelid);
  set.mutable_set_index()->set_ring(proto::HOST_TO_GUEST_RING);
  set.mutable_set_index()->set_index(proto::SetIndexAction::READ_INDEX);
  set.mutable_set_index()->set_value(kDataBytes + 8);
  script.at(kOpenUs, set);
  script.at(kOpenUs + 200, host_send(1, true));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::RingEvent> stores = r.host_ring("set_index", proto::PARTITION_GUEST);
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_EQ(stores[0].ring(), "host_to_guest");
  EXPECT_EQ(stores[0].read_index(), kDataBytes + 8);
  const std::vector<proto::KmclRecord> errors = r.kmcl("protocol_error", proto::PARTITION_HOST);
  ASSERT_EQ(errors.size(), 1u) << r.describe();
  EXPECT_NE(errors[0].detail().find("read_index_out_of_range"), std::string::npos)
      << errors[0].detail();
  EXPECT_EQ(r.channel().packets_sent(), 0u);
}

TEST(ScenarioHostileGuest, TamperRewritesTheGuestsLastPacketAfterTheHostReadIt) {
  TestScript script;
  proto::TimelineEntry tamper;
  tamper.mutable_tamper()->set_side(proto::GUEST);
  tamper.mutable_tamper()->set_child_relid(kRelid);
  tamper.mutable_tamper()->mutable_bytes()->set_raw("TAMPERED");
  script.at(kOpenUs, tamper);  // nothing written yet: refused
  script.at(kOpenUs + 100, guest_send(1, "original"));
  script.at(kOpenUs + 600, tamper);
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  ASSERT_EQ(r.errors.size(), 3u) << r.describe();
  EXPECT_EQ(r.errors[0], "the guest has written no packet on channel 1 since it opened");
  EXPECT_EQ(r.errors[1], "");
  EXPECT_EQ(r.errors[2], "");
  EXPECT_TRUE(r.kmcl("protocol_error", proto::PARTITION_HOST).empty()) << r.describe();
  const std::vector<proto::RingEvent> tampers = r.host_ring("tamper", proto::PARTITION_GUEST);
  ASSERT_EQ(tampers.size(), 1u);
  EXPECT_EQ(tampers[0].ring(), "guest_to_host");
  EXPECT_NE(tampers[0].detail().find("8 bytes over the payload of trans_id 1 at offset 16"),
            std::string::npos)
      << tampers[0].detail();
  // Read before the tamper: the host's read_index is past the packet.
  EXPECT_EQ(tampers[0].write_index(), 32u);
  EXPECT_EQ(tampers[0].read_index(), 32u);
}

TEST(ScenarioHostileGuest, ARawActionBeforeTheChannelOpensIsRefused) {
  TestScript script;
  script.at(1, raw_packet(2, 3, "payload!", proto::GUEST));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  ASSERT_EQ(r.errors.size(), 1u) << r.describe();
  EXPECT_EQ(r.errors[0], "channel 1 is not open");
  EXPECT_TRUE(r.host_ring("raw_packet", proto::PARTITION_GUEST).empty());
}

TEST(ScenarioHost, RescindBeforeTheGuestReleasesIsRefusedTwice) {
  TestScript script;
  script.at(kOpenUs, channel_op(proto::ChannelOpAction::RESCIND));
  script.at(kOpenUs, channel_op(proto::ChannelOpAction::RESCIND));
  script.at(kOpenUs, host_send(1, false));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.errors.size(), 3u) << r.describe();
  EXPECT_EQ(r.errors[0], "");
  EXPECT_EQ(r.errors[1], "channel 1 is already rescinded");
  EXPECT_EQ(r.errors[2], "channel 1 is not open");
}

// --- back-pressure and endings ------------------------------------------------------

// The guest dequeues one packet at a time (quota 1) and completes each some
// steps later, so 30 packets of 1000 bytes (about 12 fit) fill the ring.
HostRun run_full_ring(TestScript& script) {
  proto::DriverAction later;
  later.set_kind(proto::DriverAction::KIND_COMPLETE_LATER);
  later.set_later_steps(20);
  script.at(kOpenUs, host_send(30, true, std::nullopt, std::string(1000, 'p')));
  return run_script(host_config(), guest_config(later, 1), script);
}

TEST(ScenarioHost, AFullRingBlocksTheSenderUntilTheGuestSignals) {
  TestScript script;
  const HostRun r = run_full_ring(script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  // The VSP's KMCL waits for the head packet and its trailer (1016 + 8
  // bytes); the guest's drain signals it when there is room.
  const std::vector<proto::KmclRecord> blocked = r.kmcl("send_blocked", proto::PARTITION_HOST);
  ASSERT_FALSE(blocked.empty()) << r.describe();
  EXPECT_EQ(blocked[0].detail(), "waiting for 1024 free bytes");
  EXPECT_FALSE(r.kmcl("signal_peer").empty());
  EXPECT_EQ(r.completions().size(), 30u);
  EXPECT_EQ(r.channel().packets_sent(), 30u);
  EXPECT_FALSE(r.channel().send_blocked());
  EXPECT_EQ(r.channel().queued_sends(), 0u);
  EXPECT_EQ(r.channel().pending_transactions(), 0u);
  expect_oracles_quiet(r);
}

TEST(ScenarioHost, ADroppedSpaceSignalIsReportedAsALostWakeup) {
  TestScript script;
  proto::TimelineEntry drop;
  drop.mutable_interrupt_fault()->set_direction(proto::GUEST_TO_HOST);
  drop.mutable_interrupt_fault()->set_kind(proto::InterruptFault::DROP);
  drop.mutable_interrupt_fault()->set_count(1'000'000);
  drop.mutable_interrupt_fault()->set_child_relid(kRelid);
  script.at(kOpenUs - 1, drop);
  const HostRun r = run_full_ring(script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  EXPECT_TRUE(r.channel().send_blocked());
  EXPECT_NE(r.channel().pending_transactions(), 0u);
  // The dropped signals were the guest's: nothing tells the VSP's KMCL that
  // its incoming ring holds the guest's completions, nor that it has room.
  EXPECT_EQ(r.finding("lost_wakeup").rfind("incoming ring of channel 1 holds ", 0), 0u)
      << r.describe();
  EXPECT_EQ(r.finding("leak", 0), "");
}

TEST(ScenarioHost, TheSameScriptAndSeedGiveTheSameTrace) {
  std::vector<std::string> traces;
  for (int attempt = 0; attempt < 2; ++attempt) {
    TestScript script;
    script.at(kOpenUs, raw_packet(2, 3, "payload!"));
    const HostRun r = run_full_ring(script);
    ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
    std::string trace;
    for (const proto::TraceRecord& record : r.records) {
      trace += record.SerializeAsString();
    }
    traces.push_back(trace);
  }
  EXPECT_EQ(traces[0], traces[1]);
}

TEST(ScenarioHost, RescindEndsPendingTransactionsWithDeviceRemoved) {
  proto::DriverAction keep;
  keep.set_kind(proto::DriverAction::KIND_LEAVE_OUTSTANDING);
  TestScript script;
  script.at(kOpenUs, host_send(2, true));
  script.at(kOpenUs + 500, channel_op(proto::ChannelOpAction::RESCIND));
  // The guest's close waits for its driver to retire the two packets it
  // holds, and only then releases the relid (which lets the host drop the
  // GPADL): the driver answers them once the rescind has arrived.
  script.at(kOpenUs + 1000, channel_op(proto::ChannelOpAction::COMPLETE_OUTSTANDING));
  const HostRun r = run_script(host_config(), guest_config(keep), script);

  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  expect_no_step_errors(r);
  const std::vector<proto::CompletionEvent> completions = r.completions();
  ASSERT_EQ(completions.size(), 2u) << r.describe();
  EXPECT_EQ(completions[0].trans_id(), 1u);
  EXPECT_EQ(completions[0].status(), "STATUS_DEVICE_REMOVED");
  EXPECT_EQ(completions[1].trans_id(), 2u);
  EXPECT_EQ(completions[1].status(), "STATUS_DEVICE_REMOVED");
  EXPECT_EQ(r.channel().state(), proto::HostChannelReport::STATE_RESCINDED);
  EXPECT_EQ(r.channel().pending_transactions(), 0u);
  EXPECT_EQ(r.channel().packets_sent(), 2u);
  EXPECT_FALSE(r.channel().has_host_to_guest()) << "no ring words once rescinded";
  expect_oracles_quiet(r);
}

TEST(ScenarioHost, GuestCloseEndsPendingTransactionsWithCancelled) {
  // The guest pauses its queue, so the host's two requests stay unread in
  // the ring; then it closes the channel (nothing outstanding in its KMCL).
  TestScript script;
  script.at(kOpenUs, channel_op(proto::ChannelOpAction::PAUSE));
  script.at(kOpenUs + 200, host_send(2, true));
  script.at(kOpenUs + 400, channel_op(proto::ChannelOpAction::DISABLE));
  const HostRun r = run_script(host_config(), guest_config(), script);

  ASSERT_EQ(r.errors.size(), 3u) << r.describe();
  if (!r.errors[0].empty() || !r.errors[2].empty()) {
    GTEST_SKIP() << "the guest does not carry out PAUSE and DISABLE yet: " << r.describe();
  }
  ASSERT_EQ(r.result.outcome, hypervisor::RunOutcome::kCompleted) << r.describe();
  const std::vector<proto::CompletionEvent> completions = r.completions();
  ASSERT_EQ(completions.size(), 2u) << r.describe();
  EXPECT_EQ(completions[0].trans_id(), 1u);
  EXPECT_EQ(completions[0].status(), "STATUS_CANCELLED");
  EXPECT_EQ(completions[1].trans_id(), 2u);
  EXPECT_EQ(completions[1].status(), "STATUS_CANCELLED");
  EXPECT_EQ(r.channel().state(), proto::HostChannelReport::STATE_CLOSED);
  EXPECT_EQ(r.channel().pending_transactions(), 0u);
  expect_oracles_quiet(r);
}

}  // namespace
}  // namespace vmbus
