#include "vmbus/partition/kmcl_endpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "vmbus/base/check.h"
#include "vmbus/base/prng.h"
#include "vmbus/partition/context_name.h"
#include "vmbus/wire/guid.h"

namespace vmbus::partition {
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
    case proto::DriverAction::KIND_ECHO:
      out.kind = kmcl::PacketAction::kEcho;
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

kmcl::DeviceConfig device_config(const proto::KmclDriverConfig& config, EndpointRole role,
                                 std::uint32_t packets_per_dpc_step, const base::QuirkSet& quirks) {
  kmcl::DeviceConfig device;
  device.quirks = quirks;
  device.name = role == EndpointRole::kServer ? "host" : "guest";
  device.max_packets_per_dpc_pass = 64;
  device.packets_per_dpc_step = packets_per_dpc_step;
  if (config.defer_livelock_limit() != 0) {
    device.verifier.defer_livelock_limit = config.defer_livelock_limit();
  }
  return device;
}

// A GUID the runner wrote as text (empty or unreadable: zeros).
kmcl::GUID guid_of(const std::string& text) {
  kmcl::GUID out{};
  const auto guid = wire::Guid::parse(text);
  if (guid.ok()) {
    static_assert(sizeof(out) == sizeof(guid.value()));
    std::memcpy(&out, &guid.value(), sizeof(out));
  }
  return out;
}

}  // namespace

std::string check_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
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

std::string validate_kmcl_driver(const proto::KmclDriverConfig& config) {
  const std::string channel = "kmcl driver on channel " + std::to_string(config.child_relid());
  if (config.ring_pages() == 1) {
    return channel + ": ring_pages must be at least 2 (control page + data)";
  }
  if (std::string error = check_driver_policy(config.rules(), config.default_action());
      !error.empty()) {
    return channel + ", " + error;
  }
  return "";
}

std::string apply_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                                const proto::DriverAction& default_action,
                                kmcl::ScriptedDriver* driver) {
  if (std::string error = check_driver_policy(rules, default_action); !error.empty()) {
    return error;
  }
  driver->clear_rules();
  for (const proto::DriverRule& rule : rules) {
    driver->add_rule(driver_match(rule), driver_action(rule.action()));
  }
  driver->set_default_action(driver_action(default_action));
  return "";
}

namespace {

// "vsc/<relid>" / "vsp/<relid>": the driver's name and the prefix of its work queues.
std::string driver_name(const proto::KmclDriverConfig& config, EndpointRole role) {
  return (role == EndpointRole::kServer ? "vsp/" : "vsc/") + std::to_string(config.child_relid());
}

std::uint64_t driver_seed(const proto::KmclDriverConfig& config, std::uint64_t seed,
                          EndpointRole role) {
  if (config.seed() != 0) {
    return config.seed();
  }
  return base::stream_seed(seed, (role == EndpointRole::kServer ? "host/kmcl/" : "guest/kmcl/") +
                                     std::to_string(config.child_relid()));
}

}  // namespace

KmclEndpoint::KmclEndpoint(const proto::KmclDriverConfig& driver_config, std::uint64_t seed,
                           EndpointRole endpoint_role,
                           const std::function<void(kmcl::VMBCHANNEL)>& configure,
                           std::uint32_t packets_per_dpc_step, const base::QuirkSet& quirks)
    : config(driver_config),
      role(endpoint_role),
      device(device_config(driver_config, endpoint_role, packets_per_dpc_step, quirks)),
      scripted(
          std::make_unique<kmcl::ScriptedDriver>(device, driver_name(driver_config, endpoint_role),
                                                 driver_seed(driver_config, seed, endpoint_role))),
      recorded_(scripted.get()) {
  kmcl::ScriptedDriver& driver = *scripted;
  const kmcl::NTSTATUS created = driver.create_channel(is_server(), [&](kmcl::VMBCHANNEL channel) {
    if (config.maximum_packet_size() != 0) {
      kmcl::VmbChannelInitSetMaximumPacketSize(channel, config.maximum_packet_size());
    }
    if (configure) {
      configure(channel);
    }
  });
  VMBUS_CHECK(created == kmcl::STATUS_SUCCESS, "cannot create the KMCL driver's channel");
  set_up_device();
  const std::string policy = apply_driver_policy(config.rules(), config.default_action(), &driver);
  VMBUS_CHECK(policy.empty(), "an unvalidated KMCL driver configuration: " + policy);
  // Scenario runs trace every callback (the records are dropped once
  // traced); other runs can be very long. The oracles and reports use the
  // driver's counts and order checks, not its per-packet history, so no run
  // keeps it: memory stays flat in the packet count.
  driver.keep_records = config.scenario();
  driver.keep_history = false;
  // A VSP retires what it holds when the guest goes away (KMCL-SEMANTICS
  // section 4a).
  driver.retire_outstanding_on_close = is_server();
  driver.opened_status = static_cast<kmcl::NTSTATUS>(config.opened_status());
  if (config.quota() != 0) {
    kmcl::VmbChannelSetTransactionQuota(driver.channel(), config.quota());
  }
  if (config.require_passive()) {
    kmcl::VmbChannelSetIncomingProcessingAtPassive(driver.channel(), kmcl::TRUE);
  }
  if (config.stay_paused() && !is_server()) {
    kmcl::VmbChannelPause(driver.channel());  // Disabled: auto-pause on Enable
  }
  // Enable tells the control plane (on_channel_enabled): a client opens the
  // channel once offered, a server offers it. A server must also Start.
  VMBUS_CHECK(kmcl::VmbChannelEnable(driver.channel()) == kmcl::STATUS_SUCCESS,
              "cannot enable the KMCL driver's channel");
  if (is_server() && !config.stay_paused()) {
    kmcl::VmbChannelStart(driver.channel());
  }
}

KmclEndpoint::KmclEndpoint(const proto::KmclDriverConfig& driver_config,
                           const kmcl::LoadedDriver& loaded_library, EndpointRole endpoint_role,
                           std::uint32_t packets_per_dpc_step, const base::QuirkSet& quirks)
    : config(driver_config),
      role(endpoint_role),
      device(device_config(driver_config, endpoint_role, packets_per_dpc_step, quirks)),
      loaded(std::make_unique<kmcl::DriverRecorder>(
          device, std::filesystem::path(loaded_library.path()).filename().string(),
          driver_config.loaded().channel_name())),
      library(&loaded_library),
      recorded_(loaded.get()) {
  loaded->keep_records = config.scenario();
  loaded->keep_history = config.scenario();
  // The driver's Enable, in its entry point, already reaches the control plane.
  device.set_trace_sink(this);
  device.set_control_plane(this);
}

std::string KmclEndpoint::loaded_driver_name() const {
  return loaded ? loaded->driver() : "";
}

std::string KmclEndpoint::enter() {
  VMBUS_CHECK(loaded && library != nullptr, "enter() without a loaded driver");
  const proto::LoadedDriverConfig& what = config.loaded();
  kmcl::DriverParameters parameters;
  parameters.is_server = is_server();
  parameters.channel_name = what.channel_name();
  parameters.interface_type = guid_of(what.interface_guid());
  parameters.interface_instance = guid_of(what.instance_guid());
  parameters.arguments = what.arguments();
  const kmcl::NTSTATUS status = library->add_device(device, parameters);
  if (!kmcl::NT_SUCCESS(status)) {
    return std::string("returned ") + kmcl::ntstatus_name(status);
  }
  const std::vector<kmcl::VMBCHANNEL> channels = device.channels();
  if (channels.size() != 1) {
    return "allocated " + std::to_string(channels.size()) +
           " channels; a scenario's channel is one KMCL channel";
  }
  loaded->set_channel(channels.front());
  set_up_device();
  return "";
}

// The owner's side of the device: the model options of the channel, and
// the hooks through which its events and its Enable and Disable reach the
// partition.
void KmclEndpoint::set_up_device() {
  device.set_trace_sink(this);
  device.set_control_plane(this);
  kmcl::ChannelOptions options;
  options.escalate_fail_to_close = config.escalate_fail_to_close();
  if (config.external_data_latency_steps() != 0) {
    options.external_data_latency_steps = config.external_data_latency_steps();
  }
  device.set_channel_options(channel(), options);
}

const char* wire_state_name(WireState state) {
  switch (state) {
    case WireState::kIdle:
      return "idle";
    case WireState::kOpenWanted:
      return "open_wanted";
    case WireState::kOpen:
      return "open";
    case WireState::kCloseWanted:
      return "close_wanted";
    case WireState::kCloseThenOpen:
      return "close_then_open";
    case WireState::kPeerClosing:
      return "peer_closing";
    case WireState::kRingsFree:
      return "rings_free";
  }
  return "unknown";
}

// KMCL enables a channel only from Disabled, so the device holds no rings
// here; an Enable after a Disable still to be closed on the wire reopens the
// channel after the close.
void KmclEndpoint::on_channel_enabled(kmcl::VMBCHANNEL /*channel*/,
                                      const kmcl::ChannelConfig& /*channel_config*/) {
  if (wire == WireState::kIdle) {
    wire = WireState::kOpenWanted;
  } else if (wire == WireState::kCloseWanted) {
    wire = WireState::kCloseThenOpen;
  }
}

void KmclEndpoint::on_channel_open_result(kmcl::VMBCHANNEL /*channel*/, kmcl::NTSTATUS status) {
  open_result = status;
  // A server whose EvtChannelOpened failed rolled its channel back and let
  // go of the rings; the host refuses the OPENCHANNEL and detaches them.
  if (is_server() && !kmcl::NT_SUCCESS(status) && wire == WireState::kOpen) {
    wire = WireState::kIdle;
  }
}

void KmclEndpoint::on_channel_disabled(kmcl::VMBCHANNEL /*channel*/) {
  // A local Disable (or a Fail escalated to a close) finished; the device let
  // go of the rings. A client closes the channel on the wire -- unless the
  // host rescinded it meanwhile, and only the rings are left to free. A
  // server revokes its offer whatever the guest did: a guest's close leaves
  // the offer standing (and the revoke lets go of rings still held).
  const bool peer_closed = wire == WireState::kPeerClosing || wire == WireState::kRingsFree;
  wire = peer_closed && !is_server() ? WireState::kRingsFree : WireState::kCloseWanted;
}

void KmclEndpoint::on_channel_closed(kmcl::VMBCHANNEL /*channel*/) {
  // The peer's close or rescind finished in the device: the rings are free to go.
  if (wire == WireState::kPeerClosing) {
    wire = WireState::kRingsFree;
  } else if (wire == WireState::kOpen) {
    wire = WireState::kIdle;
  }
}

bool KmclEndpoint::wants_open() const {
  return wire == WireState::kOpenWanted || wire == WireState::kCloseThenOpen;
}

bool KmclEndpoint::wants_close() const {
  return wire == WireState::kCloseWanted || wire == WireState::kCloseThenOpen;
}

void KmclEndpoint::wire_open_started() {
  VMBUS_CHECK(
      wire != WireState::kOpen && wire != WireState::kPeerClosing && wire != WireState::kRingsFree,
      std::string("an open started on the wire while the driver's channel is ") +
          wire_state_name(wire));
  // A Disable before this open began left nothing open to close.
  wire = WireState::kIdle;
}

void KmclEndpoint::wire_opened(bool device_accepted) {
  if (device_accepted) {
    // (A Disable and an Enable while the open was on the wire cancel out.)
    wire = WireState::kOpen;
  } else if (wire == WireState::kIdle) {
    wire = WireState::kCloseWanted;
  } else if (wire == WireState::kOpenWanted) {
    wire = WireState::kCloseThenOpen;
  }
}

void KmclEndpoint::close_posted() {
  if (wire == WireState::kCloseWanted) {
    wire = WireState::kIdle;
  } else if (wire == WireState::kCloseThenOpen) {
    wire = WireState::kOpenWanted;
  }
}

bool KmclEndpoint::begin_peer_close() {
  if (wire != WireState::kOpen) {
    return false;
  }
  wire = WireState::kPeerClosing;
  return true;
}

bool KmclEndpoint::take_rings_free() {
  if (wire != WireState::kRingsFree) {
    return false;
  }
  wire = WireState::kIdle;
  return true;
}

proto::TraceRecord kmcl_record(std::uint32_t child_relid, const std::string& device_context) {
  proto::TraceRecord record;
  record.set_context(channel_context(kKmclContextKind, child_relid, device_context));
  return record;
}

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
  kmcl_event->set_child_relid(config.child_relid());
  pending_trace.push_back(std::move(record));
}

namespace {

// The KMCL events every packet makes (its dequeue, the callbacks it causes,
// its completion, a send, a signal its publish did not need). Runs without
// a scenario leave them out: an echo run of millions of packets would be
// nothing but them, and the trace's cost would be the run's.
bool per_packet_event(std::string_view kind) {
  return kind == "dequeue" || kind == "callback" || kind == "complete" || kind == "send" ||
         kind == "interrupt_masked" || kind == "ring";
}

// A device's ring operation as the platform endpoints trace theirs: a
// RingEvent naming the ring by its direction.
proto::TraceRecord ring_record(const kmcl::TraceEvent& event, EndpointRole role,
                               std::uint32_t child_relid) {
  const kmcl::TraceRingFacts& facts = *event.ring;
  proto::TraceRecord record = kmcl_record(child_relid, event.context);
  auto* ring = record.mutable_ring();
  ring->set_child_relid(child_relid);
  // A client (the guest) reads the host->guest ring; a server the other.
  const bool host_to_guest = facts.incoming == (role == EndpointRole::kClient);
  ring->set_ring(host_to_guest ? "host_to_guest" : "guest_to_host");
  ring->set_op(facts.op);
  ring->set_write_index(facts.write_index);
  ring->set_read_index(facts.read_index);
  ring->set_bytes(facts.bytes);
  ring->set_data_size(facts.data_size);
  ring->set_interrupt_mask(facts.interrupt_mask);
  ring->set_pending_send_sz(facts.pending_send_sz);
  if (facts.index_before) {
    ring->set_index_before(*facts.index_before);
  }
  ring->set_reason(facts.reason);
  ring->set_detail(event.detail);
  return record;
}

}  // namespace

bool KmclEndpoint::wants(std::string_view kind) const {
  return config.scenario() || !per_packet_event(kind);
}

void KmclEndpoint::on_event(const kmcl::TraceEvent& event) {
  if (event.ring) {
    pending_trace.push_back(ring_record(event, role, config.child_relid()));
    return;
  }
  proto::TraceRecord record = kmcl_record(config.child_relid(), event.context);
  auto* kmcl_event = record.mutable_kmcl();
  kmcl_event->set_kind(event.kind);
  kmcl_event->set_channel(event.channel);
  kmcl_event->set_handle(event.handle);
  kmcl_event->set_irql(event.irql);
  kmcl_event->set_detail(event.detail);
  kmcl_event->set_child_relid(config.child_relid());
  const kmcl::TracePacketFacts& facts = event.facts;
  if (facts.trans_id) {
    kmcl_event->set_trans_id(*facts.trans_id);
  }
  if (facts.packet) {
    kmcl_event->set_packet(*facts.packet);
  }
  kmcl_event->set_delivery(facts.delivery);
  kmcl_event->set_callback(facts.callback);
  pending_trace.push_back(std::move(record));
}

void KmclEndpoint::queue_driver_records() {
  if (!config.scenario()) {
    return;
  }
  const std::vector<kmcl::CallbackRecord>& records = driver().records();
  const std::uint32_t channel_index = device.channel_config(channel()).index;
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
    kmcl_event->set_child_relid(config.child_relid());
    pending_trace.push_back(std::move(record));
    ++records_emitted;
  }
  // Traced now; the trace (and vmbus-sim's tally) is where they live. A
  // loaded driver's record is kept whole (its runs are scenario-sized).
  if (scripted) {
    scripted->forget_records(records_emitted);
    records_emitted = 0;
  }
}

void KmclEndpoint::note(const std::string& text) {
  proto::TraceRecord record = kmcl_record(config.child_relid(), kmcl::current_context_name());
  record.mutable_note()->set_text(text);
  pending_trace.push_back(std::move(record));
}

void KmclEndpoint::flush_trace(Hypervisor& trace_to) {
  for (proto::TraceRecord& record : pending_trace) {
    trace_to.trace(std::move(record));
  }
  pending_trace.clear();
}

void KmclEndpoint::signal_peer() {
  VMBUS_CHECK(hv != nullptr, "the KMCL device signalled outside a step");
  // The guest signals the host's connection id; the host interrupts the
  // guest for the channel's relid.
  if (is_server()) {
    hv->signal_event(0, child_relid());
  } else {
    hv->signal_event(connection_id, 0);
  }
}

}  // namespace vmbus::partition
