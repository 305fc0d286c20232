#include "vmbus/guest/client.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>

#include "vmbus/base/check.h"
#include "vmbus/base/prng.h"
#include "vmbus/partition/ring_snapshot.h"
#include "vmbus/wire/gpadl.h"
#include "vmbus/wire/message_table.h"
#include "vmbus/wire/synic.h"
#include "vmbus/wire/versions.h"

namespace vmbus::guest {
namespace {

using partition::Hypervisor;

// Pages below this are never handed out (room for the SynIC pages a real
// guest would place there, and a guard against page 0).
constexpr std::uint64_t kFirstAllocatablePage = 16;
constexpr std::uint32_t kDefaultRingPages = 4;
constexpr std::uint32_t kDefaultEchoWindow = 16;
constexpr std::uint32_t kBatchPackets = 16;
constexpr std::size_t kEchoHeaderBytes = 16;  // sequence number + checksum

// Channel contexts: "dpc/<relid>" and "vsc/<relid>" (one receive or send
// phase of the echo VSC), "kmcl/<relid>/<device context>" (one step of a
// KMCL driver's device).
constexpr std::string_view kDpcContext = "dpc";
constexpr std::string_view kVscContext = "vsc";
constexpr std::string_view kKmclContext = "kmcl";

std::uint64_t fnv1a(std::span<const std::byte> bytes) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (std::byte b : bytes) {
    hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001B3ull;
  }
  return hash;
}

}  // namespace

// --- PageAllocator -----------------------------------------------------------

PageAllocator::PageAllocator(std::uint64_t first_page, std::uint64_t page_count) {
  if (page_count > 0) {
    free_[first_page] = page_count;
  }
}

std::optional<std::uint64_t> PageAllocator::allocate(std::uint32_t count) {
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second >= count) {
      const std::uint64_t first = it->first;
      const std::uint64_t left = it->second - count;
      free_.erase(it);
      if (left > 0) {
        free_[first + count] = left;
      }
      return first;
    }
  }
  return std::nullopt;
}

void PageAllocator::free(std::uint64_t first_page, std::uint32_t count) {
  auto [it, inserted] = free_.emplace(first_page, count);
  VMBUS_CHECK(inserted, "double free of guest pages");
  // Merge with the following and the preceding range.
  if (auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free_.erase(next);
  }
  if (it != free_.begin()) {
    auto previous = std::prev(it);
    if (previous->first + previous->second == it->first) {
      previous->second += it->second;
      free_.erase(it);
    }
  }
}

// --- VmbusClient ---------------------------------------------------------------

// --- KmclEndpoint ----------------------------------------------------------------

namespace {

// The driver's action for a DriverAction; its kind must be valid.
kmcl::Action driver_action(const proto::DriverAction& action) {
  kmcl::Action out;
  const auto misuse = [&out](kmcl::Misuse which) {
    out.kind = kmcl::PacketAction::kMisuse;
    out.misuse = which;
  };
  switch (action.kind()) {
    case proto::DriverAction::KIND_COMPLETE_LATER:
      out.kind = kmcl::PacketAction::kCompleteLater;
      break;
    case proto::DriverAction::KIND_DEFER:
      out.kind = kmcl::PacketAction::kDefer;
      break;
    case proto::DriverAction::KIND_FAIL:
      out.kind = kmcl::PacketAction::kFail;
      break;
    case proto::DriverAction::KIND_COMPLETE_TWICE:
      misuse(kmcl::Misuse::kCompleteTwice);
      break;
    case proto::DriverAction::KIND_LEAVE_OUTSTANDING:
      out.kind = kmcl::PacketAction::kLeaveOutstanding;
      break;
    case proto::DriverAction::KIND_GET_EXTERNAL_DATA:
      out.kind = kmcl::PacketAction::kGetExternalData;
      break;
    case proto::DriverAction::KIND_COMPLETE_AFTER_FAIL:
      misuse(kmcl::Misuse::kCompleteAfterFail);
      break;
    case proto::DriverAction::KIND_COMPLETE_AFTER_DEFER:
      misuse(kmcl::Misuse::kCompleteAfterDefer);
      break;
    case proto::DriverAction::KIND_DEFER_OUTSIDE_CALLBACK:
      misuse(kmcl::Misuse::kDeferOutsideCallback);
      break;
    case proto::DriverAction::KIND_FAIL_OUTSIDE_CALLBACK:
      misuse(kmcl::Misuse::kFailOutsideCallback);
      break;
    default:
      out.kind = kmcl::PacketAction::kComplete;
      break;
  }
  out.later_steps = std::max<std::uint32_t>(1, action.later_steps());
  out.echo_payload = action.echo_payload();
  const auto text = std::as_bytes(std::span(action.completion_text()));
  out.completion.assign(text.begin(), text.end());
  return out;
}

std::string check_action(const proto::DriverAction& action, const std::string& where) {
  if (!proto::DriverAction::Kind_IsValid(action.kind())) {
    return where + ": unknown action kind " + std::to_string(action.kind());
  }
  if (action.echo_payload() && !action.completion_text().empty()) {
    return where + ": echo_payload and completion_text both set";
  }
  return "";
}

// A rule's match: by packet index and/or every n-th index, a payload prefix,
// the delivery number (0 = the first delivery only, as a deferred packet
// then gets the default action when it comes back; any_delivery = all), then
// a seeded percentage.
kmcl::PacketMatch driver_match(const proto::DriverRule& rule) {
  kmcl::PacketMatch match;
  if (rule.match_index()) {
    match.index = rule.packet_index();
  }
  if (rule.every() != 0) {
    match.every = rule.every();
  }
  const auto prefix = std::as_bytes(std::span(rule.payload_prefix()));
  match.payload_prefix.assign(prefix.begin(), prefix.end());
  if (!rule.any_delivery()) {
    match.delivery = rule.delivery() == 0 ? 1 : rule.delivery();
  }
  match.percent = rule.percent() == 0 ? 100 : rule.percent();
  return match;
}

std::string check_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                         const proto::DriverAction& default_action) {
  for (int i = 0; i < rules.size(); ++i) {
    const std::string where = "rule " + std::to_string(i + 1);
    if (rules[i].percent() > 100) {
      return where + ": percent above 100";
    }
    if (std::string error = check_action(rules[i].action(), where); !error.empty()) {
      return error;
    }
  }
  return check_action(default_action, "default action");
}

kmcl::DeviceConfig device_config(const proto::KmclDriverConfig& config) {
  kmcl::DeviceConfig device;
  device.name = "guest";
  device.max_packets_per_dpc_pass = 64;
  if (config.defer_livelock_limit() != 0) {
    device.verifier.defer_livelock_limit = config.defer_livelock_limit();
  }
  return device;
}

}  // namespace

std::string validate_kmcl_driver(const proto::KmclDriverConfig& config) {
  const std::string channel = "kmcl driver on channel " + std::to_string(config.child_relid());
  if (config.ring_pages() == 1) {
    return channel + ": ring_pages must be at least 2 (control page + data)";
  }
  if (std::string error = check_policy(config.rules(), config.default_action()); !error.empty()) {
    return channel + ", " + error;
  }
  return "";
}

std::string apply_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                                const proto::DriverAction& default_action,
                                kmcl::ScriptedDriver* driver) {
  if (std::string error = check_policy(rules, default_action); !error.empty()) {
    return error;
  }
  driver->clear_rules();
  for (const proto::DriverRule& rule : rules) {
    driver->add_rule(driver_match(rule), driver_action(rule.action()));
  }
  driver->set_default_action(driver_action(default_action));
  return "";
}

KmclEndpoint::KmclEndpoint(const proto::KmclDriverConfig& driver_config, std::uint64_t seed)
    : config(driver_config),
      device(device_config(driver_config)),
      driver(device, "vsc/" + std::to_string(driver_config.child_relid()),
             driver_config.seed() != 0 ? driver_config.seed() : seed) {
  const kmcl::NTSTATUS created = driver.create_channel(false, [&](kmcl::VMBCHANNEL channel) {
    if (config.maximum_packet_size() != 0) {
      kmcl::VmbChannelInitSetMaximumPacketSize(channel, config.maximum_packet_size());
    }
  });
  VMBUS_CHECK(created == kmcl::STATUS_SUCCESS, "cannot create the KMCL driver's channel");
  device.set_trace_sink(this);
  device.set_control_plane(this);
  kmcl::ChannelOptions options;
  options.escalate_fail_to_close = config.escalate_fail_to_close();
  if (config.external_data_latency_steps() != 0) {
    options.external_data_latency_steps = config.external_data_latency_steps();
  }
  device.set_channel_options(driver.channel(), options);
  const std::string policy = apply_driver_policy(config.rules(), config.default_action(), &driver);
  VMBUS_CHECK(policy.empty(), "an unvalidated KMCL driver configuration: " + policy);
  // Scenario runs trace every callback; other runs can be very long.
  driver.keep_records = config.scenario();
  if (config.quota() != 0) {
    kmcl::VmbChannelSetTransactionQuota(driver.channel(), config.quota());
  }
  if (config.require_passive()) {
    kmcl::VmbChannelSetIncomingProcessingAtPassive(driver.channel(), kmcl::TRUE);
  }
  // Enable tells the control plane (on_channel_enabled): open it once offered.
  VMBUS_CHECK(kmcl::VmbChannelEnable(driver.channel()) == kmcl::STATUS_SUCCESS,
              "cannot enable the KMCL driver's channel");
}

void KmclEndpoint::on_channel_enabled(kmcl::VMBCHANNEL /*channel*/,
                                      const kmcl::ChannelConfig& /*channel_config*/) {
  open_wanted = true;
}

void KmclEndpoint::on_channel_disabled(kmcl::VMBCHANNEL /*channel*/) {
  // A local Disable (or a Fail escalated to a close) finished; the device let
  // go of the rings. The guest closes the channel on the wire.
  opened = false;
  open_wanted = false;
  close_wanted = true;
  rings_detached = true;
}

void KmclEndpoint::on_channel_closed(kmcl::VMBCHANNEL /*channel*/) {
  // A rescind finished in the device: the rings are free to go.
  opened = false;
  rings_detached = true;
}

namespace {

proto::TraceRecord kmcl_record(std::uint32_t relid, const std::string& device_context) {
  proto::TraceRecord record;
  record.set_context(partition::channel_context(kKmclContext, relid, device_context));
  return record;
}

}  // namespace

void KmclEndpoint::on_violation(const kmcl::Violation& violation) {
  proto::TraceRecord record = kmcl_record(config.child_relid(), violation.context);
  auto* kmcl_event = record.mutable_kmcl();
  kmcl_event->set_kind("violation");
  kmcl_event->set_code(kmcl::violation_code_name(violation.code));
  kmcl_event->set_api(violation.api);
  kmcl_event->set_channel(violation.channel);
  kmcl_event->set_handle(violation.handle);
  kmcl_event->set_irql(violation.irql);
  kmcl_event->set_detail(violation.detail);
  pending_trace.push_back(std::move(record));
}

void KmclEndpoint::on_event(const kmcl::TraceEvent& event) {
  proto::TraceRecord record = kmcl_record(config.child_relid(), event.context);
  auto* kmcl_event = record.mutable_kmcl();
  kmcl_event->set_kind(event.kind);
  kmcl_event->set_channel(event.channel);
  kmcl_event->set_handle(event.handle);
  kmcl_event->set_irql(event.irql);
  kmcl_event->set_detail(event.detail);
  pending_trace.push_back(std::move(record));
}

void KmclEndpoint::queue_driver_records() {
  if (!config.scenario()) {
    return;
  }
  const std::vector<kmcl::CallbackRecord>& records = driver.records();
  const std::uint32_t channel_index = device.channel_config(driver.channel()).index;
  while (records_emitted < records.size()) {
    const kmcl::CallbackRecord& callback = records[records_emitted];
    // A ProcessPacket whose action has not returned yet (it blocked at
    // PASSIVE_LEVEL) is written once it has: its record names the action.
    if (callback.callback == "ProcessPacket" && callback.action.empty()) {
      break;
    }
    proto::TraceRecord record = kmcl_record(config.child_relid(), callback.context);
    auto* kmcl_event = record.mutable_kmcl();
    kmcl_event->set_kind("driver");
    kmcl_event->set_channel(channel_index);
    kmcl_event->set_handle(callback.handle);
    kmcl_event->set_irql(callback.irql);
    kmcl_event->set_detail(kmcl::to_scenario_text(callback));
    pending_trace.push_back(std::move(record));
    ++records_emitted;
  }
}

void KmclEndpoint::note(const std::string& text) {
  proto::TraceRecord record = kmcl_record(config.child_relid(), kmcl::current_context_name());
  record.mutable_note()->set_text(text);
  pending_trace.push_back(std::move(record));
}

void KmclEndpoint::flush_trace(partition::Hypervisor& trace_to) {
  for (proto::TraceRecord& record : pending_trace) {
    trace_to.trace(std::move(record));
  }
  pending_trace.clear();
}

void KmclEndpoint::signal_peer() {
  VMBUS_CHECK(hv != nullptr, "the KMCL device signalled outside a step");
  hv->signal_event(connection_id, 0);
}

KmclEndpoint* VmbusClient::kmcl_for(std::uint32_t child_relid) {
  for (const auto& endpoint : kmcl_) {
    if (endpoint->config.child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

const KmclEndpoint* VmbusClient::kmcl_for(std::uint32_t child_relid) const {
  for (const auto& endpoint : kmcl_) {
    if (endpoint->config.child_relid() == child_relid) {
      return endpoint.get();
    }
  }
  return nullptr;
}

bool VmbusClient::scenario_mode() const {
  return std::any_of(kmcl_.begin(), kmcl_.end(),
                     [](const auto& endpoint) { return endpoint->config.scenario(); });
}

void VmbusClient::update_clocks(const Hypervisor& hv) {
  // Every device sees the simulated time of the step or delivery that runs,
  // so a wait's deadline (a synchronous request's timeout) can pass.
  for (const auto& endpoint : kmcl_) {
    endpoint->device.set_now_ns(hv.now_ns());
  }
}

void VmbusClient::kmcl_step(std::uint32_t child_relid, const std::string& device_context,
                            Hypervisor& hv) {
  KmclEndpoint* endpoint = kmcl_for(child_relid);
  VMBUS_CHECK(endpoint != nullptr && !device_context.empty(),
              "no KMCL driver for context '" + current_context_ + "'");
  endpoint->hv = &hv;
  endpoint->device.step(device_context);
  endpoint->hv = nullptr;
  sync_endpoint(*endpoint, hv);
  finish_if_complete(hv);
}

void VmbusClient::sync_endpoint(KmclEndpoint& endpoint, Hypervisor& hv) {
  endpoint.queue_driver_records();
  const std::uint32_t relid = endpoint.config.child_relid();
  const auto& completions = endpoint.driver.send_completions();
  for (; endpoint.completions_emitted < completions.size(); ++endpoint.completions_emitted) {
    const kmcl::ScriptedDriver::SendCompletion& done = completions[endpoint.completions_emitted];
    proto::TraceRecord record = kmcl_record(relid, done.context);
    auto* event = record.mutable_completion();
    event->set_child_relid(relid);
    event->set_trans_id(done.trans_id);
    event->set_status(kmcl::ntstatus_name(done.status));
    event->set_bytes(static_cast<std::uint32_t>(done.payload.size()));
    endpoint.pending_trace.push_back(std::move(record));
    if (const auto lent = endpoint.external_pages.find(done.send_index);
        lent != endpoint.external_pages.end()) {
      pages_->free(lent->second.first, lent->second.second);
      endpoint.external_pages.erase(lent);
    }
  }
  endpoint.flush_trace(hv);
  if (endpoint.rings_detached) {
    // A rescinded channel keeps its pages until the device's close let go of
    // them; a disabled one frees them once the host tore the GPADL down.
    endpoint.rings_detached = false;
    for (auto& [channel_relid, channel] : channels_) {
      if (channel.kmcl == &endpoint && channel.state == ChannelState::kRescinded) {
        release_rings(channel);
      }
    }
  }
}

// --- VmbusClient -------------------------------------------------------------------

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
  const std::uint32_t max_version =
      config_.max_version() == 0 ? wire::kVersionWin10V5_3 : config_.max_version();
  for (std::uint32_t version : wire::kGuestVersionTryOrder) {
    if (version <= max_version) {
      versions_.push_back(version);
    }
  }
  if (versions_.empty()) {
    return "max_version " + wire::version_text(max_version) +
           " is below every version the "
           "guest speaks";
  }
  rng_ = base::Prng(info.seed);
  for (const proto::KmclDriverConfig& driver : config_.kmcl_drivers()) {
    if (driver.child_relid() == 0 || kmcl_for(driver.child_relid()) != nullptr) {
      return "kmcl driver relid " + std::to_string(driver.child_relid()) + " is zero or repeated";
    }
    if (std::string error = validate_kmcl_driver(driver); !error.empty()) {
      return error;
    }
    kmcl_.push_back(std::make_unique<KmclEndpoint>(driver, info.seed));
    sync_endpoint(*kmcl_.back(), hv);
  }
  hv.trace(partition::trace_note("", "VMBus client up: will try " +
                                         std::to_string(versions_.size()) + " version(s), from " +
                                         wire::version_text(versions_.front())));
  return "";
}

VmbusClient::Channel* VmbusClient::find_channel(std::uint32_t child_relid) {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

const VmbusClient::Channel* VmbusClient::find_channel(std::uint32_t child_relid) const {
  const auto it = channels_.find(child_relid);
  return it == channels_.end() ? nullptr : &it->second;
}

VmbusClient::Channel* VmbusClient::echo_channel() {
  if (config_.echo().child_relid() == 0) {
    return nullptr;
  }
  return find_channel(config_.echo().child_relid());
}

std::vector<std::uint32_t> VmbusClient::channels_to_open() const {
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

bool VmbusClient::awaiting_host() const {
  return std::any_of(channels_.begin(), channels_.end(), [](const auto& entry) {
    const ChannelState s = entry.second.state;
    return s == ChannelState::kAwaitGpadl || s == ChannelState::kAwaitOpen ||
           s == ChannelState::kAwaitTorndown;
  });
}

bool VmbusClient::wants_control(const Channel& channel) const {
  switch (channel.state) {
    case ChannelState::kGpadlSending:
    case ChannelState::kOpenSending:
    case ChannelState::kCloseSending:
      return true;
    case ChannelState::kOffered:
      // A KMCL driver's channel opens when its driver enabled it (at start,
      // and again after a VmbChannelDisable + VmbChannelEnable).
      return channel.kmcl != nullptr ? channel.kmcl->open_wanted
                                     : channel.opens < config_.reopen_cycles() + 1;
    case ChannelState::kOpen:
      // ... and closes when its driver disabled it; an echo channel closes
      // to be opened again, reopen_cycles times.
      return channel.kmcl != nullptr ? channel.kmcl->close_wanted
                                     : channel.opens < config_.reopen_cycles() + 1;
    default:
      return false;
  }
}

// Channels are brought up one at a time, in relid order: the first one that
// still needs an action from us, unless the host owes us an answer.
VmbusClient::Channel* VmbusClient::channel_needing_control() {
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

bool VmbusClient::channel_needs_control() const {
  if (awaiting_host()) {
    return false;
  }
  const std::vector<std::uint32_t> relids = channels_to_open();
  return std::any_of(relids.begin(), relids.end(),
                     [this](std::uint32_t relid) { return wants_control(channels_.at(relid)); });
}

bool VmbusClient::control_ready() const {
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
      return (pings_pending() && !ping_outstanding_) || probes_done_ < config_.hypercall_probes() ||
             channel_needs_control();
    default:
      return false;
  }
}

bool VmbusClient::pings_pending() const {
  return pings_done_ < config_.message_pings();
}

bool VmbusClient::workload_complete() const {
  if (scenario_mode()) {
    return false;  // a scenario's run ends when the system goes quiet
  }
  const bool echo_done =
      config_.echo().packets() == 0 || echo_received_ == config_.echo().packets();
  const bool drivers_done = std::all_of(kmcl_.begin(), kmcl_.end(), [](const auto& endpoint) {
    return endpoint->driver.retirements().size() >= endpoint->config.expect_packets();
  });
  return echo_done && drivers_done && !pings_pending() &&
         probes_done_ == config_.hypercall_probes();
}

void VmbusClient::finish_if_complete(Hypervisor& hv) {
  if (phase_ == Phase::kWorkload && workload_complete()) {
    finish_workload(hv);
  }
}

std::vector<std::string> VmbusClient::ready_contexts() const {
  std::vector<std::string> ready;
  if (slot_.full()) {
    ready.push_back("msg");
  }
  if (!pending_event_relids_.empty()) {
    ready.push_back("isr");
  }
  if (control_ready() && !reported_) {
    ready.push_back("control");
  }
  for (const auto& endpoint : kmcl_) {
    if (reported_) {
      break;
    }
    for (const std::string& context : endpoint->device.ready_contexts()) {
      ready.push_back(
          partition::channel_context(kKmclContext, endpoint->config.child_relid(), context));
    }
  }
  for (const auto& [relid, channel] : channels_) {
    if (channel.state != ChannelState::kOpen || channel.kmcl != nullptr || reported_) {
      continue;
    }
    if (channel.receiver->ready()) {
      ready.push_back(partition::channel_context(kDpcContext, relid));
    }
    if (channel.sender->ready()) {
      ready.push_back(partition::channel_context(kVscContext, relid));
    }
  }
  if (ready.empty() && !reported_ &&
      std::any_of(kmcl_.begin(), kmcl_.end(),
                  [](const auto& endpoint) { return endpoint->device.next_deadline_ns(); })) {
    // Only the clock can wake a waiting driver thread: let time pass.
    ready.push_back("timer");
  }
  std::sort(ready.begin(), ready.end());
  return ready;
}

std::uint64_t VmbusClient::wake_at_ns() const {
  std::uint64_t earliest = 0;
  for (const auto& endpoint : kmcl_) {
    if (const std::optional<std::uint64_t> deadline = endpoint->device.next_deadline_ns()) {
      earliest = earliest == 0 ? *deadline : std::min(earliest, *deadline);
    }
  }
  return earliest;
}

void VmbusClient::step(const std::string& context, Hypervisor& hv) {
  current_context_ = context;
  update_clocks(hv);
  if (context == "timer") {
    return;  // the devices saw the new time; a deadline that passed made its waiter ready
  }
  if (context == "msg") {
    handle_message(slot_.take(hv), hv);
  } else if (context == "isr") {
    isr_step(hv);
  } else if (context == "control") {
    control_step(hv);
  } else if (const auto name = partition::ContextName::parse(context); name && name->child_relid) {
    step_channel_context(*name, hv);
  } else {
    VMBUS_CHECK(false, "stepped unknown context '" + context + "'");
  }
}

void VmbusClient::step_channel_context(const partition::ContextName& name, Hypervisor& hv) {
  const std::uint32_t relid = *name.child_relid;
  if (name.kind == kKmclContext) {
    kmcl_step(relid, name.rest, hv);
    return;
  }
  Channel* channel = find_channel(relid);
  VMBUS_CHECK(channel != nullptr && channel->state == ChannelState::kOpen,
              "stepped " + name.text() + " of a channel that is not open");
  if (name.kind == kDpcContext) {
    dpc_step(*channel, hv);
  } else {
    VMBUS_CHECK(name.kind == kVscContext, "stepped unknown context '" + name.text() + "'");
    vsc_step(*channel, hv);
  }
}

void VmbusClient::deliver_message(std::uint32_t sint, std::span<const std::byte> hv_message,
                                  Hypervisor& hv) {
  update_clocks(hv);
  slot_.deliver(sint, hv_message, hv);
}

void VmbusClient::deliver_event(std::span<const std::uint32_t> child_relids,
                                std::span<const std::uint32_t> /*connection_ids*/, Hypervisor& hv) {
  update_clocks(hv);
  // The event-flags page: bits stay set until the ISR test-and-clears them,
  // so further signals for the same relid coalesce.
  pending_event_relids_.insert(child_relids.begin(), child_relids.end());
}

// --- posting -------------------------------------------------------------------

bool VmbusClient::post_raw(std::span<const std::byte> payload, Hypervisor& hv) {
  const std::uint32_t status = hv.post_message(message_connection_id_, payload);
  if (status == wire::kHvStatusSuccess) {
    return true;
  }
  hv.trace(partition::trace_note(current_context_,
                                 "post refused with HV status " + std::to_string(status)));
  return false;
}

bool VmbusClient::post(const wire::Message& message, Hypervisor& hv) {
  return post_raw(wire::encode_message(message), hv);
}

// --- control plane -------------------------------------------------------------

void VmbusClient::control_step(Hypervisor& hv) {
  switch (phase_) {
    case Phase::kConnect: {
      if (version_index_ >= versions_.size()) {
        fail_workload("the host accepted none of the protocol versions", hv);
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
          hv.post_message(message_connection_id_, wire::encode_message(contact));
      if (status == wire::kHvStatusInvalidConnectionId) {
        // A host older than 5.0 has no connection id 4: try the next version
        // (Linux turns this into -EINVAL and moves on).
        hv.trace(partition::trace_note(
            current_context_, "no connection id " + std::to_string(message_connection_id_) +
                                  " for " + wire::version_text(version) +
                                  ": trying an older version"));
        ++version_index_;
      } else if (status == wire::kHvStatusSuccess) {
        phase_ = Phase::kAwaitVersion;
      }
      return;
    }
    case Phase::kRequestOffers:
      if (!misbehaviors_.empty()) {
        if (post_raw(misbehaviors_.front(), hv)) {
          misbehaviors_.pop_front();
        }
        return;
      }
      if (post(wire::RequestOffers{}, hv)) {
        phase_ = Phase::kAwaitOffers;
      }
      return;
    case Phase::kOpenChannels: {
      Channel* channel = channel_needing_control();
      if (channel != nullptr) {
        channel_control_step(*channel, hv);
        return;
      }
      phase_ = Phase::kWorkload;
      hv.trace(partition::trace_note(current_context_, "channels settled; workload starts"));
      if (config_.message_pings() != 0) {
        const auto open = std::find_if(channels_.begin(), channels_.end(), [](const auto& e) {
          return e.second.state == ChannelState::kOpen;
        });
        if (open == channels_.end() || version_ < wire::kVersionWin10V5_3) {
          fail_workload("message pings need an open channel and protocol 5.3", hv);
          return;
        }
        ping_relid_ = open->first;
      }
      if (config_.echo().packets() != 0) {
        if (echo_channel() == nullptr || echo_channel()->state != ChannelState::kOpen) {
          fail_workload(
              "the echo channel " + std::to_string(config_.echo().child_relid()) + " is not open",
              hv);
          return;
        }
        refill_echo_window();
      }
      if (config_.expect_rescinds() == 0) {
        finish_if_complete(hv);
      }
      return;
    }
    case Phase::kWorkload: {
      if (Channel* channel = channel_needing_control(); channel != nullptr) {
        channel_control_step(*channel, hv);  // a KMCL driver enabled or disabled its channel
        return;
      }
      if (probes_done_ < config_.hypercall_probes()) {
        // No port listens on this id: the hypervisor answers by itself.
        constexpr std::uint32_t kNoPortConnectionId = 0x7F;
        const std::uint32_t status =
            hv.post_message(kNoPortConnectionId, wire::encode_message(wire::RequestOffers{}));
        if (status != wire::kHvStatusInvalidConnectionId) {
          fail_workload("a hypercall probe got HV status " + std::to_string(status), hv);
          return;
        }
        ++probes_done_;
        finish_if_complete(hv);
        return;
      }
      wire::ModifyChannel modify;
      modify.child_relid = ping_relid_;
      modify.target_vp = 0;
      if (post(modify, hv)) {
        ping_outstanding_ = true;
      }
      return;
    }
    case Phase::kUnload:
      if (post(wire::Unload{}, hv)) {
        phase_ = Phase::kAwaitUnload;
      }
      return;
    default:
      VMBUS_CHECK(false, "control stepped while not ready");
  }
}

void VmbusClient::start_open(Channel& channel, Hypervisor& hv) {
  const std::uint32_t ring_pages = channel.kmcl != nullptr && channel.kmcl->config.ring_pages() != 0
                                       ? channel.kmcl->config.ring_pages()
                                       : config_.ring_pages();
  if (channel.kmcl != nullptr) {
    // A Disable before this open began left nothing open to close.
    channel.kmcl->open_wanted = false;
    channel.kmcl->close_wanted = false;
  }
  const std::uint32_t total = 2 * ring_pages;
  const std::optional<std::uint64_t> first = pages_->allocate(total);
  if (!first) {
    channel.state = ChannelState::kFailed;
    hv.trace(partition::trace_channel(
        current_context_, channel.child_relid, "failed",
        "out of guest memory for " + std::to_string(total) + " ring pages"));
    return;
  }
  channel.first_page = *first;
  channel.pages = total;
  channel.ring_pages = ring_pages;
  channel.gpadl = next_gpadl_++;
  // Outbound (guest -> host) ring first, inbound after it: the layout the
  // OPENCHANNEL's downstream_ringbuffer_pageoffset describes.
  partition::ChannelRings rings =
      partition::map_rings(*memory_, {channel.first_page, ring_pages, ring_pages});
  channel.outbound_memory = std::move(rings.outbound);
  channel.inbound_memory = std::move(rings.inbound);
  ring::initialize_ring(*channel.outbound_memory);
  ring::initialize_ring(*channel.inbound_memory);
  std::vector<std::uint64_t> pfns(total);
  for (std::uint32_t i = 0; i < total; ++i) {
    pfns[i] = channel.first_page + i;
  }
  channel.gpadl_messages.clear();
  for (auto& payload : wire::split_gpadl(channel.child_relid, channel.gpadl, pfns)) {
    channel.gpadl_messages.push_back(std::move(payload));
  }
  channel.state = ChannelState::kGpadlSending;
  hv.trace(partition::trace_channel(
      current_context_, channel.child_relid, "opening",
      "gpadl " + std::to_string(channel.gpadl) + " over " + std::to_string(total) + " pages in " +
          std::to_string(channel.gpadl_messages.size()) + " message(s)"));
}

void VmbusClient::channel_control_step(Channel& channel, Hypervisor& hv) {
  switch (channel.state) {
    case ChannelState::kOffered:
      start_open(channel, hv);
      return;
    case ChannelState::kGpadlSending:
      if (post_raw(channel.gpadl_messages.front(), hv)) {
        channel.gpadl_messages.pop_front();
        if (channel.gpadl_messages.empty()) {
          channel.state = ChannelState::kAwaitGpadl;
        }
      }
      return;
    case ChannelState::kOpenSending: {
      wire::OpenChannel open;
      open.child_relid = channel.child_relid;
      open.openid = channel.child_relid;
      open.ringbuffer_gpadlhandle = channel.gpadl;
      open.target_vp = 0;
      open.downstream_ringbuffer_pageoffset = channel.ring_pages;
      if (post(open, hv)) {
        channel.state = ChannelState::kAwaitOpen;
      }
      return;
    }
    case ChannelState::kOpen: {
      wire::CloseChannel close;
      close.child_relid = channel.child_relid;
      if (post(close, hv)) {
        if (channel.kmcl != nullptr) {
          channel.kmcl->close_wanted = false;
        }
        channel.sender.reset();
        channel.receiver.reset();
        channel.state = ChannelState::kCloseSending;
        hv.trace(partition::trace_channel(current_context_, channel.child_relid, "closing", ""));
      }
      return;
    }
    case ChannelState::kCloseSending: {
      wire::GpadlTeardown teardown;
      teardown.child_relid = channel.child_relid;
      teardown.gpadl = channel.gpadl;
      if (post(teardown, hv)) {
        channel.state = ChannelState::kAwaitTorndown;
      }
      return;
    }
    default:
      VMBUS_CHECK(false, "channel control step in a waiting state");
  }
}

void VmbusClient::release_rings(Channel& channel) {
  channel.sender.reset();
  channel.receiver.reset();
  channel.outbound_memory.reset();
  channel.inbound_memory.reset();
  if (channel.pages != 0) {
    pages_->free(channel.first_page, channel.pages);
    channel.pages = 0;
  }
}

void VmbusClient::ignore(const wire::HvMessage& slot, const std::string& reason, Hypervisor& hv) {
  ++ignored_messages_;
  hv.trace(partition::trace_message_handled(current_context_, proto::MessageEvent::STAGE_IGNORED,
                                            slot, reason));
}

void VmbusClient::handle_message(const wire::HvMessage& slot, Hypervisor& hv) {
  const wire::ParseResult parsed = wire::parse_hv_message(slot, wire::Receiver::kGuest);
  if (!parsed.ok()) {
    ignore(slot, wire::to_string(parsed.error()), hv);
    return;
  }
  const wire::Message& message = parsed.value();
  std::string problem;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::VersionResponse>) {
          if (phase_ != Phase::kAwaitVersion) {
            problem = "VERSION_RESPONSE with no INITIATE_CONTACT outstanding";
          } else {
            on_version_response(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::OfferChannel>) {
          if (phase_ == Phase::kConnect || phase_ == Phase::kAwaitVersion) {
            problem = "OFFERCHANNEL before the connection is up";
          } else if (m.child_relid == 0 || m.child_relid > 2047) {
            problem = "OFFERCHANNEL with relid " + std::to_string(m.child_relid) + " out of range";
          } else if (channels_.count(m.child_relid) != 0) {
            problem = "OFFERCHANNEL for relid " + std::to_string(m.child_relid) +
                      ", which is already offered";
          } else {
            on_offer(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::AllOffersDelivered>) {
          if (phase_ != Phase::kAwaitOffers) {
            problem = "ALLOFFERS_DELIVERED with no REQUESTOFFERS outstanding";
          } else {
            offers_complete_ = true;
            phase_ = Phase::kOpenChannels;
          }
        } else if constexpr (std::is_same_v<T, wire::GpadlCreated>) {
          Channel* channel = find_channel(m.child_relid);
          if (channel == nullptr || channel->state != ChannelState::kAwaitGpadl ||
              channel->gpadl != m.gpadl) {
            problem = "GPADL_CREATED for relid " + std::to_string(m.child_relid) + " gpadl " +
                      std::to_string(m.gpadl) + ", which nobody asked for";
          } else {
            on_gpadl_created(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::OpenChannelResult>) {
          Channel* channel = find_channel(m.child_relid);
          if (channel == nullptr || channel->state != ChannelState::kAwaitOpen ||
              m.openid != m.child_relid) {
            problem = "OPENCHANNEL_RESULT for relid " + std::to_string(m.child_relid) +
                      ", which nobody asked for";
          } else {
            on_open_result(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::GpadlTorndown>) {
          const auto it = std::find_if(channels_.begin(), channels_.end(), [&](const auto& e) {
            return e.second.state == ChannelState::kAwaitTorndown && e.second.gpadl == m.gpadl;
          });
          if (it == channels_.end()) {
            problem =
                "GPADL_TORNDOWN for gpadl " + std::to_string(m.gpadl) + ", which nobody asked for";
          } else {
            on_gpadl_torndown(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::RescindChannelOffer>) {
          Channel* channel = find_channel(m.child_relid);
          if (channel == nullptr) {
            problem = "RESCIND_CHANNELOFFER for unknown relid " + std::to_string(m.child_relid);
          } else if (channel->state == ChannelState::kRescinded) {
            problem = "second RESCIND_CHANNELOFFER for relid " + std::to_string(m.child_relid);
          } else {
            on_rescind(m, hv);
          }
        } else if constexpr (std::is_same_v<T, wire::ModifyChannelResponse>) {
          if (!ping_outstanding_ || m.child_relid != ping_relid_) {
            problem = "MODIFYCHANNEL_RESPONSE with no MODIFYCHANNEL outstanding";
          } else if (m.status != 0) {
            problem = "MODIFYCHANNEL refused with status " + std::to_string(m.status);
          } else {
            ping_outstanding_ = false;
            ++pings_done_;
            finish_if_complete(hv);
          }
        } else if constexpr (std::is_same_v<T, wire::UnloadResponse>) {
          if (phase_ != Phase::kAwaitUnload) {
            problem = "UNLOAD_RESPONSE with no UNLOAD outstanding";
          } else {
            phase_ = Phase::kDone;
            hv.trace(partition::trace_note(current_context_, "unloaded"));
            finish_workload(hv);
          }
        } else {
          problem = std::string(wire::message_info(T::kType).name) + " is not handled by the guest";
        }
      },
      message);
  if (!problem.empty()) {
    ignore(slot, problem, hv);
    return;
  }
  hv.trace(partition::trace_message_handled(current_context_, proto::MessageEvent::STAGE_HANDLED,
                                            slot, ""));
}

void VmbusClient::on_version_response(const wire::VersionResponse& m, Hypervisor& hv) {
  const std::uint32_t version = versions_[version_index_];
  if (m.version_supported == 0) {
    hv.trace(
        partition::trace_note(current_context_, "host refused " + wire::version_text(version)));
    ++version_index_;
    phase_ = Phase::kConnect;
    return;
  }
  version_ = version;
  if (wire::uses_message_connection_id_4(version)) {
    message_connection_id_ = m.msg_conn_id;
  }
  phase_ = Phase::kRequestOffers;
  hv.trace(partition::trace_note(current_context_, "connected at " + wire::version_text(version) +
                                                       ", messages on connection id " +
                                                       std::to_string(message_connection_id_)));
  send_misbehaviors(hv);
}

void VmbusClient::send_misbehaviors(Hypervisor& hv) {
  for (const proto::GuestMisbehavior& bad : config_.misbehaviors()) {
    hv.trace(partition::trace_note(
        current_context_,
        "will misbehave on purpose: " + proto::GuestMisbehavior::Kind_Name(bad.kind())));
    switch (bad.kind()) {
      case proto::GuestMisbehavior::KIND_TRUNCATED_OPEN: {
        wire::OpenChannel open;
        open.child_relid = 1;
        std::vector<std::byte> bytes = wire::encode_message(open);
        bytes.resize(20);
        misbehaviors_.push_back(std::move(bytes));
        break;
      }
      case proto::GuestMisbehavior::KIND_OPEN_UNKNOWN_RELID: {
        wire::OpenChannel open;
        open.child_relid = 999;
        open.openid = 999;
        misbehaviors_.push_back(wire::encode_message(open));
        break;
      }
      case proto::GuestMisbehavior::KIND_GPADL_PFN_OUT_OF_RANGE: {
        const std::vector<std::uint64_t> pfns{0xFFFFFFF0ull, 0xFFFFFFF1ull};
        for (auto& payload : wire::split_gpadl(1, 0xBAD, pfns)) {
          misbehaviors_.push_back(std::move(payload));
        }
        break;
      }
      case proto::GuestMisbehavior::KIND_UNKNOWN_MESSAGE_TYPE: {
        std::vector<std::byte> bytes(8, std::byte{0});
        bytes[0] = std::byte{99};
        misbehaviors_.push_back(std::move(bytes));
        break;
      }
      default:
        break;
    }
  }
}

void VmbusClient::on_offer(const wire::OfferChannel& m, Hypervisor& hv) {
  Channel channel;
  channel.child_relid = m.child_relid;
  channel.connection_id = m.connection_id;
  if (KmclEndpoint* endpoint = kmcl_for(m.child_relid)) {
    channel.kmcl = endpoint;
    endpoint->connection_id = m.connection_id;
  }
  channels_.emplace(m.child_relid, std::move(channel));
  hv.trace(partition::trace_channel(
      current_context_, m.child_relid, "offered",
      "interface " + m.if_type.to_string() + ", connection id " + std::to_string(m.connection_id)));
}

void VmbusClient::on_gpadl_created(const wire::GpadlCreated& m, Hypervisor& hv) {
  Channel& channel = channels_.at(m.child_relid);
  if (m.creation_status != 0) {
    channel.state = ChannelState::kFailed;
    release_rings(channel);
    hv.trace(partition::trace_channel(current_context_, m.child_relid, "failed",
                                      "host refused the GPADL"));
    return;
  }
  channel.state = ChannelState::kOpenSending;
}

void VmbusClient::on_open_result(const wire::OpenChannelResult& m, Hypervisor& hv) {
  Channel& channel = channels_.at(m.child_relid);
  if (m.status != 0) {
    // The GPADL stays established; a real driver would tear it down.
    channel.state = ChannelState::kFailed;
    channel.outbound_memory.reset();
    channel.inbound_memory.reset();
    hv.trace(partition::trace_channel(current_context_, m.child_relid, "failed",
                                      "host refused OPENCHANNEL"));
    return;
  }
  if (channel.kmcl != nullptr) {
    // The KMCL device drives these rings from now on (its Opened, Started
    // and PostStarted callbacks run on its passive worker).
    KmclEndpoint& endpoint = *channel.kmcl;
    endpoint.hv = &hv;
    const kmcl::NTSTATUS opened = endpoint.device.open_channel(
        endpoint.driver.channel(), *channel.inbound_memory, *channel.outbound_memory, endpoint);
    endpoint.hv = nullptr;
    channel.state = ChannelState::kOpen;
    if (opened == kmcl::STATUS_SUCCESS) {
      // (A Disable and an Enable while the open was on the wire cancel out.)
      endpoint.opened = true;
      endpoint.open_wanted = false;
      endpoint.close_wanted = false;
      ++channel.opens;
      hv.trace(partition::trace_channel(
          current_context_, m.child_relid, "open",
          "KMCL driver attached (open #" + std::to_string(channel.opens) + ")"));
    } else {
      // The driver disabled the channel while it was being opened: close it
      // again on the wire.
      endpoint.close_wanted = true;
      hv.trace(partition::trace_channel(
          current_context_, m.child_relid, "open",
          std::string("the KMCL driver's channel is ") +
              kmcl::channel_state_name(endpoint.device.channel_state(endpoint.driver.channel())) +
              " (" + kmcl::ntstatus_name(opened) + "): closing it"));
    }
    sync_endpoint(endpoint, hv);
    return;
  }
  const std::uint32_t inbound_data =
      static_cast<std::uint32_t>(channel.inbound_memory->region().size()) - ring::kHvPageSizeBytes;
  channel.sender = std::make_unique<partition::RingSender>(*channel.outbound_memory, kBatchPackets);
  channel.receiver = std::make_unique<partition::RingReceiver>(*channel.inbound_memory,
                                                               inbound_data, kBatchPackets);
  channel.state = ChannelState::kOpen;
  ++channel.opens;
  hv.trace(partition::trace_channel(current_context_, m.child_relid, "open",
                                    "open #" + std::to_string(channel.opens)));
}

void VmbusClient::on_gpadl_torndown(const wire::GpadlTorndown& m, Hypervisor& hv) {
  for (auto& [relid, channel] : channels_) {
    if (channel.state == ChannelState::kAwaitTorndown && channel.gpadl == m.gpadl) {
      release_rings(channel);
      channel.state = ChannelState::kOffered;
      hv.trace(partition::trace_channel(current_context_, relid, "closed", ""));
      return;
    }
  }
}

void VmbusClient::on_rescind(const wire::RescindChannelOffer& m, Hypervisor& hv) {
  Channel& channel = channels_.at(m.child_relid);
  const bool was_echo = echo_channel() == &channel && channel.state == ChannelState::kOpen;
  // A KMCL device still drives the rings until its close (on its passive
  // worker) finished; their pages are freed then (sync_endpoint).
  bool device_has_rings = false;
  if (channel.kmcl != nullptr && channel.kmcl->opened) {
    KmclEndpoint& endpoint = *channel.kmcl;
    endpoint.hv = &hv;
    endpoint.device.rescind_channel(endpoint.driver.channel());
    endpoint.hv = nullptr;
    endpoint.opened = false;
    endpoint.open_wanted = false;
    endpoint.close_wanted = false;
    device_has_rings = true;
  }
  if (!device_has_rings) {
    release_rings(channel);
  }
  channel.state = ChannelState::kRescinded;
  if (channel.kmcl != nullptr) {
    sync_endpoint(*channel.kmcl, hv);
  }
  ++rescinds_seen_;
  hv.trace(partition::trace_channel(current_context_, m.child_relid, "rescinded", ""));
  wire::RelidReleased released;
  released.child_relid = m.child_relid;
  if (!post(released, hv)) {
    hv.trace(partition::trace_note(current_context_, "RELID_RELEASED not posted"));
  }
  if (config_.expect_rescinds() != 0 && rescinds_seen_ >= config_.expect_rescinds()) {
    finish_workload(hv);
  } else if (was_echo && config_.echo().packets() != 0) {
    fail_workload(
        "the echo channel was rescinded after " + std::to_string(echo_received_) + " packets", hv);
  }
}

// --- data plane ------------------------------------------------------------------

void VmbusClient::isr_step(Hypervisor& hv) {
  // Test-and-clear every pending bit, then run each channel's DPC.
  const std::set<std::uint32_t> relids = std::move(pending_event_relids_);
  pending_event_relids_.clear();
  for (std::uint32_t relid : relids) {
    Channel* channel = find_channel(relid);
    if (channel == nullptr || channel->state != ChannelState::kOpen) {
      hv.trace(partition::trace_note(
          current_context_,
          "interrupt for relid " + std::to_string(relid) + " with no open channel: ignored"));
      continue;
    }
    if (channel->kmcl != nullptr) {
      channel->kmcl->device.on_interrupt(channel->kmcl->driver.channel());
      continue;
    }
    channel->receiver->schedule();
    channel->sender->on_space_signal();
  }
}

void VmbusClient::dpc_step(Channel& channel, Hypervisor& hv) {
  const partition::ReceiveStep done =
      channel.receiver->step([&](const ring::PacketView& packet) { check_echo(packet); });
  if (done.corrupt) {
    hv.trace(partition::trace_ring(current_context_, channel.child_relid, "inbound", "corrupt",
                                   channel.receiver->reader().view(), 0, 0,
                                   ring::corrupt_reason_name(done.corrupt->reason)));
    fail_workload(std::string("the inbound ring is corrupt: ") +
                      ring::corrupt_reason_name(done.corrupt->reason),
                  hv);
    return;
  }
  if (done.phase == "publish" && done.bytes_published > 0) {
    hv.trace(partition::trace_ring(current_context_, channel.child_relid, "inbound", "publish_read",
                                   channel.receiver->reader().view(), done.bytes_published, 0, ""));
  }
  if (done.signal_peer) {
    hv.signal_event(channel.connection_id, 0);
  }
  if (echo_failed_) {
    fail_workload(echo_failure_, hv);
    return;
  }
  refill_echo_window();
  finish_if_complete(hv);
}

void VmbusClient::vsc_step(Channel& channel, Hypervisor& hv) {
  const partition::SendStep done = channel.sender->step();
  if (done.corrupt || done.too_large) {
    fail_workload(done.corrupt ? std::string("the outbound ring is corrupt: ") +
                                     ring::corrupt_reason_name(*done.corrupt)
                               : std::string("a packet is larger than the outbound ring"),
                  hv);
    return;
  }
  if (done.phase == "publish" && done.bytes_published > 0) {
    hv.trace(partition::trace_ring(current_context_, channel.child_relid, "outbound",
                                   "publish_write", channel.sender->writer().view(),
                                   done.bytes_published, 0, ""));
  } else if (done.phase == "block") {
    hv.trace(partition::trace_ring(current_context_, channel.child_relid, "outbound",
                                   "pending_send_sz", channel.sender->writer().view(), 0, 0,
                                   "ring full"));
  }
  if (done.signal_peer) {
    hv.signal_event(channel.connection_id, 0);
  }
}

void VmbusClient::refill_echo_window() {
  Channel* channel = echo_channel();
  if (channel == nullptr || channel->state != ChannelState::kOpen || phase_ != Phase::kWorkload) {
    return;
  }
  const proto::EchoWorkload& echo = config_.echo();
  const std::uint32_t window = echo.window() == 0 ? kDefaultEchoWindow : echo.window();
  const std::uint32_t max_payload = std::max<std::uint32_t>(echo.max_payload_bytes(), 16);
  while (echo_expected_.size() < window && echo_sent_ < echo.packets()) {
    // Sizes are multiples of 8, so the echo (padded to 8) matches exactly.
    const std::uint64_t units = (max_payload - kEchoHeaderBytes) / 8 + 1;
    const std::size_t size = kEchoHeaderBytes + 8 * (rng_.below(units));
    std::vector<std::byte> payload(size);
    for (std::size_t i = kEchoHeaderBytes; i < size; i += 8) {
      const std::uint64_t word = rng_.next();
      std::memcpy(payload.data() + i, &word, 8);
    }
    const std::uint64_t sequence = echo_sent_;
    const std::uint64_t checksum = fnv1a(std::span(payload).subspan(kEchoHeaderBytes));
    std::memcpy(payload.data(), &sequence, 8);
    std::memcpy(payload.data() + 8, &checksum, 8);
    partition::QueuedPacket packet;
    packet.trans_id = sequence + 1;
    if (echo.request_completions()) {
      packet.flags = ring::kPacketFlagCompletionRequested;
    }
    packet.payload = payload;
    channel->sender->enqueue(std::move(packet));
    echo_expected_.push_back(std::move(payload));
    ++echo_sent_;
  }
}

void VmbusClient::check_echo(const ring::PacketView& packet) {
  if (echo_failed_) {
    return;
  }
  const auto fail = [&](const std::string& why) {
    echo_failed_ = true;
    echo_failure_ = "echo " + std::to_string(echo_received_) + ": " + why;
  };
  if (echo_expected_.empty()) {
    fail("a packet arrived with nothing in flight");
    return;
  }
  const std::vector<std::byte>& expected = echo_expected_.front();
  const auto wanted_type = static_cast<std::uint16_t>(config_.echo().request_completions()
                                                          ? ring::PacketType::kComp
                                                          : ring::PacketType::kDataInband);
  const auto payload = packet.payload();
  std::uint64_t sequence = 0;
  std::uint64_t checksum = 0;
  if (payload.size() >= kEchoHeaderBytes) {
    std::memcpy(&sequence, payload.data(), 8);
    std::memcpy(&checksum, payload.data() + 8, 8);
  }
  if (packet.descriptor.type != wanted_type) {
    fail("packet type " + std::to_string(packet.descriptor.type));
  } else if (packet.descriptor.trans_id != echo_received_ + 1) {
    fail("trans_id " + std::to_string(packet.descriptor.trans_id));
  } else if (payload.size() != expected.size()) {
    fail("payload of " + std::to_string(payload.size()) + " bytes, sent " +
         std::to_string(expected.size()));
  } else if (sequence != echo_received_) {
    fail("sequence number " + std::to_string(sequence));
  } else if (checksum != fnv1a(payload.subspan(kEchoHeaderBytes)) ||
             !std::equal(payload.begin(), payload.end(), expected.begin())) {
    fail("checksum mismatch");
  } else {
    echo_bytes_ += payload.size();
    ++echo_received_;
    echo_expected_.pop_front();
  }
}

void VmbusClient::finish_workload(Hypervisor& hv) {
  if (reported_) {
    return;
  }
  if (config_.unload_at_end() && phase_ != Phase::kDone) {
    phase_ = Phase::kUnload;
    return;
  }
  std::uint64_t opened = 0;
  std::uint64_t opens = 0;
  for (const auto& [relid, channel] : channels_) {
    opened += channel.state == ChannelState::kOpen ? 1 : 0;
    opens += channel.opens;
  }
  std::vector<std::pair<std::string, std::string>> values = {
      {"result", "ok"},
      {"version", wire::version_number_text(version_)},
      {"channels_offered", std::to_string(channels_.size())},
      {"channels_open", std::to_string(opened)},
      {"opens", std::to_string(opens)},
      {"packets_echoed", std::to_string(echo_received_)},
      {"echo_bytes", std::to_string(echo_bytes_)},
      {"message_pings", std::to_string(pings_done_)},
      {"hypercall_probes", std::to_string(probes_done_)},
      {"rescinds", std::to_string(rescinds_seen_)},
      {"ignored_messages", std::to_string(ignored_messages_)},
  };
  if (const Channel* channel = echo_channel(); channel != nullptr && channel->sender) {
    const ring::WriterCounters& w = channel->sender->writer().counters();
    const ring::ReaderCounters& r = channel->receiver->reader().counters();
    values.emplace_back("outbound_signals", std::to_string(w.signals));
    values.emplace_back("outbound_full_events", std::to_string(w.full_events));
    values.emplace_back("inbound_signals", std::to_string(r.signals));
  }
  for (const auto& endpoint : kmcl_) {
    const std::string prefix = "kmcl." + std::to_string(endpoint->config.child_relid()) + ".";
    const kmcl::ChannelStats stats = endpoint->device.channel_stats(endpoint->driver.channel());
    values.emplace_back(prefix + "retired", std::to_string(endpoint->driver.retirements().size()));
    values.emplace_back(prefix + "deliveries", std::to_string(stats.deliveries));
    values.emplace_back(prefix + "defers", std::to_string(stats.defers));
    values.emplace_back(prefix + "completions_sent", std::to_string(stats.completions_sent));
    values.emplace_back(prefix + "failed", std::to_string(stats.packets_failed));
    values.emplace_back(prefix + "redelivery_mismatches",
                        std::to_string(endpoint->driver.redelivery_mismatches()));
    values.emplace_back(prefix + "violations",
                        std::to_string(endpoint->device.violations().size()));
    bool in_order = true;
    const auto& order = endpoint->driver.processed_order();
    for (std::size_t i = 0; i < order.size(); ++i) {
      in_order = in_order && order[i] == i;
    }
    values.emplace_back(prefix + "fifo", in_order ? "yes" : "no");
  }
  reported_ = true;
  hv.report(values, true);
}

void VmbusClient::fail_workload(const std::string& why, Hypervisor& hv) {
  if (reported_) {
    return;
  }
  reported_ = true;
  hv.trace(partition::trace_note(current_context_, "workload failed: " + why));
  hv.report({{"result", "failed: " + why},
             {"version", wire::version_number_text(version_)},
             {"packets_echoed", std::to_string(echo_received_)},
             {"rescinds", std::to_string(rescinds_seen_)},
             {"ignored_messages", std::to_string(ignored_messages_)}},
            true);
}

// --- scenario actions ---------------------------------------------------------------

std::string VmbusClient::perform(const proto::PartitionAction& action, Hypervisor& hv) {
  current_context_ = "action";
  update_clocks(hv);
  for (const auto& endpoint : kmcl_) {
    endpoint->hv = &hv;  // an in-line send may signal the host
  }
  std::string error;
  switch (action.action_case()) {
    case proto::PartitionAction::kSend:
      error = perform_send(action.send());
      break;
    case proto::PartitionAction::kChannelOp:
      error = perform_channel_op(action.channel_op());
      break;
    case proto::PartitionAction::kSetPolicy:
      error = perform_set_policy(action.set_policy());
      break;
    case proto::PartitionAction::kRingWrite:
    case proto::PartitionAction::kRawPacket:
    case proto::PartitionAction::kTamper:
    case proto::PartitionAction::kSetIndex:
      error = "ring writes, raw packets, tampering and index stores are the host's actions";
      break;
    default:
      error = "an empty or unknown scenario action";
      break;
  }
  for (const auto& endpoint : kmcl_) {
    endpoint->hv = nullptr;
    sync_endpoint(*endpoint, hv);
  }
  return error;
}

std::optional<std::pair<std::uint64_t, std::uint32_t>> VmbusClient::lend_pages(
    std::uint32_t count) {
  const std::optional<std::uint64_t> first = pages_->allocate(count);
  if (!first) {
    return std::nullopt;
  }
  fill_counting(*first, count);
  return std::make_pair(*first, count);
}

void VmbusClient::fill_counting(std::uint64_t first_page, std::uint32_t count) {
  const std::span<std::byte> pages = memory_->pages(first_page, count);
  for (std::size_t i = 0; i < pages.size(); ++i) {
    pages[i] = static_cast<std::byte>(i & 0xFF);
  }
}

namespace {

// An MDL describing `count` whole guest pages from `first_page`.
kmcl::MDL whole_pages(std::uint64_t first_page, std::uint32_t count) {
  kmcl::MDL mdl;
  mdl.ByteCount = count * ring::kHvPageSizeBytes;
  mdl.ByteOffset = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    mdl.PfnArray.push_back(first_page + i);
  }
  return mdl;
}

std::string channel_text(std::uint32_t relid) {
  return "channel " + std::to_string(relid);
}

}  // namespace

std::string VmbusClient::perform_send(const proto::SendAction& send) {
  const std::uint32_t relid = send.child_relid();
  KmclEndpoint* endpoint = kmcl_for(relid);
  if (endpoint == nullptr) {
    return "no KMCL driver on " + channel_text(relid);
  }
  if (send.has_trans_id()) {
    return "the guest's KMCL chooses its own trans_id; a guest send cannot set one";
  }
  std::vector<std::byte> payload;
  if (send.payload().data_case() == proto::Payload::kRaw) {
    const auto raw = std::as_bytes(std::span(send.payload().raw()));
    payload.assign(raw.begin(), raw.end());
  } else if (send.payload().data_case() != proto::Payload::DATA_NOT_SET) {
    return "the guest needs the payload as raw bytes (the runner converts text, hex and patterns)";
  }
  if (payload.empty()) {
    payload.resize(16);
    for (std::size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<std::byte>(i);
    }
  }
  constexpr std::uint32_t kMaxCopies = 100'000;  // more would only exhaust the guest's memory
  if (send.count() > kMaxCopies) {
    return "count " + std::to_string(send.count()) + " is more than " + std::to_string(kMaxCopies);
  }
  const std::uint32_t count = std::max<std::uint32_t>(1, send.count());
  const std::uint32_t external_pages = send.external_pages();
  if (external_pages > 1024) {
    return "external_pages " + std::to_string(external_pages) + " is more than 1024";
  }
  // KMCL sends external data only with WAIT_FOR_COMPLETION (kmcl.md 2.7).
  const kmcl::UINT32 flags = send.request_completion() || external_pages > 0
                                 ? kmcl::VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION
                                 : 0;
  if (send.synchronous()) {
    std::optional<std::pair<std::uint64_t, std::uint32_t>> lent;
    if (external_pages > 0) {
      lent = lend_pages(external_pages);
      if (!lent) {
        return "out of guest memory for " + std::to_string(external_pages) + " external pages";
      }
    }
    std::optional<kmcl::LONGLONG> timeout;
    if (send.timeout_us() != 0) {
      if (send.timeout_us() > 1'000'000'000'000ull) {
        return "timeout_us " + std::to_string(send.timeout_us()) + " is too large";
      }
      timeout = -static_cast<kmcl::LONGLONG>(send.timeout_us() * 10);  // relative, 100 ns units
    }
    const std::string name = "sync" + std::to_string(endpoint->next_sync++);
    // Driver code that blocks: its own PASSIVE_LEVEL thread. The copies go
    // one after the other; the lent pages go back when the last returned.
    endpoint->device.spawn_passive_thread(
        name, [this, endpoint, payload, flags, timeout, count, lent] {
          for (std::uint32_t i = 0; i < count; ++i) {
            kmcl::MDL mdl;
            if (lent) {
              mdl = whole_pages(lent->first, lent->second);
            }
            endpoint->driver.send_synchronous(payload, flags, lent ? &mdl : nullptr, timeout);
          }
          if (lent) {
            pages_->free(lent->first, lent->second);
          }
        });
    return "";
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::optional<std::pair<std::uint64_t, std::uint32_t>> lent;
    kmcl::MDL mdl;
    if (external_pages > 0) {
      lent = lend_pages(external_pages);
      if (!lent) {
        return "out of guest memory for " + std::to_string(external_pages) +
               " external pages (after " + std::to_string(i) + " sends)";
      }
      mdl = whole_pages(lent->first, lent->second);
    }
    const std::int64_t index = endpoint->driver.send(payload, flags, lent ? &mdl : nullptr);
    if (index < 0) {
      if (lent) {
        pages_->free(lent->first, lent->second);
      }
      return "VmbPacketSend on " + channel_text(relid) + " returned " +
             kmcl::ntstatus_name(endpoint->driver.last_send_status()) + " (after " +
             std::to_string(i) + " sends; payload " + std::to_string(payload.size()) + " bytes)";
    }
    if (lent) {
      endpoint->external_pages[index] = *lent;
    }
  }
  return "";
}

std::string VmbusClient::perform_channel_op(const proto::ChannelOpAction& op) {
  const std::uint32_t relid = op.child_relid();
  if (op.op() == proto::ChannelOpAction::RESCIND) {
    return "RESCIND is the host's operation: only the host can rescind an offer";
  }
  KmclEndpoint* endpoint = kmcl_for(relid);
  if (endpoint == nullptr) {
    return "no KMCL driver on " + channel_text(relid);
  }
  const kmcl::VMBCHANNEL channel = endpoint->driver.channel();
  const std::uint32_t value = op.value();
  std::function<void()> body;
  switch (op.op()) {
    case proto::ChannelOpAction::PAUSE:
      body = [channel] { kmcl::VmbChannelPause(channel); };
      break;
    case proto::ChannelOpAction::START:
      body = [channel] { kmcl::VmbChannelStart(channel); };
      break;
    case proto::ChannelOpAction::DISABLE:
    case proto::ChannelOpAction::CLOSE:
      body = [channel] { kmcl::VmbChannelDisable(channel); };
      break;
    case proto::ChannelOpAction::ENABLE:
    case proto::ChannelOpAction::REOPEN: {
      const Channel* wire = find_channel(relid);
      if (wire != nullptr && wire->state == ChannelState::kRescinded) {
        return channel_text(relid) + " was rescinded by the host; it cannot be opened again";
      }
      body = [endpoint, channel] {
        const kmcl::NTSTATUS status = kmcl::VmbChannelEnable(channel);
        if (status != kmcl::STATUS_SUCCESS) {
          endpoint->note(std::string("VmbChannelEnable returned ") + kmcl::ntstatus_name(status));
        }
      };
      break;
    }
    case proto::ChannelOpAction::SET_PASSIVE:
      body = [channel, value] {
        kmcl::VmbChannelSetIncomingProcessingAtPassive(channel,
                                                       value != 0 ? kmcl::TRUE : kmcl::FALSE);
      };
      break;
    case proto::ChannelOpAction::SET_QUOTA:
      body = [channel, value] { kmcl::VmbChannelSetTransactionQuota(channel, value); };
      break;
    case proto::ChannelOpAction::COMPLETE_OUTSTANDING:
      body = [endpoint, value] {
        endpoint->driver.complete_outstanding({}, value == 0 ? SIZE_MAX : std::size_t{value});
      };
      break;
    default:
      return "unknown channel operation " + std::to_string(op.op());
  }
  // The driver's KMCL calls run on a PASSIVE_LEVEL driver thread: those that
  // block (Pause, Disable) take scheduler steps like real driver code.
  endpoint->device.spawn_passive_thread("op" + std::to_string(endpoint->next_op++),
                                        std::move(body));
  return "";
}

std::string VmbusClient::perform_set_policy(const proto::SetPolicyAction& policy) {
  KmclEndpoint* endpoint = kmcl_for(policy.child_relid());
  if (endpoint == nullptr) {
    return "no KMCL driver on " + channel_text(policy.child_relid());
  }
  return apply_driver_policy(policy.rule(), policy.default_action(), &endpoint->driver);
}

// --- final report ---------------------------------------------------------------------

namespace {

void add_finding(proto::GuestReport& report, const std::string& name, std::uint32_t child_relid,
                 std::string what) {
  proto::OracleFinding* finding = report.add_findings();
  finding->set_name(name);
  finding->set_child_relid(child_relid);
  finding->set_what(std::move(what));
}

proto::KmclChannelReport kmcl_channel_report(const KmclEndpoint& endpoint) {
  const kmcl::VMBCHANNEL channel = endpoint.driver.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(channel);
  proto::KmclChannelReport out;
  out.set_child_relid(endpoint.config.child_relid());
  out.set_channel_state(kmcl::channel_state_name(endpoint.device.channel_state(channel)));
  out.set_queue_state(kmcl::queue_state_name(endpoint.device.queue_state(channel)));
  out.set_stop_reason(stats.stop_reason);
  out.set_dequeued(stats.packets_dequeued);
  out.set_delivered(stats.deliveries);
  out.set_deferred(stats.defers);
  out.set_failed(stats.packets_failed);
  out.set_completed(stats.packets_completed);
  out.set_completions_sent(stats.completions_sent);
  out.set_packets_sent(stats.packets_sent);
  out.set_dropped(stats.dropped_at_close + stats.discarded_at_close);
  out.set_protocol_errors(stats.protocol_errors);
  out.set_unexpected_completions(stats.unexpected_completions);
  out.set_live_packets(stats.live_packets);
  out.set_outstanding(endpoint.driver.outstanding_count());
  out.set_redelivery_mismatches(endpoint.driver.redelivery_mismatches());
  out.set_sends_in_flight(stats.sends_in_flight);
  out.set_queued_sends(stats.queued_sends);
  out.set_completions_received(stats.completions_received);
  std::uint64_t retired = 0;
  for (const auto& [index, times] : endpoint.driver.retirements()) {
    retired += times != 0 ? 1 : 0;
  }
  out.set_retired(retired);
  out.set_violations(endpoint.device.violations().size());
  out.set_sends_completed(endpoint.driver.send_completions().size());
  const kmcl::ScriptedDriver::RingCounters rings = endpoint.driver.ring_counters();
  out.mutable_incoming()->set_packets(rings.incoming.packets);
  out.mutable_incoming()->set_signals(rings.incoming.signals);
  out.mutable_incoming()->set_end_read_races(rings.incoming.end_read_races);
  out.mutable_outgoing()->set_packets(rings.outgoing.packets);
  out.mutable_outgoing()->set_signals(rings.outgoing.signals);
  out.mutable_outgoing()->set_signals_masked(rings.outgoing.signals_masked);
  out.mutable_outgoing()->set_full_events(rings.outgoing.full_events);
  out.mutable_outgoing()->set_pending_send_sz_sets(rings.outgoing.pending_send_sz_sets);
  return out;
}

// "" or the first packet the driver processed out of order.
std::string fifo_oracle(const KmclEndpoint& endpoint) {
  const std::vector<std::uint64_t>& order = endpoint.driver.processed_order();
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (order[i] <= order[i - 1]) {
      return "packet #" + std::to_string(order[i]) + " of channel " +
             std::to_string(endpoint.config.child_relid()) + " was processed after packet #" +
             std::to_string(order[i - 1]);
    }
  }
  return "";
}

}  // namespace

proto::FinalReport VmbusClient::final_report() {
  proto::FinalReport report;
  proto::GuestReport& guest = *report.mutable_guest();
  guest.set_negotiated_version(version_ == 0 ? "" : wire::version_number_text(version_));
  guest.set_ignored_messages(ignored_messages_);
  guest.set_rescinds(rescinds_seen_);
  std::vector<const KmclEndpoint*> endpoints;
  for (const auto& endpoint : kmcl_) {
    endpoints.push_back(endpoint.get());
  }
  std::sort(endpoints.begin(), endpoints.end(), [](const auto* a, const auto* b) {
    return a->config.child_relid() < b->config.child_relid();
  });
  for (const KmclEndpoint* endpoint : endpoints) {
    *guest.add_kmcl_channels() = kmcl_channel_report(*endpoint);
  }
  for (const KmclEndpoint* endpoint : endpoints) {
    const std::uint32_t relid = endpoint->config.child_relid();
    for (auto [name, why] :
         {std::pair<const char*, std::string>{"retired_once", retired_once_oracle(*endpoint)},
          {"fifo", fifo_oracle(*endpoint)},
          {"lost_wakeup", lost_wakeup_oracle(*endpoint)}}) {
      if (!why.empty()) {
        add_finding(guest, name, relid, std::move(why));
      }
    }
  }
  if (std::string why = leak_oracle(); !why.empty()) {
    add_finding(guest, "leak", 0, std::move(why));
  }
  return report;
}

// Every dequeued packet is retired exactly once: completed or failed by the
// driver, or dropped by KMCL at a close. At the end a packet may still be
// live only if the driver keeps it on purpose (LEAVE_OUTSTANDING) or KMCL
// holds it for a queue that is not running (paused, stopped by Fail or a
// protocol error, closing), which a restart delivers.
std::string VmbusClient::retired_once_oracle(const KmclEndpoint& endpoint) const {
  const std::string channel = channel_text(endpoint.config.child_relid());
  for (const auto& [index, times] : endpoint.driver.retirements()) {
    if (times > 1) {
      return "packet #" + std::to_string(index) + " of " + channel + " was retired " +
             std::to_string(times) + " times";
    }
  }
  const kmcl::VMBCHANNEL handle = endpoint.driver.channel();
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  const std::uint64_t accounted =
      stats.packets_completed + stats.packets_failed + stats.dropped_at_close + stats.live_packets;
  if (accounted != stats.packets_dequeued) {
    return channel + " dequeued " + std::to_string(stats.packets_dequeued) +
           " packets but completed " + std::to_string(stats.packets_completed) + ", failed " +
           std::to_string(stats.packets_failed) + ", dropped " +
           std::to_string(stats.dropped_at_close) + " and still holds " +
           std::to_string(stats.live_packets);
  }
  const bool queue_running = endpoint.device.queue_state(handle) == kmcl::QueueState::kRunning ||
                             endpoint.device.queue_state(handle) == kmcl::QueueState::kQuotaBlocked;
  const std::uint64_t waiting_for_restart = queue_running ? 0 : stats.held_packets;
  const std::uint64_t kept = endpoint.driver.outstanding_count() + waiting_for_restart;
  if (stats.live_packets > kept) {
    return std::to_string(stats.live_packets - kept) + " packet(s) of " + channel +
           " were dequeued and never retired, and nothing can retire them any more (" +
           std::to_string(endpoint.driver.outstanding_count()) +
           " left outstanding by the driver, " + std::to_string(waiting_for_restart) +
           " held for a queue restart)";
  }
  return "";
}

// Asked on a quiet system: nothing ready in either partition, nothing in
// flight. Data or room that nobody will be told about is a lost wakeup.
std::string VmbusClient::lost_wakeup_oracle(const KmclEndpoint& endpoint) const {
  const std::uint32_t relid = endpoint.config.child_relid();
  const Channel* channel = find_channel(relid);
  const kmcl::VMBCHANNEL handle = endpoint.driver.channel();
  if (channel == nullptr || channel->state != ChannelState::kOpen || !endpoint.opened ||
      endpoint.device.channel_state(handle) != kmcl::ChannelState::kOpen ||
      !channel->inbound_memory || !channel->outbound_memory) {
    return "";
  }
  if (!ready_contexts().empty()) {
    return "";  // not quiet here (a driver thread waits for its timeout)
  }
  const ring::RingView incoming(*channel->inbound_memory);
  const partition::ControlWords in = partition::read_control_words(incoming);
  const auto data = partition::ring_occupancy(incoming, in.write_index, in.read_index);
  if (data && data->unread_bytes != 0 &&
      endpoint.device.queue_state(handle) == kmcl::QueueState::kRunning) {
    return "incoming ring of channel " + std::to_string(relid) + " holds " +
           std::to_string(data->unread_bytes) + " bytes, queue running, no interrupt coming";
  }
  const kmcl::ChannelStats stats = endpoint.device.channel_stats(handle);
  if (stats.queued_sends == 0) {
    return "";
  }
  const ring::RingView outgoing(*channel->outbound_memory);
  const partition::ControlWords out = partition::read_control_words(outgoing);
  const auto room = partition::ring_occupancy(outgoing, out.write_index, out.read_index);
  if (!room) {
    return "";
  }
  if (out.pending_send_sz == 0) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued with " + std::to_string(room->free_bytes) +
           " bytes free in the outgoing ring, and the guest asked for no signal";
  }
  if (room->free_bytes > out.pending_send_sz) {
    return std::to_string(stats.queued_sends) + " send(s) of channel " + std::to_string(relid) +
           " stay queued although the outgoing ring has " + std::to_string(room->free_bytes) +
           " bytes free, more than the " + std::to_string(out.pending_send_sz) +
           " the guest waits for; no signal coming";
  }
  return "";
}

std::string VmbusClient::leak_oracle() const {
  std::string leaks;
  for (const auto& [relid, channel] : channels_) {
    if (channel.pages == 0) {
      continue;
    }
    std::string why;
    switch (channel.state) {
      case ChannelState::kOffered:
        why = "closed";
        break;
      case ChannelState::kRescinded:
        why = "rescinded";
        break;
      case ChannelState::kFailed:
        why = "refused by the host";
        break;
      case ChannelState::kOpen:
        if (channel.kmcl != nullptr &&
            channel.kmcl->device.channel_state(channel.kmcl->driver.channel()) ==
                kmcl::ChannelState::kDisabled) {
          why = "disabled by its driver";
        }
        break;
      default:
        break;
    }
    if (!why.empty()) {
      leaks += std::string(leaks.empty() ? "" : "; ") + "channel " + std::to_string(relid) +
               " is " + why + " but its " + std::to_string(channel.pages) +
               " ring pages are still allocated";
    }
  }
  return leaks;
}

}  // namespace vmbus::guest
