// Compiling a checked scenario into a run: channel names -> relids,
// payloads -> bytes, message names -> types, the partitions' configurations,
// and each timeline entry in the hypervisor's words.
#include <cstdio>
#include <set>
#include <vector>

#include "vmbus/wire/versions.h"

#include "actions.h"
#include "check.h"
#include "internal.h"

namespace vmbus::runner {
namespace {

constexpr char kDefaultInterfaceGuid[] = "f8615163-df3e-46c5-913f-f2d2f965ed0e";
constexpr std::uint64_t kDefaultTimeLimitUs = 1'000'000;

std::uint32_t version_from_text(const std::string& text) {
  for (std::uint32_t v : wire::kKnownVersions) {
    if (wire::version_number_text(v) == text) {
      return v;
    }
  }
  return 0;  // empty: the newest
}

// A driver's policy and the KMCL options it sets (the others keep what the
// driver already has).
void apply_policy(const proto::DriverPolicy& policy, proto::KmclDriverConfig& driver) {
  *driver.mutable_rules() = policy.rule();
  if (policy.has_default_action()) {
    *driver.mutable_default_action() = policy.default_action();
  }
  if (policy.has_max_packet_size()) {
    driver.set_maximum_packet_size(policy.max_packet_size());
  }
  if (policy.has_quota()) {
    driver.set_quota(policy.quota());
  }
  if (policy.has_require_passive()) {
    driver.set_require_passive(policy.require_passive());
  }
  if (policy.has_escalate_fail_to_close()) {
    driver.set_escalate_fail_to_close(policy.escalate_fail_to_close());
  }
  if (policy.has_external_data_latency_steps()) {
    driver.set_external_data_latency_steps(policy.external_data_latency_steps());
  }
  if (policy.has_defer_livelock_limit()) {
    driver.set_defer_livelock_limit(policy.defer_livelock_limit());
  }
  if (!policy.opened_status().empty()) {
    driver.set_opened_status(open_failure_status(policy.opened_status()).value_or(0));
  }
}

std::string interface_guid_of(const proto::ChannelSpec& spec) {
  return spec.interface_guid().empty() ? kDefaultInterfaceGuid : spec.interface_guid();
}

// A driver library runs this end of the channel: what its entry point is
// told (the loader resolved the library's path).
void load_library(const proto::DriverPolicy& policy, const proto::ChannelSpec& spec,
                  std::uint32_t relid, proto::KmclDriverConfig& driver) {
  if (policy.library().empty()) {
    return;
  }
  proto::LoadedDriverConfig& loaded = *driver.mutable_loaded();
  loaded.set_library(policy.library());
  loaded.set_arguments(policy.args());
  loaded.set_channel_name(spec.name());
  loaded.set_interface_guid(interface_guid_of(spec));
  loaded.set_instance_guid(instance_guid_of(relid));
}

// The host offers the channel; its VSP echoes unless the file says otherwise.
void offer_channel(const proto::ChannelSpec& spec, std::uint32_t relid, proto::HostConfig& host) {
  proto::ChannelOfferConfig& offer = *host.add_channels();
  offer.set_child_relid(relid);
  offer.set_interface_guid(interface_guid_of(spec));
  offer.set_instance_guid(instance_guid_of(relid));
  offer.set_instance_guid_after_unload(spec.instance_guid_after_unload());
  *offer.mutable_vsp() = spec.host_vsp();
  if (offer.vsp().kind() == proto::VspConfig::KIND_UNSPECIFIED) {
    offer.mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
  }
  // The VSP is a KMCL server driver whose callbacks the trace records; its
  // default action, unless host_driver has one, is its VSP kind's.
  apply_policy(spec.host_driver(), *offer.mutable_driver());
  load_library(spec.host_driver(), spec, relid, *offer.mutable_driver());
  offer.mutable_driver()->set_scenario(true);
}

// The guest opens the channel and hosts a KMCL driver on it: the scripted
// one, or a driver library.
void drive_channel(const proto::ChannelSpec& spec, std::uint32_t relid, proto::GuestConfig& guest) {
  guest.add_open_relids(relid);
  proto::KmclDriverConfig& driver = *guest.add_kmcl_drivers();
  driver.set_child_relid(relid);
  driver.set_maximum_packet_size(spec.max_packet_size());
  driver.set_quota(spec.quota());
  driver.set_require_passive(spec.require_passive());
  driver.set_ring_pages(spec.ring_pages());
  driver.set_escalate_fail_to_close(spec.escalate_fail_to_close());
  driver.set_external_data_latency_steps(spec.external_data_latency_steps());
  driver.set_defer_livelock_limit(spec.defer_livelock_limit());
  driver.set_target_vp(spec.target_vp());
  // The loader let each option be written in one place only.
  apply_policy(spec.guest_driver(), driver);
  if (!spec.guest_driver().has_default_action()) {
    driver.mutable_default_action();  // complete, as an empty action says
  }
  load_library(spec.guest_driver(), spec, relid, driver);
  driver.set_scenario(true);
}

// Subchannel `index` of the channel `spec` offered as `primary`: the
// primary's offer (GUIDs, VSP) with its own relid and index, and a copy of
// the primary's guest driver (subchannels run for the same driver).
void add_subchannel(const proto::ChannelSpec& spec, std::uint32_t primary, std::uint32_t index,
                    std::uint32_t relid, CompiledScenario& c) {
  c.channels.push_back(CompiledChannel{subchannel_name(spec.name(), index), relid});
  offer_channel(spec, primary, c.host);
  proto::ChannelOfferConfig& offer = *c.host.mutable_channels()->rbegin();
  offer.set_child_relid(relid);
  offer.set_primary_relid(primary);
  offer.set_sub_channel_index(index);
  offer.set_offer_on_request(spec.subchannels_on_request());
  if (offer.driver().has_loaded()) {
    offer.mutable_driver()->mutable_loaded()->set_channel_name(c.channels.back().name);
  }
  drive_channel(spec, primary, c.guest);
  proto::KmclDriverConfig& driver = *c.guest.mutable_kmcl_drivers()->rbegin();
  driver.set_child_relid(relid);
  *c.guest.mutable_open_relids()->rbegin() = relid;
  if (driver.has_loaded()) {
    driver.mutable_loaded()->set_channel_name(c.channels.back().name);
  }
}

void compile_topology(const proto::Topology& topology, const std::map<int, std::string>& images,
                      CompiledScenario& c) {
  c.host.set_max_version(version_from_text(topology.host_max_version()));
  c.guest.set_max_version(version_from_text(topology.guest_max_version()));
  c.guest.set_ring_pages(kDefaultRingPages);
  c.host.set_unstick_delay_us(topology.host_unstick_delay_us());
  c.guest.set_resume_timeout_us(topology.guest_resume_timeout_us());
  c.guest.set_vp_count(topology.guest_vps());
  c.host.set_guest_vp_count(topology.guest_vps());
  const std::vector<std::uint32_t> relids = assign_relids(topology);
  for (int i = 0; i < topology.channel_size(); ++i) {
    const proto::ChannelSpec& spec = topology.channel(i);
    const std::uint32_t relid = relids[static_cast<std::size_t>(i)];
    c.channels.push_back(CompiledChannel{spec.name(), relid});
    offer_channel(spec, relid, c.host);
    drive_channel(spec, relid, c.guest);
    if (const auto image = images.find(i); image != images.end()) {
      c.guest.mutable_kmcl_drivers()->rbegin()->set_inbound_ring_image(image->second);
    }
  }
  const std::vector<std::vector<std::uint32_t>> subchannels = assign_subchannel_relids(topology);
  for (int i = 0; i < topology.channel_size(); ++i) {
    const auto& sub_relids = subchannels[static_cast<std::size_t>(i)];
    for (std::size_t k = 0; k < sub_relids.size(); ++k) {
      add_subchannel(topology.channel(i), relids[static_cast<std::size_t>(i)],
                     static_cast<std::uint32_t>(k + 1), sub_relids[k], c);
    }
  }
}

// The entry's action resolves its names and payloads and becomes an
// Intervention by its row of the action table; its conditions become
// patterns over trace records.
CompiledEntry compile_entry(const proto::TimelineEntry& written, const CompiledScenario& c) {
  CompiledEntry compiled;
  compiled.entry = written;
  if (const ActionRow* row = find_action(written.action_case())) {
    row->resolve(compiled.entry, c);
  }
  compiled.intervention = intervention_of(compiled.entry);
  if (written.time_case() == proto::TimelineEntry::kWhen) {
    compiled.when = compile_match(written.when().event(), c);
  }
  if (written.action_case() == proto::TimelineEntry::kWaitUntil) {
    compiled.wait_until = compile_match(written.wait_until().event(), c);
  }
  return compiled;
}

}  // namespace

// The relid of every channel, in file order: as written, or else the
// smallest relid no channel names (1, 2, 3, ...).
std::vector<std::uint32_t> assign_relids(const proto::Topology& topology) {
  std::set<std::uint32_t> taken;
  for (const proto::ChannelSpec& spec : topology.channel()) {
    if (spec.relid() != 0) {
      taken.insert(spec.relid());
    }
  }
  std::vector<std::uint32_t> relids;
  std::uint32_t next_relid = 1;
  for (const proto::ChannelSpec& spec : topology.channel()) {
    std::uint32_t relid = spec.relid();
    if (relid == 0) {
      while (taken.count(next_relid) != 0) {
        ++next_relid;
      }
      relid = next_relid;
      taken.insert(relid);
    }
    relids.push_back(relid);
  }
  return relids;
}

std::vector<std::vector<std::uint32_t>> assign_subchannel_relids(const proto::Topology& topology) {
  const std::vector<std::uint32_t> primaries = assign_relids(topology);
  std::set<std::uint32_t> taken(primaries.begin(), primaries.end());
  std::vector<std::vector<std::uint32_t>> relids;
  std::uint32_t next_relid = 1;
  for (const proto::ChannelSpec& spec : topology.channel()) {
    std::vector<std::uint32_t>& mine = relids.emplace_back();
    for (std::uint32_t k = 0; k < spec.subchannels(); ++k) {
      while (taken.count(next_relid) != 0) {
        ++next_relid;
      }
      mine.push_back(next_relid);
      taken.insert(next_relid);
    }
  }
  return relids;
}

std::string instance_guid_of(std::uint32_t relid) {
  char instance[40];
  std::snprintf(instance, sizeof(instance), "00000000-0000-0000-0000-%012x", relid);
  return instance;
}

std::string subchannel_name(const std::string& channel, std::uint32_t index) {
  return channel + "/" + std::to_string(index);
}

std::optional<std::uint32_t> CompiledScenario::relid_of(const std::string& channel) const {
  for (const CompiledChannel& c : channels) {
    if (c.name == channel) {
      return c.relid;
    }
  }
  return std::nullopt;
}

std::string CompiledScenario::channel_name(std::uint32_t relid) const {
  for (const CompiledChannel& c : channels) {
    if (c.relid == relid) {
      return c.name;
    }
  }
  return relid == 0 ? "" : "relid " + std::to_string(relid);
}

proto::Expectations expectations_for_mode(const proto::Expectations& expect, bool quirks_on) {
  proto::Expectations merged = expect;
  merged.clear_with_quirks();
  merged.clear_without_quirks();
  // MergeFrom appends repeated fields and replaces set singular ones: the
  // documented meaning of a mode's block.
  merged.MergeFrom(quirks_on ? expect.with_quirks() : expect.without_quirks());
  return merged;
}

CompiledScenario compile_scenario(const LoadedScenario& loaded, const CompileOptions& options) {
  const proto::Scenario& s = loaded.scenario;
  CompiledScenario c;
  c.name = s.name();
  c.display_path = loaded.display_path;
  c.source_text = loaded.text;
  c.default_seed = s.seed() != 0 ? s.seed() : 1;
  c.time_limit_ns = (s.time_limit_us() != 0 ? s.time_limit_us() : kDefaultTimeLimitUs) * 1000;
  for (const proto::PinnedStep& pin : s.pin()) {
    proto::PinnedDecision& decision = c.pins.emplace_back();
    decision.set_step(pin.step());
    decision.set_context(pin.context());
  }
  c.expect = expectations_for_mode(s.expect(), options.quirks);
  const bool has_quirks = s.guest_quirks_size() != 0 || s.host_quirks_size() != 0;
  c.quirks_off = has_quirks && !options.quirks;
  if (options.quirks) {
    *c.guest.mutable_quirks() = s.guest_quirks();
    *c.host.mutable_quirks() = s.host_quirks();
  }
  // The guest's standing bugs run in both modes.
  c.guest.mutable_quirks()->MergeFrom(s.guest_quirks_always());
  compile_topology(s.topology(), loaded.ring_images, c);
  for (const proto::TimelineEntry& written : s.step()) {
    c.timeline.push_back(compile_entry(written, c));
  }
  for (const proto::TraceExpectation& expected : c.expect.trace()) {
    c.expected_trace.push_back(compile_match(expected.event(), c));
    c.expected_trace_after.push_back(
        expected.has_after() ? std::optional(compile_match(expected.after(), c)) : std::nullopt);
  }
  return c;
}

}  // namespace vmbus::runner
