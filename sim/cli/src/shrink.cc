#include "vmbus/cli/shrink.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include "vmbus/base/build_info.h"

namespace vmbus::cli {
namespace {

namespace pb = google::protobuf;
using Clock = std::chrono::steady_clock;

// A run with more decisions than this is not searched: trying each one
// would spend the budget (a 200-packet run makes some 400).
constexpr std::size_t kMaxScheduleDecisions = 100;

// Decimal numbers and hex literals ("0xffffa00000000d00": a handle) as '#'.
std::string blank_numbers(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
      out += text[i];
      continue;
    }
    if (text.compare(i, 2, "0x") == 0) {
      ++i;
      while (i + 1 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0) {
        ++i;
      }
    }
    if (out.empty() || out.back() != '#') {
      out += '#';
    }
  }
  return out;
}

// Removes element `index` of a repeated message field, keeping the order of
// the rest (their order decides which expectation fails first).
void remove_element(pb::Message& message, const pb::FieldDescriptor* field, int index) {
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = index; i + 1 < reflection->FieldSize(message, field); ++i) {
    reflection->SwapElements(&message, field, i, i + 1);
  }
  reflection->RemoveLast(&message, field);
}

std::string text_of(const proto::Scenario& scenario) {
  std::string text;
  pb::TextFormat::PrintToString(scenario, &text);
  return text;
}

// The send action of a step, if it is one (host_send or guest_send).
proto::SendAction* send_of(proto::TimelineEntry& step) {
  if (step.has_host_send()) {
    return step.mutable_host_send();
  }
  if (step.has_guest_send()) {
    return step.mutable_guest_send();
  }
  return nullptr;
}

// The search: every successful candidate becomes the current scenario.
class Shrinker {
 public:
  Shrinker(const proto::Scenario& original, std::string signature, const CandidateRunner& run,
           const ShrinkBudget& budget, const DecisionReader& decisions)
      : best_(original),
        signature_(std::move(signature)),
        run_(run),
        decisions_(decisions),
        budget_(budget),
        started_(Clock::now()) {}

  ShrinkResult run() {
    // The original first: a failure that does not come back is no failure
    // to shrink (result.failure stays empty).
    for (bool changed = try_candidate(best_); changed && !spent();) {
      const std::string before = text_of(best_);
      shrink_steps();
      remove_channels();
      remove_expectations();
      remove_policy_rules();
      shrink_sends();
      changed = text_of(best_) != before;
    }
    if (!failure_.empty()) {
      pin_decisions_that_matter();
    }
    ShrinkResult result;
    result.shrunk = best_;
    result.signature = signature_;
    result.failure = failure_;
    result.runs = runs_;
    result.budget_spent = spent();
    result.schedule = schedule_;
    return result;
  }

 private:
  bool spent() const {
    return runs_ >= budget_.max_runs || Clock::now() - started_ >= budget_.max_time;
  }

  // Whether `candidate` fails the same way (one run of the budget, unless
  // `always`); if so it becomes the best.
  bool try_candidate(const proto::Scenario& candidate, bool always = false) {
    if (spent() && !always) {
      return false;
    }
    ++runs_;
    const std::optional<runner::ScenarioResult> result = run_(candidate);
    if (!result || failure_signature(*result) != signature_) {
      return false;
    }
    best_ = candidate;
    failure_ = result->failures.empty() ? "" : result->failures.front();
    return true;
  }

  // Whether `candidate` fails the same way, without keeping it.
  bool fails_the_same_way(const proto::Scenario& candidate) {
    ++runs_;
    const std::optional<runner::ScenarioResult> result = run_(candidate);
    return result && failure_signature(*result) == signature_;
  }

  // One decision at a time, every other ready context in its place; the
  // decisions where one makes the failure go away are pinned as they were.
  // A file that pins its own schedule keeps it as it is.
  void pin_decisions_that_matter() {
    if (!decisions_ || best_.pin_size() > 0 || spent()) {
      return;
    }
    schedule_.searched = true;
    ++runs_;
    const std::vector<ScheduleDecision> decisions = decisions_(best_);
    schedule_.decisions = decisions.size();
    if (decisions.size() > kMaxScheduleDecisions) {
      return;
    }
    for (const ScheduleDecision& decision : decisions) {
      if (spent()) {
        break;
      }
      ++schedule_.tried;
      for (const std::string& other : decision.ready) {
        if (other == decision.chosen || spent()) {
          continue;
        }
        proto::Scenario candidate = best_;
        proto::PinnedStep& pin = *candidate.add_pin();
        pin.set_step(decision.step);
        pin.set_context(other);
        if (!fails_the_same_way(candidate)) {
          schedule_.pinned.push_back({decision.step, decision.chosen, other});
          break;
        }
      }
    }
    if (schedule_.pinned.empty()) {
      return;
    }
    proto::Scenario pinned = best_;
    for (const ScheduleFinding::Pinned& decision : schedule_.pinned) {
      proto::PinnedStep& pin = *pinned.add_pin();
      pin.set_step(decision.step);
      pin.set_context(decision.context);
    }
    // The seed made these very choices, so this fails as before; it runs
    // all the same, past the budget (a file is pinned only when checked).
    if (!try_candidate(pinned, /*always=*/true)) {
      schedule_.pinned.clear();
    }
  }

  // ddmin over the steps: remove chunks of the timeline, from halves down
  // to single steps, keeping every removal that still fails the same way.
  void shrink_steps() {
    std::size_t chunks = 2;
    while (best_.step_size() >= 1 && !spent()) {
      const auto size = static_cast<std::size_t>(best_.step_size());
      chunks = std::min(chunks, size);
      bool removed = false;
      for (std::size_t c = 0; c < chunks && !removed; ++c) {
        const std::size_t begin = size * c / chunks;
        const std::size_t end = size * (c + 1) / chunks;
        proto::Scenario candidate = best_;
        candidate.clear_step();
        for (std::size_t i = 0; i < size; ++i) {
          if (i < begin || i >= end) {
            *candidate.add_step() = best_.step(static_cast<int>(i));
          }
        }
        removed = try_candidate(candidate);
      }
      if (removed) {
        chunks = std::max<std::size_t>(chunks - 1, 2);
      } else if (chunks >= size) {
        return;
      } else {
        chunks = std::min(chunks * 2, size);
      }
    }
  }

  // A channel goes with every step and expectation that names it; a step
  // that only waits for something of the channel (its `when`) waits for
  // the same of the first channel left instead.
  void remove_channels() {
    for (int i = best_.topology().channel_size() - 1; i >= 0 && best_.topology().channel_size() > 1;
         --i) {
      const std::string& name = best_.topology().channel(i).name();
      const std::string needle = "channel: \"" + name + "\"";
      proto::Scenario candidate = best_;
      candidate.mutable_topology()->mutable_channel()->DeleteSubrange(i, 1);
      const std::string& left = candidate.topology().channel(0).name();
      candidate.clear_step();
      for (const proto::TimelineEntry& step : best_.step()) {
        proto::TimelineEntry kept = step;
        if (kept.has_when() && kept.when().event().channel() == name) {
          kept.mutable_when()->mutable_event()->set_channel(left);
        }
        if (kept.ShortDebugString().find(needle) == std::string::npos) {
          *candidate.add_step() = kept;
        }
      }
      drop_expectations_naming(candidate, needle);
      try_candidate(candidate);
    }
  }

  static void drop_expectations_naming(proto::Scenario& scenario, const std::string& needle) {
    proto::Expectations* expect = scenario.mutable_expect();
    const pb::Reflection* reflection = expect->GetReflection();
    const pb::Descriptor* descriptor = expect->GetDescriptor();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const pb::FieldDescriptor* field = descriptor->field(f);
      if (!field->is_repeated()) {
        continue;
      }
      for (int i = reflection->FieldSize(*expect, field) - 1; i >= 0; --i) {
        const pb::Message& element = reflection->GetRepeatedMessage(*expect, field, i);
        if (element.ShortDebugString().find(needle) != std::string::npos) {
          remove_element(*expect, field, i);
        }
      }
    }
  }

  // Each expectation alone: the failure kept may be a later one's.
  void remove_expectations() {
    const pb::Descriptor* descriptor = proto::Expectations::descriptor();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      const pb::FieldDescriptor* field = descriptor->field(f);
      if (!field->is_repeated()) {
        continue;
      }
      const pb::Reflection* reflection = proto::Expectations::GetReflection();
      for (int i = reflection->FieldSize(best_.expect(), field) - 1; i >= 0 && !spent(); --i) {
        proto::Scenario candidate = best_;
        proto::Expectations* expect = candidate.mutable_expect();
        remove_element(*expect, field, i);
        try_candidate(candidate);
      }
    }
  }

  void remove_policy_rules() {
    for (int c = 0; c < best_.topology().channel_size(); ++c) {
      for (bool host : {false, true}) {
        const proto::ChannelSpec& channel = best_.topology().channel(c);
        const int rules = (host ? channel.host_driver() : channel.guest_driver()).rule_size();
        for (int r = rules - 1; r >= 0 && !spent(); --r) {
          proto::Scenario candidate = best_;
          proto::ChannelSpec& spec = *candidate.mutable_topology()->mutable_channel(c);
          (host ? spec.mutable_host_driver() : spec.mutable_guest_driver())
              ->mutable_rule()
              ->DeleteSubrange(r, 1);
          try_candidate(candidate);
        }
      }
    }
  }

  // Smaller counts (one, then halving towards it) and default payloads.
  void shrink_sends() {
    for (int i = 0; i < best_.step_size() && !spent(); ++i) {
      proto::Scenario candidate = best_;
      proto::SendAction* send = send_of(*candidate.mutable_step(i));
      if (send == nullptr) {
        continue;
      }
      if (send->has_payload()) {
        send->clear_payload();
        try_candidate(candidate);
      }
      shrink_count(i);
    }
  }

  void shrink_count(int step) {
    std::uint32_t low = 1;  // below what is known to still fail
    for (;;) {
      proto::Scenario candidate = best_;
      proto::SendAction* send = send_of(*candidate.mutable_step(step));
      const std::uint32_t count = std::max<std::uint32_t>(send->count(), 1);
      if (count <= low || spent()) {
        return;
      }
      const std::uint32_t next = low + (count - low) / 2;
      send->set_count(next);
      if (!try_candidate(candidate)) {
        low = next + 1;
      }
    }
  }

  proto::Scenario best_;
  const std::string signature_;
  const CandidateRunner& run_;
  const DecisionReader& decisions_;
  const ShrinkBudget budget_;
  const Clock::time_point started_;
  std::uint64_t runs_ = 0;
  std::string failure_;
  ScheduleFinding schedule_;
};

// What the schedule search found, as comment lines ("" when it did not run).
std::string schedule_comment(const ScheduleFinding& schedule) {
  if (!schedule.searched) {
    return "";
  }
  std::ostringstream text;
  text << "# Schedule: the shrunk run made " << schedule.decisions
       << " scheduler decision(s) with more than\n# one ready context";
  if (schedule.decisions > kMaxScheduleDecisions) {
    text << ": too many to try one at a time (at most " << kMaxScheduleDecisions
         << "); nothing\n# is pinned.\n";
    return text.str();
  }
  text << "; "
       << (schedule.tried == schedule.decisions
               ? std::string("each")
               : std::to_string(schedule.tried) + " (then the budget ran out)")
       << " was tried with every other ready\n# context instead, one at a time.\n";
  if (schedule.pinned.empty()) {
    text << "# None made the failure go away: it does not hang on one decision, and\n"
         << "# nothing is pinned.\n";
    return text.str();
  }
  text << "# The failure goes away when one of these is taken otherwise, so they\n"
       << "# are pinned (pin) and survive edits to the steps after them:\n";
  for (const ScheduleFinding::Pinned& pinned : schedule.pinned) {
    text << "#   step " << pinned.step << ": " << pinned.context << " (with " << pinned.instead
         << " instead, it does not fail so)\n";
  }
  return text.str();
}

std::string removed_count(std::size_t before, std::size_t after, const std::string& what) {
  return std::to_string(before - after) + " of " + std::to_string(before) + " " + what;
}

}  // namespace

std::optional<std::string> failure_signature(const runner::ScenarioResult& result) {
  if (result.verdict == runner::Verdict::kPassed) {
    return std::nullopt;
  }
  const std::string verdict = result.verdict == runner::Verdict::kError ? "ERROR" : "FAIL";
  // The oracles that fired, by name and channel, belong to the failure: a
  // run whose first failure is an expectation that the oracle's finding
  // broke (a completion that never came) must keep the finding, or the
  // shrink ends with nothing but the broken expectation.
  std::set<std::string> oracles;
  for (const runner::OracleFiring& firing : result.oracles) {
    oracles.insert(firing.name + " on '" + firing.channel + "'");
  }
  std::string signature =
      verdict + ": " +
      blank_numbers(result.failures.empty() ? std::string("(no reason)") : result.failures.front());
  for (const std::string& oracle : oracles) {
    signature += "; oracle " + oracle;
  }
  return signature;
}

ScenarioSize size_of(const proto::Scenario& scenario) {
  ScenarioSize size;
  size.steps = static_cast<std::size_t>(scenario.step_size());
  size.channels = static_cast<std::size_t>(scenario.topology().channel_size());
  const pb::Descriptor* descriptor = proto::Expectations::descriptor();
  for (int f = 0; f < descriptor->field_count(); ++f) {
    if (descriptor->field(f)->is_repeated()) {
      size.expectations += static_cast<std::size_t>(
          proto::Expectations::GetReflection()->FieldSize(scenario.expect(), descriptor->field(f)));
    }
  }
  for (const proto::TimelineEntry& step : scenario.step()) {
    const proto::SendAction* send = step.has_host_send()    ? &step.host_send()
                                    : step.has_guest_send() ? &step.guest_send()
                                                            : nullptr;
    if (send != nullptr) {
      size.packets_sent += std::max<std::uint32_t>(send->count(), 1);
    }
  }
  size.text_bytes = text_of(scenario).size();
  return size;
}

std::string ScenarioSize::describe() const {
  return std::to_string(steps) + (steps == 1 ? " step, " : " steps, ") + std::to_string(channels) +
         (channels == 1 ? " channel, " : " channels, ") + std::to_string(expectations) +
         " expectation(s), " + std::to_string(packets_sent) + " packet(s) sent, " +
         std::to_string(text_bytes) + " bytes";
}

ShrinkResult shrink_scenario(const proto::Scenario& original, const std::string& signature,
                             const CandidateRunner& run, const ShrinkBudget& budget,
                             const DecisionReader& decisions) {
  ShrinkResult result = Shrinker(original, signature, run, budget, decisions).run();
  const ScenarioSize before = size_of(original);
  const ScenarioSize after = size_of(result.shrunk);
  result.removed.push_back(removed_count(before.steps, after.steps, "steps"));
  result.removed.push_back(removed_count(before.channels, after.channels, "channels"));
  result.removed.push_back(removed_count(before.expectations, after.expectations, "expectations"));
  result.removed.push_back("packets sent " + std::to_string(before.packets_sent) + " -> " +
                           std::to_string(after.packets_sent));
  return result;
}

std::string shrunk_file_text(const ShrinkResult& result, const std::string& source,
                             std::uint64_t seed, const ScenarioSize& before) {
  proto::Scenario scenario = result.shrunk;
  scenario.set_seed(seed);
  if (scenario.expect().ByteSizeLong() == 0) {
    scenario.clear_expect();
  }
  std::ostringstream text;
  text << "# proto-file: proto/schema/vmbus/proto/scenario.proto\n"
       << "# proto-message: vmbus.proto.Scenario\n#\n"
       << "# Shrunk by `vmbus-sim shrink " << source << " --seed " << seed << "` (vmbus-sim "
       << base::build_identity() << ")\n# in " << result.runs << " runs"
       << (result.budget_spent ? ", stopped by its budget" : "") << ". It fails as the original "
       << "did:\n#   " << result.failure << "\n# Removed: ";
  for (std::size_t i = 0; i < result.removed.size(); ++i) {
    text << (i == 0 ? "" : "; ") << result.removed[i];
  }
  text << ".\n# Before: " << before.describe() << ".\n# After: " << size_of(scenario).describe()
       << ".\n# Method: delta debugging over the steps, then single removals of channels,\n"
       << "# expectations and driver policy rules, smaller send counts and default\n"
       << "# payloads, to a fixpoint; every candidate ran with seed " << seed
       << " (the seed's schedule).\n"
       << schedule_comment(result.schedule) << "\n"
       << text_of(scenario);
  return text.str();
}

}  // namespace vmbus::cli
