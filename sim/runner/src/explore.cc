#include "vmbus/runner/explore.h"

#include <algorithm>
#include <iterator>

#include <google/protobuf/text_format.h>

#include "vmbus/base/prng.h"

#include "internal.h"

namespace vmbus::runner {
namespace {

constexpr std::uint64_t kMaxFaultDelayUs = 200;  // delays of 1..200 us

struct Draw {
  base::Prng& prng;
  std::uint64_t below(std::uint64_t bound) { return prng.below(bound); }
  std::uint32_t between(std::uint32_t low, std::uint32_t high) {
    return low + static_cast<std::uint32_t>(prng.below(high - low + 1));
  }
};

bool is_hostile(const std::string& kind) {
  return kind.rfind("host_", 0) == 0;
}

// A dropped interrupt is a lost wakeup by construction, and so is a hostile
// write that publishes bytes without an interrupt or moves an index the
// other side then waits on. A signalled packet, bytes written over the data
// area and a tampered packet withhold nothing: a lost wakeup after them is
// the guest's.
bool withholds_a_wakeup(const proto::TimelineEntry& entry) {
  if (entry.has_ring_write()) {
    return entry.ring_write().has_write_index() || !entry.ring_write().signal();
  }
  if (entry.has_raw_packet()) {
    return entry.raw_packet().no_signal();
  }
  return entry.has_set_index();
}

// A hostile write can stop a channel's queue (a malformed packet is a
// protocol error), and with it whatever the scenario expects to happen
// later: a crash, a driver crash or a verifier violation. Hostile kinds are
// drawn only for scenarios that expect none of those.
std::vector<std::string> kinds_for(const proto::Scenario& scenario,
                                   const proto::Expectations& expect,
                                   const std::vector<std::string>& kinds) {
  const bool hostile_allowed = expect.outcome() == proto::Expectations::COMPLETED &&
                               !expect.has_driver_crash() && expect.violation_size() == 0;
  // An interrupt can land on an old VP only in a guest with more than one.
  const bool old_vp_allowed = scenario.topology().guest_vps() > 1;
  std::vector<std::string> kept;
  std::copy_if(kinds.begin(), kinds.end(), std::back_inserter(kept), [&](const std::string& kind) {
    return (hostile_allowed || !is_hostile(kind)) && (old_vp_allowed || kind != "interrupt_old_vp");
  });
  return kept;
}

// The data area of one of the channel's rings: its pages less the control
// page (0 pages is the default of 4).
std::uint32_t ring_data_bytes(const proto::ChannelSpec& spec) {
  constexpr std::uint32_t kPageBytes = 4096;
  const std::uint32_t pages = spec.ring_pages() == 0 ? 4 : spec.ring_pages();
  return (pages - 1) * kPageBytes;
}

// 1..max_bytes random bytes, as the hex a scenario file writes.
std::string random_hex(Draw& draw, std::uint32_t max_bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  const std::uint32_t count = draw.between(1, max_bytes);
  for (std::uint32_t i = 0; i < count; ++i) {
    hex += kDigits[draw.below(16)];
    hex += kDigits[draw.below(16)];
  }
  return hex;
}

// An index a hostile host would try on a ring whose data area is
// `data_bytes` long: a packet boundary, any byte offset, just past the end,
// or any 32-bit value.
std::uint32_t index_like(Draw& draw, std::uint32_t data_bytes) {
  switch (draw.below(4)) {
    case 0:
      return 8 * static_cast<std::uint32_t>(draw.below(data_bytes / 8));
    case 1:
      return static_cast<std::uint32_t>(draw.below(data_bytes));
    case 2:
      return data_bytes + static_cast<std::uint32_t>(draw.below(64));
    default:
      return static_cast<std::uint32_t>(draw.below(std::uint64_t{1} << 32));
  }
}

// A hostile host's write into a channel's rings (the host_* kinds): what
// the malicious scenarios do by hand, drawn. `data_bytes` is the size of
// one ring's data area.
proto::TimelineEntry hostile_entry(const std::string& kind, const std::string& channel,
                                   std::uint32_t data_bytes, Draw& draw, std::string& words) {
  proto::TimelineEntry entry;
  if (kind == "host_ring_write") {
    proto::RingWriteAction& write = *entry.mutable_ring_write();
    write.set_channel(channel);
    write.set_offset(static_cast<std::uint32_t>(draw.below(data_bytes)));
    write.mutable_bytes()->set_hex(random_hex(draw, 64));
    if (draw.below(2) == 0) {
      write.set_write_index(index_like(draw, data_bytes));
    }
    write.set_signal(draw.below(2) == 0);
    words = kind + " of " + std::to_string(write.bytes().hex().size() / 2) + " byte(s) at " +
            std::to_string(write.offset()) + " on '" + channel + "'";
  } else if (kind == "host_raw_packet") {
    proto::RawPacketAction& packet = *entry.mutable_raw_packet();
    packet.set_channel(channel);
    packet.set_type(static_cast<std::uint32_t>(draw.below(16)));
    packet.set_offset8(static_cast<std::uint32_t>(draw.below(8)));
    packet.set_len8(static_cast<std::uint32_t>(draw.below(600)));
    packet.set_flags(static_cast<std::uint32_t>(draw.below(4)));
    packet.set_trans_id(draw.prng.next());
    packet.mutable_payload()->set_hex(random_hex(draw, 48));
    packet.set_no_signal(draw.below(2) == 0);
    words = kind + " type " + std::to_string(packet.type()) + " offset8 " +
            std::to_string(packet.offset8()) + " len8 " + std::to_string(packet.len8()) + " on '" +
            channel + "'";
  } else if (kind == "host_set_index") {
    proto::SetIndexAction& set = *entry.mutable_set_index();
    set.set_channel(channel);
    set.set_ring(draw.below(2) == 0 ? proto::HOST_TO_GUEST_RING : proto::GUEST_TO_HOST_RING);
    set.set_index(draw.below(2) == 0 ? proto::SetIndexAction::WRITE_INDEX
                                     : proto::SetIndexAction::READ_INDEX);
    set.set_value(index_like(draw, data_bytes));
    set.set_signal(draw.below(2) == 0);
    words = kind + " " +
            (set.index() == proto::SetIndexAction::WRITE_INDEX ? "write_index" : "read_index") +
            " = " + std::to_string(set.value()) + " of the " +
            (set.ring() == proto::HOST_TO_GUEST_RING ? "host->guest" : "guest->host") +
            " ring on '" + channel + "'";
  } else {
    proto::TamperAction& tamper = *entry.mutable_tamper();
    tamper.set_channel(channel);
    tamper.mutable_bytes()->set_hex(random_hex(draw, 16));
    words = kind + " on '" + channel + "'";
  }
  return entry;
}

// One fault of `kind` on `channel` as a timeline entry; `words` says it.
proto::TimelineEntry fault_entry(const std::string& kind, const std::string& channel,
                                 std::uint32_t relid, Draw& draw, std::string& words) {
  proto::TimelineEntry entry;
  auto direction = draw.below(2) == 0 ? proto::HOST_TO_GUEST : proto::GUEST_TO_HOST;
  if (kind == "interrupt_old_vp") {
    direction = proto::HOST_TO_GUEST;  // only the guest has VPs to choose between
  }
  const std::string to = direction == proto::HOST_TO_GUEST ? "host->guest" : "guest->host";
  if (kind.rfind("interrupt_", 0) == 0) {
    proto::InterruptFault& fault = *entry.mutable_interrupt_fault();
    fault.set_channel(channel);
    fault.set_direction(direction);
    fault.set_count(draw.between(1, 3));
    fault.set_kind(kind == "interrupt_delay"       ? proto::InterruptFault::DELAY
                   : kind == "interrupt_duplicate" ? proto::InterruptFault::DUPLICATE
                   : kind == "interrupt_old_vp"    ? proto::InterruptFault::OLD_VP
                                                   : proto::InterruptFault::DROP);
    if (fault.kind() == proto::InterruptFault::DELAY) {
      fault.set_delay_us(draw.between(1, kMaxFaultDelayUs));
    }
    words = kind + " x" + std::to_string(fault.count()) + " " + to + " on '" + channel + "'";
  } else if (kind == "spurious_interrupt") {
    entry.mutable_spurious_interrupt()->set_channel(channel);
    entry.mutable_spurious_interrupt()->set_direction(direction);
    words = kind + " " + to + " on '" + channel + "'";
  } else if (kind.rfind("message_", 0) == 0) {
    proto::MessageFault& fault = *entry.mutable_message_fault();
    fault.set_direction(direction);
    fault.set_kind(kind == "message_delay"       ? proto::MessageFault::DELAY
                   : kind == "message_duplicate" ? proto::MessageFault::DUPLICATE
                                                 : proto::MessageFault::REORDER);
    if (fault.kind() == proto::MessageFault::DELAY) {
      fault.set_delay_us(draw.between(1, kMaxFaultDelayUs));
    }
    words = kind + " " + to;
  } else {
    proto::ContextHold& hold = *entry.mutable_hold();
    hold.set_side(draw.below(2) == 0 ? proto::GUEST : proto::HOST);
    hold.set_context("kmcl/" + std::to_string(relid) + (draw.below(2) == 0 ? "" : "/passive"));
    words = "hold " + std::string(hold.side() == proto::GUEST ? "guest" : "host") + " " +
            hold.context();
  }
  return entry;
}

// The expectations a plan with faults keeps (see the header).
void keep_what_faults_leave(proto::Scenario& scenario, bool quirks, ExploredScenario& explored) {
  proto::Expectations kept;
  // A regression scenario runs in one mode: that mode's expectations, and
  // without its quirks when they are off (the explored file names none).
  const proto::Expectations expect = expectations_for_mode(scenario.expect(), quirks);
  if (!quirks) {
    scenario.clear_guest_quirks();
    scenario.clear_host_quirks();
  }
  kept.set_outcome(expect.outcome());
  *kept.mutable_violation() = expect.violation();
  if (expect.has_driver_crash()) {
    *kept.mutable_driver_crash() = expect.driver_crash();
  }
  explored.allowed_oracles.insert(explored.allowed_oracles.end(), expect.oracle().begin(),
                                  expect.oracle().end());
  *scenario.mutable_expect() = kept;
}

}  // namespace

const std::vector<std::string>& explore_fault_names() {
  static const std::vector<std::string> kNames = {
      "interrupt_delay",   "interrupt_duplicate", "interrupt_drop",
      "interrupt_old_vp",  "spurious_interrupt",  "message_delay",
      "message_duplicate", "message_reorder",     "hold",
      "host_ring_write",   "host_raw_packet",     "host_set_index",
      "host_tamper"};
  return kNames;
}

const std::vector<std::string>& default_explore_faults() {
  // Not message_delay: the hypervisor's delay lets the messages behind the
  // delayed one overtake it, which VMBus's ordered message queue never
  // does (a CLOSECHANNEL overtaken by its GPADL_TEARDOWN leaks the GPADL).
  // interrupt_old_vp is drawn only for a guest with several VPs, so the
  // plans of every other scenario are the same as without it.
  static const std::vector<std::string> kNames = {"interrupt_delay", "interrupt_duplicate",
                                                  "interrupt_old_vp", "spurious_interrupt", "hold"};
  return kNames;
}

ExploredScenario with_fault_plan(const LoadedScenario& loaded, std::uint64_t seed,
                                 const FaultPlanOptions& options) {
  ExploredScenario explored;
  explored.loaded = loaded;
  proto::Scenario& scenario = explored.loaded.scenario;
  base::Prng prng(base::stream_seed(seed, "explore"));
  Draw draw{prng};
  const std::vector<std::uint32_t> relids = assign_relids(scenario.topology());
  const std::vector<std::string> kinds =
      kinds_for(scenario, expectations_for_mode(scenario.expect(), options.quirks), options.faults);
  const std::uint32_t faults = kinds.empty() ? 0 : draw.between(0, options.max_faults);
  for (std::uint32_t i = 0; i < faults; ++i) {
    const std::string& kind = kinds[draw.below(kinds.size())];
    const auto channel_index = static_cast<int>(
        draw.below(static_cast<std::uint64_t>(scenario.topology().channel_size())));
    const std::string channel = scenario.topology().channel(channel_index).name();
    const auto position =
        static_cast<int>(draw.below(static_cast<std::uint64_t>(scenario.step_size()) + 1));
    std::string words;
    const proto::ChannelSpec& spec = scenario.topology().channel(channel_index);
    proto::TimelineEntry entry =
        is_hostile(kind)
            ? hostile_entry(kind, channel, ring_data_bytes(spec), draw, words)
            : fault_entry(kind, channel, relids[static_cast<std::size_t>(channel_index)], draw,
                          words);
    entry.set_label("explore: " + words);
    if (kind == "interrupt_drop" || withholds_a_wakeup(entry)) {
      proto::OracleExpectation& allowed = explored.allowed_oracles.emplace_back();
      allowed.set_name("lost_wakeup");
      allowed.set_channel(channel);
    }
    auto* steps = scenario.mutable_step();
    steps->Add(std::move(entry));
    for (int at = steps->size() - 1; at > position; --at) {
      steps->SwapElements(at, at - 1);
    }
    explored.hostile = explored.hostile || is_hostile(kind);
    explored.plan.push_back(words + " before step " + std::to_string(position + 1));
  }
  if (faults != 0) {
    keep_what_faults_leave(scenario, options.quirks, explored);
    std::string text = "# " + loaded.display_path + " explored with seed " + std::to_string(seed) +
                       ": " + std::to_string(faults) + " fault(s)\n";
    std::string body;
    google::protobuf::TextFormat::PrintToString(scenario, &body);
    explored.loaded.text = text + body;
  }
  return explored;
}

CompiledScenario compile_explored(const LoadedScenario& loaded, std::uint64_t seed,
                                  const FaultPlanOptions& options) {
  const ExploredScenario explored = with_fault_plan(loaded, seed, options);
  CompileOptions compile;
  compile.quirks = options.quirks;
  CompiledScenario compiled = compile_scenario(explored.loaded, compile);
  // The host refuses a raw write that has nowhere to go (the channel is not
  // open, the indices a hostile write left are not valid, no packet to
  // tamper with): it did nothing, and under hostile writes that is no
  // failure, for the plan's writes and the scenario's own alike.
  for (CompiledEntry& compiled_entry : compiled.timeline) {
    const proto::TimelineEntry& entry = compiled_entry.entry;
    compiled_entry.refusal_is_no_failure =
        explored.hostile && (entry.has_ring_write() || entry.has_raw_packet() ||
                             entry.has_set_index() || entry.has_tamper());
  }
  compiled.allowed_oracles = explored.allowed_oracles;
  compiled.timeline_may_stay_unfinished = !explored.plan.empty();
  return compiled;
}

}  // namespace vmbus::runner
