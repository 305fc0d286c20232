// A judged run's final state in lines: what `vmbus-sim run --report`
// prints and what the trace's last records say, so that a passing run shows
// the counters and verdicts a learner or an author would otherwise have to
// guess (or write wrong expectations to see).
#include <algorithm>

#include "internal.h"
#include "tally.h"

namespace vmbus::runner {
namespace {

const char* host_state_name(proto::HostChannelReport::State state) {
  switch (state) {
    case proto::HostChannelReport::STATE_OFFERED:
      return "offered";
    case proto::HostChannelReport::STATE_OPEN:
      return "open";
    case proto::HostChannelReport::STATE_CLOSED:
      return "closed";
    case proto::HostChannelReport::STATE_RESCINDED:
      return "rescinded";
    default:
      return "unknown";
  }
}

std::string control_words(const char* ring, const proto::RingControlWords& words) {
  return std::string(ring) + " write_index=" + std::to_string(words.write_index()) +
         " read_index=" + std::to_string(words.read_index()) +
         " interrupt_mask=" + std::to_string(words.interrupt_mask()) +
         " pending_send_sz=" + std::to_string(words.pending_send_sz());
}

class Lines {
 public:
  explicit Lines(const CompiledScenario& scenario) : scenario_(scenario) {}

  void add(std::string kind, proto::Partition partition, std::uint32_t relid, std::string name,
           std::string text) {
    FinalStateLine line;
    line.kind = std::move(kind);
    line.partition = partition;
    line.child_relid = relid;
    line.channel = relid == 0 ? "" : scenario_.channel_name(relid);
    line.name = std::move(name);
    line.text = std::move(text);
    lines_.push_back(std::move(line));
  }

  // "guest 'net' (relid 1): "
  std::string prefix(proto::Partition partition, std::uint32_t relid) const {
    return std::string(partition == proto::PARTITION_HOST ? "host" : "guest") + " " +
           quoted(scenario_.channel_name(relid)) + " (relid " + std::to_string(relid) + "): ";
  }

  void kmcl(proto::Partition partition, const proto::KmclChannelReport& r) {
    std::string text = prefix(partition, r.child_relid()) + "driver channel " + r.channel_state() +
                       ", queue " + r.queue_state();
    if (!r.stop_reason().empty()) {
      text += " (stopped: " + r.stop_reason() + ")";
    }
    add("channel", partition, r.child_relid(), "", text + "; " + kmcl_counter_words(r));
  }

  void vsp(const proto::HostChannelReport& r) {
    std::string text = prefix(proto::PARTITION_HOST, r.child_relid()) + "VSP channel " +
                       host_state_name(r.state()) + "; " + host_counter_words(r);
    if (r.has_host_to_guest() && r.has_guest_to_host()) {
      text += "; " + control_words("host_to_guest", r.host_to_guest()) + "; " +
              control_words("guest_to_host", r.guest_to_host());
    }
    add("channel", proto::PARTITION_HOST, r.child_relid(), "", text);
  }

  void signals(std::uint32_t relid, const TraceTally::ChannelCounts& counts) {
    add("channel", proto::PARTITION_UNSPECIFIED, relid, "",
        quoted(scenario_.channel_name(relid)) + " (relid " + std::to_string(relid) +
            ") in the trace: signals_host_to_guest=" +
            std::to_string(counts.signals_host_to_guest) +
            " signals_guest_to_host=" + std::to_string(counts.signals_guest_to_host) +
            " interrupts_to_guest=" + std::to_string(counts.interrupts_to_guest) +
            " interrupts_to_host=" + std::to_string(counts.interrupts_to_host));
  }

  std::vector<FinalStateLine> take() { return std::move(lines_); }

 private:
  const CompiledScenario& scenario_;
  std::vector<FinalStateLine> lines_;
};

bool has_subchannels(const CompiledScenario& scenario) {
  return std::any_of(scenario.host.channels().begin(), scenario.host.channels().end(),
                     [](const proto::ChannelOfferConfig& c) { return c.primary_relid() != 0; });
}

bool has_resume(const CompiledScenario& scenario) {
  return std::any_of(scenario.timeline.begin(), scenario.timeline.end(),
                     [](const CompiledEntry& e) {
                       return e.entry.action_case() == proto::TimelineEntry::kResume;
                     });
}

void add_oracles(const CompiledScenario& scenario, const ScenarioResult& result, Lines& lines) {
  for (const std::string& name : scenario_oracle_names()) {
    const bool expected =
        std::any_of(scenario.expect.oracle().begin(), scenario.expect.oracle().end(),
                    [&](const proto::OracleExpectation& e) { return e.name() == name; });
    bool fired = false;
    for (const OracleFiring& firing : result.oracles) {
      if (firing.name != name) {
        continue;
      }
      fired = true;
      const std::uint32_t relid =
          firing.channel.empty() ? 0 : scenario.relid_of(firing.channel).value_or(0);
      lines.add("oracle", proto::PARTITION_UNSPECIFIED, relid, name,
                "oracle " + name + " fired" +
                    (firing.channel.empty() ? "" : " on " + quoted(firing.channel)) + ": " +
                    firing.what + (expected ? " (expected)" : ""));
    }
    if (!fired && !expected && name == "rescind_order" && !has_subchannels(scenario)) {
      continue;  // only a device with subchannels has a rescind order to break
    }
    if (!fired && !expected && name == "resume_hang" && !has_resume(scenario)) {
      continue;  // only a guest that resumes from hibernation can hang in its resume
    }
    if (!fired) {
      lines.add("oracle", proto::PARTITION_UNSPECIFIED, 0, name,
                "oracle " + name + (expected ? " did not fire (expected to)" : " held"));
    }
  }
}

}  // namespace

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPassed:
      return "PASS";
    case Verdict::kFailed:
      return "FAIL";
    case Verdict::kError:
      return "ERROR";
  }
  return "ERROR";
}

std::vector<FinalStateLine> final_state_of(const CompiledScenario& scenario,
                                           const ScenarioResult& result) {
  return final_state_of(scenario, result, nullptr);
}

std::vector<FinalStateLine> final_state_of(const CompiledScenario& scenario,
                                           const ScenarioResult& result, const TraceTally* tally) {
  Lines lines(scenario);
  const hypervisor::RunResult& run = result.run;
  if (run.final_reports) {
    const std::string& version = run.guest_final.negotiated_version();
    lines.add("version", proto::PARTITION_GUEST, 0, "",
              version.empty() ? "version: the guest never connected" : "version " + version);
    for (const CompiledChannel& channel : scenario.channels) {
      for (const proto::KmclChannelReport& r : run.guest_final.kmcl_channels()) {
        if (r.child_relid() == channel.relid) {
          lines.kmcl(proto::PARTITION_GUEST, r);
        }
      }
      for (const proto::KmclChannelReport& r : run.host_final.kmcl_channels()) {
        if (r.child_relid() == channel.relid) {
          lines.kmcl(proto::PARTITION_HOST, r);
        }
      }
      for (const proto::HostChannelReport& r : run.host_final.channels()) {
        if (r.child_relid() == channel.relid) {
          lines.vsp(r);
        }
      }
      if (tally != nullptr) {
        lines.signals(channel.relid, tally->channel_counts().at(channel.relid));
      }
    }
  }
  add_oracles(scenario, result, lines);
  std::string verdict = std::string("verdict ") + verdict_name(result.verdict);
  if (!result.failures.empty()) {
    verdict += ": " + result.failures.front();
  } else if (result.verdict == Verdict::kError && !run.detail.empty()) {
    verdict += ": " + run.detail;
  }
  lines.add("verdict", proto::PARTITION_UNSPECIFIED, 0, verdict_name(result.verdict), verdict);
  return lines.take();
}

}  // namespace vmbus::runner
