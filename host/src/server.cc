#include "vmbus/host/server.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "vmbus/base/check.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/partition/ring_snapshot.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/synic.h"
#include "vmbus/wire/versions.h"

namespace vmbus::host {
namespace {

using partition::Hypervisor;

// NTSTATUS values the server puts in GPADL_CREATED / OPENCHANNEL_RESULT.
constexpr std::uint32_t kStatusUnsuccessful = 0xC0000001;
constexpr std::uint32_t kStatusInvalidParameter = 0xC000000D;
constexpr std::uint32_t kStatusDeviceRemoved = 0xC00002B6;

// Host -> guest posts carry this id; the guest's SINT does not look at it.
constexpr std::uint32_t kToGuestConnectionId = wire::kVmbusMessageConnectionId;
// Relids the guest may name (Linux MAX_CHANNEL_RELIDS).
constexpr std::uint32_t kMaxRelid = 2047;
constexpr std::uint32_t kVspBatchPackets = 16;
// "chan/<relid>": one ring phase of the channel's VSP.
constexpr std::string_view kChannelContext = "chan";

// A stalled VSP never reads its ring (back-pressure tests).
template <typename Channel>
bool listens(const Channel& channel) {
  return channel.config.vsp().kind() != proto::VspConfig::KIND_SINK_STALLED;
}

proto::RingControlWords control_words(const ring::RingView& view) {
  const partition::ControlWords words = partition::read_control_words(view);
  proto::RingControlWords out;
  out.set_write_index(words.write_index);
  out.set_read_index(words.read_index);
  out.set_interrupt_mask(words.interrupt_mask);
  out.set_pending_send_sz(words.pending_send_sz);
  return out;
}

void add_finding(proto::HostReport& report, const std::string& name, std::uint32_t child_relid,
                 std::string what) {
  proto::OracleFinding* finding = report.add_findings();
  finding->set_name(name);
  finding->set_child_relid(child_relid);
  finding->set_what(std::move(what));
}

bool is_known_version(std::uint32_t version) {
  return std::find(wire::kKnownVersions.begin(), wire::kKnownVersions.end(), version) !=
         wire::kKnownVersions.end();
}

}  // namespace

VmbusServer::VmbusServer() = default;
VmbusServer::~VmbusServer() = default;

std::string VmbusServer::start(const partition::StartInfo& info, Hypervisor& hv) {
  if (!config_.ParseFromString(info.config)) {
    return "the host configuration does not parse";
  }
  VMBUS_CHECK(info.memory != nullptr, "the host started without guest memory");
  memory_ = info.memory;
  guest_pages_ = memory_->page_count();
  max_version_ = config_.max_version() == 0 ? wire::kVersionWin10V5_3 : config_.max_version();
  if (!is_known_version(max_version_)) {
    return "max_version " + wire::version_text(max_version_) + " is not a VMBus version";
  }
  for (const proto::ChannelOfferConfig& offer : config_.channels()) {
    const std::uint32_t relid = offer.child_relid();
    if (relid == 0 || relid > kMaxRelid || channels_.count(relid) != 0) {
      return "channel relid " + std::to_string(relid) + " is zero, above 2047 or repeated";
    }
    Channel channel;
    channel.config = offer;
    channel.connection_id =
        offer.connection_id() != 0 ? offer.connection_id() : wire::connection_id_of(relid);
    for (const std::string& guid : {offer.interface_guid(), offer.instance_guid()}) {
      if (!guid.empty() && !wire::Guid::parse(guid).ok()) {
        return "channel " + std::to_string(relid) + ": '" + guid + "' is not a GUID";
      }
    }
    relid_by_connection_id_[channel.connection_id] = relid;
    channels_.emplace(relid, std::move(channel));
  }
  hv.trace(partition::trace_note("", "VMBus server up: protocol up to " +
                                         wire::version_text(max_version_) + ", " +
                                         std::to_string(channels_.size()) + " channel(s)"));
  return "";
}

std::vector<std::uint32_t> VmbusServer::message_connection_ids() const {
  std::vector<std::uint32_t> ids{wire::kVmbusMessageConnectionId};
  // Connection id 4 exists only on hosts that speak 5.0 or later; older
  // hosts answer a post to it with HV_STATUS_INVALID_CONNECTION_ID.
  if (max_version_ >= wire::kVersionWin10V5) {
    ids.push_back(wire::kVmbusMessageConnectionId4);
  }
  return ids;
}

std::vector<std::string> VmbusServer::ready_contexts() const {
  std::vector<std::string> ready;
  for (const auto& [relid, channel] : channels_) {
    if (channel.state != Channel::State::kOpen || channel.stopped) {
      continue;
    }
    if ((listens(channel) && channel.receiver->ready()) || channel.sender->ready()) {
      ready.push_back(partition::channel_context(kChannelContext, relid));
    }
  }
  if (slot_.full()) {
    ready.push_back("msg");
  }
  if (!outbox_.empty()) {
    ready.push_back("post");
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

void VmbusServer::step(const std::string& context, Hypervisor& hv) {
  current_context_ = context;
  if (context == "msg") {
    handle_message(slot_.take(hv), hv);
  } else if (context == "post") {
    const partition::Outbox::Posted posted = outbox_.post_one(hv);
    if (posted.hv_status != wire::kHvStatusSuccess) {
      hv.trace(partition::trace_note(
          context, "post refused with HV status " + std::to_string(posted.hv_status)));
    }
  } else if (const auto name = partition::ContextName::parse(context);
             name && name->kind == kChannelContext && name->child_relid) {
    Channel* channel = find_channel(*name->child_relid);
    VMBUS_CHECK(channel != nullptr, "stepped a channel context with no channel");
    step_channel(*channel, hv);
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + context + "'");
  }
}

void VmbusServer::deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                                  Hypervisor& hv) {
  slot_.deliver(sint, hv_message, hv);
}

void VmbusServer::deliver_event(std::span<const std::uint32_t> /*child_relids*/,
                                std::span<const std::uint32_t> connection_ids, Hypervisor& hv) {
  for (std::uint32_t id : connection_ids) {
    const auto it = relid_by_connection_id_.find(id);
    Channel* channel = it == relid_by_connection_id_.end() ? nullptr : find_channel(it->second);
    if (channel == nullptr || channel->state != Channel::State::kOpen) {
      hv.trace(partition::trace_note(
          "", "ignored a signal on connection id " + std::to_string(id) + ": no open channel"));
      continue;
    }
    // One event per channel means "look at both rings".
    channel->receiver->schedule();
    if (channel->sender->blocked()) {
      hv.trace(partition::trace_ring("", it->second, "inbound", "resume",
                                     channel->sender->writer().view(), 0, 0,
                                     "the guest signalled: the blocked sender retries"));
    }
    channel->sender->on_space_signal();
  }
}

VmbusServer::Channel* VmbusServer::find_channel(std::uint32_t child_relid) {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

void VmbusServer::reply(const wire::Message& message) {
  outbox_.push(kToGuestConnectionId, message);
}

void VmbusServer::ignore(const std::string& reason, Hypervisor& hv) {
  hv.trace(partition::trace_note(current_context_, "ignored: " + reason));
}

// --- control plane -------------------------------------------------------------

void VmbusServer::handle_message(const wire::HvMessage& slot, Hypervisor& hv) {
  const wire::ParseResult parsed = wire::parse_hv_message(slot, wire::Receiver::kHost);
  if (!parsed.ok()) {
    hv.trace(partition::trace_message_handled(current_context_, proto::MessageEvent::STAGE_IGNORED,
                                              slot, wire::to_string(parsed.error())));
    return;
  }
  const wire::Message& message = parsed.value();
  const bool connected = version_ != 0;
  const bool needs_connection = !std::holds_alternative<wire::InitiateContact>(message);
  if (needs_connection && !connected) {
    hv.trace(partition::trace_message_handled(current_context_, proto::MessageEvent::STAGE_IGNORED,
                                              slot, "not connected yet"));
    return;
  }
  hv.trace(partition::trace_message_handled(current_context_, proto::MessageEvent::STAGE_HANDLED,
                                            slot, ""));
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::InitiateContact>) {
          on_initiate_contact(m, slot, hv);
        } else if constexpr (std::is_same_v<T, wire::RequestOffers>) {
          on_request_offers(hv);
        } else if constexpr (std::is_same_v<T, wire::GpadlHeaderMessage>) {
          on_gpadl_header(m, hv);
        } else if constexpr (std::is_same_v<T, wire::GpadlBodyMessage>) {
          on_gpadl_body(m, hv);
        } else if constexpr (std::is_same_v<T, wire::OpenChannel>) {
          on_open_channel(m, hv);
        } else if constexpr (std::is_same_v<T, wire::CloseChannel>) {
          on_close_channel(m, hv);
        } else if constexpr (std::is_same_v<T, wire::GpadlTeardown>) {
          on_gpadl_teardown(m, hv);
        } else if constexpr (std::is_same_v<T, wire::RelidReleased>) {
          on_relid_released(m, hv);
        } else if constexpr (std::is_same_v<T, wire::Unload>) {
          on_unload(hv);
        } else if constexpr (std::is_same_v<T, wire::ModifyChannel>) {
          on_modify_channel(m, hv);
        } else {
          ignore(std::string(wire::message_info(T::kType).name) + " is not handled by this server",
                 hv);
        }
      },
      message);
}

void VmbusServer::on_initiate_contact(const wire::InitiateContact& m, const wire::HvMessage& slot,
                                      Hypervisor& hv) {
  const std::uint32_t requested = m.vmbus_version_requested;
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
    hv.trace(partition::trace_note(current_context_,
                                   "connected at protocol " + wire::version_text(requested)));
  } else {
    hv.trace(partition::trace_note(current_context_,
                                   "refused protocol " + wire::version_text(requested)));
  }
  reply(response);
}

void VmbusServer::on_request_offers(Hypervisor& hv) {
  for (auto& [relid, channel] : channels_) {
    if (channel.state == Channel::State::kRescinded) {
      continue;
    }
    wire::OfferChannel offer;
    if (!channel.config.interface_guid().empty()) {
      offer.if_type = wire::Guid::parse(channel.config.interface_guid()).value();
    }
    if (!channel.config.instance_guid().empty()) {
      offer.if_instance = wire::Guid::parse(channel.config.instance_guid()).value();
    }
    offer.chn_flags = wire::kChannelFlagServerSupportsGpadls;
    offer.child_relid = relid;
    offer.interrupt_flags = wire::kOfferDedicatedInterrupt;
    offer.connection_id = channel.connection_id;
    reply(offer);
  }
  send_misbehaviors(hv);
  reply(wire::AllOffersDelivered{});
}

void VmbusServer::send_misbehaviors(Hypervisor& hv) {
  for (const proto::HostMisbehavior& bad : config_.misbehaviors()) {
    hv.trace(partition::trace_note(
        current_context_,
        "misbehaving on purpose: " + proto::HostMisbehavior::Kind_Name(bad.kind())));
    switch (bad.kind()) {
      case proto::HostMisbehavior::KIND_TRUNCATED_OFFER: {
        wire::OfferChannel offer;
        offer.child_relid = bad.child_relid();
        std::vector<std::byte> bytes = wire::encode_message(offer);
        bytes.resize(100);
        outbox_.push_raw(kToGuestConnectionId, std::move(bytes));
        break;
      }
      case proto::HostMisbehavior::KIND_DUPLICATE_OFFER: {
        wire::OfferChannel offer;
        offer.child_relid = bad.child_relid();
        offer.connection_id = wire::connection_id_of(bad.child_relid());
        reply(offer);
        break;
      }
      case proto::HostMisbehavior::KIND_UNSOLICITED_OPEN_RESULT: {
        wire::OpenChannelResult result;
        result.child_relid = bad.child_relid();
        reply(result);
        break;
      }
      case proto::HostMisbehavior::KIND_UNKNOWN_MESSAGE_TYPE: {
        std::vector<std::byte> bytes(8, std::byte{0});
        bytes[0] = std::byte{99};
        outbox_.push_raw(kToGuestConnectionId, std::move(bytes));
        break;
      }
      case proto::HostMisbehavior::KIND_DOUBLE_RESCIND: {
        wire::RescindChannelOffer rescind;
        rescind.child_relid = bad.child_relid();
        reply(rescind);
        reply(rescind);
        if (Channel* channel = find_channel(bad.child_relid())) {
          channel->state = Channel::State::kRescinded;
        }
        break;
      }
      case proto::HostMisbehavior::KIND_SIGNAL_UNKNOWN_RELID:
        hv.signal_event(0, bad.child_relid());
        break;
      default:
        break;
    }
  }
}

void VmbusServer::on_gpadl_header(const wire::GpadlHeaderMessage& m, Hypervisor& hv) {
  const std::uint32_t handle = m.fixed.gpadl;
  if (find_channel(m.fixed.child_relid) == nullptr) {
    ignore("GPADL_HEADER for unknown relid " + std::to_string(m.fixed.child_relid), hv);
    return;
  }
  if (gpadls_.count(handle) != 0 || gpadls_in_progress_.count(handle) != 0) {
    refuse_gpadl(m.fixed.child_relid, handle, "GPADL handle already in use", hv);
    return;
  }
  const auto max_pages =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(guest_pages_, wire::kGpadlMaxPages));
  auto [it, inserted] = gpadls_in_progress_.emplace(handle, wire::GpadlAssembler(max_pages));
  const auto progress = it->second.add_header(m);
  if (!progress.ok()) {
    gpadls_in_progress_.erase(it);
    refuse_gpadl(m.fixed.child_relid, handle, wire::to_string(progress.error()), hv);
    return;
  }
  if (progress.value() == wire::GpadlProgress::kComplete) {
    finish_gpadl(it->second, hv);
    gpadls_in_progress_.erase(it);
  }
}

void VmbusServer::on_gpadl_body(const wire::GpadlBodyMessage& m, Hypervisor& hv) {
  const auto it = gpadls_in_progress_.find(m.fixed.gpadl);
  if (it == gpadls_in_progress_.end()) {
    ignore("GPADL_BODY for gpadl " + std::to_string(m.fixed.gpadl) + " with no header", hv);
    return;
  }
  const auto progress = it->second.add_body(m);
  if (!progress.ok()) {
    const std::uint32_t relid = it->second.child_relid();
    gpadls_in_progress_.erase(it);
    refuse_gpadl(relid, m.fixed.gpadl, wire::to_string(progress.error()), hv);
    return;
  }
  if (progress.value() == wire::GpadlProgress::kComplete) {
    finish_gpadl(it->second, hv);
    gpadls_in_progress_.erase(it);
  }
}

void VmbusServer::finish_gpadl(const wire::GpadlAssembler& assembler, Hypervisor& hv) {
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
    refuse_gpadl(assembler.child_relid(), assembler.gpadl(), problem, hv);
    return;
  }
  gpadls_[assembler.gpadl()] =
      Gpadl{assembler.child_relid(), pfns.front(), static_cast<std::uint32_t>(pfns.size()), false};
  reply(created);
}

void VmbusServer::refuse_gpadl(std::uint32_t child_relid, std::uint32_t gpadl,
                               const std::string& reason, Hypervisor& hv) {
  wire::GpadlCreated created;
  created.child_relid = child_relid;
  created.gpadl = gpadl;
  created.creation_status = kStatusInvalidParameter;
  reply(created);
  ignore("GPADL " + std::to_string(gpadl) + ": " + reason, hv);
}

void VmbusServer::on_open_channel(const wire::OpenChannel& m, Hypervisor& hv) {
  wire::OpenChannelResult result;
  result.child_relid = m.child_relid;
  result.openid = m.openid;
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kOffered) {
    ignore("OPENCHANNEL for relid " + std::to_string(m.child_relid) +
               (channel == nullptr ? ", which was never offered" : ", which is not closed"),
           hv);
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
    rescind(*channel, hv);
    return;
  }
  const auto gpadl_it = gpadls_.find(m.ringbuffer_gpadlhandle);
  const std::uint32_t offset = m.downstream_ringbuffer_pageoffset;
  std::string problem;
  if (gpadl_it == gpadls_.end() || gpadl_it->second.child_relid != m.child_relid) {
    problem = "gpadl " + std::to_string(m.ringbuffer_gpadlhandle) + " is not this channel's";
  } else if (gpadl_it->second.in_use) {
    problem = "gpadl " + std::to_string(m.ringbuffer_gpadlhandle) + " is already in use";
  } else if (offset < 2 || offset + 2 > gpadl_it->second.pages) {
    // Each ring needs its control page and at least one data page (QEMU's rule).
    problem = "downstream ring offset " + std::to_string(offset) + " does not split a " +
              std::to_string(gpadl_it->second.pages) + "-page GPADL into two rings";
  }
  if (!problem.empty()) {
    result.status = kStatusInvalidParameter;
    reply(result);
    ignore("OPENCHANNEL: " + problem, hv);
    return;
  }
  Gpadl& gpadl = gpadl_it->second;
  gpadl.in_use = true;
  channel->gpadl = m.ringbuffer_gpadlhandle;
  partition::ChannelRings rings =
      partition::map_rings(*memory_, {gpadl.first_pfn, offset, gpadl.pages - offset});
  channel->outbound_memory = std::move(rings.outbound);
  channel->inbound_memory = std::move(rings.inbound);
  const std::uint32_t outbound_data =
      static_cast<std::uint32_t>(channel->outbound_memory->region().size()) -
      ring::kHvPageSizeBytes;
  channel->receiver = std::make_unique<partition::RingReceiver>(
      *channel->outbound_memory, outbound_data / 8 * 8, kVspBatchPackets);
  channel->sender =
      std::make_unique<partition::RingSender>(*channel->inbound_memory, kVspBatchPackets);
  channel->state = Channel::State::kOpen;
  channel->stopped = false;
  channel->stats.closed_by_guest = false;
  channel->last_written.reset();
  // Like QEMU, look at the ring once right after opening: the guest may have
  // written before it heard back.
  channel->receiver->schedule();
  queue_vsp_sends(*channel);
  reply(result);
  hv.trace(partition::trace_channel(current_context_, m.child_relid, "open",
                                    "gpadl " + std::to_string(channel->gpadl) + ", " +
                                        std::to_string(offset) + "+" +
                                        std::to_string(gpadl.pages - offset) + " pages"));
}

void VmbusServer::queue_vsp_sends(Channel& channel) {
  const proto::VspConfig& vsp = channel.config.vsp();
  const std::uint32_t payload_bytes =
      std::max<std::uint32_t>(8, vsp.payload_bytes() == 0 ? 64 : vsp.payload_bytes());
  for (std::uint64_t sequence = 0; sequence < vsp.send_packets(); ++sequence) {
    partition::QueuedPacket packet;
    packet.trans_id = sequence + 1;
    packet.flags = vsp.request_completions() ? ring::kPacketFlagCompletionRequested : 0;
    packet.payload.resize(payload_bytes);
    std::memcpy(packet.payload.data(), &sequence, sizeof(sequence));
    for (std::size_t i = sizeof(sequence); i < payload_bytes; ++i) {
      packet.payload[i] = static_cast<std::byte>((sequence + i) & 0xFF);
    }
    if (vsp.request_completions()) {
      ++channel.pending_transactions[packet.trans_id];
    }
    channel.sender->enqueue(std::move(packet));
  }
}

void VmbusServer::close_rings(Channel& channel) {
  channel.receiver.reset();
  channel.sender.reset();
  channel.outbound_memory.reset();
  channel.inbound_memory.reset();
  if (const auto it = gpadls_.find(channel.gpadl); it != gpadls_.end()) {
    it->second.in_use = false;
  }
  channel.gpadl = 0;
}

void VmbusServer::on_close_channel(const wire::CloseChannel& m, Hypervisor& hv) {
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kOpen) {
    ignore("CLOSECHANNEL for relid " + std::to_string(m.child_relid) + ", which is not open", hv);
    return;
  }
  close_rings(*channel);
  channel->state = Channel::State::kOffered;
  channel->stats.closed_by_guest = true;
  hv.trace(partition::trace_channel(current_context_, m.child_relid, "closed", ""));
  cancel_transactions(*channel, "STATUS_CANCELLED", hv);
}

void VmbusServer::on_gpadl_teardown(const wire::GpadlTeardown& m, Hypervisor& hv) {
  const auto it = gpadls_.find(m.gpadl);
  if (it == gpadls_.end() || it->second.child_relid != m.child_relid) {
    ignore("GPADL_TEARDOWN of unknown gpadl " + std::to_string(m.gpadl), hv);
    return;
  }
  if (it->second.in_use) {
    ignore("GPADL_TEARDOWN of gpadl " + std::to_string(m.gpadl) + " while its channel is open", hv);
    return;
  }
  gpadls_.erase(it);
  wire::GpadlTorndown torndown;
  torndown.gpadl = m.gpadl;
  reply(torndown);
}

void VmbusServer::rescind(Channel& channel, Hypervisor& hv) {
  if (channel.state == Channel::State::kOpen) {
    close_rings(channel);
  }
  channel.state = Channel::State::kRescinded;
  wire::RescindChannelOffer rescind_message;
  rescind_message.child_relid = channel.config.child_relid();
  reply(rescind_message);
  hv.trace(
      partition::trace_channel(current_context_, channel.config.child_relid(), "rescinded", ""));
  cancel_transactions(channel, "STATUS_DEVICE_REMOVED", hv);
}

void VmbusServer::cancel_transactions(Channel& channel, const std::string& status, Hypervisor& hv) {
  // In trans_id order, so that the trace is the same on every run.
  for (const auto& [trans_id, outstanding] : channel.pending_transactions) {
    for (std::uint32_t i = 0; i < outstanding; ++i) {
      trace_completion(channel.config.child_relid(), trans_id, status, 0, hv);
    }
  }
  channel.pending_transactions.clear();
}

void VmbusServer::trace_completion(std::uint32_t child_relid, std::uint64_t trans_id,
                                   const std::string& status, std::uint32_t bytes, Hypervisor& hv) {
  proto::TraceRecord record;
  record.set_context(current_context_);
  proto::CompletionEvent* event = record.mutable_completion();
  event->set_child_relid(child_relid);
  event->set_trans_id(trans_id);
  event->set_status(status);
  event->set_bytes(bytes);
  hv.trace(std::move(record));
}

void VmbusServer::on_relid_released(const wire::RelidReleased& m, Hypervisor& hv) {
  Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kRescinded) {
    ignore(
        "RELID_RELEASED for relid " + std::to_string(m.child_relid) + ", which was not rescinded",
        hv);
    return;
  }
  // The guest is done with the relid; drop its GPADLs too.
  for (auto it = gpadls_.begin(); it != gpadls_.end();) {
    it = it->second.child_relid == m.child_relid ? gpadls_.erase(it) : std::next(it);
  }
  cancel_transactions(*channel, "STATUS_DEVICE_REMOVED", hv);
  released_[m.child_relid] = channel->stats;
  relid_by_connection_id_.erase(channel->connection_id);
  channels_.erase(m.child_relid);
  hv.trace(partition::trace_channel(current_context_, m.child_relid, "released", ""));
}

void VmbusServer::on_modify_channel(const wire::ModifyChannel& m, Hypervisor& hv) {
  // Acknowledged only from protocol 5.3 (before that the guest expects no answer).
  if (version_ < wire::kVersionWin10V5_3) {
    return;
  }
  wire::ModifyChannelResponse response;
  response.child_relid = m.child_relid;
  const Channel* channel = find_channel(m.child_relid);
  if (channel == nullptr || channel->state != Channel::State::kOpen) {
    response.status = kStatusInvalidParameter;
    ignore("MODIFYCHANNEL for relid " + std::to_string(m.child_relid) + ", which is not open", hv);
  }
  reply(response);
}

void VmbusServer::on_unload(Hypervisor& hv) {
  for (auto& [relid, channel] : channels_) {
    if (channel.state == Channel::State::kOpen) {
      close_rings(channel);
      channel.state = Channel::State::kOffered;
      channel.stats.closed_by_guest = true;
      cancel_transactions(channel, "STATUS_CANCELLED", hv);
    }
  }
  gpadls_.clear();
  gpadls_in_progress_.clear();
  version_ = 0;
  reply(wire::UnloadResponse{});
  hv.trace(partition::trace_note(current_context_, "unloaded"));
}

// --- the VSP ------------------------------------------------------------------

void VmbusServer::step_channel(Channel& channel, Hypervisor& hv) {
  const bool receive = listens(channel) && channel.receiver->ready() &&
                       (channel.receive_turn || !channel.sender->ready());
  channel.receive_turn = !channel.receive_turn;
  if (receive ? receive_phase(channel, hv) : send_phase(channel, hv)) {
    hv.trace(partition::trace_ring(
        current_context_, channel.config.child_relid(), receive ? "outbound" : "inbound", "signal",
        receive ? channel.receiver->reader().view() : channel.sender->writer().view(), 0, 0, ""));
    signal_guest(channel, hv);
  }
  if (channel.config.rescind_after_packets() != 0 &&
      channel.packets_echoed >= channel.config.rescind_after_packets()) {
    rescind(channel, hv);
  }
}

void VmbusServer::signal_guest(Channel& channel, Hypervisor& hv) {
  ++channel.stats.signals;
  hv.signal_event(0, channel.config.child_relid());
}

bool VmbusServer::receive_phase(Channel& channel, Hypervisor& hv) {
  const std::uint32_t relid = channel.config.child_relid();
  const partition::ReceiveStep done = channel.receiver->step(
      [&](const ring::PacketView& packet) { on_guest_packet(channel, packet, hv); });
  if (done.corrupt) {
    channel.stopped = true;
    hv.trace(partition::trace_ring(current_context_, relid, "outbound", "corrupt",
                                   channel.receiver->reader().view(), 0, 0,
                                   ring::corrupt_reason_name(done.corrupt->reason)));
  } else if (done.phase == "publish" && done.bytes_published > 0) {
    hv.trace(partition::trace_ring(current_context_, relid, "outbound", "publish_read",
                                   channel.receiver->reader().view(), done.bytes_published, 0, ""));
  }
  return done.signal_peer;
}

void VmbusServer::on_guest_packet(Channel& channel, const ring::PacketView& packet,
                                  Hypervisor& hv) {
  const std::uint32_t relid = channel.config.child_relid();
  const ring::PacketDescriptor& descriptor = packet.descriptor;
  const auto payload = packet.payload();
  if (descriptor.type == static_cast<std::uint16_t>(ring::PacketType::kComp)) {
    // The guest completed one of our sends: never answered, whatever the VSP kind.
    ++channel.stats.completions_received;
    const auto pending = channel.pending_transactions.find(descriptor.trans_id);
    if (pending != channel.pending_transactions.end()) {
      trace_completion(relid, descriptor.trans_id, "STATUS_SUCCESS",
                       static_cast<std::uint32_t>(payload.size()), hv);
      if (--pending->second == 0) {
        channel.pending_transactions.erase(pending);
      }
    } else {
      ++channel.stats.unknown_completions;
      hv.trace(partition::trace_note(
          current_context_, "VM_PKT_COMP on channel " + std::to_string(relid) + " for trans_id " +
                                std::to_string(descriptor.trans_id) +
                                ", which no send of the host waits for: ignored"));
    }
    if (channel.stats.completions_received == channel.config.vsp().send_packets()) {
      hv.report({{"completions." + std::to_string(relid),
                  std::to_string(channel.stats.completions_received)}},
                false);
    }
    return;
  }
  ++channel.stats.packets_received;
  const bool wants_completion = (descriptor.flags & ring::kPacketFlagCompletionRequested) != 0;
  switch (channel.config.vsp().kind()) {
    case proto::VspConfig::KIND_DISCARD:
      return;
    case proto::VspConfig::KIND_COMPLETE: {
      if (wants_completion) {
        partition::QueuedPacket completion;
        completion.type = static_cast<std::uint16_t>(ring::PacketType::kComp);
        completion.trans_id = descriptor.trans_id;
        channel.sender->enqueue(std::move(completion));
      }
      return;
    }
    default: {
      partition::QueuedPacket echo;
      echo.type = static_cast<std::uint16_t>(wants_completion ? ring::PacketType::kComp
                                                              : ring::PacketType::kDataInband);
      echo.trans_id = descriptor.trans_id;
      echo.payload.assign(payload.begin(), payload.end());
      channel.sender->enqueue(std::move(echo));
      ++channel.packets_echoed;
      return;
    }
  }
}

bool VmbusServer::send_phase(Channel& channel, Hypervisor& hv) {
  const std::uint32_t relid = channel.config.child_relid();
  partition::RingSender& sender = *channel.sender;
  const std::uint64_t masked_before = sender.writer().counters().signals_masked;
  const partition::SendStep done = sender.step();
  const std::uint64_t masked = sender.writer().counters().signals_masked - masked_before;
  channel.stats.signals_masked += masked;
  if (masked != 0) {
    hv.trace(partition::trace_ring(current_context_, relid, "inbound", "interrupt_masked",
                                   sender.writer().view(), 0, 0,
                                   "no interrupt: the guest has interrupt_mask set (it is "
                                   "draining and re-checks before it stops)"));
  }
  channel.stats.packets_sent += done.packets_copied;
  if (done.packets_copied > 0 && sender.last_copied()) {
    const partition::CopiedPacket& copied = *sender.last_copied();
    channel.last_written =
        WrittenPacket{sender.writer().view().advance(copied.start_index, copied.header_bytes),
                      copied.packet_bytes - copied.header_bytes, copied.trans_id};
  }
  if (done.corrupt || done.too_large) {
    channel.stopped = true;
    hv.trace(partition::trace_ring(
        current_context_, relid, "inbound", "corrupt", sender.writer().view(), 0, 0,
        done.corrupt ? ring::corrupt_reason_name(*done.corrupt) : "packet larger than the ring"));
  } else if (done.phase == "publish" && done.bytes_published > 0) {
    hv.trace(partition::trace_ring(current_context_, relid, "inbound", "publish_write",
                                   sender.writer().view(), done.bytes_published, 0, ""));
  } else if (done.phase == "block") {
    const std::uint32_t needed =
        partition::read_control_words(sender.writer().view()).pending_send_sz;
    hv.trace(partition::trace_ring(current_context_, relid, "inbound", "pending_send_sz",
                                   sender.writer().view(), needed, 0,
                                   "ring full: the sender waits for " + std::to_string(needed) +
                                       " free bytes and the guest's signal"));
  }
  return done.signal_peer;
}

void VmbusServer::finish_send_batch(Channel& channel, Hypervisor& hv) {
  while (!channel.sender->idle()) {
    if (send_phase(channel, hv)) {
      hv.trace(partition::trace_ring(current_context_, channel.config.child_relid(), "inbound",
                                     "signal", channel.sender->writer().view(), 0, 0, ""));
      signal_guest(channel, hv);
    }
  }
}

// --- the final report ------------------------------------------------------------

proto::FinalReport VmbusServer::final_report() {
  proto::FinalReport report;
  proto::HostReport& host = *report.mutable_host();
  std::set<std::uint32_t> relids;
  for (const auto& [relid, channel] : channels_) {
    relids.insert(relid);
  }
  for (const auto& [relid, stats] : released_) {
    relids.insert(relid);
  }
  for (std::uint32_t relid : relids) {
    const auto it = channels_.find(relid);
    const Channel* channel = it == channels_.end() ? nullptr : &it->second;
    *host.add_channels() = channel_report(relid, channel);
    if (channel == nullptr) {
      continue;
    }
    if (std::string why = lost_wakeup(*channel); !why.empty()) {
      add_finding(host, "lost_wakeup", relid, std::move(why));
    }
  }
  if (std::string why = leaks(); !why.empty()) {
    add_finding(host, "leak", 0, std::move(why));
  }
  return report;
}

proto::HostChannelReport VmbusServer::channel_report(std::uint32_t relid,
                                                     const Channel* channel) const {
  const ChannelStats& stats = channel != nullptr ? channel->stats : released_.at(relid);
  const bool open = channel != nullptr && channel->state == Channel::State::kOpen;
  proto::HostChannelReport out;
  out.set_child_relid(relid);
  out.set_state(proto::HostChannelReport::STATE_RESCINDED);
  if (open) {
    out.set_state(proto::HostChannelReport::STATE_OPEN);
  } else if (channel != nullptr && channel->state == Channel::State::kOffered) {
    out.set_state(stats.closed_by_guest ? proto::HostChannelReport::STATE_CLOSED
                                        : proto::HostChannelReport::STATE_OFFERED);
  }
  std::uint64_t pending = 0;
  if (channel != nullptr) {
    for (const auto& [trans_id, outstanding] : channel->pending_transactions) {
      pending += outstanding;
    }
  }
  out.set_packets_received(stats.packets_received);
  out.set_packets_sent(stats.packets_sent);
  out.set_completions_received(stats.completions_received);
  out.set_unknown_completions(stats.unknown_completions);
  out.set_pending_transactions(pending);
  out.set_send_blocked(open && channel->sender->blocked());
  out.set_queued_sends(open ? channel->sender->queued() : 0);
  out.set_signals(stats.signals);
  out.set_signals_masked(stats.signals_masked);
  out.set_vsp_stopped(channel != nullptr && channel->stopped);
  if (open) {
    *out.mutable_host_to_guest() = control_words(channel->sender->writer().view());
    *out.mutable_guest_to_host() = control_words(channel->receiver->reader().view());
  }
  return out;
}

std::string VmbusServer::lost_wakeup(const Channel& channel) const {
  if (channel.state != Channel::State::kOpen || channel.stopped) {
    return "";
  }
  const std::uint32_t relid = channel.config.child_relid();
  const partition::RingSender& sender = *channel.sender;
  const ring::RingView& outgoing = sender.writer().view();
  const std::uint32_t head_bytes = sender.head_packet_bytes();
  if (sender.blocked() && head_bytes != 0) {
    const auto room = partition::ring_occupancy(outgoing, sender.writer().write_cursor(),
                                                partition::read_control_words(outgoing).read_index);
    const std::uint32_t needed = ring::ring_bytes_for_packet(head_bytes);
    if (room && room->free_bytes > needed) {
      return "the host's sender on channel " + std::to_string(relid) +
             " waits for a signal although the host->guest ring has " +
             std::to_string(room->free_bytes) + " free bytes, enough for its " +
             std::to_string(needed) + "-byte head packet";
    }
  }
  const partition::RingReceiver& receiver = *channel.receiver;
  const ring::RingView& incoming = receiver.reader().view();
  if (listens(channel) && !receiver.ready() && !receiver.stopped()) {
    const auto data =
        partition::ring_occupancy(incoming, partition::read_control_words(incoming).write_index,
                                  receiver.reader().read_cursor());
    if (data && data->unread_bytes != 0) {
      return "the guest->host ring of channel " + std::to_string(relid) + " holds " +
             std::to_string(data->unread_bytes) +
             " unread bytes but the host's VSP is idle with no drain scheduled";
    }
  }
  return "";
}

std::string VmbusServer::leaks() const {
  std::string text;
  const auto add = [&text](const std::string& problem) {
    text += (text.empty() ? "" : "; ") + problem;
  };
  for (const auto& [handle, gpadl] : gpadls_) {
    const auto it = channels_.find(gpadl.child_relid);
    if (it != channels_.end() && it->second.state == Channel::State::kOpen) {
      continue;
    }
    add("GPADL " + std::to_string(handle) + " of channel " + std::to_string(gpadl.child_relid) +
        " is still established although the channel is not open");
  }
  for (const auto& [handle, assembler] : gpadls_in_progress_) {
    add("GPADL " + std::to_string(handle) + " of channel " +
        std::to_string(assembler.child_relid()) + " was never completed");
  }
  return text;
}

}  // namespace vmbus::host
