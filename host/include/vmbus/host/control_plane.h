// The host's VMBus control plane: the answering side of every CHANNELMSG.
//
// ControlPlane negotiates the protocol version (INITIATE_CONTACT), offers
// the channels whose VSP enabled them (REQUESTOFFERS), assembles GPADLs
// (GPADL_HEADER/BODY), opens and closes channels (OPENCHANNEL,
// CLOSECHANNEL, GPADL_TEARDOWN), rescinds offers, takes RELID_RELEASED,
// answers MODIFYCHANNEL and UNLOAD, and takes a guest that connects again
// after its UNLOAD (a resume from hibernation) as a new connection. With a
// guest of several VPs (HostConfig.guest_vp_count) it routes each channel's
// interrupts to the VP OPENCHANNEL names and moves them on an accepted
// MODIFYCHANNEL (Hypervisor::set_event_target). It trusts nothing the guest
// sends: every message is validated against the message table and the
// channel's state, every GPADL page must lie inside guest memory, every ring
// offset inside its GPADL. Bad input is refused with the protocol's status
// or ignored, and traced; it never stops the server.
//
// It does no I/O of its own beyond its outbox of replies (posted one per
// "post" step) and the trace. It talks to the VSPs through its
// ControlPlanePort, the same kind of port the guest's control plane uses:
// when a channel opens it asks the port to attach the rings where the GPADL
// says and to open the VSP's KMCL channel on them, and answers the
// OPENCHANNEL once the VSP's EvtChannelOpened returned (answer_open); a
// CLOSECHANNEL closes the VSP's channel, and the rings (and the answer to a
// GPADL_TEARDOWN of their GPADL) wait until its close let go of them
// (release_rings); the VSP's Disable revokes the offer (rescind).
// VmbusServer feeds it the guest's messages and the VSPs' events; a test
// can feed it bytes directly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/base/quirks.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/partition/ring_port.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/wire/gpadl.h"
#include "vmbus/wire/synic.h"

namespace vmbus::host {

// What the host's control plane asks of the VSPs. As a RingPort it maps a
// channel's rings where an accepted OPENCHANNEL placed them and lets them
// go; the rest is about the channel's KMCL endpoint.
class ControlPlanePort : public partition::RingPort {
 public:
  // Channel `child_relid` may be offered: its VSP's driver enabled it.
  virtual bool offer_wanted(std::uint32_t child_relid) const = 0;
  // The guest's OPENCHANNEL arrived and the rings are attached: the VSP's
  // device opens its channel on them. False if it refused (its channel is
  // not enabled, or still closing). EvtChannelOpened answers later.
  virtual bool open_endpoint(std::uint32_t child_relid, const partition::Work& work) = 0;
  // The guest closed the channel (CLOSECHANNEL, UNLOAD): the VSP's device
  // closes it. True while it still uses the rings; the host then calls
  // ControlPlane::release_rings() when it no longer does.
  virtual bool close_endpoint(std::uint32_t child_relid, const partition::Work& work) = 0;
};

class ControlPlane {
 public:
  // A channel the host offers, as the control plane sees it.
  struct Channel {
    proto::ChannelOfferConfig config;
    std::uint32_t connection_id = 0;  // the guest signals the host on this id
    enum class State {
      kOffered,    // offered; closed (never opened, or closed by the guest)
      kOpening,    // OPENCHANNEL accepted by the VSP; its answer is due
      kOpen,       // OPENCHANNEL answered with success: the VSP has the rings
      kRescinded,  // the host withdrew the offer; RELID_RELEASED still due
    } state = State::kOffered;
    std::uint32_t gpadl = 0;       // the ring GPADL while open (or its rings held)
    std::uint32_t openid = 0;      // of the OPENCHANNEL being answered
    bool closed_by_guest = false;  // CLOSECHANNEL (or UNLOAD) since the last open
    // Closed by the guest, but the VSP's close still uses the rings; a
    // GPADL_TEARDOWN of their GPADL is answered once it let go.
    bool rings_held = false;
    std::vector<std::uint32_t> deferred_teardowns;
    // The guest VP its interrupts go to: OPENCHANNEL's target_vp, then
    // each accepted MODIFYCHANNEL's.
    std::uint32_t target_vp = 0;
  };

  // An established GPADL: `pages` consecutive guest pages from `first_pfn`.
  struct Gpadl {
    std::uint32_t child_relid = 0;
    std::uint64_t first_pfn = 0;
    std::uint32_t pages = 0;
    bool in_use = false;  // the rings of an open channel
  };

  explicit ControlPlane(ControlPlanePort& port) : port_(port) {}

  // Takes the configuration's protocol version and offers, for a guest
  // memory of `guest_pages` pages. Returns "" or why it cannot be used.
  std::string configure(const proto::HostConfig& config, std::uint64_t guest_pages);

  std::uint32_t max_version() const { return max_version_; }

  // The host's quirks (historical bugs re-created on purpose,
  // vmbus/base/quirks.h): code beside a correct path asks quirks().has().
  void set_quirks(const base::QuirkSet& quirks) { quirks_ = quirks; }
  const base::QuirkSet& quirks() const { return quirks_; }
  // The message connection ids the server listens on: 1, and 4 from 5.0.
  std::vector<std::uint32_t> message_connection_ids() const;

  // One guest message from the message slot ("msg" context).
  void handle_message(const wire::HvMessage& slot, const partition::Work& work);

  // Posts the oldest queued reply ("post" context); a refused post is traced
  // (one the hypervisor has no buffer for stays queued).
  bool has_posts() const { return !outbox_.empty(); }
  void post_one(const partition::Work& work);
  // Queues a message of the scenario's making (HostMessageAction): its
  // bytes as they are, header included, behind the replies already queued.
  void post_raw(std::vector<std::byte> payload);
  // Queues channel `child_relid`'s OFFERCHANNEL once more, while the guest
  // still holds the relid (DuplicateOfferAction: an erroneous or malicious
  // host). Nothing else changes; false for a relid it does not know.
  bool offer_again(std::uint32_t child_relid);

  // The host withdraws the offer of a channel that is not rescinded yet
  // (checked): its rings are detached, RESCIND_CHANNELOFFER is queued.
  void rescind(std::uint32_t child_relid, const partition::Work& work);
  // Offers the subchannels of `primary_relid` held back for a request
  // (offer_on_request): "" or why none can be offered (not connected, no
  // such primary, none held back).
  std::string offer_subchannels(std::uint32_t primary_relid, const partition::Work& work);
  // The subchannels of `primary_relid` offered and not yet rescinded, by
  // relid; those still held back are forgotten (the device goes away
  // before it offered them).
  std::vector<std::uint32_t> live_subchannels(std::uint32_t primary_relid);
  // The VSP's EvtChannelOpened returned `status` for the OPENCHANNEL being
  // answered: OPENCHANNEL_RESULT with it (a failure detaches the rings).
  void answer_open(std::uint32_t child_relid, std::uint32_t status, const partition::Work& work);
  // The VSP's close of a channel the guest closed let go of the rings:
  // detach them and answer the GPADL_TEARDOWNs that waited.
  void release_rings(std::uint32_t child_relid, const partition::Work& work);

  // nullptr for a relid never offered or already released by the guest.
  const Channel* channel(std::uint32_t child_relid) const;
  bool is_open(std::uint32_t child_relid) const;
  // Open, or opening (the VSP has the rings; the answer is due).
  bool has_rings(std::uint32_t child_relid) const;
  // The channel the guest signals on `connection_id`, if any.
  std::optional<std::uint32_t> relid_of_connection_id(std::uint32_t connection_id) const;

  std::uint32_t version() const { return version_; }  // 0: not connected
  const std::map<std::uint32_t, Gpadl>& gpadls() const { return gpadls_; }
  const std::map<std::uint32_t, wire::GpadlAssembler>& gpadls_in_progress() const {
    return gpadls_in_progress_;
  }

 private:
  void dispatch(const wire::Message& message, const wire::HvMessage& slot,
                const partition::Work& work);

  base::QuirkSet quirks_;
  void on_initiate_contact(const wire::InitiateContact& m, const wire::HvMessage& slot,
                           const partition::Work& work);
  void on_request_offers();
  wire::OfferChannel offer_of(std::uint32_t child_relid, const Channel& channel) const;
  void on_gpadl_header(const wire::GpadlHeaderMessage& m, const partition::Work& work);
  void on_gpadl_body(const wire::GpadlBodyMessage& m, const partition::Work& work);
  void on_open_channel(const wire::OpenChannel& m, const partition::Work& work);
  void on_close_channel(const wire::CloseChannel& m, const partition::Work& work);
  void on_gpadl_teardown(const wire::GpadlTeardown& m, const partition::Work& work);
  void on_relid_released(const wire::RelidReleased& m, const partition::Work& work);
  void on_modify_channel(const wire::ModifyChannel& m, const partition::Work& work);
  // "" or why MODIFYCHANNEL `m` is refused.
  std::string modify_problem(const wire::ModifyChannel& m) const;
  // The channel's interrupts go to guest VP `vp` (an open or a retarget).
  void route_interrupts(std::uint32_t child_relid, Channel& channel, std::uint32_t vp,
                        const partition::Work& work);
  void on_unload(const partition::Work& work);
  // The first INITIATE_CONTACT after an UNLOAD (a guest resuming from
  // hibernation, or a kdump kernel): the old connection's relids are all
  // released, so rescinded channels are gone, and devices whose identity
  // changed meanwhile (instance_guid_after_unload) take their new GUID.
  void start_new_connection(const partition::Work& work);

  // The GPADL's pages checked against guest memory; GPADL_CREATED either way.
  void finish_gpadl(const wire::GpadlAssembler& assembler, const partition::Work& work);
  // Answers GPADL_CREATED with a failure status and traces why.
  void refuse_gpadl(std::uint32_t child_relid, std::uint32_t gpadl, const std::string& reason,
                    const partition::Work& work);
  // "" or why OPENCHANNEL `m` cannot use its GPADL.
  std::string open_problem(const wire::OpenChannel& m) const;
  // The channel is no longer open: its GPADL is free again.
  void leave_open(Channel& channel);
  // The guest closed an open channel (CLOSECHANNEL, UNLOAD).
  void close_by_guest(std::uint32_t child_relid, Channel& channel, const partition::Work& work);
  // "" or why the subchannel offers of the configuration do not fit
  // their primaries.
  std::string check_subchannels() const;
  void reply(const wire::Message& message);
  void ignore(const std::string& reason, const partition::Work& work);
  Channel* find_channel(std::uint32_t child_relid);
  // Offered or held back for a request.
  const Channel* channel_or_held(std::uint32_t child_relid) const;

  ControlPlanePort& port_;
  std::uint64_t guest_pages_ = 0;
  std::uint32_t max_version_ = 0;
  std::uint32_t version_ = 0;  // 0: not connected
  bool unloaded_ = false;      // UNLOAD answered; no INITIATE_CONTACT since
  std::uint32_t guest_vp_count_ = 1;
  partition::Outbox outbox_;
  std::map<std::uint32_t, Channel> channels_;  // by child_relid
  // Subchannels waiting for offer_subchannels(), by child_relid.
  std::map<std::uint32_t, Channel> held_offers_;
  std::map<std::uint32_t, std::uint32_t> relid_by_connection_id_;
  std::map<std::uint32_t, wire::GpadlAssembler> gpadls_in_progress_;  // by gpadl handle
  std::map<std::uint32_t, Gpadl> gpadls_;                             // by gpadl handle
};

}  // namespace vmbus::host
