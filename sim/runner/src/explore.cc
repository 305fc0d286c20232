#include "vmbus/runner/explore.h"

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

// One fault of `kind` on `channel` as a timeline entry; `words` says it.
proto::TimelineEntry fault_entry(const std::string& kind, const std::string& channel,
                                 std::uint32_t relid, Draw& draw, std::string& words) {
  proto::TimelineEntry entry;
  const auto direction = draw.below(2) == 0 ? proto::HOST_TO_GUEST : proto::GUEST_TO_HOST;
  const std::string to = direction == proto::HOST_TO_GUEST ? "host->guest" : "guest->host";
  if (kind.rfind("interrupt_", 0) == 0) {
    proto::InterruptFault& fault = *entry.mutable_interrupt_fault();
    fault.set_channel(channel);
    fault.set_direction(direction);
    fault.set_count(draw.between(1, 3));
    fault.set_kind(kind == "interrupt_delay"       ? proto::InterruptFault::DELAY
                   : kind == "interrupt_duplicate" ? proto::InterruptFault::DUPLICATE
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
void keep_what_faults_leave(proto::Scenario& scenario, ExploredScenario& explored) {
  proto::Expectations kept;
  // Explore runs a regression scenario with its quirks: that mode's whole.
  const proto::Expectations expect = expectations_for_mode(scenario.expect(), true);
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
      "interrupt_delay", "interrupt_duplicate", "interrupt_drop",  "spurious_interrupt",
      "message_delay",   "message_duplicate",   "message_reorder", "hold"};
  return kNames;
}

const std::vector<std::string>& default_explore_faults() {
  // Not message_delay: the hypervisor's delay lets the messages behind the
  // delayed one overtake it, which VMBus's ordered message queue never
  // does (a CLOSECHANNEL overtaken by its GPADL_TEARDOWN leaks the GPADL).
  static const std::vector<std::string> kNames = {"interrupt_delay", "interrupt_duplicate",
                                                  "spurious_interrupt", "hold"};
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
  const std::uint32_t faults = options.faults.empty() ? 0 : draw.between(0, options.max_faults);
  for (std::uint32_t i = 0; i < faults; ++i) {
    const std::string& kind = options.faults[draw.below(options.faults.size())];
    const auto channel_index = static_cast<int>(
        draw.below(static_cast<std::uint64_t>(scenario.topology().channel_size())));
    const std::string channel = scenario.topology().channel(channel_index).name();
    const auto position =
        static_cast<int>(draw.below(static_cast<std::uint64_t>(scenario.step_size()) + 1));
    std::string words;
    proto::TimelineEntry entry =
        fault_entry(kind, channel, relids[static_cast<std::size_t>(channel_index)], draw, words);
    entry.set_label("explore: " + words);
    if (kind == "interrupt_drop") {
      proto::OracleExpectation& allowed = explored.allowed_oracles.emplace_back();
      allowed.set_name("lost_wakeup");
      allowed.set_channel(channel);
    }
    auto* steps = scenario.mutable_step();
    steps->Add(std::move(entry));
    for (int at = steps->size() - 1; at > position; --at) {
      steps->SwapElements(at, at - 1);
    }
    explored.plan.push_back(words + " before step " + std::to_string(position + 1));
  }
  if (faults != 0) {
    keep_what_faults_leave(scenario, explored);
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
  CompiledScenario compiled = compile_scenario(explored.loaded);
  compiled.allowed_oracles = explored.allowed_oracles;
  compiled.timeline_may_stay_unfinished = !explored.plan.empty();
  return compiled;
}

}  // namespace vmbus::runner
