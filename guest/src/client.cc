#include "vmbus/guest/client.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "vmbus/base/check.h"
#include "vmbus/base/prng.h"
#include "vmbus/guest/actions.h"
#include "vmbus/guest/report.h"
#include "vmbus/partition/kmcl_actions.h"
#include "vmbus/partition/partition_support.h"
#include "vmbus/ring/ring.h"
#include "vmbus/wire/synic.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest {
namespace {

using partition::Hypervisor;

// Pages below this are never handed out (room for the SynIC pages a real
// guest would place there, and a guard against page 0).
constexpr std::uint64_t kFirstAllocatablePage = 16;
constexpr std::uint32_t kDefaultRingPages = 4;
constexpr std::uint64_t kMaxResumeTimeoutUs = 3'600'000'000;

}  // namespace

VmbusClient::VmbusClient() = default;
VmbusClient::~VmbusClient() = default;

std::string VmbusClient::start(const partition::StartInfo& info, Hypervisor& hv) {
  if (!config_.ParseFromString(info.config)) {
    return "the guest configuration does not parse";
  }
  VMBUS_CHECK(info.memory != nullptr, "the guest started without guest memory");
  memory_ = info.memory;
  const std::uint64_t total_pages = memory_->page_count();
  if (total_pages <= kFirstAllocatablePage) {
    return "guest memory of " + std::to_string(total_pages) + " pages is too small";
  }
  pages_ =
      std::make_unique<PageAllocator>(kFirstAllocatablePage, total_pages - kFirstAllocatablePage);
  if (config_.ring_pages() == 0) {
    config_.set_ring_pages(kDefaultRingPages);
  }
  if (config_.ring_pages() < 2) {
    return "ring_pages must be at least 2 (control page + data)";
  }
  if (config_.resume_timeout_us() > kMaxResumeTimeoutUs) {
    return "resume_timeout_us " + std::to_string(config_.resume_timeout_us()) + " is above an hour";
  }
  std::string quirk_error;
  const auto quirks = base::QuirkSet::parse(config_.quirks(), base::kQuirkGuest, &quirk_error);
  if (!quirks) {
    return "guest configuration: " + quirk_error;
  }
  if (std::string error = check_vps(); !error.empty()) {
    return error;
  }
  ControlPlanePort& port = *this;
  control_ = std::make_unique<ControlPlane>(config_, *pages_, port);
  control_->set_quirks(*quirks);
  if (control_->versions().empty()) {
    const std::uint32_t max_version =
        config_.max_version() == 0 ? wire::kVersionWin10V5_3 : config_.max_version();
    return "max_version " + wire::version_text(max_version) +
           " is below every version the guest speaks";
  }
  echo_ = std::make_unique<EchoVsc>(config_.echo(), base::stream_seed(info.seed, "guest/echo"));
  drivers_ = std::make_unique<KmclChannels>(*pages_, *memory_);
  drivers_->set_free_running(info.mode == proto::SCHEDULING_MODE_FREE_RUNNING);
  drivers_->set_quirks(*quirks);
  const partition::Work work{hv, ""};
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (std::string error = drivers_->add(driver, info.seed, work); !error.empty()) {
      return error;
    }
  }
  work.note("VMBus client up: will try " + std::to_string(control_->versions().size()) +
            " version(s), from " + wire::version_text(control_->versions().front()));
  return "";
}

std::uint32_t VmbusClient::vp_count() const {
  return std::max<std::uint32_t>(1, config_.vp_count());
}

std::string VmbusClient::check_vps() const {
  if (config_.vp_count() > wire::kMaxSimulatedGuestVps) {
    return "vp_count " + std::to_string(config_.vp_count()) + " is outside 1.." +
           std::to_string(wire::kMaxSimulatedGuestVps);
  }
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (driver.target_vp() >= vp_count()) {
      return "channel " + std::to_string(driver.child_relid()) + ": target_vp " +
             std::to_string(driver.target_vp()) + " is not one of the guest's " +
             std::to_string(vp_count()) + " VP(s)";
    }
  }
  return "";
}

std::vector<std::string> VmbusClient::ready_contexts() const {
  std::vector<std::string> ready;
  if (slot_.full()) {
    ready.push_back("msg");
  }
  if (!pending_event_relids_.empty()) {
    ready.push_back("isr");
  }
  if (reported_) {
    std::sort(ready.begin(), ready.end());
    return ready;
  }
  if (control_->ready()) {
    ready.push_back("control");
  }
  drivers_->add_ready(ready);
  echo_->add_ready(ready);
  if (ready.empty() && (drivers_->waiting_for_time() || control_->resume_deadline_ns() != 0)) {
    // Only the clock can wake a waiting driver thread or end a resume's
    // wait for missing channels: let time pass.
    ready.push_back("timer");
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

std::uint64_t VmbusClient::wake_at_ns() const {
  const std::uint64_t drivers_ns = drivers_->wake_at_ns();
  const std::uint64_t resume_ns = control_->resume_deadline_ns();
  if (drivers_ns == 0 || resume_ns == 0) {
    return drivers_ns == 0 ? resume_ns : drivers_ns;
  }
  return std::min(drivers_ns, resume_ns);
}

void VmbusClient::step(const std::string& context, Hypervisor& hv) {
  const partition::Work work{hv, context};
  drivers_->set_now(hv.now_ns());
  if (context == "timer") {
    // The devices saw the new time; a deadline that passed made its waiter
    // ready, or ends the resume's wait.
    control_->on_time(work);
    return;
  }
  if (context == "msg") {
    control_->handle_message(slot_.take(hv), work);
  } else if (context == "isr") {
    isr_step(work);
  } else if (context == "control") {
    control_->step(work);
  } else if (const auto name = partition::ContextName::parse(context); name && name->child_relid) {
    step_channel_context(*name, work);
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + context + "'");
  }
}

void VmbusClient::step_channel_context(const partition::ContextName& name,
                                       const partition::Work& work) {
  const std::uint32_t relid = *name.child_relid;
  if (name.kind == partition::kKmclContextKind) {
    if (drivers_->step(relid, name.rest, work)) {
      control_->release_rings(relid, work);
    }
    close_subchannels(work);
    finish_if_complete(work);
  } else if (name.kind == kDpcContextKind) {
    receive_step(relid, work);
  } else if (name.kind == kVscContextKind) {
    if (const std::string why = echo_->send_step(relid, work); !why.empty()) {
      fail(why, work);
    }
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + name.text() + "'");
  }
}

void VmbusClient::receive_step(std::uint32_t child_relid, const partition::Work& work) {
  if (const std::string why = echo_->receive_step(child_relid, work); !why.empty()) {
    fail(why, work);
    return;
  }
  if (control_->in_workload()) {
    echo_->refill();
  }
  finish_if_complete(work);
}

void VmbusClient::isr_step(const partition::Work& work) {
  // Test-and-clear every pending bit, VP by VP, then run each channel's DPC.
  const std::map<std::uint32_t, std::set<std::uint32_t>> by_vp = std::move(pending_event_relids_);
  pending_event_relids_.clear();
  for (const auto& [vp, relids] : by_vp) {
    for (std::uint32_t relid : relids) {
      service_interrupt(vp, relid, work);
    }
  }
}

void VmbusClient::service_interrupt(std::uint32_t vp, std::uint32_t relid,
                                    const partition::Work& work) {
  if (!control_->is_open(relid)) {
    work.note("interrupt for relid " + std::to_string(relid) + " with no open channel: ignored");
  } else if (!serve_off_target(vp, relid, work)) {
    return;
  } else if (partition::KmclEndpoint* endpoint = drivers_->find(relid)) {
    endpoint->device.on_interrupt(endpoint->channel());
  } else {
    echo_->on_interrupt(relid);
  }
}

// Hyper-V moves a channel's interrupts to a new VP asynchronously: after a
// MODIFYCHANNEL (even an accepted one) an interrupt may still come in on
// the old VP. The flag names the channel whatever VP it is set on, so the
// guest services it there, as Linux's vmbus_chan_sched() does on whichever
// CPU the interrupt arrived at; dropping it would leave the packets it
// announced in the ring with no interrupt coming.
bool VmbusClient::serve_off_target(std::uint32_t vp, std::uint32_t relid,
                                   const partition::Work& work) {
  const std::uint32_t target_vp = control_->channel(relid)->target_vp;
  if (vp == target_vp) {
    return true;
  }
  const std::string what = "interrupt for relid " + std::to_string(relid) + " on vp " +
                           std::to_string(vp) + ", the channel targets vp " +
                           std::to_string(target_vp);
  if (control_->quirks().has(base::Quirk::kGuestDropsInterruptOnOldVp)) {
    work.note("quirk guest_drops_interrupt_on_old_vp: " + what + ": dropped");
    return false;
  }
  work.note(what + ": serviced on vp " + std::to_string(vp));
  return true;
}

void VmbusClient::deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                                  Hypervisor& hv) {
  drivers_->set_now(hv.now_ns());
  slot_.deliver(sint, hv_message, hv);
}

void VmbusClient::deliver_event(std::span<const std::uint32_t> child_relids,
                                std::span<const std::uint32_t> /*connection_ids*/, std::uint32_t vp,
                                Hypervisor& hv) {
  drivers_->set_now(hv.now_ns());
  if (vp >= vp_count()) {
    partition::Work{hv, ""}.note("an interrupt on vp " + std::to_string(vp) +
                                 ", which this guest does not have: ignored");
    return;
  }
  // Each VP's event-flags page: bits stay set until the ISR test-and-clears
  // them, so further signals for the same relid on that VP coalesce.
  if (!child_relids.empty()) {
    pending_event_relids_[vp].insert(child_relids.begin(), child_relids.end());
  }
}

std::string VmbusClient::perform(const proto::PartitionAction& action, Hypervisor& hv) {
  const partition::Work work{hv, "action"};
  drivers_->set_now(hv.now_ns());
  std::string error;
  {
    // An in-line send may signal the host.
    std::deque<partition::SignalScope> scopes;
    for (const auto& endpoint : drivers_->endpoints()) {
      scopes.emplace_back(*endpoint, hv);
    }
    error = perform_action(action, *drivers_, *control_, rings_, raw_packets_, work);
  }
  sync_drivers(work);
  return error;
}

void VmbusClient::sync_drivers(const partition::Work& work) {
  for (const auto& endpoint : drivers_->endpoints()) {
    if (drivers_->sync(*endpoint, work)) {
      control_->release_rings(endpoint->child_relid(), work);
    }
  }
  close_subchannels(work);
}

// Linux's vmbus_close() of a primary closes its subchannels first. Here the
// primary's driver disabled its KMCL channel: its subchannels' channels are
// disabled too (from a driver thread, as a channel_op DISABLE is), and the
// control plane posts their CLOSECHANNELs before the primary's. They stay
// closed if the driver opens the primary again.
void VmbusClient::close_subchannels(const partition::Work& work) {
  for (const auto& [relid, channel] : control_->channels()) {
    if (channel.primary_relid == 0 || subchannels_closing_.count(relid) != 0) {
      continue;
    }
    const partition::KmclEndpoint* primary = drivers_->find(channel.primary_relid);
    partition::KmclEndpoint* subchannel = drivers_->find(relid);
    if (primary == nullptr || subchannel == nullptr || !primary->wants_close()) {
      continue;
    }
    subchannels_closing_.insert(relid);
    proto::ChannelOpAction disable;
    disable.set_op(proto::ChannelOpAction::DISABLE);
    if (const std::string why = partition::kmcl_channel_op(*subchannel, disable, "");
        !why.empty()) {
      work.note("subchannel " + std::to_string(relid) + " not disabled with its primary: " + why);
    }
  }
}

proto::FinalReport VmbusClient::final_report() {
  proto::FinalReport report;
  *report.mutable_guest() = guest_report(*control_, *drivers_, rings_, ready_contexts().empty());
  return report;
}

// --- the control plane's port ------------------------------------------------------

void VmbusClient::attach_rings(std::uint32_t child_relid, const partition::RingPlacement& placement,
                               const partition::Work& work) {
  VMBUS_CHECK(rings_.count(child_relid) == 0,
              "rings attached twice to channel " + std::to_string(child_relid));
  partition::ChannelRings rings = partition::map_rings(*memory_, placement);
  ring::initialize_ring(*rings.outbound);
  ring::initialize_ring(*rings.inbound);
  load_inbound_image(child_relid, *rings.inbound, work);
  rings_.emplace(child_relid, std::move(rings));
}

// A channel that starts from a ring image (KmclDriverConfig
// .inbound_ring_image) gets it before the host ever sees the ring: the
// OPENCHANNEL that hands the ring over publishes it, as it publishes an
// empty ring. The runner checked its size and indices; a size that does not
// match here is our bug.
void VmbusClient::load_inbound_image(std::uint32_t child_relid, ring::RingMemory& inbound,
                                     const partition::Work& work) {
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (driver.child_relid() != child_relid || driver.inbound_ring_image().empty()) {
      continue;
    }
    const std::string& image = driver.inbound_ring_image();
    const std::span<std::byte> region = inbound.region();
    VMBUS_CHECK(image.size() == region.size(), "ring image of " + std::to_string(image.size()) +
                                                   " bytes for a ring of " +
                                                   std::to_string(region.size()));
    std::memcpy(region.data(), image.data(), image.size());
    work.hv.trace(partition::trace_ring(
        work.context, child_relid, "host_to_guest", "image_loaded", ring::RingView(inbound),
        static_cast<std::uint32_t>(image.size()), 0, "the channel starts from a ring image"));
  }
}

void VmbusClient::detach_rings(std::uint32_t child_relid, partition::DetachReason /*reason*/,
                               const partition::Work& /*work*/) {
  const partition::KmclEndpoint* endpoint = drivers_->find(child_relid);
  VMBUS_CHECK(!echo_->running(child_relid) &&
                  (endpoint == nullptr || (!endpoint->device_has_rings() &&
                                           endpoint->wire != partition::WireState::kPeerClosing)),
              "rings detached from channel " + std::to_string(child_relid) + " while in use");
  rings_.erase(child_relid);
  raw_packets_.erase(child_relid);
}

bool VmbusClient::wants_open(std::uint32_t child_relid, std::uint32_t opens) const {
  // A KMCL driver's channel opens when its driver enabled it (at start, and
  // again after a VmbChannelDisable + VmbChannelEnable); an echo channel is
  // opened, closed and opened again, reopen_cycles times.
  const partition::KmclEndpoint* endpoint = drivers_->find(child_relid);
  return endpoint != nullptr ? endpoint->wants_open() : opens < config_.reopen_cycles() + 1;
}

bool VmbusClient::wants_close(std::uint32_t child_relid, std::uint32_t opens) const {
  const partition::KmclEndpoint* endpoint = drivers_->find(child_relid);
  return endpoint != nullptr ? endpoint->wants_close() : opens < config_.reopen_cycles() + 1;
}

void VmbusClient::open_started(std::uint32_t child_relid) {
  if (partition::KmclEndpoint* endpoint = drivers_->find(child_relid)) {
    endpoint->wire_open_started();
  }
}

void VmbusClient::close_posted(std::uint32_t child_relid) {
  if (partition::KmclEndpoint* endpoint = drivers_->find(child_relid)) {
    endpoint->close_posted();
  }
  echo_->stop(child_relid);
}

bool VmbusClient::start_endpoint(std::uint32_t child_relid, std::uint32_t connection_id,
                                 std::uint32_t open_number, const partition::Work& work) {
  const auto rings = rings_.find(child_relid);
  VMBUS_CHECK(rings != rings_.end(), "an open channel without rings");
  if (partition::KmclEndpoint* endpoint = drivers_->find(child_relid)) {
    return drivers_->start(*endpoint, connection_id, open_number, rings->second, work);
  }
  echo_->start(child_relid, connection_id, rings->second);
  work.hv.trace(partition::trace_channel(work.context, child_relid, "open",
                                         "open #" + std::to_string(open_number)));
  return true;
}

bool VmbusClient::rescind_endpoint(std::uint32_t child_relid, const partition::Work& work) {
  if (partition::KmclEndpoint* endpoint = drivers_->find(child_relid)) {
    return drivers_->rescind(*endpoint, work);
  }
  echo_->stop(child_relid);
  return false;
}

// --- the workload ------------------------------------------------------------------

void VmbusClient::on_channels_settled(const partition::Work& work) {
  if (config_.echo().packets() != 0) {
    const std::uint32_t relid = config_.echo().child_relid();
    if (relid == 0 || !control_->is_open(relid)) {
      fail("the echo channel " + std::to_string(relid) + " is not open", work);
      return;
    }
    echo_->refill();
  }
  if (config_.expect_rescinds() == 0) {
    finish_if_complete(work);
  }
}

void VmbusClient::on_rescinded(std::uint32_t child_relid, bool was_open,
                               const partition::Work& work) {
  if (config_.expect_rescinds() != 0 && control_->rescinds() >= config_.expect_rescinds()) {
    finish_workload(work);
  } else if (was_open && child_relid == config_.echo().child_relid() &&
             config_.echo().packets() != 0) {
    fail("the echo channel was rescinded after " + std::to_string(echo_->packets_received()) +
             " packets",
         work);
  }
}

void VmbusClient::on_round_trip(const partition::Work& work) {
  finish_if_complete(work);
}

// Each driver's resume callback opens its channel again. Only primaries
// are named: a real driver asks its device for new subchannels, which the
// simulated drivers do not, so subchannels stay closed after a resume.
void VmbusClient::on_resumed(const std::vector<std::uint32_t>& child_relids,
                             const partition::Work& work) {
  proto::ChannelOpAction enable;
  enable.set_op(proto::ChannelOpAction::ENABLE);
  for (std::uint32_t relid : child_relids) {
    partition::KmclEndpoint* endpoint = drivers_->find(relid);
    if (endpoint == nullptr) {
      continue;
    }
    if (const std::string why = partition::kmcl_channel_op(*endpoint, enable, ""); !why.empty()) {
      work.note("channel " + std::to_string(relid) + " not opened again after resume: " + why);
    }
  }
}

void VmbusClient::on_unloaded(const partition::Work& work) {
  finish_workload(work);
}

bool VmbusClient::workload_complete() const {
  if (drivers_->scenario_mode()) {
    return false;  // a scenario's run ends when the system goes quiet
  }
  return echo_->complete() && drivers_->drivers_done() && control_->round_trips_done();
}

void VmbusClient::finish_if_complete(const partition::Work& work) {
  if (control_->in_workload() && workload_complete()) {
    finish_workload(work);
  }
}

void VmbusClient::finish_workload(const partition::Work& work) {
  if (reported_) {
    return;
  }
  if (config_.unload_at_end() && !control_->unloaded()) {
    control_->begin_unload();
    return;
  }
  reported_ = true;
  work.hv.report(run_summary(*control_, *echo_, *drivers_), true);
}

void VmbusClient::fail(const std::string& why, const partition::Work& work) {
  if (reported_) {
    return;
  }
  reported_ = true;
  work.note("workload failed: " + why);
  work.hv.report(failure_summary(why, *control_, *echo_), true);
}

}  // namespace vmbus::guest
