// The guest's VMBus control plane, modelled on Linux's vmbus driver.
//
// ControlPlane negotiates the protocol version newest first (5.3 down to
// 2.4, falling back on each refusal or HV_STATUS_INVALID_CONNECTION_ID),
// requests offers, opens channels (ring pages from guest memory,
// GPADL_HEADER plus GPADL_BODY messages, OPENCHANNEL), closes them
// (CLOSECHANNEL, GPADL_TEARDOWN), answers rescinds with RELID_RELEASED and
// unloads; once the channels are settled it also runs the control-plane
// part of the workload (MODIFYCHANNEL round trips, hypercall probes). It
// trusts nothing the host sends: each message is copied out of the slot,
// parsed against the message table, and its on_* handler checks it against
// the client's state before acting; a message that fails is ignored, counted
// and traced with the reason.
//
// It allocates ring pages and speaks the protocol, nothing else: what runs
// on a channel's rings (the echo VSC or a KMCL driver) and when the run ends
// are the rest of the guest's business, reached through ControlPlanePort.
// Channels are brought up one at a time, in relid order.
//
// Subchannels: an offer with a sub_channel_index is attached to the
// primary with the same interface and instance GUIDs (Linux's
// vmbus_process_offer()); one with no such primary is ignored. A
// subchannel opens only once its primary is open, and the primary's
// CLOSECHANNEL waits until its subchannels are closed (Linux's vmbus_close()
// closes the subchannels first). A primary rescinded while one of its
// subchannels is still offered breaks the host's side of that contract:
// it is recorded (rescind_order_problems(), the rescind_order oracle).
//
// Hibernation (control_plane_hibernate.cc): begin_hibernate() has the
// drivers close their channels; once none is open the bus drops offers and
// rescinds, keeps the channel records (kept_channels()) and unloads.
// begin_resume() connects again at the same version and asks for offers;
// each re-offer is matched to a kept channel by its interface and instance
// GUIDs and subchannel index. After ALLOFFERS_DELIVERED it waits, up to
// the resume timeout, for kept channels not offered again, reports those
// still missing (missing_after_resume()) and lets the drivers of the
// channels that came back open them again.
//
// Interrupt targets: OPENCHANNEL names the channel's target VP (its KMCL
// driver's target_vp, default 0), and retarget() moves it with
// MODIFYCHANNEL, as Linux's target_cpu_store() does: from protocol 5.3 the
// new target is taken once MODIFYCHANNEL_RESPONSE accepts it, before 5.3
// (no answer) at once. Where an interrupt arrives is the ISR's business
// (client.h); Channel::target_vp is what the guest believes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "vmbus/base/quirks.h"
#include "vmbus/guest/page_allocator.h"
#include "vmbus/partition/partition.h"
#include "vmbus/partition/ring_port.h"
#include "vmbus/proto/config.pb.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/synic.h"

namespace vmbus::guest {

// What the guest's control plane asks of the rest of the guest. As a
// RingPort it maps and initialises a channel's rings when the control plane
// has placed them (attach_rings) and lets them go (detach_rings); the rest
// is about the channel's endpoint and the workload.
class ControlPlanePort : public partition::RingPort {
 public:
  // Whether channel `child_relid`'s endpoint wants it opened (while closed)
  // or closed (while open) on the wire, after `opens` opens so far.
  virtual bool wants_open(std::uint32_t child_relid, std::uint32_t opens) const = 0;
  virtual bool wants_close(std::uint32_t child_relid, std::uint32_t opens) const = 0;
  // The control plane starts opening the channel / posted its CLOSECHANNEL:
  // the endpoint's wish is granted, and after a close it stops using the rings.
  virtual void open_started(std::uint32_t child_relid) = 0;
  virtual void close_posted(std::uint32_t child_relid) = 0;
  // The host accepted OPENCHANNEL: the endpoint starts on the attached rings
  // and traces the channel's "open" record (open number `open_number`).
  // False if the endpoint refused (a KMCL driver that disabled the channel
  // meanwhile, which then wants it closed).
  virtual bool start_endpoint(std::uint32_t child_relid, std::uint32_t connection_id,
                              std::uint32_t open_number, const partition::Work& work) = 0;
  // The host rescinded the channel: the endpoint stops. True while it still
  // uses the rings (a KMCL device whose close has not finished); the guest
  // then calls ControlPlane::release_rings() when it has.
  virtual bool rescind_endpoint(std::uint32_t child_relid, const partition::Work& work) = 0;

  // The workload: the channels are settled (the workload starts), the host
  // rescinded a channel (`was_open` before) and the guest released its
  // relid, a MODIFYCHANNEL or hypercall
  // probe round trip finished, the UNLOAD was answered, or the run failed.
  virtual void on_channels_settled(const partition::Work& work) = 0;
  virtual void on_rescinded(std::uint32_t child_relid, bool was_open,
                            const partition::Work& work) = 0;
  virtual void on_round_trip(const partition::Work& work) = 0;
  virtual void on_unloaded(const partition::Work& work) = 0;
  virtual void fail(const std::string& why, const partition::Work& work) = 0;
  // The bus resumed from hibernation: the drivers of these primary
  // channels, open when it suspended and offered again, open them again.
  virtual void on_resumed(const std::vector<std::uint32_t>& child_relids,
                          const partition::Work& work) = 0;
};

class ControlPlane {
 public:
  enum class ChannelState {
    kOffered,       // offered, closed
    kGpadlSending,  // GPADL header and bodies being posted
    kAwaitGpadl,    // waiting for GPADL_CREATED
    kOpenSending,   // OPENCHANNEL to post
    kAwaitOpen,     // waiting for OPENCHANNEL_RESULT
    kOpen,
    kCloseSending,  // CLOSECHANNEL posted (or the open refused), GPADL_TEARDOWN to post
    kAwaitTorndown,
    kFailed,  // the host refused; not retried
    kRescinded,
  };

  struct Channel {
    std::uint32_t child_relid = 0;
    std::uint32_t connection_id = 0;
    ChannelState state = ChannelState::kOffered;
    std::uint32_t gpadl = 0;
    std::uint64_t first_page = 0;
    std::uint32_t pages = 0;                            // both rings; 0 once freed
    std::uint32_t ring_pages = 0;                       // per direction
    std::deque<std::vector<std::byte>> gpadl_messages;  // still to post
    std::uint32_t opens = 0;                            // successful opens so far
    bool open_when_rescinded = false;
    bool open_failed = false;  // the host refused OPENCHANNEL: its GPADL goes, then kFailed
    wire::Guid if_type;
    wire::Guid if_instance;
    std::uint32_t primary_relid = 0;  // a subchannel's primary; 0 for a primary
    std::uint16_t sub_channel_index = 0;
    // A subchannel offered before its primary's first open finished (the
    // driver was still in its probe).
    bool offered_during_probe = false;
    // Rescinded with its GPADL_HEADER unanswered: the host still answers it,
    // naming the relid, so the relid is released only after that answer.
    bool gpadl_answer_due = false;
    bool relid_released = false;   // RELID_RELEASED posted
    bool open_at_suspend = false;  // open when the guest began to hibernate
    // Quirk guest_handles_rescind_while_suspended: torn down while the bus
    // was suspended, yet still kept for the resume to find.
    bool torn_down_while_suspended = false;
    std::uint32_t target_vp = 0;  // the VP its interrupts should arrive at
  };

  // A second open of a subchannel (quirk guest_opens_subchannel_twice):
  // its ring pages and GPADL, which nothing ever gives back.
  struct StrayOpen {
    std::uint32_t child_relid = 0;
    std::uint32_t gpadl = 0;
    std::uint64_t first_page = 0;
    std::uint32_t pages = 0;
  };

  // `config` must have its ring_pages default applied (>= 2).
  ControlPlane(const proto::GuestConfig& config, PageAllocator& pages, ControlPlanePort& port);

  // The versions to try, newest first; empty if max_version is below all.
  const std::vector<std::uint32_t>& versions() const { return versions_; }

  // The guest's quirks (historical bugs re-created on purpose,
  // vmbus/base/quirks.h): code beside a correct path asks quirks().has().
  void set_quirks(const base::QuirkSet& quirks) { quirks_ = quirks; }
  const base::QuirkSet& quirks() const { return quirks_; }

  // The "control" context has something to do.
  bool ready() const;
  void step(const partition::Work& work);
  // One host message from the message slot ("msg" context).
  void handle_message(const wire::HvMessage& slot, const partition::Work& work);

  // The workload is over: post UNLOAD next (unload_at_end).
  void begin_unload();

  // Hibernation: "" or why the bus cannot suspend now (only with the
  // channels settled, and not after a resume that left devices missing).
  // The caller's drivers then close their open channels.
  std::string begin_hibernate();
  // "" or why the bus cannot resume now (only while suspended).
  std::string begin_resume();
  bool suspended() const { return phase_ == Phase::kSuspended; }
  // From begin_resume() until the resume is over (the drivers were told).
  bool resuming() const { return resuming_; }
  // When the resume stops waiting for channels not offered again (simulated
  // ns; 0: not waiting, or waiting forever with the quirk).
  std::uint64_t resume_deadline_ns() const { return resume_deadline_ns_; }
  // The clock moved: a resume deadline that passed ends the wait.
  void on_time(const partition::Work& work);
  // The channels kept at suspend that are not offered again yet, by relid.
  const std::map<std::uint32_t, Channel>& kept_channels() const { return kept_; }
  // Channels a resume went on without, one sentence each.
  const std::vector<std::string>& missing_after_resume() const { return missing_after_resume_; }
  // Moves open channel `child_relid`'s interrupts to VP `target_vp`
  // (MODIFYCHANNEL). Returns "" or why not (not open, no such VP, a
  // MODIFYCHANNEL of the channel still unanswered).
  std::string retarget(std::uint32_t child_relid, std::uint32_t target_vp,
                       const partition::Work& work);
  // A rescinded channel's endpoint let go of the rings: free their pages,
  // then release the relid.
  void release_rings(std::uint32_t child_relid, const partition::Work& work);

  std::uint32_t version() const { return version_; }  // 0: not connected
  bool in_workload() const { return phase_ == Phase::kWorkload; }
  bool unloaded() const { return phase_ == Phase::kDone; }
  bool round_trips_done() const;
  std::uint64_t pings_done() const { return pings_done_; }
  std::uint64_t probes_done() const { return probes_done_; }
  std::uint64_t ignored_messages() const { return ignored_messages_; }
  std::uint32_t rescinds() const { return rescinds_seen_; }
  const Channel* channel(std::uint32_t child_relid) const;
  bool is_open(std::uint32_t child_relid) const;
  const std::map<std::uint32_t, Channel>& channels() const { return channels_; }
  const std::vector<StrayOpen>& stray_opens() const { return stray_opens_; }
  // Primaries the host rescinded while subchannels of theirs were still
  // offered, one sentence each.
  const std::vector<std::string>& rescind_order_problems() const { return rescind_order_problems_; }
  // The subchannels attached to `primary_relid`, by relid.
  std::vector<std::uint32_t> subchannels_of(std::uint32_t primary_relid) const;

 private:
  enum class Phase {
    kConnect,  // post INITIATE_CONTACT for versions_[version_index_]
    kAwaitVersion,
    kRequestOffers,
    kAwaitOffers,
    kOpenChannels,  // channel by channel, see ChannelState
    kWorkload,      // the workload runs; drivers may open and close channels
    kUnload,
    kAwaitUnload,
    kDone,
    kSuspending,         // hibernation: the drivers close their channels
    kSuspended,          // UNLOAD answered; the channel records kept
    kAwaitResumeOffers,  // resumed after ALLOFFERS_DELIVERED; kept channels missing
  };

  // One step per phase.
  void connect(const partition::Work& work);
  void request_offers(const partition::Work& work);
  void open_channels(const partition::Work& work);
  void settle(const partition::Work& work);
  void workload(const partition::Work& work);
  void probe(const partition::Work& work);

  // One step of bringing channel up or down.
  void channel_step(Channel& channel, const partition::Work& work);
  void start_open(Channel& channel, const partition::Work& work);
  void post_gpadl(Channel& channel, const partition::Work& work);
  void post_open(Channel& channel, const partition::Work& work);
  void post_close(Channel& channel, const partition::Work& work);
  void post_teardown(Channel& channel, const partition::Work& work);
  bool wants_control(const Channel& channel) const;
  Channel* channel_needing_control();
  bool channel_needs_control() const;
  bool awaiting_host() const;
  std::vector<std::uint32_t> channels_to_open() const;
  std::uint32_t ring_pages_for(std::uint32_t child_relid) const;
  std::uint32_t target_vp_for(std::uint32_t child_relid) const;
  std::uint32_t vp_count() const { return std::max<std::uint32_t>(1, config_.vp_count()); }
  // Detaches the channel's rings and frees their pages.
  void free_rings(Channel& channel, partition::DetachReason reason, const partition::Work& work);
  // A rescinded channel is gone from the guest: RELID_RELEASED, and the
  // workload hears of the rescind.
  void release_relid(Channel& channel, const partition::Work& work);
  // The quirk guest_releases_relid_before_close: RELID_RELEASED while the
  // endpoint's close still uses the rings.
  void release_before_close(Channel& channel, const partition::Work& work);

  // Message handling: each on_* checks the message against the client's
  // state and returns "" when it acted, else why the message is ignored.
  std::string dispatch(const wire::Message& message, const partition::Work& work);
  std::string on_version_response(const wire::VersionResponse& m, const partition::Work& work);
  std::string on_offer(const wire::OfferChannel& m, const partition::Work& work);
  // A subchannel offer: attached to its primary, or why not.
  std::string attach_subchannel(const wire::OfferChannel& m, Channel& channel);
  // The primary's open or close waits for its subchannels.
  bool primary_open(const Channel& subchannel) const;
  bool subchannels_busy(const Channel& primary) const;
  // The quirk's second open of subchannel `channel`, from the probe.
  void open_again(const Channel& channel, const partition::Work& work);
  std::string on_all_offers_delivered(const partition::Work& work);
  std::string on_gpadl_created(const wire::GpadlCreated& m, const partition::Work& work);
  std::string on_open_result(const wire::OpenChannelResult& m, const partition::Work& work);
  std::string on_gpadl_torndown(const wire::GpadlTorndown& m, const partition::Work& work);
  std::string on_rescind(const wire::RescindChannelOffer& m, const partition::Work& work);
  std::string tear_down_again(const Channel& channel, const partition::Work& work);
  std::string on_modify_response(const wire::ModifyChannelResponse& m, const partition::Work& work);
  // The answer to a retarget()'s MODIFYCHANNEL.
  std::string on_retarget_response(const wire::ModifyChannelResponse& m,
                                   const partition::Work& work);
  // Channel `channel`'s interrupts are expected at `target_vp` from now on.
  void take_target(Channel& channel, std::uint32_t target_vp, const partition::Work& work);
  std::string on_unload_response(const partition::Work& work);
  void ignore(const wire::HvMessage& slot, const std::string& reason, const partition::Work& work);
  // Quirk guest_stops_at_unknown_message: ignores a message and, with the
  // quirk, stops handling any later one.
  void ignore_unplaced(const wire::HvMessage& slot, const std::string& reason,
                       const partition::Work& work);

  // Hibernation (control_plane_hibernate.cc).
  bool closing_for_suspend() const;
  bool quiet_for_suspend() const;
  void suspend_step(const partition::Work& work);
  void suspend_bus(const partition::Work& work);
  void finish_suspend(const partition::Work& work);
  std::string on_rescind_while_suspended(const wire::RescindChannelOffer& m,
                                         const partition::Work& work);
  // A re-offer of a kept channel: true if it was one (and is taken).
  bool take_reoffer(const wire::OfferChannel& m, const partition::Work& work);
  void await_kept_offers(const partition::Work& work);
  void give_up_on_missing(const partition::Work& work);
  void finish_resume(const partition::Work& work);

  bool post(const wire::Message& message, const partition::Work& work);
  bool post_raw(std::span<const std::byte> payload, const partition::Work& work);
  Channel* find_channel(std::uint32_t child_relid);

  proto::GuestConfig config_;
  base::QuirkSet quirks_;
  PageAllocator& pages_;
  ControlPlanePort& port_;

  Phase phase_ = Phase::kConnect;
  std::vector<std::uint32_t> versions_;  // to try, newest first
  std::size_t version_index_ = 0;
  std::uint32_t version_ = 0;
  std::uint32_t message_connection_id_ = wire::kVmbusMessageConnectionId;
  std::uint32_t next_gpadl_ = 0xE1E10;  // Linux's first handle
  std::uint32_t rescinds_seen_ = 0;
  std::uint64_t ignored_messages_ = 0;
  bool messages_stopped_ = false;              // quirk guest_stops_at_unknown_message
  std::map<std::uint32_t, Channel> channels_;  // by child_relid
  std::vector<StrayOpen> stray_opens_;
  std::vector<std::string> rescind_order_problems_;

  std::uint64_t probes_done_ = 0;  // hypercall_probes answered
  // MODIFYCHANNEL round trips.
  std::uint64_t pings_done_ = 0;
  bool ping_outstanding_ = false;
  std::uint32_t ping_relid_ = 0;

  // Hibernation.
  bool offers_ignored_ = false;            // Linux's ignore_any_offer_msg: the bus is suspended
  bool hibernating_ = false;               // the UNLOAD being answered is a suspend's
  bool resuming_ = false;                  // from begin_resume() until the resume is over
  std::map<std::uint32_t, Channel> kept_;  // by their relid before the suspend
  std::vector<std::uint32_t> resumed_relids_;
  std::uint64_t resume_deadline_ns_ = 0;
  std::vector<std::string> missing_after_resume_;
  // retarget()s waiting for MODIFYCHANNEL_RESPONSE: the VP asked for, by relid.
  std::map<std::uint32_t, std::uint32_t> retargets_;
};

}  // namespace vmbus::guest
