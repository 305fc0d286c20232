#include "kmcl_test_bed.h"

#include <cstring>

#include <gtest/gtest.h>

#include "vmbus/ring/layout.h"
#include "vmbus/ring/ring.h"

namespace vmbus::kmcl::testing {

class TestBed::Wire final : public Transport {
 public:
  Wire(Device& peer, std::function<VMBCHANNEL()> peer_channel)
      : peer_(peer), peer_channel_(std::move(peer_channel)) {}
  void signal_peer() override {
    ++signals;
    peer_.on_interrupt(peer_channel_());
  }
  std::uint64_t signals = 0;

 private:
  Device& peer_;
  std::function<VMBCHANNEL()> peer_channel_;
};

// What the guest's and host's control planes do, collapsed into one place:
// the host offers when its driver enables, the guest opens when its driver
// enables and an offer exists; a guest Disable closes the host side, a host
// Disable rescinds the guest side.
class TestBed::Plane final : public ControlPlane {
 public:
  Plane(TestBed& bed, bool is_host) : bed_(bed), is_host_(is_host) {}

  void on_channel_enabled(VMBCHANNEL, const ChannelConfig&) override {
    if (is_host_) {
      bed_.host_offered_ = true;
    } else {
      bed_.guest_wants_open_ = true;
    }
    bed_.try_open();
  }

  void on_channel_open_result(VMBCHANNEL, NTSTATUS status) override {
    if (is_host_ && NT_SUCCESS(status)) {
      // OPENCHANNEL_RESULT(success) reaches the guest.
      ASSERT_EQ(bed_.guest.open_channel(bed_.guest_channel(), *bed_.host_to_guest_,
                                        *bed_.guest_to_host_, *bed_.guest_wire_),
                STATUS_SUCCESS);
    }
  }

  void on_channel_disabled(VMBCHANNEL) override {
    if (is_host_) {
      bed_.host_offered_ = false;
      if (bed_.guest.channel_state(bed_.guest_channel()) == ChannelState::kOpen ||
          bed_.guest.channel_state(bed_.guest_channel()) == ChannelState::kOpening) {
        bed_.guest.rescind_channel(bed_.guest_channel());
      }
    } else {
      bed_.guest_wants_open_ = false;
      bed_.host.close_channel(bed_.host_channel());
    }
  }

 private:
  TestBed& bed_;
  bool is_host_;
};

TestBed::TestBed(BedOptions options)
    : TestBedRings(options.ring_data_bytes),
      guest(options.guest_config),
      host(options.host_config),
      vsc(guest, "vsc", options.vsc_seed.value_or(options.seed + 1)),
      vsp(host, "vsp", options.seed + 2),
      options_(std::move(options)),
      guest_wire_(std::make_unique<Wire>(host, [this] { return host_channel(); })),
      host_wire_(std::make_unique<Wire>(guest, [this] { return guest_channel(); })),
      guest_plane_(std::make_unique<Plane>(*this, false)),
      host_plane_(std::make_unique<Plane>(*this, true)),
      random_(options_.seed) {
  guest.set_control_plane(guest_plane_.get());
  host.set_control_plane(host_plane_.get());
  EXPECT_EQ(vsc.create_channel(false, options_.configure_guest), STATUS_SUCCESS);
  EXPECT_EQ(vsp.create_channel(true, options_.configure_host), STATUS_SUCCESS);
}

TestBed::~TestBed() {
  guest.set_control_plane(nullptr);
  host.set_control_plane(nullptr);
}

void TestBed::try_open() {
  if (!host_offered_ || !guest_wants_open_) {
    return;
  }
  const ChannelState host_state = host.channel_state(host_channel());
  if (guest.channel_state(guest_channel()) != ChannelState::kEnabled ||
      (host_state != ChannelState::kEnabled && host_state != ChannelState::kClosed)) {
    return;
  }
  // The guest sets up both rings before it sends OPENCHANNEL.
  ring::initialize_ring(*guest_to_host_);
  ring::initialize_ring(*host_to_guest_);
  ASSERT_EQ(host.open_channel(host_channel(), *guest_to_host_, *host_to_guest_, *host_wire_),
            STATUS_SUCCESS);
}

void TestBed::enable_both() {
  ASSERT_EQ(VmbChannelEnable(host_channel()), STATUS_SUCCESS);
  if (options_.start_host) {
    VmbChannelStart(host_channel());
  }
  ASSERT_EQ(VmbChannelEnable(guest_channel()), STATUS_SUCCESS);
}

void TestBed::open() {
  enable_both();
  run_until_idle();
  ASSERT_EQ(host.channel_state(host_channel()), ChannelState::kOpen);
  ASSERT_EQ(guest.channel_state(guest_channel()), ChannelState::kOpen);
}

bool TestBed::step() {
  struct Candidate {
    Device* device;
    std::string context;
  };
  std::vector<Candidate> ready;
  for (Device* device : {&guest, &host}) {
    for (std::string& context : device->ready_contexts()) {
      ready.push_back(Candidate{device, std::move(context)});
    }
  }
  if (ready.empty()) {
    std::optional<std::uint64_t> deadline = guest.next_deadline_ns();
    const std::optional<std::uint64_t> host_deadline = host.next_deadline_ns();
    if (!deadline || (host_deadline && *host_deadline < *deadline)) {
      deadline = host_deadline;
    }
    if (!deadline) {
      return false;
    }
    // Nothing runs before the next timeout: let time pass.
    now_ns_ = std::max(now_ns_, *deadline);
    guest.set_now_ns(now_ns_);
    host.set_now_ns(now_ns_);
    return true;
  }
  const std::size_t pick =
      options_.seed == 0 ? 0 : static_cast<std::size_t>(random_.below(ready.size()));
  now_ns_ += kStepNs;
  guest.set_now_ns(now_ns_);
  host.set_now_ns(now_ns_);
  Candidate& chosen = ready[pick];
  schedule_.push_back(chosen.device->name() + ":" + chosen.context);
  chosen.device->step(chosen.context);
  return true;
}

std::uint64_t TestBed::run_until_idle(std::uint64_t max_steps) {
  std::uint64_t steps = 0;
  while (step()) {
    ++steps;
    if (steps > max_steps) {
      ADD_FAILURE() << "still busy after " << max_steps << " steps";
      break;
    }
  }
  return steps;
}

bool TestBed::run_until(const std::function<bool()>& done, std::uint64_t max_steps) {
  for (std::uint64_t steps = 0; steps < max_steps; ++steps) {
    if (done()) {
      return true;
    }
    if (!step()) {
      return done();
    }
  }
  ADD_FAILURE() << "condition not reached after " << max_steps << " steps";
  return false;
}

void TestBed::spawn_guest_thread(const std::string& name, std::function<void()> body) {
  guest.spawn_passive_thread(name, std::move(body));
}

bool TestBed::run_guest_thread(const std::string& name, std::function<void()> body) {
  guest.spawn_passive_thread(name, std::move(body));
  return run_until([&] { return !guest.thread_running(name); });
}

bool TestBed::run_host_thread(const std::string& name, std::function<void()> body) {
  host.spawn_passive_thread(name, std::move(body));
  return run_until([&] { return !host.thread_running(name); });
}

std::uint64_t TestBed::guest_signals() const {
  return guest_wire_->signals;
}

std::uint64_t TestBed::host_signals() const {
  return host_wire_->signals;
}

std::uint32_t TestBed::bytes_in(ring::FlatRingMemory& memory) const {
  ring::RingView view(memory);
  const ring::RingControlPage& control = view.control();
  return ring::bytes_to_read(control.write_index, control.read_index, view.data_size_bytes());
}

std::vector<std::string> codes(const Device& device) {
  std::vector<std::string> names;
  for (const Violation& v : device.violations()) {
    names.push_back(violation_code_name(v.code));
  }
  return names;
}

std::vector<std::byte> u64_bytes(std::uint64_t value) {
  std::vector<std::byte> bytes(8);
  std::memcpy(bytes.data(), &value, 8);
  return bytes;
}

std::uint64_t u64_of(const std::vector<std::byte>& bytes) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data(), std::min<std::size_t>(8, bytes.size()));
  return value;
}

std::vector<std::byte> text_bytes(const std::string& text) {
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

ring::PacketDescriptor next_descriptor(ring::FlatRingMemory& memory) {
  ring::RingView view(memory);
  ring::PacketDescriptor descriptor{};
  view.copy_out(view.control().read_index, std::as_writable_bytes(std::span(&descriptor, 1)));
  return descriptor;
}

Action action_of(PacketAction kind) {
  Action action;
  action.kind = kind;
  return action;
}

Action misuse(Misuse what) {
  Action action;
  action.kind = PacketAction::kMisuse;
  action.misuse = what;
  return action;
}

std::vector<std::uint64_t> iota(std::uint64_t n) {
  std::vector<std::uint64_t> values(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    values[i] = i;
  }
  return values;
}

}  // namespace vmbus::kmcl::testing
