#include "vmbus/host/control_plane.h"

#include <algorithm>
#include <set>
#include <utility>

#include "vmbus/base/check.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/versions.h"

namespace vmbus::host {
namespace {

// NTSTATUS values the server puts in GPADL_CREATED / OPENCHANNEL_RESULT.
constexpr std::uint32_t kStatusUnsuccessful = 0xC0000001;
constexpr std::uint32_t kStatusInvalidParameter = 0xC000000D;
constexpr std::uint32_t kStatusDeviceRemoved = 0xC00002B6;

// Host -> guest posts carry this id; the guest's SINT does not look at it.
constexpr std::uint32_t kToGuestConnectionId = wire::kVmbusMessageConnectionId;
// Relids the guest may name (Linux MAX_CHANNEL_RELIDS).
constexpr std::uint32_t kMaxRelid = 2047;
// Subchannels one primary may have (the scenario language's bound; Linux
// storvsc asks for at most one per VP).
constexpr std::uint32_t kMaxSubchannelIndex = 16;

bool is_known_version(std::uint32_t version) {
  return std::find(wire::kKnownVersions.begin(), wire::kKnownVersions.end(), version) !=
         wire::kKnownVersions.end();
}

}  // namespace

std::string ControlPlane::configure(const proto::HostConfig& config, std::uint64_t guest_pages) {
  guest_pages_ = guest_pages;
  max_version_ = config.max_version() == 0 ? wire::kVersionWin10V5_3 : config.max_version();
  guest_vp_count_ = std::max<std::uint32_t>(1, config.guest_vp_count());
  if (!is_known_version(max_version_)) {
    return "max_version " + wire::version_text(max_version_) + " is not a VMBus version";
  }
  for (const proto::ChannelOfferConfig& offer : config.channels()) {
    const std::uint32_t relid = offer.child_relid();
    if (relid == 0 || relid > kMaxRelid || channels_.count(relid) != 0 ||
        held_offers_.count(relid) != 0) {
      return "channel relid " + std::to_string(relid) + " is zero, above 2047 or repeated";
    }
    Channel channel;
    channel.config = offer;
    channel.connection_id =
        offer.connection_id() != 0 ? offer.connection_id() : wire::connection_id_of(relid);
    for (const std::string& guid :
         {offer.interface_guid(), offer.instance_guid(), offer.instance_guid_after_unload()}) {
      if (!guid.empty() && !wire::Guid::parse(guid).ok()) {
        return "channel " + std::to_string(relid) + ": '" + guid + "' is not a GUID";
      }
    }
    relid_by_connection_id_[channel.connection_id] = relid;
    if (offer.offer_on_request()) {
      held_offers_.emplace(relid, std::move(channel));
    } else {
      channels_.emplace(relid, std::move(channel));
    }
  }
  return check_subchannels();
}

std::string ControlPlane::check_subchannels() const {
  std::map<std::uint32_t, std::set<std::uint32_t>> indexes;  // by primary
  for (const auto* map : {&channels_, &held_offers_}) {
    for (const auto& [relid, channel] : *map) {
      const proto::ChannelOfferConfig& offer = channel.config;
      const std::string name = "channel " + std::to_string(relid);
      if (offer.primary_relid() == 0) {
        if (offer.sub_channel_index() != 0 || offer.offer_on_request()) {
          return name + ": sub_channel_index and offer_on_request need a primary_relid";
        }
        continue;
      }
      const Channel* primary = channel_or_held(offer.primary_relid());
      if (primary == nullptr || primary->config.primary_relid() != 0) {
        return name + ": primary_relid " + std::to_string(offer.primary_relid()) +
               " is not a primary channel";
      }
      if (offer.sub_channel_index() == 0 || offer.sub_channel_index() > kMaxSubchannelIndex ||
          !indexes[offer.primary_relid()].insert(offer.sub_channel_index()).second) {
        return name + ": sub_channel_index " + std::to_string(offer.sub_channel_index()) +
               " is outside 1..16 or repeated";
      }
      if (offer.interface_guid() != primary->config.interface_guid() ||
          offer.instance_guid() != primary->config.instance_guid()) {
        return name + ": a subchannel has its primary's interface and instance GUIDs";
      }
    }
  }
  return "";
}

std::vector<std::uint32_t> ControlPlane::message_connection_ids() const {
  std::vector<std::uint32_t> ids{wire::kVmbusMessageConnectionId};
  // Connection id 4 exists only on hosts that speak 5.0 or later; older
  // hosts answer a post to it with HV_STATUS_INVALID_CONNECTION_ID.
  if (max_version_ >= wire::kVersionWin10V5) {
    ids.push_back(wire::kVmbusMessageConnectionId4);
  }
  return ids;
}

void ControlPlane::post_raw(std::vector<std::byte> payload) {
  outbox_.push_raw(kToGuestConnectionId, std::move(payload));
}

void ControlPlane::post_one(const partition::Work& work) {
  const partition::Outbox::Posted posted = outbox_.post_one(work.hv);
  if (posted.hv_status != wire::kHvStatusSuccess) {
    work.note("post refused with HV status " + std::to_string(posted.hv_status));
  }
}

const ControlPlane::Channel* ControlPlane::channel_or_held(std::uint32_t child_relid) const {
  if (const Channel* found = channel(child_relid)) {
    return found;
  }
  const auto it = held_offers_.find(child_relid);
  return it == held_offers_.end() ? nullptr : &it->second;
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
  return found != nullptr && found->state == Channel::State::kOpen;
}

bool ControlPlane::has_rings(std::uint32_t child_relid) const {
  const Channel* found = channel(child_relid);
  return found != nullptr &&
         (found->state == Channel::State::kOpen || found->state == Channel::State::kOpening);
}

std::optional<std::uint32_t> ControlPlane::relid_of_connection_id(
    std::uint32_t connection_id) const {
  const auto it = relid_by_connection_id_.find(connection_id);
  return it == relid_by_connection_id_.end() ? std::nullopt : std::optional(it->second);
}

void ControlPlane::reply(const wire::Message& message) {
  outbox_.push(kToGuestConnectionId, message);
}

void ControlPlane::ignore(const std::string& reason, const partition::Work& work) {
  work.note("ignored: " + reason);
}

void ControlPlane::handle_message(const wire::HvMessage& slot, const partition::Work& work) {
  const wire::ParseResult parsed = wire::parse_hv_message(slot, wire::Receiver::kHost);
  if (!parsed.ok()) {
    work.hv.trace(partition::trace_message_handled(work.context, proto::MessageEvent::STAGE_IGNORED,
                                                   slot, wire::to_string(parsed.error())));
    return;
  }
  const wire::Message& message = parsed.value();
  const bool connected = version_ != 0;
  const bool needs_connection = !std::holds_alternative<wire::InitiateContact>(message);
  if (needs_connection && !connected) {
    work.hv.trace(partition::trace_message_handled(work.context, proto::MessageEvent::STAGE_IGNORED,
                                                   slot, "not connected yet"));
    return;
  }
  work.hv.trace(
      partition::trace_message_handled(work.context, proto::MessageEvent::STAGE_HANDLED, slot, ""));
  dispatch(message, slot, work);
}

void ControlPlane::dispatch(const wire::Message& message, const wire::HvMessage& slot,
                            const partition::Work& work) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::InitiateContact>) {
          on_initiate_contact(m, slot, work);
        } else if constexpr (std::is_same_v<T, wire::RequestOffers>) {
          on_request_offers();
        } else if constexpr (std::is_same_v<T, wire::GpadlHeaderMessage>) {
          on_gpadl_header(m, work);
        } else if constexpr (std::is_same_v<T, wire::GpadlBodyMessage>) {
          on_gpadl_body(m, work);
        } else if constexpr (std::is_same_v<T, wire::OpenChannel>) {
          on_open_channel(m, work);
        } else if constexpr (std::is_same_v<T, wire::CloseChannel>) {
          on_close_channel(m, work);
        } else if constexpr (std::is_same_v<T, wire::GpadlTeardown>) {
          on_gpadl_teardown(m, work);
        } else if constexpr (std::is_same_v<T, wire::RelidReleased>) {
          on_relid_released(m, work);
        } else if constexpr (std::is_same_v<T, wire::Unload>) {
          on_unload(work);
        } else if constexpr (std::is_same_v<T, wire::ModifyChannel>) {
          on_modify_channel(m, work);
        } else {
          ignore(std::string(wire::message_info(T::kType).name) + " is not handled by this server",
                 work);
        }
      },
      message);
}

void ControlPlane::on_initiate_contact(const wire::InitiateContact& m, const wire::HvMessage& slot,
                                       const partition::Work& work) {
  const std::uint32_t requested = m.vmbus_version_requested;
  if (unloaded_) {
    start_new_connection(work);
  }
  // An INITIATE_CONTACT resets the bus, whatever state it was in (QEMU).
  version_ = 0;
  wire::VersionResponse response;
  const bool on_id_4 = (slot.sender & wire::kConnectionIdMask) == wire::kVmbusMessageConnectionId4;
  const bool accepted = is_known_version(requested) && requested <= max_version_ &&
                        requested >= wire::kVersionWin8 &&
                        on_id_4 == wire::uses_message_connection_id_4(requested);
  if (accepted) {
    version_ = requested;
    response.version_supported = 1;
    if (wire::uses_message_connection_id_4(requested)) {
      response.msg_conn_id = wire::kVmbusMessageConnectionId4;
    }
    work.note("connected at protocol " + wire::version_text(requested));
  } else {
    work.note("refused protocol " + wire::version_text(requested));
  }
  reply(response);
}

void ControlPlane::on_request_offers() {
  for (auto& [relid, channel] : channels_) {
    // Enable = offer: a VSP whose driver has not enabled its channel (or
    // disabled it) offers nothing.
    if (channel.state == Channel::State::kRescinded || !port_.offer_wanted(relid)) {
      continue;
    }
    reply(offer_of(relid, channel));
  }
  reply(wire::AllOffersDelivered{});
}

wire::OfferChannel ControlPlane::offer_of(std::uint32_t child_relid, const Channel& channel) const {
  wire::OfferChannel offer;
  if (!channel.config.interface_guid().empty()) {
    offer.if_type = wire::Guid::parse(channel.config.interface_guid()).value();
  }
  if (!channel.config.instance_guid().empty()) {
    offer.if_instance = wire::Guid::parse(channel.config.instance_guid()).value();
  }
  // Only the flags that apply: the simulated channels are neither named
  // pipes nor hv_sock nor confidential, so none does.
  offer.chn_flags = 0;
  if (quirks_.has(base::Quirk::kHostOffersChnFlags0x4)) {
    // The quirk: the old habit, now CONFIDENTIAL_EXTERNAL_MEMORY.
    offer.chn_flags = wire::kChannelFlagConfidentialExternalMemory;
  }
  offer.sub_channel_index = static_cast<std::uint16_t>(channel.config.sub_channel_index());
  offer.child_relid = child_relid;
  offer.interrupt_flags = wire::kOfferDedicatedInterrupt;
  offer.connection_id = channel.connection_id;
  return offer;
}

std::string ControlPlane::offer_subchannels(std::uint32_t primary_relid,
                                            const partition::Work& work) {
  const Channel* primary = channel(primary_relid);
  if (version_ == 0) {
    return "the guest is not connected: no offers yet";
  }
  if (primary == nullptr || primary->state == Channel::State::kRescinded) {
    return "channel " + std::to_string(primary_relid) + " is not offered";
  }
  std::uint32_t offered = 0;
  for (auto it = held_offers_.begin(); it != held_offers_.end();) {
    if (it->second.config.primary_relid() != primary_relid || !port_.offer_wanted(it->first)) {
      ++it;
      continue;
    }
    reply(offer_of(it->first, it->second));
    channels_.insert(held_offers_.extract(it++));
    ++offered;
  }
  if (offered == 0) {
    return "channel " + std::to_string(primary_relid) + " has no subchannel waiting for a request";
  }
  work.note("offering " + std::to_string(offered) + " subchannel(s) of channel " +
            std::to_string(primary_relid));
  return "";
}

std::vector<std::uint32_t> ControlPlane::live_subchannels(std::uint32_t primary_relid) {
  for (auto it = held_offers_.begin(); it != held_offers_.end();) {
    it =
        it->second.config.primary_relid() == primary_relid ? held_offers_.erase(it) : std::next(it);
  }
  std::vector<std::uint32_t> relids;
  for (const auto& [relid, channel] : channels_) {
    if (channel.config.primary_relid() == primary_relid &&
        channel.state != Channel::State::kRescinded) {
      relids.push_back(relid);
    }
  }
  return relids;
}

bool ControlPlane::offer_again(std::uint32_t child_relid) {
  const Channel* found = channel(child_relid);
  if (found == nullptr) {
    return false;
  }
  reply(offer_of(child_relid, *found));
  return true;
}

void ControlPlane::on_gpadl_header(const wire::GpadlHeaderMessage& m, const partition::Work& work) {
  const std::uint32_t handle = m.fixed.gpadl;
  if (find_channel(m.fixed.child_relid) == nullptr) {
    ignore("GPADL_HEADER for unknown relid " + std::to_string(m.fixed.child_relid), work);
    return;
  }
  if (gpadls_.count(handle) != 0 || gpadls_in_progress_.count(handle) != 0) {
    refuse_gpadl(m.fixed.child_relid, handle, "GPADL handle already in use", work);
    return;
  }
  const auto max_pages =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(guest_pages_, wire::kGpadlMaxPages));
  auto [it, inserted] = gpadls_in_progress_.emplace(handle, wire::GpadlAssembler(max_pages));
  const auto progress = it->second.add_header(m);
  if (!progress.ok()) {
    gpadls_in_progress_.erase(it);
    refuse_gpadl(m.fixed.child_relid, handle, wire::to_string(progress.error()), work);
    return;
  }
  if (progress.value() == wire::GpadlProgress::kComplete) {
    finish_gpadl(it->second, work);
    gpadls_in_progress_.erase(it);
  }
}

void ControlPlane::on_gpadl_body(const wire::GpadlBodyMessage& m, const partition::Work& work) {
  const auto it = gpadls_in_progress_.find(m.fixed.gpadl);
  if (it == gpadls_in_progress_.end()) {
    ignore("GPADL_BODY for gpadl " + std::to_string(m.fixed.gpadl) + " with no header", work);
    return;
  }
  const auto progress = it->second.add_body(m);
  if (!progress.ok()) {
    const std::uint32_t relid = it->second.child_relid();
    gpadls_in_progress_.erase(it);
    refuse_gpadl(relid, m.fixed.gpadl, wire::to_string(progress.error()), work);
    return;
  }
  if (progress.value() == wire::GpadlProgress::kComplete) {
    finish_gpadl(it->second, work);
    gpadls_in_progress_.erase(it);
  }
}

void ControlPlane::finish_gpadl(const wire::GpadlAssembler& assembler,
                                const partition::Work& work) {
  wire::GpadlCreated created;
  created.child_relid = assembler.child_relid();
  created.gpadl = assembler.gpadl();
  const std::vector<std::uint64_t>& pfns = assembler.pfns();
  // Every page must be guest memory. The simulator maps a GPADL as one
  // contiguous range, so the pages must also be consecutive.
  std::string problem;
  for (std::size_t i = 0; i < pfns.size() && problem.empty(); ++i) {
    if (pfns[i] >= guest_pages_) {
      problem = "page " + std::to_string(pfns[i]) + " is outside guest memory (" +
                std::to_string(guest_pages_) + " pages)";
    } else if (i > 0 && pfns[i] != pfns[i - 1] + 1) {
      problem = "pages are not contiguous (unsupported by the simulator)";
    }
  }
  if (!problem.empty()) {
    refuse_gpadl(assembler.child_relid(), assembler.gpadl(), problem, work);
    return;
  }
  gpadls_[assembler.gpadl()] =
      Gpadl{assembler.child_relid(), pfns.front(), static_cast<std::uint32_t>(pfns.size()), false};
  reply(created);
}

void ControlPlane::refuse_gpadl(std::uint32_t child_relid, std::uint32_t gpadl,
                                const std::string& reason, const partition::Work& work) {
  wire::GpadlCreated created;
  created.child_relid = child_relid;
  created.gpadl = gpadl;
  created.creation_status = kStatusInvalidParameter;
  reply(created);
  ignore("GPADL " + std::to_string(gpadl) + ": " + reason, work);
}

std::string ControlPlane::open_problem(const wire::OpenChannel& m) const {
  const auto it = gpadls_.find(m.ringbuffer_gpadlhandle);
  const std::uint32_t offset = m.downstream_ringbuffer_pageoffset;
  if (it == gpadls_.end() || it->second.child_relid != m.child_relid) {
    return "gpadl " + std::to_string(m.ringbuffer_gpadlhandle) + " is not this channel's";
  }
  if (it->second.in_use) {
    return "gpadl " + std::to_string(m.ringbuffer_gpadlhandle) + " is already in use";
  }
  if (offset < 2 || offset + 2 > it->second.pages) {
    // Each ring needs its control page and at least one data page (QEMU's rule).
    return "downstream ring offset " + std::to_string(offset) + " does not split a " +
           std::to_string(it->second.pages) + "-page GPADL into two rings";
  }
  if (m.target_vp >= guest_vp_count_) {
    return "target_vp " + std::to_string(m.target_vp) + " is not one of the guest's " +
           std::to_string(guest_vp_count_) + " VP(s)";
  }
  return "";
}

void ControlPlane::on_open_channel(const wire::OpenChannel& m, const partition::Work& work) {
  wire::OpenChannelResult result;
  result.child_relid = m.child_relid;
  result.openid = m.openid;
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kOffered || channel->rings_held) {
    ignore("OPENCHANNEL for relid " + std::to_string(m.child_relid) +
               (channel == nullptr                           ? ", which was never offered"
                : channel->state != Channel::State::kOffered ? ", which is not closed"
                                                             : ", whose last close is not done"),
           work);
    if (channel == nullptr) {
      return;  // nobody to answer for
    }
    result.status = kStatusUnsuccessful;
    reply(result);
    return;
  }
  if (channel->config.rescind_on_open()) {
    result.status = kStatusDeviceRemoved;
    reply(result);
    rescind(m.child_relid, work);
    return;
  }
  if (const std::string problem = open_problem(m); !problem.empty()) {
    result.status = kStatusInvalidParameter;
    reply(result);
    ignore("OPENCHANNEL: " + problem, work);
    return;
  }
  Gpadl& gpadl = gpadls_.at(m.ringbuffer_gpadlhandle);
  const std::uint32_t offset = m.downstream_ringbuffer_pageoffset;
  gpadl.in_use = true;
  channel->gpadl = m.ringbuffer_gpadlhandle;
  port_.attach_rings(m.child_relid, {gpadl.first_pfn, offset, gpadl.pages - offset}, work);
  if (!port_.open_endpoint(m.child_relid, work)) {
    port_.detach_rings(m.child_relid, partition::DetachReason::kClosed, work);
    leave_open(*channel);
    result.status = kStatusUnsuccessful;
    reply(result);
    ignore("OPENCHANNEL for relid " + std::to_string(m.child_relid) +
               ": the VSP's KMCL channel is not enabled",
           work);
    return;
  }
  // Before the VSP can signal: a new open's port targets the VP it names.
  route_interrupts(m.child_relid, *channel, m.target_vp, work);
  // Answered when the VSP's EvtChannelOpened returned (answer_open).
  channel->state = Channel::State::kOpening;
  channel->openid = m.openid;
  channel->closed_by_guest = false;
  work.hv.trace(partition::trace_channel(work.context, m.child_relid, "opening",
                                         "gpadl " + std::to_string(channel->gpadl) + ", " +
                                             std::to_string(offset) + "+" +
                                             std::to_string(gpadl.pages - offset) + " pages"));
}

void ControlPlane::answer_open(std::uint32_t child_relid, std::uint32_t status,
                               const partition::Work& work) {
  Channel* channel = find_channel(child_relid);
  VMBUS_CHECK(
      channel != nullptr && channel->state == Channel::State::kOpening,
      "an open answered for channel " + std::to_string(child_relid) + ", which is not opening");
  wire::OpenChannelResult result;
  result.child_relid = child_relid;
  result.openid = channel->openid;
  result.status = status;
  reply(result);
  if (status != 0) {
    // EvtChannelOpened failed: the VSP rolled its channel back.
    port_.detach_rings(child_relid, partition::DetachReason::kClosed, work);
    leave_open(*channel);
    channel->state = Channel::State::kOffered;
    work.note("the VSP refused the open of channel " + std::to_string(child_relid));
    return;
  }
  channel->state = Channel::State::kOpen;
  work.hv.trace(partition::trace_channel(work.context, child_relid, "open",
                                         "gpadl " + std::to_string(channel->gpadl)));
}

void ControlPlane::leave_open(Channel& channel) {
  if (const auto it = gpadls_.find(channel.gpadl); it != gpadls_.end()) {
    it->second.in_use = false;
  }
  channel.gpadl = 0;
}

void ControlPlane::close_by_guest(std::uint32_t child_relid, Channel& channel,
                                  const partition::Work& work) {
  channel.state = Channel::State::kOffered;
  channel.closed_by_guest = true;
  work.hv.trace(partition::trace_channel(work.context, child_relid, "closed", ""));
  if (port_.close_endpoint(child_relid, work)) {
    channel.rings_held = true;  // until release_rings()
    return;
  }
  port_.detach_rings(child_relid, partition::DetachReason::kClosed, work);
  leave_open(channel);
}

void ControlPlane::on_close_channel(const wire::CloseChannel& m, const partition::Work& work) {
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kOpen) {
    ignore("CLOSECHANNEL for relid " + std::to_string(m.child_relid) + ", which is not open", work);
    return;
  }
  close_by_guest(m.child_relid, *channel, work);
}

void ControlPlane::release_rings(std::uint32_t child_relid, const partition::Work& work) {
  Channel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && channel->rings_held,
              "rings released of channel " + std::to_string(child_relid) + ", which holds none");
  channel->rings_held = false;
  port_.detach_rings(child_relid, partition::DetachReason::kClosed, work);
  leave_open(*channel);
  for (std::uint32_t handle : std::exchange(channel->deferred_teardowns, {})) {
    gpadls_.erase(handle);
    wire::GpadlTorndown torndown;
    torndown.gpadl = handle;
    reply(torndown);
  }
}

void ControlPlane::on_gpadl_teardown(const wire::GpadlTeardown& m, const partition::Work& work) {
  const auto it = gpadls_.find(m.gpadl);
  if (it == gpadls_.end() || it->second.child_relid != m.child_relid) {
    ignore("GPADL_TEARDOWN of unknown gpadl " + std::to_string(m.gpadl), work);
    return;
  }
  Channel* channel = find_channel(m.child_relid);
  if (it->second.in_use && channel != nullptr && channel->rings_held && channel->gpadl == m.gpadl) {
    // The VSP's close still reads and writes these pages.
    channel->deferred_teardowns.push_back(m.gpadl);
    return;
  }
  if (it->second.in_use) {
    ignore("GPADL_TEARDOWN of gpadl " + std::to_string(m.gpadl) + " while its channel is open",
           work);
    return;
  }
  gpadls_.erase(it);
  wire::GpadlTorndown torndown;
  torndown.gpadl = m.gpadl;
  reply(torndown);
}

void ControlPlane::rescind(std::uint32_t child_relid, const partition::Work& work) {
  Channel* channel = find_channel(child_relid);
  VMBUS_CHECK(channel != nullptr && channel->state != Channel::State::kRescinded,
              "rescind of channel " + std::to_string(child_relid) + ", which cannot be rescinded");
  if (channel->rings_held) {
    release_rings(child_relid, work);
  }
  const bool had_rings = has_rings(child_relid);
  if (channel->state == Channel::State::kOpening) {
    // Revoked before the open was answered: the guest hears it failed.
    wire::OpenChannelResult result;
    result.child_relid = child_relid;
    result.openid = channel->openid;
    result.status = kStatusDeviceRemoved;
    reply(result);
  }
  if (had_rings) {
    leave_open(*channel);
  }
  channel->state = Channel::State::kRescinded;
  wire::RescindChannelOffer rescind_message;
  rescind_message.child_relid = child_relid;
  reply(rescind_message);
  work.hv.trace(partition::trace_channel(work.context, child_relid, "rescinded", ""));
  if (had_rings) {
    port_.detach_rings(child_relid, partition::DetachReason::kRescinded, work);
  }
}

void ControlPlane::on_relid_released(const wire::RelidReleased& m, const partition::Work& work) {
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kRescinded) {
    ignore(
        "RELID_RELEASED for relid " + std::to_string(m.child_relid) + ", which was not rescinded",
        work);
    return;
  }
  // The guest is done with the relid; drop its GPADLs too.
  for (auto it = gpadls_.begin(); it != gpadls_.end();) {
    it = it->second.child_relid == m.child_relid ? gpadls_.erase(it) : std::next(it);
  }
  relid_by_connection_id_.erase(channel->connection_id);
  channels_.erase(m.child_relid);
  work.hv.trace(partition::trace_channel(work.context, m.child_relid, "released", ""));
}

// The channel's interrupts move to the VP MODIFYCHANNEL names (Linux's
// vmbus_send_modifychannel(), from protocol 4.1); from 5.3 the guest is
// told whether the host accepted.
void ControlPlane::on_modify_channel(const wire::ModifyChannel& m, const partition::Work& work) {
  const std::string problem = modify_problem(m);
  if (problem.empty()) {
    route_interrupts(m.child_relid, channels_.at(m.child_relid), m.target_vp, work);
  } else {
    ignore("MODIFYCHANNEL for relid " + std::to_string(m.child_relid) + problem, work);
  }
  if (version_ < wire::kVersionWin10V5_3) {
    return;  // before 5.3 the guest expects no answer
  }
  wire::ModifyChannelResponse response;
  response.child_relid = m.child_relid;
  response.status = problem.empty() ? 0 : kStatusInvalidParameter;
  reply(response);
}

std::string ControlPlane::modify_problem(const wire::ModifyChannel& m) const {
  if (!is_open(m.child_relid)) {
    return ", which is not open";
  }
  if (m.target_vp >= guest_vp_count_) {
    return ": target_vp " + std::to_string(m.target_vp) + " is not one of the guest's " +
           std::to_string(guest_vp_count_) + " VP(s)";
  }
  return "";
}

// With one guest VP there is nothing to route (and the trace says nothing).
// An open always sets the route (a closed channel's port is gone); a
// retarget to the VP the channel already has changes nothing.
void ControlPlane::route_interrupts(std::uint32_t child_relid, Channel& channel, std::uint32_t vp,
                                    const partition::Work& work) {
  if (guest_vp_count_ == 1) {
    return;
  }
  const bool opening = channel.state != Channel::State::kOpen;
  if (!opening && vp == channel.target_vp) {
    return;
  }
  if (!opening) {
    work.hv.trace(partition::trace_channel(work.context, child_relid, "retargeted",
                                           "interrupts to vp " + std::to_string(vp) + " (were vp " +
                                               std::to_string(channel.target_vp) + ")"));
  }
  channel.target_vp = vp;
  work.hv.set_event_target(child_relid, vp);
}

void ControlPlane::on_unload(const partition::Work& work) {
  for (auto& [relid, channel] : channels_) {
    if (channel.state == Channel::State::kOpen) {
      close_by_guest(relid, channel, work);
    }
  }
  gpadls_.clear();
  gpadls_in_progress_.clear();
  for (auto& [relid, channel] : channels_) {
    channel.deferred_teardowns.clear();  // the GPADLs are gone with the connection
  }
  version_ = 0;
  unloaded_ = true;
  reply(wire::UnloadResponse{});
  work.note("unloaded");
}

void ControlPlane::start_new_connection(const partition::Work& work) {
  unloaded_ = false;
  std::uint32_t released = 0;
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->second.state != Channel::State::kRescinded) {
      ++it;
      continue;
    }
    // No RELID_RELEASED will come for it: the guest that held the relid is gone.
    relid_by_connection_id_.erase(it->second.connection_id);
    it = channels_.erase(it);
    ++released;
  }
  std::string changed;
  for (auto& [relid, channel] : channels_) {
    proto::ChannelOfferConfig& config = channel.config;
    if (config.instance_guid_after_unload().empty() ||
        config.instance_guid_after_unload() == config.instance_guid()) {
      continue;
    }
    config.set_instance_guid(config.instance_guid_after_unload());
    changed += ", channel " + std::to_string(relid) + " is now instance " + config.instance_guid();
  }
  work.note("a new connection after UNLOAD: " + std::to_string(released) +
            " rescinded relid(s) released" + changed);
}

}  // namespace vmbus::host
