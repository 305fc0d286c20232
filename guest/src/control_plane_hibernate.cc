// The guest control plane's hibernation: the bus suspends (Linux's
// vmbus_bus_suspend()) and resumes (vmbus_bus_resume()).
//
// Suspend: the drivers close their channels through the usual CLOSECHANNEL
// and GPADL_TEARDOWN; once no channel is open or on its way, the bus stops
// taking offers and rescinds (Linux's ignore_any_offer_msg), keeps the
// channel records and posts UNLOAD; UNLOAD_RESPONSE leaves it suspended.
// The UNLOAD released every relid, so the kept records are out of the relid
// map: a new device offered under an old relid on resume is not mistaken
// for the old one.
//
// Resume: INITIATE_CONTACT at the version in use before, REQUESTOFFERS; an
// offer whose interface and instance GUIDs and subchannel index are a kept
// channel's is that channel again. Once ALLOFFERS_DELIVERED came and every
// kept channel was found -- or the resume timeout passed, after which the
// missing ones are reported and left out (Linux since "hibernation: do not
// hang forever in vmbus_bus_resume()") -- the drivers of the channels that
// came back open them again.
#include <algorithm>

#include "vmbus/guest/control_plane.h"
#include "vmbus/partition/partition_support.h"

namespace vmbus::guest {
namespace {

// Linux waits 10 s; a simulated run is shorter (its time limit defaults to
// 1 s).
constexpr std::uint64_t kDefaultResumeTimeoutUs = 100'000;

std::string device_text(const ControlPlane::Channel& channel) {
  std::string text =
      "interface " + channel.if_type.to_string() + ", instance " + channel.if_instance.to_string();
  if (channel.sub_channel_index != 0) {
    text += ", subchannel " + std::to_string(channel.sub_channel_index);
  }
  return text;
}

}  // namespace

std::string ControlPlane::begin_hibernate() {
  if (phase_ != Phase::kWorkload) {
    return "the guest cannot hibernate now: its VMBus is not connected with its channels settled";
  }
  if (!missing_after_resume_.empty()) {
    // Linux refuses too (-EBUSY): the state a failed resume left behind
    // would be saved again.
    return "the guest cannot hibernate again: its last resume went on with device(s) missing";
  }
  for (const auto& [relid, channel] : channels_) {
    const ChannelState s = channel.state;
    if (s != ChannelState::kOpen && s != ChannelState::kOffered && s != ChannelState::kFailed &&
        s != ChannelState::kRescinded) {
      // Its driver's suspend callback would race the open or close under way.
      return "the guest cannot hibernate now: channel " + std::to_string(relid) +
             " is opening or closing";
    }
  }
  for (auto& [relid, channel] : channels_) {
    channel.open_at_suspend = channel.state == ChannelState::kOpen;
  }
  phase_ = Phase::kSuspending;
  return "";
}

// Only closes go on while suspending; a channel no driver opened stays closed.
bool ControlPlane::closing_for_suspend() const {
  return std::any_of(channels_.begin(), channels_.end(), [this](const auto& entry) {
    return entry.second.state != ChannelState::kOffered && wants_control(entry.second);
  });
}

// Nothing open or on its way, and every rescinded relid released: the
// connection can go.
bool ControlPlane::quiet_for_suspend() const {
  return std::all_of(channels_.begin(), channels_.end(), [](const auto& entry) {
    const Channel& channel = entry.second;
    switch (channel.state) {
      case ChannelState::kOffered:
      case ChannelState::kFailed:
        return true;
      case ChannelState::kRescinded:
        return channel.relid_released && !channel.gpadl_answer_due;
      default:
        return false;
    }
  });
}

void ControlPlane::suspend_step(const partition::Work& work) {
  if (awaiting_host()) {
    return;
  }
  for (auto& [relid, channel] : channels_) {
    if (channel.state != ChannelState::kOffered && wants_control(channel)) {
      channel_step(channel, work);
      return;
    }
  }
  if (quiet_for_suspend()) {
    suspend_bus(work);
  }
}

void ControlPlane::suspend_bus(const partition::Work& work) {
  if (!post(wire::Unload{}, work)) {
    return;  // posted again on the next step
  }
  // From here on an offer or a rescind is about a connection that is going
  // away: dropped (ignore_any_offer_msg), not processed for channels that
  // are already suspended.
  offers_ignored_ = true;
  hibernating_ = true;
  for (auto& [relid, channel] : channels_) {
    if (channel.state != ChannelState::kRescinded) {
      kept_.emplace(relid, std::move(channel));
    }
  }
  channels_.clear();
  phase_ = Phase::kAwaitUnload;
  work.note("VMBus suspending: " + std::to_string(kept_.size()) +
            " channel(s) kept for resume; UNLOAD posted");
}

void ControlPlane::finish_suspend(const partition::Work& work) {
  hibernating_ = false;
  phase_ = Phase::kSuspended;
  work.note("VMBus suspended: " + std::to_string(kept_.size()) + " channel(s) kept for resume");
}

// The channel is closed and its relid went with the UNLOAD: nothing is left
// to tear down or release. What remains is not to expect the device back.
std::string ControlPlane::on_rescind_while_suspended(const wire::RescindChannelOffer& m,
                                                     const partition::Work& work) {
  const auto kept = kept_.find(m.child_relid);
  if (kept == kept_.end() || kept->second.torn_down_while_suspended) {
    return "RESCIND_CHANNELOFFER for relid " + std::to_string(m.child_relid) +
           " while the bus is suspended, and no channel of that relid is kept";
  }
  ++rescinds_seen_;
  if (quirks_.has(base::Quirk::kGuestHandlesRescindWhileSuspended)) {
    // The quirk: the rescind is processed as on a live bus -- the channel
    // torn down, its relid released to a host that is no longer connected --
    // and the channel stays counted for the resume, which waits for it.
    work.note("quirk guest_handles_rescind_while_suspended: relid " +
              std::to_string(m.child_relid) + " torn down while the bus is suspended");
    kept->second.torn_down_while_suspended = true;
    wire::RelidReleased released;
    released.child_relid = m.child_relid;
    if (!post(released, work)) {
      work.note("RELID_RELEASED not posted");
    }
    work.hv.trace(partition::trace_channel(work.context, m.child_relid, "rescinded",
                                           "while the bus is suspended"));
    return "";
  }
  work.hv.trace(partition::trace_channel(
      work.context, m.child_relid, "rescinded",
      "while the bus is suspended: not expected on resume (the UNLOAD released its relid)"));
  kept_.erase(kept);
  return "";
}

std::string ControlPlane::begin_resume() {
  if (phase_ != Phase::kSuspended) {
    return "the guest cannot resume: its VMBus is not suspended";
  }
  offers_ignored_ = false;
  resuming_ = true;
  resumed_relids_.clear();
  // vmbus_bus_resume() asks for the version in use before hibernation.
  const auto it = std::find(versions_.begin(), versions_.end(), version_);
  version_index_ = it == versions_.end() ? 0 : static_cast<std::size_t>(it - versions_.begin());
  phase_ = Phase::kConnect;
  return "";
}

// A kept channel comes back under its old relid. An offer of a kept
// channel's device under another relid is taken as a new device (the
// simulated drivers are bound to relids), and the kept one stays missing.
bool ControlPlane::take_reoffer(const wire::OfferChannel& m, const partition::Work& work) {
  const auto kept = std::find_if(kept_.begin(), kept_.end(), [&m](const auto& entry) {
    const Channel& c = entry.second;
    return c.if_type == m.if_type && c.if_instance == m.if_instance &&
           c.sub_channel_index == m.sub_channel_index;
  });
  if (kept == kept_.end() || kept->first != m.child_relid ||
      kept->second.torn_down_while_suspended || channels_.count(m.child_relid) != 0) {
    return false;
  }
  Channel channel = std::move(kept->second);
  kept_.erase(kept);
  channel.connection_id = m.connection_id;
  if (channel.open_at_suspend && channel.primary_relid == 0) {
    resumed_relids_.push_back(
        m.child_relid);  // subchannels stay closed: their driver would ask anew
  }
  channels_.emplace(m.child_relid, std::move(channel));
  work.hv.trace(partition::trace_channel(work.context, m.child_relid, "offered",
                                         "again after hibernation: interface " +
                                             m.if_type.to_string() + ", connection id " +
                                             std::to_string(m.connection_id)));
  if (phase_ == Phase::kAwaitResumeOffers && kept_.empty()) {
    finish_resume(work);
  }
  return true;
}

void ControlPlane::await_kept_offers(const partition::Work& work) {
  if (kept_.empty()) {
    finish_resume(work);
    return;
  }
  phase_ = Phase::kAwaitResumeOffers;
  const std::string waiting = std::to_string(kept_.size()) +
                              " channel(s) kept at suspend not offered again yet: waiting for them";
  if (quirks_.has(base::Quirk::kGuestWaitsForeverOnResume)) {
    work.note(waiting + " with no timeout (quirk guest_waits_forever_on_resume)");
    return;
  }
  const std::uint64_t timeout_us =
      config_.resume_timeout_us() == 0 ? kDefaultResumeTimeoutUs : config_.resume_timeout_us();
  resume_deadline_ns_ = work.hv.now_ns() + timeout_us * 1000;
  work.note(waiting + " up to " + std::to_string(timeout_us) + " us");
}

void ControlPlane::on_time(const partition::Work& work) {
  if (phase_ == Phase::kAwaitResumeOffers && resume_deadline_ns_ != 0 &&
      work.hv.now_ns() >= resume_deadline_ns_) {
    give_up_on_missing(work);
  }
}

void ControlPlane::give_up_on_missing(const partition::Work& work) {
  for (const auto& [relid, channel] : kept_) {
    const std::string text = "channel " + std::to_string(relid) + " (" + device_text(channel) +
                             ") was not offered again after hibernation";
    missing_after_resume_.push_back(text);
    work.hv.trace(partition::trace_channel(
        work.context, relid, "missing",
        device_text(channel) + ": not offered again; the resume goes on without it"));
  }
  kept_.clear();
  finish_resume(work);
}

void ControlPlane::finish_resume(const partition::Work& work) {
  resuming_ = false;
  resume_deadline_ns_ = 0;
  phase_ = Phase::kWorkload;
  work.note("VMBus resumed: " + std::to_string(resumed_relids_.size()) +
            " channel(s) to open again, " + std::to_string(missing_after_resume_.size()) +
            " missing");
  port_.on_resumed(resumed_relids_, work);
}

}  // namespace vmbus::guest
