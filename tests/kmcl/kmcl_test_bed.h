// TestBed: a guest (client) and a host (server) KMCL device wired back to
// back in one process, each running a ScriptedDriver on one channel, over two
// FlatRingMemory rings, with a small control plane that opens and closes the
// pair the way the guest and host processes will, and a deterministic
// scheduler over the ready contexts of both devices.
//
// Scheduling: with seed 0 the scheduler always runs the first ready context
// in a fixed order (guest before host, names sorted), so a test can state the
// exact sequence of callbacks; with any other seed it picks among the ready
// contexts with splitmix64, as the simulator will. Each step advances the
// shared clock by kStepNs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmbus/base/prng.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/scripted_driver.h"
#include "vmbus/kmcl/verifier.h"
#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

namespace vmbus::kmcl::testing {

inline constexpr std::uint64_t kStepNs = 1000;

struct BedOptions {
  std::uint64_t seed = 0;                     // 0: in-order scheduling
  std::optional<std::uint64_t> vsc_seed;      // the guest driver's seed (default seed + 1)
  std::uint32_t ring_data_bytes = 64 * 1024;  // each direction
  DeviceConfig guest_config = named("guest");
  DeviceConfig host_config = named("host");
  std::function<void(VMBCHANNEL)> configure_guest;  // extra Init calls
  std::function<void(VMBCHANNEL)> configure_host;
  bool start_host = true;  // VmbChannelStart after the host's Enable

  static DeviceConfig named(const char* name) {
    DeviceConfig config;
    config.name = name;
    return config;
  }
};

// The rings outlive the devices whose channels read and write them: a base
// is constructed before, and destroyed after, every member of TestBed.
struct TestBedRings {
  explicit TestBedRings(std::uint32_t data_bytes)
      : guest_to_host_(std::make_unique<ring::FlatRingMemory>(data_bytes)),
        host_to_guest_(std::make_unique<ring::FlatRingMemory>(data_bytes)) {}
  std::unique_ptr<ring::FlatRingMemory> guest_to_host_;
  std::unique_ptr<ring::FlatRingMemory> host_to_guest_;
};

class TestBed : private TestBedRings {
 public:
  explicit TestBed(BedOptions options = {});
  ~TestBed();

  Device guest;
  Device host;
  ScriptedDriver vsc;  // on the guest
  ScriptedDriver vsp;  // on the host

  VMBCHANNEL guest_channel() const { return vsc.channel(); }
  VMBCHANNEL host_channel() const { return vsp.channel(); }

  // Host Enable (+ Start) and guest Enable; the control plane then opens the
  // host side, and on its success the guest side. Runs until idle and
  // checks that both channels are open.
  void open();
  void enable_both();

  // --- Scheduling ---------------------------------------------------------------------
  // One step of one ready context (or a clock jump to the next deadline).
  // False when nothing can ever run again.
  bool step();
  // Steps until nothing is ready; fails the test past max_steps.
  std::uint64_t run_until_idle(std::uint64_t max_steps = 2'000'000);
  // Steps until `done()`; false if it went idle first.
  bool run_until(const std::function<bool()>& done, std::uint64_t max_steps = 2'000'000);
  // Runs a guest (or host) driver thread at PASSIVE_LEVEL until its body
  // returns, letting every other context run meanwhile. True if it returned.
  bool run_guest_thread(const std::string& name, std::function<void()> body);
  bool run_host_thread(const std::string& name, std::function<void()> body);
  // Spawns without running.
  void spawn_guest_thread(const std::string& name, std::function<void()> body);

  // "guest:dpc/1", ... for every step taken.
  const std::vector<std::string>& schedule() const { return schedule_; }
  std::uint64_t now_ns() const { return now_ns_; }
  std::uint64_t guest_signals() const;  // guest -> host interrupts
  std::uint64_t host_signals() const;   // host -> guest interrupts

  // The rings as the test sees them (guest -> host is the guest's outgoing).
  ring::FlatRingMemory& guest_to_host() { return *guest_to_host_; }
  ring::FlatRingMemory& host_to_guest() { return *host_to_guest_; }
  // Bytes the reader of that ring has not consumed yet.
  std::uint32_t bytes_in(ring::FlatRingMemory& memory) const;

 private:
  class Plane;
  class Wire;
  void try_open();

  BedOptions options_;
  std::unique_ptr<Wire> guest_wire_;  // signals the host
  std::unique_ptr<Wire> host_wire_;   // signals the guest
  std::unique_ptr<Plane> guest_plane_;
  std::unique_ptr<Plane> host_plane_;
  bool host_offered_ = false;
  bool guest_wants_open_ = false;
  base::Prng random_;
  std::uint64_t now_ns_ = 0;
  std::vector<std::string> schedule_;
};

// Keeps everything a device reports.
struct RecordingSink final : TraceSink {
  void on_violation(const Violation& violation) override { violations.push_back(violation); }
  void on_event(const TraceEvent& event) override { events.push_back(event); }
  std::size_t count(const std::string& kind) const {
    std::size_t n = 0;
    for (const TraceEvent& e : events) {
      n += e.kind == kind ? 1u : 0u;
    }
    return n;
  }
  const TraceEvent* first(const std::string& kind) const {
    for (const TraceEvent& e : events) {
      if (e.kind == kind) {
        return &e;
      }
    }
    return nullptr;
  }
  std::vector<Violation> violations;
  std::vector<TraceEvent> events;
};

// Violation code names of a device, in order.
std::vector<std::string> codes(const Device& device);

// Little-endian bytes of a 64-bit value (payloads the tests can match on).
std::vector<std::byte> u64_bytes(std::uint64_t value);
std::uint64_t u64_of(const std::vector<std::byte>& bytes);
std::vector<std::byte> text_bytes(const std::string& text);

// The descriptor of the next packet the reader of `memory` would read.
ring::PacketDescriptor next_descriptor(ring::FlatRingMemory& memory);
// Actions the tests use a lot.
Action action_of(PacketAction kind);
Action misuse(Misuse what);

// The send flag of a packet that asks for a completion.
inline constexpr UINT32 kWait = VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION;
// 0, 1, ..., n-1: the payload values of n packets sent in order.
std::vector<std::uint64_t> iota(std::uint64_t n);

}  // namespace vmbus::kmcl::testing
