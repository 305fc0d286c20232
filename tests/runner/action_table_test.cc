// The action table: one row per timeline action, named as files write it,
// owned by the partition or the hypervisor that carries it out, compiled
// into that owner's Intervention.
#include <set>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "vmbus/runner/scenario.h"

#include "actions.h"

namespace vmbus::runner {
namespace {

using Entry = proto::TimelineEntry;

TEST(ActionTable, HasOneRowPerTimelineActionNamedAsTheFileWritesIt) {
  const google::protobuf::OneofDescriptor* oneof = Entry::descriptor()->FindOneofByName("action");
  ASSERT_NE(oneof, nullptr);
  std::set<int> seen;
  for (const ActionRow& row : action_table()) {
    const google::protobuf::FieldDescriptor* field =
        Entry::descriptor()->FindFieldByNumber(static_cast<int>(row.action));
    ASSERT_NE(field, nullptr) << row.name;
    EXPECT_EQ(field->containing_oneof(), oneof) << row.name;
    EXPECT_EQ(field->name(), row.name);
    EXPECT_TRUE(seen.insert(field->number()).second) << row.name << " has two rows";
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(oneof->field_count()));
}

TEST(ActionTable, ChannelOpIsTheGuestsExceptRescindWhichIsTheHosts) {
  Entry pause;
  pause.mutable_channel_op()->set_op(proto::ChannelOpAction::PAUSE);
  Entry rescind;
  rescind.mutable_channel_op()->set_op(proto::ChannelOpAction::RESCIND);
  const ActionRow* row = find_action(Entry::kChannelOp);
  ASSERT_NE(row, nullptr);

  EXPECT_EQ(row->owner(pause), Owner::kGuest);
  EXPECT_EQ(row->owner(rescind), Owner::kHost);
  const hypervisor::Intervention compiled = intervention_of(rescind);
  const auto* to_host = std::get_if<hypervisor::RequestAction>(&compiled);
  ASSERT_NE(to_host, nullptr);
  EXPECT_EQ(to_host->side, hypervisor::Side::kHost);
  EXPECT_EQ(to_host->action.channel_op().op(), proto::ChannelOpAction::RESCIND);
}

TEST(ActionTable, ChannelOpAndSetPolicyGoToTheSideTheyName) {
  Entry host_pause;
  host_pause.mutable_channel_op()->set_op(proto::ChannelOpAction::PAUSE);
  host_pause.mutable_channel_op()->set_side(proto::HOST);
  Entry guest_pause = host_pause;
  guest_pause.mutable_channel_op()->set_side(proto::GUEST);
  Entry host_policy;
  host_policy.mutable_set_policy()->set_side(proto::HOST);
  Entry guest_policy;
  guest_policy.mutable_set_policy();

  EXPECT_EQ(find_action(Entry::kChannelOp)->owner(host_pause), Owner::kHost);
  EXPECT_EQ(find_action(Entry::kChannelOp)->owner(guest_pause), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kSetPolicy)->owner(host_policy), Owner::kHost);
  EXPECT_EQ(find_action(Entry::kSetPolicy)->owner(guest_policy), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kChannelOp)->describe(host_pause), "channel_op PAUSE on '' (host)");
  EXPECT_EQ(find_action(Entry::kSetPolicy)->describe(host_policy),
            "set_policy on '' (host) (0 rule(s), default the VSP kind's)");
  const hypervisor::Intervention compiled = intervention_of(host_policy);
  const auto* to_host = std::get_if<hypervisor::RequestAction>(&compiled);
  ASSERT_NE(to_host, nullptr);
  EXPECT_EQ(to_host->side, hypervisor::Side::kHost);
}

TEST(ActionTable, RawRingWritesAreTheHostsUnlessTheyNameAHostileGuest) {
  Entry host_raw;
  host_raw.mutable_raw_packet()->set_channel("net");
  Entry guest_raw = host_raw;
  guest_raw.mutable_raw_packet()->set_side(proto::GUEST);
  Entry guest_index;
  guest_index.mutable_set_index()->set_side(proto::GUEST);
  Entry guest_tamper;
  guest_tamper.mutable_tamper()->set_side(proto::GUEST);
  Entry guest_write;
  guest_write.mutable_ring_write()->set_side(proto::GUEST);

  EXPECT_EQ(find_action(Entry::kRawPacket)->owner(host_raw), Owner::kHost);
  EXPECT_EQ(find_action(Entry::kRawPacket)->owner(guest_raw), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kSetIndex)->owner(guest_index), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kTamper)->owner(guest_tamper), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kRingWrite)->owner(guest_write), Owner::kGuest);
  EXPECT_EQ(find_action(Entry::kRawPacket)->describe(host_raw), "raw_packet on 'net'");
  EXPECT_EQ(find_action(Entry::kRawPacket)->describe(guest_raw),
            "raw_packet on 'net' by the guest");
  const hypervisor::Intervention compiled = intervention_of(guest_raw);
  const auto* to_guest = std::get_if<hypervisor::RequestAction>(&compiled);
  ASSERT_NE(to_guest, nullptr);
  EXPECT_EQ(to_guest->side, hypervisor::Side::kGuest);
  EXPECT_EQ(to_guest->action.raw_packet().side(), proto::GUEST);
}

TEST(ActionTable, UnloadIsTheGuestsAndTravelsToIt) {
  Entry unload;
  unload.mutable_unload();
  EXPECT_EQ(find_action(Entry::kUnload)->owner(unload), Owner::kGuest);
  const hypervisor::Intervention compiled = intervention_of(unload);
  const auto* to_guest = std::get_if<hypervisor::RequestAction>(&compiled);
  ASSERT_NE(to_guest, nullptr);
  EXPECT_EQ(to_guest->side, hypervisor::Side::kGuest);
  EXPECT_TRUE(to_guest->action.has_unload());
}

TEST(ActionTable, PartitionActionsTravelToTheirOwnerAndTheRestStayWithTheHypervisor) {
  Entry guest_send;
  guest_send.mutable_guest_send()->set_child_relid(3);
  Entry ring_write;
  ring_write.mutable_ring_write()->set_child_relid(3);
  Entry hold;
  hold.mutable_hold()->set_side(proto::GUEST);
  hold.mutable_hold()->set_context("kmcl/3/passive");
  Entry wait;
  wait.mutable_wait_until();
  Entry only_a_time;
  only_a_time.set_at_us(10);

  const hypervisor::Intervention sent = intervention_of(guest_send);
  const hypervisor::Intervention written = intervention_of(ring_write);
  const hypervisor::Intervention held = intervention_of(hold);

  ASSERT_TRUE(std::holds_alternative<hypervisor::RequestAction>(sent));
  EXPECT_EQ(std::get<hypervisor::RequestAction>(sent).side, hypervisor::Side::kGuest);
  EXPECT_EQ(std::get<hypervisor::RequestAction>(sent).action.send().child_relid(), 3u);
  ASSERT_TRUE(std::holds_alternative<hypervisor::RequestAction>(written));
  EXPECT_EQ(std::get<hypervisor::RequestAction>(written).side, hypervisor::Side::kHost);
  ASSERT_TRUE(std::holds_alternative<hypervisor::HoldContext>(held));
  EXPECT_EQ(std::get<hypervisor::HoldContext>(held).side, hypervisor::Side::kGuest);
  EXPECT_EQ(std::get<hypervisor::HoldContext>(held).context, "kmcl/3/passive");
  EXPECT_EQ(find_action(Entry::kHold)->owner(hold), Owner::kHypervisor);
  EXPECT_TRUE(std::holds_alternative<hypervisor::NoIntervention>(intervention_of(wait)));
  EXPECT_TRUE(std::holds_alternative<hypervisor::NoIntervention>(intervention_of(only_a_time)));
}

TEST(ActionTable, MessageFaultCompilesTheResolvedTypeOrAnyType) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology { channel { name: "net" } }
step { message_fault { kind: REORDER message: "OPENCHANNEL_RESULT" count: 2 } }
step { message_fault { kind: DROP } }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);

  const auto reorder = std::get<hypervisor::ArmMessageFault>(compiled.timeline[0].intervention);
  const auto drop = std::get<hypervisor::ArmMessageFault>(compiled.timeline[1].intervention);
  EXPECT_EQ(reorder.kind, hypervisor::ArmMessageFault::Kind::kReorder);
  EXPECT_EQ(reorder.msgtype, std::optional<std::uint32_t>(6));
  EXPECT_EQ(reorder.count, 2u);
  EXPECT_EQ(drop.kind, hypervisor::ArmMessageFault::Kind::kDrop);
  EXPECT_EQ(drop.msgtype, std::nullopt);
}

TEST(ActionTable, DescribesAResolvedEntryInTheTracesWords) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "x"
topology { channel { name: "net" } }
step { host_send { channel: "net" payload { hex: "01 02 03" } count: 2 request_completion: true } }
step { channel_op { channel: "net" op: SET_QUOTA value: 4 } }
step { hold { side: GUEST context: "kmcl/1/passive" } }
step { at_us: 5 }
)",
                                                   "s.textproto");
  ASSERT_TRUE(loaded.ok());
  const CompiledScenario compiled = compile_scenario(loaded);

  EXPECT_EQ(find_action(Entry::kHostSend)->describe(compiled.timeline[0].entry),
            "host_send 2 x 3 bytes on 'net', completion requested");
  EXPECT_EQ(find_action(Entry::kChannelOp)->describe(compiled.timeline[1].entry),
            "channel_op SET_QUOTA on 'net' value 4");
  EXPECT_EQ(find_action(Entry::kHold)->describe(compiled.timeline[2].entry),
            "hold guest context kmcl/1/passive");
  EXPECT_EQ(find_action(compiled.timeline[3].entry.action_case()), nullptr);
}

}  // namespace
}  // namespace vmbus::runner
