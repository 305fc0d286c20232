#include "vmbus/host/report.h"

#include "vmbus/host/oracles.h"
#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::host {
namespace {

proto::RingControlWords control_words(const ring::RingView& view) {
  const partition::ControlWords words = partition::read_control_words(view);
  proto::RingControlWords out;
  out.set_write_index(words.write_index);
  out.set_read_index(words.read_index);
  out.set_interrupt_mask(words.interrupt_mask);
  out.set_pending_send_sz(words.pending_send_sz);
  return out;
}

proto::HostChannelReport::State state_of(const ControlPlane::Channel* channel) {
  if (channel == nullptr) {
    return proto::HostChannelReport::STATE_RESCINDED;  // and released by the guest
  }
  switch (channel->state) {
    case ControlPlane::Channel::State::kOpen:
      return proto::HostChannelReport::STATE_OPEN;
    case ControlPlane::Channel::State::kOffered:
      return channel->closed_by_guest ? proto::HostChannelReport::STATE_CLOSED
                                      : proto::HostChannelReport::STATE_OFFERED;
    case ControlPlane::Channel::State::kRescinded:
      break;
  }
  return proto::HostChannelReport::STATE_RESCINDED;
}

// `channel` is nullptr once the guest released the relid: the VSP's
// counters are all that is left of it.
proto::HostChannelReport channel_report(const VspChannel& vsp,
                                        const ControlPlane::Channel* channel) {
  const VspStats& stats = vsp.stats;
  const bool open = channel != nullptr && channel->state == ControlPlane::Channel::State::kOpen;
  proto::HostChannelReport out;
  out.set_child_relid(vsp.child_relid());
  out.set_state(state_of(channel));
  out.set_packets_received(stats.packets_received);
  out.set_packets_sent(stats.packets_sent);
  out.set_completions_received(stats.completions_received);
  out.set_unknown_completions(stats.unknown_completions);
  out.set_pending_transactions(channel != nullptr ? vsp.pending_count() : 0);
  out.set_send_blocked(open && vsp.sender->blocked());
  out.set_queued_sends(open ? vsp.sender->queued() : 0);
  out.set_signals(stats.signals);
  out.set_signals_masked(stats.signals_masked);
  out.set_vsp_stopped(channel != nullptr && vsp.stopped);
  if (open) {
    *out.mutable_host_to_guest() = control_words(vsp.sender->writer().view());
    *out.mutable_guest_to_host() = control_words(vsp.receiver->reader().view());
  }
  return out;
}

void add_finding(proto::HostReport& report, const std::string& name, std::uint32_t child_relid,
                 std::string what) {
  proto::OracleFinding* finding = report.add_findings();
  finding->set_name(name);
  finding->set_child_relid(child_relid);
  finding->set_what(std::move(what));
}

}  // namespace

proto::HostReport host_report(const ControlPlane& control, const Vsps& vsps) {
  proto::HostReport report;
  for (const auto& [relid, vsp] : vsps.channels()) {
    const ControlPlane::Channel* channel = control.channel(relid);
    *report.add_channels() = channel_report(vsp, channel);
    if (channel == nullptr) {
      continue;
    }
    if (std::string why = lost_wakeup(vsp); !why.empty()) {
      add_finding(report, "lost_wakeup", relid, std::move(why));
    }
  }
  if (std::string why = gpadl_leaks(control); !why.empty()) {
    add_finding(report, "leak", 0, std::move(why));
  }
  return report;
}

}  // namespace vmbus::host
