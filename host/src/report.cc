#include "vmbus/host/report.h"

#include "vmbus/host/oracles.h"
#include "vmbus/partition/kmcl_report.h"
#include "vmbus/partition/ring_snapshot.h"

namespace vmbus::host {
namespace {

proto::RingControlWords control_words(ring::RingMemory& memory) {
  const partition::ControlWords words = partition::read_control_words(ring::RingView(memory));
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
    case ControlPlane::Channel::State::kOpening:
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
  const partition::KmclEndpoint& endpoint = *vsp.endpoint;
  const kmcl::VMBCHANNEL handle = endpoint.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  const ring::WriterCounters writer = endpoint.driver().ring_counters().outgoing;
  const bool open = channel != nullptr && channel->state == ControlPlane::Channel::State::kOpen;
  proto::HostChannelReport out;
  out.set_child_relid(vsp.child_relid());
  out.set_state(state_of(channel));
  out.set_packets_received(stats.packets_dequeued);
  out.set_packets_sent(stats.packets_sent + stats.completions_sent);
  out.set_completions_received(stats.completions_received + stats.unexpected_completions);
  out.set_unknown_completions(stats.unexpected_completions);
  out.set_pending_transactions(endpoint.driver().sends_pending());
  out.set_send_blocked(stats.send_blocked);
  out.set_queued_sends(stats.queued_sends);
  out.set_signals(writer.signals + vsp.action_signals);
  out.set_signals_masked(writer.signals_masked);
  out.set_vsp_stopped(endpoint.device.queue_state(handle) ==
                      kmcl::QueueState::kStoppedByProtocolError);
  if (open && vsp.attached()) {
    *out.mutable_host_to_guest() = control_words(*vsp.rings.inbound);
    *out.mutable_guest_to_host() = control_words(*vsp.rings.outbound);
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

proto::HostReport host_report(const ControlPlane& control, const Vsps& vsps, bool quiet) {
  proto::HostReport report;
  for (const auto& [relid, vsp] : vsps.channels()) {
    const ControlPlane::Channel* channel = control.channel(relid);
    *report.add_channels() = channel_report(vsp, channel);
    *report.add_kmcl_channels() = partition::kmcl_channel_report(*vsp.endpoint);
    for (auto [name, why] :
         {std::pair<const char*, std::string>{"retired_once",
                                              partition::retired_once(*vsp.endpoint)},
          {"fifo", partition::fifo(*vsp.endpoint)},
          {"lost_wakeup", channel != nullptr ? lost_wakeup(vsp, control, quiet) : ""}}) {
      if (!why.empty()) {
        add_finding(report, name, relid, std::move(why));
      }
    }
  }
  if (std::string why = gpadl_leaks(control); !why.empty()) {
    add_finding(report, "leak", 0, std::move(why));
  }
  return report;
}

}  // namespace vmbus::host
