// The guest control plane's phases and channel bring-up (the handlers of
// host messages are in control_plane_messages.cc).
#include "vmbus/guest/control_plane.h"

#include <algorithm>

#include "vmbus/base/check.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/ring/layout.h"
#include "vmbus/wire/gpadl.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest {

ControlPlane::ControlPlane(const proto::GuestConfig& config, PageAllocator& pages,
                           ControlPlanePort& port)
    : config_(config), pages_(pages), port_(port) {
  const std::uint32_t max_version =
      config_.max_version() == 0 ? wire::kVersionWin10V5_3 : config_.max_version();
  for (std::uint32_t version : wire::kGuestVersionTryOrder) {
    if (version <= max_version) {
      versions_.push_back(version);
    }
  }
}

const ControlPlane::Channel* ControlPlane::channel(std::uint32_t child_relid) const {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

ControlPlane::Channel* ControlPlane::find_channel(std::uint32_t child_relid) {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

bool ControlPlane::is_open(std::uint32_t child_relid) const {
  const Channel* found = channel(child_relid);
  return found != nullptr && found->state == ChannelState::kOpen;
}

bool ControlPlane::round_trips_done() const {
  return pings_done_ >= config_.message_pings() && probes_done_ == config_.hypercall_probes();
}

// --- posting ---------------------------------------------------------------------

bool ControlPlane::post_raw(std::span<const std::byte> payload, const partition::Work& work) {
  const std::uint32_t status = work.hv.post_message(message_connection_id_, payload);
  if (status == wire::kHvStatusSuccess) {
    return true;
  }
  work.note("post refused with HV status " + std::to_string(status));
  return false;
}

bool ControlPlane::post(const wire::Message& message, const partition::Work& work) {
  return post_raw(wire::encode_message(message), work);
}

// --- phases ------------------------------------------------------------------------

bool ControlPlane::ready() const {
  switch (phase_) {
    case Phase::kConnect:
    case Phase::kRequestOffers:
    case Phase::kUnload:
      return true;
    case Phase::kOpenChannels:
      // Either a channel needs an action, or every channel is settled and
      // the workload can start.
      return !awaiting_host();
    case Phase::kWorkload:
      return (pings_done_ < config_.message_pings() && !ping_outstanding_) ||
             probes_done_ < config_.hypercall_probes() || channel_needs_control();
    case Phase::kSuspending:
      return !awaiting_host() && (closing_for_suspend() || quiet_for_suspend());
    default:
      return false;
  }
}

void ControlPlane::step(const partition::Work& work) {
  switch (phase_) {
    case Phase::kConnect:
      connect(work);
      return;
    case Phase::kRequestOffers:
      request_offers(work);
      return;
    case Phase::kOpenChannels:
      open_channels(work);
      return;
    case Phase::kWorkload:
      workload(work);
      return;
    case Phase::kUnload:
      if (post(wire::Unload{}, work)) {
        phase_ = Phase::kAwaitUnload;
      }
      return;
    case Phase::kSuspending:
      suspend_step(work);
      return;
    default:
      VMBUS_CHECK(false, "control stepped while not ready");
  }
}

void ControlPlane::connect(const partition::Work& work) {
  if (version_index_ >= versions_.size()) {
    port_.fail("the host accepted none of the protocol versions", work);
    return;
  }
  const std::uint32_t version = versions_[version_index_];
  wire::InitiateContact contact;
  contact.vmbus_version_requested = version;
  if (wire::uses_message_connection_id_4(version)) {
    message_connection_id_ = wire::kVmbusMessageConnectionId4;
    contact.set_msg_target(static_cast<std::uint8_t>(wire::kVmbusMessageSint), 0);
  } else {
    message_connection_id_ = wire::kVmbusMessageConnectionId;
    contact.interrupt_page = 1ull * ring::kHvPageSizeBytes;  // page 1 of guest memory
  }
  contact.monitor_page1 = 2ull * ring::kHvPageSizeBytes;
  contact.monitor_page2 = 3ull * ring::kHvPageSizeBytes;
  const std::uint32_t status =
      work.hv.post_message(message_connection_id_, wire::encode_message(contact));
  if (status == wire::kHvStatusInvalidConnectionId) {
    // A host older than 5.0 has no connection id 4: try the next version
    // (Linux turns this into -EINVAL and moves on).
    work.note("no connection id " + std::to_string(message_connection_id_) + " for " +
              wire::version_text(version) + ": trying an older version");
    ++version_index_;
  } else if (status == wire::kHvStatusSuccess) {
    phase_ = Phase::kAwaitVersion;
  }
}

void ControlPlane::request_offers(const partition::Work& work) {
  if (post(wire::RequestOffers{}, work)) {
    phase_ = Phase::kAwaitOffers;
  }
}

void ControlPlane::open_channels(const partition::Work& work) {
  if (Channel* channel = channel_needing_control(); channel != nullptr) {
    channel_step(*channel, work);
    return;
  }
  settle(work);
}

void ControlPlane::settle(const partition::Work& work) {
  phase_ = Phase::kWorkload;
  work.note("channels settled; workload starts");
  if (config_.message_pings() != 0) {
    const auto open = std::find_if(channels_.begin(), channels_.end(), [](const auto& e) {
      return e.second.state == ChannelState::kOpen;
    });
    if (open == channels_.end() || version_ < wire::kVersionWin10V5_3) {
      port_.fail("message pings need an open channel and protocol 5.3", work);
      return;
    }
    ping_relid_ = open->first;
  }
  port_.on_channels_settled(work);
}

void ControlPlane::workload(const partition::Work& work) {
  if (Channel* channel = channel_needing_control(); channel != nullptr) {
    channel_step(*channel, work);  // a KMCL driver enabled or disabled its channel
    return;
  }
  if (probes_done_ < config_.hypercall_probes()) {
    probe(work);
    return;
  }
  wire::ModifyChannel modify;
  modify.child_relid = ping_relid_;
  modify.target_vp = 0;
  if (post(modify, work)) {
    ping_outstanding_ = true;
  }
}

void ControlPlane::probe(const partition::Work& work) {
  // No port listens on this id: the hypervisor answers by itself.
  constexpr std::uint32_t kNoPortConnectionId = 0x7F;
  const std::uint32_t status =
      work.hv.post_message(kNoPortConnectionId, wire::encode_message(wire::RequestOffers{}));
  if (status != wire::kHvStatusInvalidConnectionId) {
    port_.fail("a hypercall probe got HV status " + std::to_string(status), work);
    return;
  }
  ++probes_done_;
  port_.on_round_trip(work);
}

std::string ControlPlane::retarget(std::uint32_t child_relid, std::uint32_t target_vp,
                                   const partition::Work& work) {
  Channel* channel = find_channel(child_relid);
  if (channel == nullptr || channel->state != ChannelState::kOpen) {
    return "channel " + std::to_string(child_relid) + " is not open";
  }
  if (target_vp >= vp_count()) {
    return "target_vp " + std::to_string(target_vp) + " is not one of the guest's " +
           std::to_string(vp_count()) + " VP(s)";
  }
  if (version_ < wire::kVersionWin10V4_1) {
    return "MODIFYCHANNEL needs protocol 4.1 or later (connected at " +
           wire::version_text(version_) + ")";
  }
  if (retargets_.count(child_relid) != 0 || (ping_outstanding_ && ping_relid_ == child_relid)) {
    return "a MODIFYCHANNEL of channel " + std::to_string(child_relid) + " is still unanswered";
  }
  wire::ModifyChannel modify;
  modify.child_relid = child_relid;
  modify.target_vp = target_vp;
  if (!post(modify, work)) {
    return "MODIFYCHANNEL not posted";
  }
  if (version_ >= wire::kVersionWin10V5_3) {
    retargets_[child_relid] = target_vp;  // taken when the host accepts it
  } else {
    take_target(*channel, target_vp, work);  // no answer comes before 5.3
  }
  return "";
}

void ControlPlane::take_target(Channel& channel, std::uint32_t target_vp,
                               const partition::Work& work) {
  work.hv.trace(partition::trace_channel(work.context, channel.child_relid, "retargeted",
                                         "interrupts expected at vp " + std::to_string(target_vp) +
                                             " (were vp " + std::to_string(channel.target_vp) +
                                             ")"));
  channel.target_vp = target_vp;
}

void ControlPlane::begin_unload() {
  if (phase_ != Phase::kDone) {
    phase_ = Phase::kUnload;
  }
}

// --- channels ----------------------------------------------------------------------

std::vector<std::uint32_t> ControlPlane::channels_to_open() const {
  std::vector<std::uint32_t> relids;
  if (config_.open_relids().empty()) {
    for (const auto& [relid, channel] : channels_) {
      relids.push_back(relid);
    }
  } else {
    for (std::uint32_t relid : config_.open_relids()) {
      if (channels_.count(relid) != 0) {
        relids.push_back(relid);
      }
    }
  }
  return relids;
}

bool ControlPlane::awaiting_host() const {
  return std::any_of(channels_.begin(), channels_.end(), [](const auto& entry) {
    const ChannelState s = entry.second.state;
    return s == ChannelState::kAwaitGpadl || s == ChannelState::kAwaitOpen ||
           s == ChannelState::kAwaitTorndown;
  });
}

bool ControlPlane::wants_control(const Channel& channel) const {
  switch (channel.state) {
    case ChannelState::kGpadlSending:
    case ChannelState::kOpenSending:
    case ChannelState::kCloseSending:
      return true;
    case ChannelState::kOffered:
      return primary_open(channel) && port_.wants_open(channel.child_relid, channel.opens);
    case ChannelState::kOpen:
      return !subchannels_busy(channel) && port_.wants_close(channel.child_relid, channel.opens);
    default:
      return false;
  }
}

// The first channel, in relid order, that still needs an action from us,
// unless the host owes us an answer.
ControlPlane::Channel* ControlPlane::channel_needing_control() {
  if (awaiting_host()) {
    return nullptr;
  }
  for (std::uint32_t relid : channels_to_open()) {
    Channel& channel = channels_.at(relid);
    if (wants_control(channel)) {
      return &channel;
    }
  }
  return nullptr;
}

bool ControlPlane::channel_needs_control() const {
  if (awaiting_host()) {
    return false;
  }
  const std::vector<std::uint32_t> relids = channels_to_open();
  return std::any_of(relids.begin(), relids.end(),
                     [this](std::uint32_t relid) { return wants_control(channels_.at(relid)); });
}

std::vector<std::uint32_t> ControlPlane::subchannels_of(std::uint32_t primary_relid) const {
  std::vector<std::uint32_t> relids;
  for (const auto& [relid, channel] : channels_) {
    if (channel.primary_relid == primary_relid && primary_relid != 0) {
      relids.push_back(relid);
    }
  }
  return relids;
}

// A subchannel is opened for its primary's driver, which has the primary
// open by then (storvsc and netvsc ask for subchannels over the primary).
bool ControlPlane::primary_open(const Channel& subchannel) const {
  return subchannel.primary_relid == 0 || is_open(subchannel.primary_relid);
}

// Linux's vmbus_close() closes a primary's subchannels before the primary.
bool ControlPlane::subchannels_busy(const Channel& primary) const {
  const std::vector<std::uint32_t> relids = subchannels_of(primary.child_relid);
  return std::any_of(relids.begin(), relids.end(), [this](std::uint32_t relid) {
    const ChannelState s = channels_.at(relid).state;
    return s != ChannelState::kOffered && s != ChannelState::kFailed &&
           s != ChannelState::kRescinded;
  });
}

std::uint32_t ControlPlane::ring_pages_for(std::uint32_t child_relid) const {
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (driver.child_relid() == child_relid && driver.ring_pages() != 0) {
      return driver.ring_pages();
    }
  }
  return config_.ring_pages();
}

std::uint32_t ControlPlane::target_vp_for(std::uint32_t child_relid) const {
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (driver.child_relid() == child_relid) {
      return driver.target_vp();
    }
  }
  return 0;
}

void ControlPlane::channel_step(Channel& channel, const partition::Work& work) {
  switch (channel.state) {
    case ChannelState::kOffered:
      start_open(channel, work);
      return;
    case ChannelState::kGpadlSending:
      post_gpadl(channel, work);
      return;
    case ChannelState::kOpenSending:
      post_open(channel, work);
      return;
    case ChannelState::kOpen:
      post_close(channel, work);
      return;
    case ChannelState::kCloseSending:
      post_teardown(channel, work);
      return;
    default:
      VMBUS_CHECK(false, "channel control step in a waiting state");
  }
}

void ControlPlane::start_open(Channel& channel, const partition::Work& work) {
  const std::uint32_t ring_pages = ring_pages_for(channel.child_relid);
  // A Disable before this open began left nothing open to close.
  port_.open_started(channel.child_relid);
  const std::uint32_t total = 2 * ring_pages;
  const std::optional<std::uint64_t> first = pages_.allocate(total);
  if (!first) {
    channel.state = ChannelState::kFailed;
    work.hv.trace(partition::trace_channel(
        work.context, channel.child_relid, "failed",
        "out of guest memory for " + std::to_string(total) + " ring pages"));
    return;
  }
  channel.first_page = *first;
  channel.pages = total;
  channel.ring_pages = ring_pages;
  channel.gpadl = next_gpadl_++;
  // Outbound (guest -> host) ring first, inbound after it: the layout the
  // OPENCHANNEL's downstream_ringbuffer_pageoffset describes.
  port_.attach_rings(channel.child_relid, {channel.first_page, ring_pages, ring_pages}, work);
  std::vector<std::uint64_t> pfns(total);
  for (std::uint32_t i = 0; i < total; ++i) {
    pfns[i] = channel.first_page + i;
  }
  channel.gpadl_messages.clear();
  for (auto& payload : wire::split_gpadl(channel.child_relid, channel.gpadl, pfns)) {
    channel.gpadl_messages.push_back(std::move(payload));
  }
  channel.state = ChannelState::kGpadlSending;
  work.hv.trace(partition::trace_channel(
      work.context, channel.child_relid, "opening",
      "gpadl " + std::to_string(channel.gpadl) + " over " + std::to_string(total) + " pages in " +
          std::to_string(channel.gpadl_messages.size()) + " message(s)"));
}

void ControlPlane::post_gpadl(Channel& channel, const partition::Work& work) {
  if (post_raw(channel.gpadl_messages.front(), work)) {
    channel.gpadl_messages.pop_front();
    if (channel.gpadl_messages.empty()) {
      channel.state = ChannelState::kAwaitGpadl;
    }
  }
}

void ControlPlane::post_open(Channel& channel, const partition::Work& work) {
  wire::OpenChannel open;
  open.child_relid = channel.child_relid;
  open.openid = channel.child_relid;
  open.ringbuffer_gpadlhandle = channel.gpadl;
  open.target_vp = target_vp_for(channel.child_relid);
  open.downstream_ringbuffer_pageoffset = channel.ring_pages;
  if (post(open, work)) {
    channel.state = ChannelState::kAwaitOpen;
    channel.target_vp = open.target_vp;
  }
}

void ControlPlane::post_close(Channel& channel, const partition::Work& work) {
  wire::CloseChannel close;
  close.child_relid = channel.child_relid;
  if (post(close, work)) {
    port_.close_posted(channel.child_relid);
    channel.state = ChannelState::kCloseSending;
    work.hv.trace(partition::trace_channel(work.context, channel.child_relid, "closing", ""));
  }
}

void ControlPlane::post_teardown(Channel& channel, const partition::Work& work) {
  wire::GpadlTeardown teardown;
  teardown.child_relid = channel.child_relid;
  teardown.gpadl = channel.gpadl;
  if (post(teardown, work)) {
    channel.state = ChannelState::kAwaitTorndown;
  }
}

void ControlPlane::free_rings(Channel& channel, partition::DetachReason reason,
                              const partition::Work& work) {
  port_.detach_rings(channel.child_relid, reason, work);
  if (channel.pages != 0) {
    pages_.free(channel.first_page, channel.pages);
    channel.pages = 0;
  }
}

void ControlPlane::release_rings(std::uint32_t child_relid, const partition::Work& work) {
  Channel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && channel->state == ChannelState::kRescinded,
              "rings released of a channel that is not rescinded");
  free_rings(*channel, partition::DetachReason::kRescinded, work);
  release_relid(*channel, work);
}

// RELID_RELEASED tells the host the guest will never touch the channel
// again: it may free the GPADL and offer the relid to another device. So it
// is posted only once the channel's close has finished and its rings are
// gone, as Linux's hv_process_channel_removal() does after vmbus_close();
// a close still running could otherwise write a completion into rings the
// host already let go of.
void ControlPlane::release_relid(Channel& channel, const partition::Work& work) {
  if (!channel.relid_released) {
    wire::RelidReleased released;
    released.child_relid = channel.child_relid;
    if (!post(released, work)) {
      work.note("RELID_RELEASED not posted");
    }
    channel.relid_released = true;
  }
  // The rescind is over for the workload only now: a guest that ends its
  // run after the rescinds it expects must not end it before this post.
  port_.on_rescinded(channel.child_relid, channel.open_when_rescinded, work);
}

// The quirk guest_releases_relid_before_close: the relid goes back as soon
// as the rescind is read, as the guest did before the fix, while the close
// may still write completions into the rings; release_relid() later posts
// nothing more.
void ControlPlane::release_before_close(Channel& channel, const partition::Work& work) {
  work.note("quirk guest_releases_relid_before_close: relid " +
            std::to_string(channel.child_relid) + " released before its close ran");
  wire::RelidReleased released;
  released.child_relid = channel.child_relid;
  if (!post(released, work)) {
    work.note("RELID_RELEASED not posted");
  }
  channel.relid_released = true;
}

}  // namespace vmbus::guest
