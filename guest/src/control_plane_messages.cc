// The guest control plane's handling of host messages: each on_* handler
// checks the message against the client's state, then acts on it.
#include <algorithm>

#include "vmbus/base/check.h"
#include "vmbus/guest/control_plane.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/wire/gpadl.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest {
namespace {

// Relids a host may offer (Linux MAX_CHANNEL_RELIDS).
constexpr std::uint32_t kMaxRelid = 2047;

}  // namespace

void ControlPlane::ignore(const wire::HvMessage& slot, const std::string& reason,
                          const partition::Work& work) {
  ++ignored_messages_;
  work.hv.trace(partition::trace_message_handled(work.context, proto::MessageEvent::STAGE_IGNORED,
                                                 slot, reason));
}

void ControlPlane::ignore_unplaced(const wire::HvMessage& slot, const std::string& reason,
                                   const partition::Work& work) {
  ignore(slot, reason, work);
  if (quirks_.has(base::Quirk::kGuestStopsAtUnknownMessage)) {
    messages_stopped_ = true;
    work.note("message handling stops (quirk guest_stops_at_unknown_message)");
  }
}

void ControlPlane::handle_message(const wire::HvMessage& slot, const partition::Work& work) {
  if (messages_stopped_) {
    ignore(slot, "message handling stopped at an earlier message", work);
    return;
  }
  const wire::ParseResult parsed = wire::parse_hv_message(slot, wire::Receiver::kGuest);
  if (!parsed.ok()) {
    ignore_unplaced(slot, wire::to_string(parsed.error()), work);
    return;
  }
  if (const std::string problem = dispatch(parsed.value(), work); !problem.empty()) {
    ignore_unplaced(slot, problem, work);
    return;
  }
  work.hv.trace(
      partition::trace_message_handled(work.context, proto::MessageEvent::STAGE_HANDLED, slot, ""));
}

std::string ControlPlane::dispatch(const wire::Message& message, const partition::Work& work) {
  return std::visit(
      [&](const auto& m) -> std::string {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::VersionResponse>) {
          return on_version_response(m, work);
        } else if constexpr (std::is_same_v<T, wire::OfferChannel>) {
          return on_offer(m, work);
        } else if constexpr (std::is_same_v<T, wire::AllOffersDelivered>) {
          return on_all_offers_delivered(work);
        } else if constexpr (std::is_same_v<T, wire::GpadlCreated>) {
          return on_gpadl_created(m, work);
        } else if constexpr (std::is_same_v<T, wire::OpenChannelResult>) {
          return on_open_result(m, work);
        } else if constexpr (std::is_same_v<T, wire::GpadlTorndown>) {
          return on_gpadl_torndown(m, work);
        } else if constexpr (std::is_same_v<T, wire::RescindChannelOffer>) {
          return on_rescind(m, work);
        } else if constexpr (std::is_same_v<T, wire::ModifyChannelResponse>) {
          return on_modify_response(m, work);
        } else if constexpr (std::is_same_v<T, wire::UnloadResponse>) {
          return on_unload_response(work);
        } else {
          return std::string(wire::message_info(T::kType).name) + " is not handled by the guest";
        }
      },
      message);
}

std::string ControlPlane::on_version_response(const wire::VersionResponse& m,
                                              const partition::Work& work) {
  if (phase_ != Phase::kAwaitVersion) {
    return "VERSION_RESPONSE with no INITIATE_CONTACT outstanding";
  }
  const std::uint32_t version = versions_[version_index_];
  if (m.version_supported == 0) {
    work.note("host refused " + wire::version_text(version));
    ++version_index_;
    phase_ = Phase::kConnect;
    return "";
  }
  version_ = version;
  if (wire::uses_message_connection_id_4(version)) {
    message_connection_id_ = m.msg_conn_id;
  }
  phase_ = Phase::kRequestOffers;
  work.note("connected at " + wire::version_text(version) + ", messages on connection id " +
            std::to_string(message_connection_id_));
  return "";
}

std::string ControlPlane::on_offer(const wire::OfferChannel& m, const partition::Work& work) {
  if (offers_ignored_) {
    return "OFFERCHANNEL while the bus is suspended: dropped";
  }
  if (phase_ == Phase::kConnect || phase_ == Phase::kAwaitVersion) {
    return "OFFERCHANNEL before the connection is up";
  }
  if (m.child_relid == 0 || m.child_relid > kMaxRelid) {
    return "OFFERCHANNEL with relid " + std::to_string(m.child_relid) + " out of range";
  }
  if (resuming_ && take_reoffer(m, work)) {
    return "";
  }
  // A relid names one channel until the guest releases it (Linux refuses
  // such an offer since "Do not allow overwriting
  // vmbus_connection.channels[]").
  const bool overwrite = quirks_.has(base::Quirk::kGuestOverwritesChannelOnDuplicateOffer);
  if (channels_.count(m.child_relid) != 0 && !overwrite) {
    return "OFFERCHANNEL for relid " + std::to_string(m.child_relid) + ", which is already offered";
  }
  constexpr std::uint16_t kConfidential =
      wire::kChannelFlagConfidentialRingBuffer | wire::kChannelFlagConfidentialExternalMemory;
  if ((m.chn_flags & kConfidential) != 0) {
    // This guest's VMBus is not confidential: it has no encrypted memory to
    // give such a channel (Linux with VMBus 6.0 refuses the offer too).
    return "OFFERCHANNEL for relid " + std::to_string(m.child_relid) +
           " asks for confidential (encrypted) ring or external memory, chn_flags bit(s) " +
           std::to_string(m.chn_flags & kConfidential) + "; this guest's VMBus is not confidential";
  }
  Channel channel;
  channel.child_relid = m.child_relid;
  channel.connection_id = m.connection_id;
  channel.if_type = m.if_type;
  channel.if_instance = m.if_instance;
  if (std::string problem = attach_subchannel(m, channel); !problem.empty()) {
    return problem;
  }
  std::string detail =
      "interface " + m.if_type.to_string() + ", connection id " + std::to_string(m.connection_id);
  if (channel.primary_relid != 0) {
    detail += ", subchannel " + std::to_string(channel.sub_channel_index) + " of channel " +
              std::to_string(channel.primary_relid);
  }
  if (const auto it = channels_.find(m.child_relid); it != channels_.end()) {
    // The quirk: the new record takes the old one's place; what the old one
    // held (its GPADL, its ring pages) nobody will free.
    work.note("quirk guest_overwrites_channel_on_duplicate_offer: the record of relid " +
              std::to_string(m.child_relid) + " is replaced");
    it->second = std::move(channel);
  } else {
    channels_.emplace(m.child_relid, std::move(channel));
  }
  work.hv.trace(partition::trace_channel(work.context, m.child_relid, "offered", detail));
  if (phase_ == Phase::kAwaitOffers && quirks_.has(base::Quirk::kGuestOpensBeforeAllOffers)) {
    // The quirk: the first offer is taken for the end of the boot-time ones.
    phase_ = Phase::kOpenChannels;
    work.note(
        "bringing channels up before ALLOFFERS_DELIVERED (quirk "
        "guest_opens_before_all_offers)");
  }
  return "";
}

// Linux's vmbus_process_offer() finds a subchannel's primary by the
// offer's interface and instance GUIDs and adds the subchannel to the
// primary's list; the driver opens it from its subchannel callback.
std::string ControlPlane::attach_subchannel(const wire::OfferChannel& m, Channel& channel) {
  if (m.sub_channel_index == 0) {
    return "";
  }
  const auto primary = std::find_if(channels_.begin(), channels_.end(), [&m](const auto& entry) {
    const Channel& c = entry.second;
    return c.primary_relid == 0 && c.state != ChannelState::kRescinded && c.if_type == m.if_type &&
           c.if_instance == m.if_instance;
  });
  if (primary == channels_.end()) {
    return "OFFERCHANNEL of subchannel " + std::to_string(m.sub_channel_index) + " (relid " +
           std::to_string(m.child_relid) + ") with no primary channel of its device offered";
  }
  for (std::uint32_t relid : subchannels_of(primary->first)) {
    if (channels_.at(relid).sub_channel_index == m.sub_channel_index &&
        channels_.at(relid).state != ChannelState::kRescinded) {
      return "OFFERCHANNEL of subchannel " + std::to_string(m.sub_channel_index) + " of channel " +
             std::to_string(primary->first) + ", which is already offered";
    }
  }
  channel.primary_relid = primary->first;
  channel.sub_channel_index = m.sub_channel_index;
  channel.offered_during_probe = primary->second.opens == 0;
  return "";
}

std::string ControlPlane::on_all_offers_delivered(const partition::Work& work) {
  if (phase_ != Phase::kAwaitOffers) {
    return "ALLOFFERS_DELIVERED with no REQUESTOFFERS outstanding";
  }
  if (resuming_) {
    await_kept_offers(work);
    return "";
  }
  phase_ = Phase::kOpenChannels;
  return "";
}

std::string ControlPlane::on_gpadl_created(const wire::GpadlCreated& m,
                                           const partition::Work& work) {
  Channel* channel = find_channel(m.child_relid);
  if (channel != nullptr && channel->gpadl_answer_due && channel->gpadl == m.gpadl) {
    // The answer a rescind left due: nothing names the relid any more.
    channel->gpadl_answer_due = false;
    free_rings(*channel, partition::DetachReason::kRescinded, work);
    release_relid(*channel, work);
    return "";
  }
  if (channel == nullptr || channel->state != ChannelState::kAwaitGpadl ||
      channel->gpadl != m.gpadl) {
    return "GPADL_CREATED for relid " + std::to_string(m.child_relid) + " gpadl " +
           std::to_string(m.gpadl) + ", which nobody asked for";
  }
  if (m.creation_status != 0) {
    channel->state = ChannelState::kFailed;
    free_rings(*channel, partition::DetachReason::kClosed, work);
    work.hv.trace(
        partition::trace_channel(work.context, m.child_relid, "failed", "host refused the GPADL"));
    return "";
  }
  channel->state = ChannelState::kOpenSending;
  return "";
}

std::string ControlPlane::on_open_result(const wire::OpenChannelResult& m,
                                         const partition::Work& work) {
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != ChannelState::kAwaitOpen ||
      m.openid != m.child_relid) {
    return "OPENCHANNEL_RESULT for relid " + std::to_string(m.child_relid) +
           ", which nobody asked for";
  }
  if (m.status != 0 && quirks_.has(base::Quirk::kGuestOpenErrorPathKeepsGpadl)) {
    // The quirk: an error path that only marks the channel failed.
    channel->state = ChannelState::kFailed;
    port_.detach_rings(m.child_relid, partition::DetachReason::kClosed, work);
    work.hv.trace(partition::trace_channel(
        work.context, m.child_relid, "failed",
        "quirk guest_open_error_path_keeps_gpadl: host refused OPENCHANNEL with status " +
            std::to_string(m.status) + "; gpadl " + std::to_string(channel->gpadl) + " kept"));
    return "";
  }
  if (m.status != 0) {
    // The error path undoes what the open did: the GPADL is torn down and
    // only then are its pages freed (on_gpadl_torndown); no CLOSECHANNEL,
    // the channel never opened. Leaving either behind leaks them for as
    // long as the guest runs (Linux's __vmbus_open() error path).
    channel->state = ChannelState::kCloseSending;
    channel->open_failed = true;
    port_.detach_rings(m.child_relid, partition::DetachReason::kClosed, work);
    work.hv.trace(partition::trace_channel(work.context, m.child_relid, "failed",
                                           "host refused OPENCHANNEL with status " +
                                               std::to_string(m.status) + ": tearing gpadl " +
                                               std::to_string(channel->gpadl) + " down"));
    return "";
  }
  // Open on the wire even if the endpoint refuses: it then wants it closed.
  channel->state = ChannelState::kOpen;
  if (port_.start_endpoint(m.child_relid, channel->connection_id, channel->opens + 1, work)) {
    ++channel->opens;
  }
  if (quirks_.has(base::Quirk::kGuestOpensSubchannelTwice) && channel->offered_during_probe) {
    // The quirk: the probe's scan of the primary's subchannels opens this
    // one again, although the offer path already did (storvsc before
    // "Fix a race in sub-channel creation that can cause panic").
    channel->offered_during_probe = false;
    open_again(*channel, work);
  }
  return "";
}

void ControlPlane::open_again(const Channel& channel, const partition::Work& work) {
  const std::uint32_t total = 2 * channel.ring_pages;
  const std::optional<std::uint64_t> first = pages_.allocate(total);
  if (!first) {
    return;
  }
  StrayOpen stray{channel.child_relid, next_gpadl_++, *first, total};
  std::vector<std::uint64_t> pfns(total);
  for (std::uint32_t i = 0; i < total; ++i) {
    pfns[i] = stray.first_page + i;
  }
  for (const auto& payload : wire::split_gpadl(channel.child_relid, stray.gpadl, pfns)) {
    post_raw(payload, work);
  }
  wire::OpenChannel open;
  open.child_relid = channel.child_relid;
  open.openid = channel.child_relid;
  open.ringbuffer_gpadlhandle = stray.gpadl;
  open.downstream_ringbuffer_pageoffset = channel.ring_pages;
  post(open, work);
  work.hv.trace(partition::trace_channel(work.context, channel.child_relid, "opening",
                                         "again, from the probe: gpadl " +
                                             std::to_string(stray.gpadl) + " over " +
                                             std::to_string(total) + " pages"));
  stray_opens_.push_back(stray);
}

std::string ControlPlane::on_gpadl_torndown(const wire::GpadlTorndown& m,
                                            const partition::Work& work) {
  for (auto& [relid, channel] : channels_) {
    if (channel.state == ChannelState::kAwaitTorndown && channel.gpadl == m.gpadl) {
      free_rings(channel, partition::DetachReason::kClosed, work);
      if (channel.open_failed) {
        // The host refused the open: the channel stays failed (not retried).
        channel.state = ChannelState::kFailed;
        work.note("gpadl " + std::to_string(m.gpadl) + " of refused channel " +
                  std::to_string(relid) + " torn down; its ring pages are free");
        return "";
      }
      channel.state = ChannelState::kOffered;
      work.hv.trace(partition::trace_channel(work.context, relid, "closed", ""));
      return "";
    }
  }
  return "GPADL_TORNDOWN for gpadl " + std::to_string(m.gpadl) + ", which nobody asked for";
}

std::string ControlPlane::on_rescind(const wire::RescindChannelOffer& m,
                                     const partition::Work& work) {
  if (offers_ignored_) {
    return on_rescind_while_suspended(m, work);
  }
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr) {
    return "RESCIND_CHANNELOFFER for unknown relid " + std::to_string(m.child_relid);
  }
  if (channel->state == ChannelState::kRescinded) {
    if (quirks_.has(base::Quirk::kGuestHandlesDuplicateRescind)) {
      return tear_down_again(*channel, work);
    }
    return "second RESCIND_CHANNELOFFER for relid " + std::to_string(m.child_relid);
  }
  if (channel->primary_relid == 0) {
    for (std::uint32_t relid : subchannels_of(m.child_relid)) {
      if (channels_.at(relid).state != ChannelState::kRescinded) {
        rescind_order_problems_.push_back(
            "the host rescinded channel " + std::to_string(m.child_relid) +
            " while its subchannel " + std::to_string(channels_.at(relid).sub_channel_index) +
            " (relid " + std::to_string(relid) + ") was still offered");
      }
    }
  }
  if (channel->state == ChannelState::kAwaitOpen &&
      quirks_.has(base::Quirk::kGuestIgnoresRescindWhileOpening)) {
    // The quirk: only the OPENCHANNEL_RESULT could end the open's wait, and
    // a host that rescinds a just-offered channel need not send one.
    work.note("quirk guest_ignores_rescind_while_opening: relid " + std::to_string(m.child_relid) +
              " keeps waiting for its OPENCHANNEL_RESULT");
    return "";
  }
  channel->open_when_rescinded = channel->state == ChannelState::kOpen;
  // A GPADL the host has not answered yet is answered after the rescind too,
  // and the answer names the relid: the relid (and the pages the GPADL
  // describes) are kept until it came (on_gpadl_created), as OpenVMM's
  // vmbus_client does since "fix handling of revoked channels with active
  // requests". Unlike an OPENCHANNEL, which a host answers only while the
  // channel is offered.
  channel->gpadl_answer_due = channel->state == ChannelState::kAwaitGpadl &&
                              !quirks_.has(base::Quirk::kGuestReleasesRelidWithGpadlPending);
  // An endpoint still using the rings (a KMCL device closing on its passive
  // worker) frees them when it is done, and only then is the relid released
  // (release_rings); otherwise both happen now.
  const bool rings_in_use = port_.rescind_endpoint(m.child_relid, work);
  const bool release_now = !rings_in_use && !channel->gpadl_answer_due;
  if (release_now) {
    free_rings(*channel, partition::DetachReason::kRescinded, work);
  }
  channel->state = ChannelState::kRescinded;
  ++rescinds_seen_;
  work.hv.trace(partition::trace_channel(
      work.context, m.child_relid, "rescinded",
      channel->gpadl_answer_due
          ? "the relid is kept until GPADL_CREATED for gpadl " + std::to_string(channel->gpadl)
          : ""));
  if (release_now) {
    release_relid(*channel, work);
  } else if (rings_in_use && quirks_.has(base::Quirk::kGuestReleasesRelidBeforeClose)) {
    release_before_close(*channel, work);
  }
  return "";
}

// The quirk guest_handles_duplicate_rescind: the copy finds the channel by
// its relid again and tears it down a second time -- in Linux a second
// put of a freed channel; here a second RELID_RELEASED for a relid the
// host may already have let go of (or offered to another device).
std::string ControlPlane::tear_down_again(const Channel& channel, const partition::Work& work) {
  work.note("quirk guest_handles_duplicate_rescind: relid " + std::to_string(channel.child_relid) +
            " torn down a second time");
  wire::RelidReleased released;
  released.child_relid = channel.child_relid;
  if (!post(released, work)) {
    work.note("RELID_RELEASED not posted");
  }
  return "";
}

std::string ControlPlane::on_modify_response(const wire::ModifyChannelResponse& m,
                                             const partition::Work& work) {
  if (retargets_.count(m.child_relid) != 0) {
    return on_retarget_response(m, work);
  }
  if (!ping_outstanding_ || m.child_relid != ping_relid_) {
    return "MODIFYCHANNEL_RESPONSE with no MODIFYCHANNEL outstanding";
  }
  if (m.status != 0) {
    return "MODIFYCHANNEL refused with status " + std::to_string(m.status);
  }
  ping_outstanding_ = false;
  ++pings_done_;
  port_.on_round_trip(work);
  return "";
}

// Linux's target_cpu_store() changes the channel's target CPU only once the
// host accepted (5.3); the host's retarget itself may still be in flight,
// so an interrupt can yet come in on the old VP -- the ISR handles that.
std::string ControlPlane::on_retarget_response(const wire::ModifyChannelResponse& m,
                                               const partition::Work& work) {
  const std::uint32_t target_vp = retargets_.at(m.child_relid);
  retargets_.erase(m.child_relid);
  Channel* channel = find_channel(m.child_relid);
  if (m.status != 0) {
    work.note("MODIFYCHANNEL of channel " + std::to_string(m.child_relid) + " to vp " +
              std::to_string(target_vp) + " refused with status " + std::to_string(m.status));
    return "";
  }
  if (channel == nullptr || channel->state != ChannelState::kOpen) {
    return "MODIFYCHANNEL_RESPONSE for relid " + std::to_string(m.child_relid) +
           ", which is no longer open";
  }
  take_target(*channel, target_vp, work);
  return "";
}

std::string ControlPlane::on_unload_response(const partition::Work& work) {
  if (phase_ != Phase::kAwaitUnload) {
    return "UNLOAD_RESPONSE with no UNLOAD outstanding";
  }
  if (quirks_.has(base::Quirk::kGuestUnloadMissesResponse)) {
    // The quirk: the unload wait looks where the response is not (Linux
    // scanned the online CPUs' message pages; the answer was on CPU 0's).
    return "UNLOAD_RESPONSE not seen by the unload wait (quirk guest_unload_misses_response)";
  }
  if (hibernating_) {
    finish_suspend(work);
    return "";
  }
  phase_ = Phase::kDone;
  work.note("unloaded");
  port_.on_unloaded(work);
  return "";
}

}  // namespace vmbus::guest
