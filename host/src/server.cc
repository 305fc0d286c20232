#include "vmbus/host/server.h"

#include <algorithm>
#include <atomic>
#include <deque>

#include "vmbus/base/check.h"
#include "vmbus/host/actions.h"
#include "vmbus/host/report.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/raw_ring.h"
#include "vmbus/ring/layout.h"
#include "vmbus/ring/ring.h"
#include "vmbus/wire/versions.h"

namespace vmbus::host {

using partition::Hypervisor;

VmbusServer::VmbusServer() = default;
VmbusServer::~VmbusServer() = default;

std::string VmbusServer::start(const partition::StartInfo& info, Hypervisor& hv) {
  proto::HostConfig config;
  if (!config.ParseFromString(info.config)) {
    return "the host configuration does not parse";
  }
  VMBUS_CHECK(info.memory != nullptr, "the host started without guest memory");
  std::string quirk_error;
  const auto quirks = base::QuirkSet::parse(config.quirks(), base::kQuirkHost, &quirk_error);
  if (!quirks) {
    return "host configuration: " + quirk_error;
  }
  vsps_ = std::make_unique<Vsps>(*info.memory);
  vsps_->set_free_running(info.mode == proto::SCHEDULING_MODE_FREE_RUNNING);
  vsps_->set_quirks(*quirks);
  unstick_delay_ns_ = config.unstick_delay_us() * 1000;
  control_ = std::make_unique<ControlPlane>(*vsps_);
  control_->set_quirks(*quirks);
  if (std::string error = control_->configure(config, info.memory->page_count()); !error.empty()) {
    return error;
  }
  const partition::Work work{hv, ""};
  if (std::string error = vsps_->configure(config, info.seed, work); !error.empty()) {
    return error;
  }
  work.note("VMBus server up: protocol up to " + wire::version_text(control_->max_version()) +
            ", " + std::to_string(config.channels_size()) + " channel(s)");
  return "";
}

std::vector<std::uint32_t> VmbusServer::message_connection_ids() const {
  return control_->message_connection_ids();
}

std::vector<std::string> VmbusServer::ready_contexts() const {
  std::vector<std::string> ready;
  vsps_->add_ready(ready);
  if (slot_.full()) {
    ready.push_back("msg");
  }
  if (control_->has_posts()) {
    ready.push_back("post");
  }
  if (ready.empty() && !unstick_at_ns_.empty()) {
    // Only the clock can bring a channel's unstick time: let time pass.
    ready.push_back("timer");
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

std::uint64_t VmbusServer::wake_at_ns() const {
  std::uint64_t earliest = vsps_->wake_at_ns();
  for (const auto& [relid, at_ns] : unstick_at_ns_) {
    earliest = earliest == 0 ? at_ns : std::min(earliest, at_ns);
  }
  return earliest;
}

void VmbusServer::step(const std::string& context, Hypervisor& hv) {
  const partition::Work work{hv, context};
  vsps_->set_now(hv.now_ns());
  if (context == "timer") {
    unstick_due(work);
  } else if (context == "msg") {
    control_->handle_message(slot_.take(hv), work);
    sync_vsps(work);
  } else if (context == "post") {
    control_->post_one(work);
  } else if (const auto name = partition::ContextName::parse(context);
             name && name->kind == partition::kKmclContextKind && name->child_relid &&
             !name->rest.empty()) {
    const bool rings_free = vsps_->step(*name->child_relid, name->rest, work);
    sync_vsp(*name->child_relid, work, rings_free);
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + context + "'");
  }
}

void VmbusServer::sync_vsps(const partition::Work& work) {
  for (const auto& [relid, channel] : vsps_->channels()) {
    sync_vsp(relid, work);
  }
}

void VmbusServer::sync_vsp(std::uint32_t child_relid, const partition::Work& work,
                           bool rings_free) {
  WireEvents events = vsps_->sync_channel(child_relid, work);
  events.rings_free = events.rings_free || rings_free;
  const ControlPlane::Channel* channel = control_->channel(child_relid);
  if (channel == nullptr) {
    return;  // released by the guest: nothing left on the wire
  }
  if (events.rings_free && channel->rings_held) {
    control_->release_rings(child_relid, work);
  }
  if (events.open_result && channel->state == ControlPlane::Channel::State::kOpening) {
    control_->answer_open(child_relid, static_cast<std::uint32_t>(*events.open_result), work);
    if (channel->state == ControlPlane::Channel::State::kOpen) {
      schedule_unstick(child_relid, work);
    }
  }
  if (events.revoke && channel->state != ControlPlane::Channel::State::kRescinded) {
    revoke(child_relid, work);
  }
  finish_revokes(work);
}

// Linux finds a subchannel through its primary and tears it down with it,
// so the host rescinds a device's subchannels before its primary: their
// VSPs' channels are disabled, each is rescinded once its close is done
// (at once for a channel that is not open), and the primary after the
// last of them.
void VmbusServer::revoke(std::uint32_t child_relid, const partition::Work& work) {
  const std::vector<std::uint32_t> subchannels = control_->live_subchannels(child_relid);
  if (subchannels.empty() || control_->quirks().has(base::Quirk::kHostRescindsPrimaryFirst)) {
    // The quirk: the primary's RESCIND_CHANNELOFFER goes out first.
    control_->rescind(child_relid, work);
  } else {
    revoking_primaries_.insert(child_relid);
  }
  for (std::uint32_t relid : subchannels) {
    vsps_->revoke(relid);
  }
  for (std::uint32_t relid : subchannels) {
    sync_vsp(relid, work);
  }
}

void VmbusServer::finish_revokes(const partition::Work& work) {
  for (auto it = revoking_primaries_.begin(); it != revoking_primaries_.end();) {
    if (!control_->live_subchannels(*it).empty()) {
      ++it;
      continue;
    }
    const std::uint32_t relid = *it;
    it = revoking_primaries_.erase(it);
    control_->rescind(relid, work);
  }
}

void VmbusServer::schedule_unstick(std::uint32_t child_relid, const partition::Work& work) {
  if (unstick_delay_ns_ == 0) {
    return;
  }
  if (control_->quirks().has(base::Quirk::kHostNeverUnsticks)) {
    work.note("quirk host_never_unsticks: channel " + std::to_string(child_relid) +
              " is not looked at again after its open");
    return;
  }
  unstick_at_ns_[child_relid] = work.hv.now_ns() + unstick_delay_ns_;
}

// The guest may have dropped the channel's interrupt (it came before the
// guest saw OPENCHANNEL_RESULT): unread packets in the host -> guest ring
// then wait for an interrupt that will not come unless the host sends one.
// An empty ring needs none. A channel closed, or opened again, since has
// nothing to unstick or a time of its own.
void VmbusServer::unstick_due(const partition::Work& work) {
  for (auto it = unstick_at_ns_.begin(); it != unstick_at_ns_.end();) {
    if (it->second > work.hv.now_ns()) {
      ++it;
      continue;
    }
    const std::uint32_t relid = it->first;
    it = unstick_at_ns_.erase(it);
    const ControlPlane::Channel* channel = control_->channel(relid);
    VspChannel* vsp = vsps_->find_channel(relid);
    if (channel == nullptr || channel->state != ControlPlane::Channel::State::kOpen ||
        vsp == nullptr || !vsp->attached()) {
      continue;
    }
    const ring::RingView view(*vsp->rings.inbound);
    // Both indices are shared words (the guest moves read_index): read
    // once each; a bad value costs at most one interrupt.
    ring::RingControlPage& control = view.control();
    const bool unread =
        std::atomic_ref<std::uint32_t>(control.read_index).load(std::memory_order_acquire) !=
        std::atomic_ref<std::uint32_t>(control.write_index).load(std::memory_order_acquire);
    work.hv.trace(partition::trace_ring(
        work.context, relid, partition::ring_trace_name(proto::HOST_TO_GUEST_RING),
        unread ? "signal" : "no_signal", view, 0, 0,
        unread ? "unstick: unread packets a while after the open" : "unstick: the ring is empty"));
    if (unread) {
      work.hv.signal_event(0, relid);
    }
  }
}

void VmbusServer::deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                                  Hypervisor& hv) {
  vsps_->set_now(hv.now_ns());
  slot_.deliver(sint, hv_message, hv);
}

void VmbusServer::deliver_event(std::span<const std::uint32_t> /*child_relids*/,
                                std::span<const std::uint32_t> connection_ids, std::uint32_t /*vp*/,
                                Hypervisor& hv) {
  const partition::Work work{hv, ""};
  vsps_->set_now(hv.now_ns());
  for (std::uint32_t id : connection_ids) {
    const std::optional<std::uint32_t> relid = control_->relid_of_connection_id(id);
    if (!relid || !control_->has_rings(*relid)) {
      work.note("ignored a signal on connection id " + std::to_string(id) + ": no open channel");
      continue;
    }
    vsps_->on_guest_signal(*relid);
  }
}

std::string VmbusServer::perform(const proto::PartitionAction& action, Hypervisor& hv) {
  const partition::Work work{hv, "action"};
  vsps_->set_now(hv.now_ns());
  std::string error;
  {
    // An in-line send may signal the guest.
    std::deque<partition::SignalScope> scopes;
    for (const auto& endpoint : vsps_->endpoints()) {
      scopes.emplace_back(*endpoint, hv);
    }
    error = perform_action(action, *control_, *vsps_, work);
  }
  sync_vsps(work);
  return error;
}

proto::FinalReport VmbusServer::final_report() {
  proto::FinalReport report;
  *report.mutable_host() = host_report(*control_, *vsps_, ready_contexts().empty());
  return report;
}

}  // namespace vmbus::host
