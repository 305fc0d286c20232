// A KMCL-model driver hosted on one channel of a partition.
//
// KmclEndpoint bundles the KMCL device (its contexts become the partition's
// "kmcl/<relid>/..." contexts), the driver -- the scripted driver, or a
// driver loaded from a shared library with the recorder that keeps its
// record (kmcl::DriverRecorder) -- the transport that
// turns the ring library's signal decisions into hypercalls, the trace sink
// that turns the device's events and verifier records into trace records,
// and the control-plane hooks through which the driver's Enable and Disable
// reach the wire. Its WireState says where the channel stands between the
// device and the wire; the partition's control plane acts on it. The guest
// hosts its VSC drivers on client endpoints (KmclChannels in guest/), the
// host its VSP drivers on server endpoints; both share this unit, the policy
// language (DriverRule, DriverAction) and KmclEndpoints (kmcl_endpoints.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmbus/base/quirks.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/driver_loader.h"
#include "vmbus/kmcl/driver_recorder.h"
#include "vmbus/kmcl/recorded_driver.h"
#include "vmbus/kmcl/scripted_driver.h"
#include "vmbus/partition/partition.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::partition {

// The kind of a KMCL device's contexts: "kmcl/<relid>/<device context>".
inline constexpr std::string_view kKmclContextKind = "kmcl";

// Checks a driver policy (rules and default action); "" or what is wrong.
std::string check_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                                const proto::DriverAction& default_action);

// Checks a driver's configuration (rules, actions, ring pages); "" or why
// it cannot be used.
std::string validate_kmcl_driver(const proto::KmclDriverConfig& config);

// Replaces the driver's rules and default action with these (from a
// configuration or a set_policy action). Returns "" or what is wrong with
// them, in which case the driver is left as it was.
std::string apply_driver_policy(const google::protobuf::RepeatedPtrField<proto::DriverRule>& rules,
                                const proto::DriverAction& default_action,
                                kmcl::ScriptedDriver* driver);

// Which end of the channel an endpoint is: the guest's VSC drivers are
// clients (they open and close the channel), the host's VSP drivers servers
// (they offer and revoke it).
enum class EndpointRole { kClient, kServer };

// Where a driver's channel stands between the KMCL device and the wire. The
// words are the client's; a server reads "open" as "offer" and "close" as
// "revoke (rescind)".
enum class WireState {
  kIdle,           // nothing to do on the wire; the device holds no rings
  kOpenWanted,     // the driver enabled the channel: open (offer) it on the wire
  kOpen,           // the device drives the rings (its open_channel succeeded)
  kCloseWanted,    // the device let go of the rings (a Disable, or an open it
                   // refused): close the channel on the wire (revoke the offer)
  kCloseThenOpen,  // as kCloseWanted, and the driver enabled the channel
                   // again: open it once the close is done
  kPeerClosing,    // the peer ended the channel (the host rescinded it, the
                   // guest closed it) while the device had it; the device's
                   // close still uses the rings
  kRingsFree,      // that close finished: the rings may go
};

const char* wire_state_name(WireState state);

struct KmclEndpoint final : kmcl::Transport, kmcl::TraceSink, kmcl::ControlPlane {
  // `config` must have passed validate_kmcl_driver(). The device is named
  // after the role ("guest", "host"), the driver "vsc/<relid>" or
  // "vsp/<relid>", and without a seed of its own it draws from the run
  // seed's stream "guest/kmcl/<relid>" or "host/kmcl/<relid>". `configure`
  // makes the owner's further Init calls (a server's offer GUIDs). The
  // driver enables its channel; a server driver also starts it (unless
  // stay_paused) and retires its outstanding packets when the guest goes
  // away.
  // `packets_per_dpc_step` and `quirks` are the device's (kmcl::DeviceConfig).
  KmclEndpoint(const proto::KmclDriverConfig& config, std::uint64_t seed,
               EndpointRole role = EndpointRole::kClient,
               const std::function<void(kmcl::VMBCHANNEL)>& configure = {},
               std::uint32_t packets_per_dpc_step = 1, const base::QuirkSet& quirks = {});
  // The driver of `library` (config.loaded() says what its entry point is
  // told) at `role`'s end of the channel; enter() runs its entry point.
  // `library` must outlive the endpoint.
  KmclEndpoint(const proto::KmclDriverConfig& config, const kmcl::LoadedDriver& library,
               EndpointRole role, std::uint32_t packets_per_dpc_step = 1,
               const base::QuirkSet& quirks = {});

  // A loaded driver's entry point, for this channel: "" once it returned
  // STATUS_SUCCESS having allocated its one channel, else what went wrong
  // ("returned STATUS_...").
  std::string enter();
  // The loaded driver's file name ("libkvs_vsc.so"), "" for the scripted driver.
  std::string loaded_driver_name() const;

  // Transport: the device decided to signal the peer.
  void signal_peer() override;
  // The device's events and verifier records become trace records; those
  // that happen outside a step wait for the next one (flush_trace).
  void on_violation(const kmcl::Violation& violation) override;
  void on_event(const kmcl::TraceEvent& event) override;
  // Runs without a scenario (KmclDriverConfig.scenario) trace no per-packet
  // events: dequeue, callback, complete, send, interrupt_masked, and the
  // ring operations (kind "ring"). A ring operation becomes a RingEvent
  // that names the ring by direction ("host_to_guest", "guest_to_host").
  bool wants(std::string_view kind) const override;
  // The device's control-plane hooks; they move `wire` (they are called
  // from inside device steps, and the partition acts on them in its own
  // contexts).
  void on_channel_enabled(kmcl::VMBCHANNEL channel, const kmcl::ChannelConfig& config) override;
  void on_channel_open_result(kmcl::VMBCHANNEL channel, kmcl::NTSTATUS status) override;
  void on_channel_disabled(kmcl::VMBCHANNEL channel) override;
  void on_channel_closed(kmcl::VMBCHANNEL channel) override;

  // What the wire should do, and what the control plane did.
  bool wants_open() const;
  bool wants_close() const;
  bool device_has_rings() const { return wire == WireState::kOpen; }
  void wire_open_started();
  // The peer accepted the open and the device took the rings
  // (`device_accepted`), or refused them.
  void wire_opened(bool device_accepted);
  void close_posted();
  // The peer ended the channel (the host rescinded it; the guest closed it):
  // true (and kPeerClosing) if the device has the rings, which it then lets
  // go of in its own time.
  bool begin_peer_close();
  // kRingsFree -> kIdle: true if the rings were free to go.
  bool take_rings_free();

  // Appends the driver's new callback records (scenario mode) to the trace.
  void queue_driver_records();
  // A note in the trace, in the running device context.
  void note(const std::string& text);
  void flush_trace(Hypervisor& trace_to);

  std::uint32_t child_relid() const { return config.child_relid(); }
  bool is_server() const { return role == EndpointRole::kServer; }

  // What the driver did, whichever runs the channel.
  kmcl::RecordedDriver& driver() { return *recorded_; }
  const kmcl::RecordedDriver& driver() const { return *recorded_; }
  // The channel's driver handle (nullptr before a loaded driver allocated it).
  kmcl::VMBCHANNEL channel() const { return recorded_->channel(); }

  proto::KmclDriverConfig config;
  EndpointRole role;
  kmcl::Device device;
  // The scripted driver, or nullptr when a loaded driver runs the channel ...
  std::unique_ptr<kmcl::ScriptedDriver> scripted;
  // ... and then the loaded driver's record.
  std::unique_ptr<kmcl::DriverRecorder> loaded;
  const kmcl::LoadedDriver* library = nullptr;
  WireState wire = WireState::kIdle;
  std::uint32_t connection_id = 0;  // a client's: the host's, from the open
  // A server's: EvtChannelOpened returned this; the OPENCHANNEL is answered
  // with it (the host takes it).
  std::optional<kmcl::NTSTATUS> open_result;
  Hypervisor* hv = nullptr;  // while the device runs (SignalScope)
  std::vector<proto::TraceRecord> pending_trace;
  std::size_t records_emitted = 0;
  std::size_t completions_emitted = 0;
  std::uint32_t next_op = 1;    // "thread/op<N>"
  std::uint32_t next_sync = 1;  // "thread/sync<N>"
  // Guest pages lent as external data to asynchronous sends, by send index
  // (first page, page count); they go back when the send ends.
  std::map<std::int64_t, std::pair<std::uint64_t, std::uint32_t>> external_pages;

 private:
  void set_up_device();
  kmcl::RecordedDriver* recorded_ = nullptr;
};

// The endpoint's device may signal the peer through `hv` while this lives:
// the device signals only from inside a step or an action.
class SignalScope {
 public:
  SignalScope(KmclEndpoint& endpoint, Hypervisor& hv) : endpoint_(endpoint) { endpoint_.hv = &hv; }
  ~SignalScope() { endpoint_.hv = nullptr; }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  KmclEndpoint& endpoint_;
};

// A KmclRecord-carrying trace record in context "kmcl/<relid>/<device context>".
proto::TraceRecord kmcl_record(std::uint32_t child_relid, const std::string& device_context);

}  // namespace vmbus::partition
