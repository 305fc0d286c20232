#include "kmcl_driver_bed.h"

#include <cstring>

#include <gtest/gtest.h>

#include "vmbus/ring/ring.h"

namespace vmbus::kmcl::testing {

class DriverBed::Wire final : public Transport {
 public:
  Wire(Device& peer, std::function<VMBCHANNEL()> peer_channel)
      : peer_(peer), peer_channel_(std::move(peer_channel)) {}
  void signal_peer() override { peer_.on_interrupt(peer_channel_()); }

 private:
  Device& peer_;
  std::function<VMBCHANNEL()> peer_channel_;
};

// The host offers when its channel is enabled, the guest opens when its
// channel is enabled and an offer exists; a guest Disable closes the host
// side, a host Disable rescinds the guest side.
class DriverBed::Plane final : public ControlPlane {
 public:
  Plane(DriverBed& bed, bool is_host) : bed_(bed), is_host_(is_host) {}

  void on_channel_enabled(VMBCHANNEL channel, const ChannelConfig&) override {
    if (is_host_ == bed_.driver_is_server_) {
      bed_.driver_channel_ = channel;
    }
    (is_host_ ? bed_.host_offered_ : bed_.guest_wants_open_) = true;
    bed_.try_open();
  }

  void on_channel_open_result(VMBCHANNEL, NTSTATUS status) override {
    if (is_host_ && NT_SUCCESS(status)) {
      ASSERT_EQ(bed_.guest.open_channel(bed_.guest_channel(), *bed_.host_to_guest_,
                                        *bed_.guest_to_host_, *bed_.guest_wire_),
                STATUS_SUCCESS);
    }
  }

  void on_channel_disabled(VMBCHANNEL) override {
    if (is_host_) {
      bed_.host_offered_ = false;
      const ChannelState guest_state = bed_.guest.channel_state(bed_.guest_channel());
      if (guest_state == ChannelState::kOpen || guest_state == ChannelState::kOpening) {
        bed_.guest.rescind_channel(bed_.guest_channel());
      }
    } else {
      bed_.guest_wants_open_ = false;
      bed_.host.close_channel(bed_.host_channel());
    }
  }

 private:
  DriverBed& bed_;
  bool is_host_;
};

DriverBed::DriverBed(bool driver_is_server)
    : TestBedRings(64 * 1024),
      guest(BedOptions::named("guest")),
      host(BedOptions::named("host")),
      peer(driver_is_server ? guest : host, driver_is_server ? "vsc" : "vsp", 1),
      driver_is_server_(driver_is_server),
      guest_wire_(std::make_unique<Wire>(host, [this] { return host_channel(); })),
      host_wire_(std::make_unique<Wire>(guest, [this] { return guest_channel(); })),
      guest_plane_(std::make_unique<Plane>(*this, false)),
      host_plane_(std::make_unique<Plane>(*this, true)) {
  guest.set_control_plane(guest_plane_.get());
  host.set_control_plane(host_plane_.get());
  EXPECT_EQ(peer.create_channel(!driver_is_server), STATUS_SUCCESS);
}

DriverBed::~DriverBed() {
  guest.set_control_plane(nullptr);
  host.set_control_plane(nullptr);
}

void DriverBed::try_open() {
  if (!host_offered_ || !guest_wants_open_ || guest_channel() == nullptr ||
      host_channel() == nullptr) {
    return;
  }
  ring::initialize_ring(*guest_to_host_);
  ring::initialize_ring(*host_to_guest_);
  ASSERT_EQ(host.open_channel(host_channel(), *guest_to_host_, *host_to_guest_, *host_wire_),
            STATUS_SUCCESS);
}

void DriverBed::open() {
  ASSERT_EQ(VmbChannelEnable(peer.channel()), STATUS_SUCCESS);
  if (driver_is_server_) {
    ASSERT_NE(driver_channel_, nullptr) << "the driver enables its channel in its entry point";
  } else {
    VmbChannelStart(peer.channel());
  }
  run_until_idle();
  ASSERT_EQ(host.channel_state(host_channel()), ChannelState::kOpen);
  ASSERT_EQ(guest.channel_state(guest_channel()), ChannelState::kOpen);
}

bool DriverBed::step() {
  for (Device* device : {&guest, &host}) {
    const std::vector<std::string> ready = device->ready_contexts();
    if (!ready.empty()) {
      now_ns_ += kStepNs;
      guest.set_now_ns(now_ns_);
      host.set_now_ns(now_ns_);
      schedule_.push_back(device->name() + ":" + ready.front());
      device->step(ready.front());
      return true;
    }
  }
  return false;
}

void DriverBed::run_until_idle() {
  for (std::uint64_t steps = 0; step(); ++steps) {
    if (steps > 100'000) {
      ADD_FAILURE() << "still busy after 100000 steps";
      return;
    }
  }
}

std::vector<std::byte> request(std::uint32_t opcode, std::uint32_t argument) {
  std::vector<std::byte> bytes(8);
  std::memcpy(bytes.data(), &opcode, 4);
  std::memcpy(bytes.data() + 4, &argument, 4);
  return bytes;
}

}  // namespace vmbus::kmcl::testing
