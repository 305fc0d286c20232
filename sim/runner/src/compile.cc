// Compiling a checked scenario into a run: channel names -> relids,
// payloads -> bytes, message names -> types, the partitions' configurations,
// and each timeline entry in the hypervisor's words.
#include <cctype>
#include <cstdio>
#include <set>

#include "vmbus/wire/versions.h"

#include "internal.h"

namespace vmbus::runner {
namespace {

constexpr char kDefaultInterfaceGuid[] = "f8615163-df3e-46c5-913f-f2d2f965ed0e";
constexpr std::uint32_t kDefaultRingPages = 4;
constexpr std::uint64_t kDefaultTimeLimitUs = 1'000'000;

std::uint32_t version_from_text(const std::string& text) {
  for (std::uint32_t v : wire::kKnownVersions) {
    if (wire::version_number_text(v) == text) {
      return v;
    }
  }
  return 0;  // empty: the newest
}

std::string bytes_from_hex(const std::string& hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      continue;
    }
    const int digit = std::isdigit(static_cast<unsigned char>(c))
                          ? c - '0'
                          : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<char>(high * 16 + digit));
      high = -1;
    }
  }
  return out;
}

// Payload as written -> Payload.raw. An absent payload stays absent.
void resolve_payload(proto::Payload& payload) {
  std::string raw;
  switch (payload.data_case()) {
    case proto::Payload::kText:
      raw = payload.text();
      break;
    case proto::Payload::kHex:
      raw = bytes_from_hex(payload.hex());
      break;
    case proto::Payload::kPattern:
      raw.resize(payload.pattern().size());
      for (std::size_t i = 0; i < raw.size(); ++i) {
        raw[i] =
            static_cast<char>(payload.pattern().counting() ? (i & 0xFF) : payload.pattern().fill());
      }
      break;
    default:
      return;
  }
  payload.set_raw(raw);
}

hypervisor::Side side_of(proto::Side side) {
  return side == proto::HOST ? hypervisor::Side::kHost : hypervisor::Side::kGuest;
}

hypervisor::Direction direction_of(proto::Direction direction) {
  return direction == proto::HOST_TO_GUEST ? hypervisor::Direction::kHostToGuest
                                           : hypervisor::Direction::kGuestToHost;
}

hypervisor::RequestAction request(hypervisor::Side side, proto::PartitionAction action) {
  return hypervisor::RequestAction{side, std::move(action)};
}

}  // namespace

hypervisor::Intervention intervention_of(const proto::TimelineEntry& step) {
  using hypervisor::Side;
  proto::PartitionAction action;
  switch (step.action_case()) {
    case proto::TimelineEntry::kHostSend:
      *action.mutable_send() = step.host_send();
      return request(Side::kHost, std::move(action));
    case proto::TimelineEntry::kGuestSend:
      *action.mutable_send() = step.guest_send();
      return request(Side::kGuest, std::move(action));
    case proto::TimelineEntry::kRingWrite:
      *action.mutable_ring_write() = step.ring_write();
      return request(Side::kHost, std::move(action));
    case proto::TimelineEntry::kRawPacket:
      *action.mutable_raw_packet() = step.raw_packet();
      return request(Side::kHost, std::move(action));
    case proto::TimelineEntry::kTamper:
      *action.mutable_tamper() = step.tamper();
      return request(Side::kHost, std::move(action));
    case proto::TimelineEntry::kSetIndex:
      *action.mutable_set_index() = step.set_index();
      return request(Side::kHost, std::move(action));
    case proto::TimelineEntry::kChannelOp:
      *action.mutable_channel_op() = step.channel_op();
      return request(
          step.channel_op().op() == proto::ChannelOpAction::RESCIND ? Side::kHost : Side::kGuest,
          std::move(action));
    case proto::TimelineEntry::kSetPolicy:
      *action.mutable_set_policy() = step.set_policy();
      return request(Side::kGuest, std::move(action));
    case proto::TimelineEntry::kInterruptFault: {
      const proto::InterruptFault& fault = step.interrupt_fault();
      hypervisor::ArmSignalFault arm;
      arm.direction = direction_of(fault.direction());
      arm.kind = fault.kind() == proto::InterruptFault::DROP
                     ? hypervisor::ArmSignalFault::Kind::kDrop
                 : fault.kind() == proto::InterruptFault::DELAY
                     ? hypervisor::ArmSignalFault::Kind::kDelay
                     : hypervisor::ArmSignalFault::Kind::kDuplicate;
      arm.count = fault.count();
      arm.delay_us = fault.delay_us();
      arm.child_relid = fault.child_relid();
      return arm;
    }
    case proto::TimelineEntry::kSpuriousInterrupt:
      return hypervisor::InjectSpuriousInterrupt{
          direction_of(step.spurious_interrupt().direction()),
          step.spurious_interrupt().child_relid()};
    case proto::TimelineEntry::kMessageFault: {
      const proto::MessageFault& fault = step.message_fault();
      using Kind = hypervisor::ArmMessageFault::Kind;
      hypervisor::ArmMessageFault arm;
      arm.direction = direction_of(fault.direction());
      switch (fault.kind()) {
        case proto::MessageFault::DELAY:
          arm.kind = Kind::kDelay;
          break;
        case proto::MessageFault::DUPLICATE:
          arm.kind = Kind::kDuplicate;
          break;
        case proto::MessageFault::REORDER:
          arm.kind = Kind::kReorder;
          break;
        case proto::MessageFault::CORRUPT:
          arm.kind = Kind::kCorrupt;
          break;
        default:
          arm.kind = Kind::kDrop;
          break;
      }
      if (!fault.any_type()) {
        arm.msgtype = fault.msgtype();
      }
      arm.count = fault.count();
      arm.delay_us = fault.delay_us();
      arm.corrupt_offset = fault.corrupt_offset();
      arm.corrupt_bytes = fault.corrupt_bytes().raw();
      return arm;
    }
    case proto::TimelineEntry::kCrash:
      return hypervisor::CrashPartition{side_of(step.crash().side())};
    case proto::TimelineEntry::kHold:
      return hypervisor::HoldContext{side_of(step.hold().side()), step.hold().context()};
    case proto::TimelineEntry::kRelease:
      return hypervisor::ReleaseContext{side_of(step.release().side()), step.release().context()};
    case proto::TimelineEntry::kAdvanceTime:
      return hypervisor::AdvanceTime{step.advance_time().us() * 1000};
    case proto::TimelineEntry::kNote:
      return hypervisor::WriteNote{step.note()};
    default:  // wait_until, or an entry with only a time: nothing to do
      return hypervisor::NoIntervention{};
  }
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

CompiledScenario compile_scenario(const LoadedScenario& loaded) {
  const proto::Scenario& s = loaded.scenario;
  CompiledScenario c;
  c.name = s.name();
  c.display_path = loaded.display_path;
  c.default_seed = s.seed() != 0 ? s.seed() : 1;
  c.time_limit_ns = (s.time_limit_us() != 0 ? s.time_limit_us() : kDefaultTimeLimitUs) * 1000;
  c.expect = s.expect();

  c.host.set_max_version(version_from_text(s.topology().host_max_version()));
  c.guest.set_max_version(version_from_text(s.topology().guest_max_version()));
  c.guest.set_ring_pages(kDefaultRingPages);
  std::set<std::uint32_t> taken;
  for (const proto::ChannelSpec& spec : s.topology().channel()) {
    if (spec.relid() != 0) {
      taken.insert(spec.relid());
    }
  }
  std::uint32_t next_relid = 1;
  for (const proto::ChannelSpec& spec : s.topology().channel()) {
    std::uint32_t relid = spec.relid();
    if (relid == 0) {
      while (taken.count(next_relid) != 0) {
        ++next_relid;
      }
      relid = next_relid;
      taken.insert(relid);
    }
    c.channels.push_back(CompiledChannel{spec.name(), relid});

    proto::ChannelOfferConfig& offer = *c.host.add_channels();
    offer.set_child_relid(relid);
    offer.set_interface_guid(spec.interface_guid().empty() ? kDefaultInterfaceGuid
                                                           : spec.interface_guid());
    char instance[40];
    std::snprintf(instance, sizeof(instance), "00000000-0000-0000-0000-%012x", relid);
    offer.set_instance_guid(instance);
    *offer.mutable_vsp() = spec.host_vsp();
    if (offer.vsp().kind() == proto::VspConfig::KIND_UNSPECIFIED) {
      offer.mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
    }

    c.guest.add_open_relids(relid);
    proto::KmclDriverConfig& driver = *c.guest.add_kmcl_drivers();
    driver.set_child_relid(relid);
    *driver.mutable_rules() = spec.guest_driver().rule();
    *driver.mutable_default_action() = spec.guest_driver().default_action();
    driver.set_maximum_packet_size(spec.max_packet_size());
    driver.set_quota(spec.quota());
    driver.set_require_passive(spec.require_passive());
    driver.set_ring_pages(spec.ring_pages());
    driver.set_escalate_fail_to_close(spec.escalate_fail_to_close());
    driver.set_external_data_latency_steps(spec.external_data_latency_steps());
    driver.set_defer_livelock_limit(spec.defer_livelock_limit());
    driver.set_scenario(true);
  }

  for (const proto::TimelineEntry& written : s.step()) {
    proto::TimelineEntry step = written;
    auto relid = [&c](const std::string& name) { return c.relid_of(name).value_or(0); };
    switch (step.action_case()) {
      case proto::TimelineEntry::kHostSend:
      case proto::TimelineEntry::kGuestSend: {
        proto::SendAction& send = step.action_case() == proto::TimelineEntry::kHostSend
                                      ? *step.mutable_host_send()
                                      : *step.mutable_guest_send();
        send.set_child_relid(relid(send.channel()));
        resolve_payload(*send.mutable_payload());
        break;
      }
      case proto::TimelineEntry::kRingWrite:
        step.mutable_ring_write()->set_child_relid(relid(step.ring_write().channel()));
        resolve_payload(*step.mutable_ring_write()->mutable_bytes());
        break;
      case proto::TimelineEntry::kRawPacket:
        step.mutable_raw_packet()->set_child_relid(relid(step.raw_packet().channel()));
        resolve_payload(*step.mutable_raw_packet()->mutable_payload());
        break;
      case proto::TimelineEntry::kTamper:
        step.mutable_tamper()->set_child_relid(relid(step.tamper().channel()));
        resolve_payload(*step.mutable_tamper()->mutable_bytes());
        break;
      case proto::TimelineEntry::kSetIndex:
        step.mutable_set_index()->set_child_relid(relid(step.set_index().channel()));
        break;
      case proto::TimelineEntry::kInterruptFault:
        step.mutable_interrupt_fault()->set_child_relid(relid(step.interrupt_fault().channel()));
        break;
      case proto::TimelineEntry::kSpuriousInterrupt:
        step.mutable_spurious_interrupt()->set_child_relid(
            relid(step.spurious_interrupt().channel()));
        break;
      case proto::TimelineEntry::kMessageFault: {
        proto::MessageFault& fault = *step.mutable_message_fault();
        if (fault.message().empty()) {
          fault.set_any_type(true);
        } else {
          fault.set_msgtype(scenario_message_type(fault.message()).value_or(0));
        }
        resolve_payload(*fault.mutable_corrupt_bytes());
        break;
      }
      case proto::TimelineEntry::kChannelOp:
        step.mutable_channel_op()->set_child_relid(relid(step.channel_op().channel()));
        break;
      case proto::TimelineEntry::kSetPolicy:
        step.mutable_set_policy()->set_child_relid(relid(step.set_policy().channel()));
        break;
      default:
        break;
    }
    c.timeline.push_back(std::move(step));
  }
  return c;
}

}  // namespace vmbus::runner
