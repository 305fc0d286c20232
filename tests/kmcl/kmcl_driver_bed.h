// DriverBed: a driver under test on one endpoint, a ScriptedDriver on the
// other, wired back to back in one process the way TestBed wires two scripted
// drivers (kmcl_test_bed.h): two flat rings, a control plane that opens the
// pair when both sides enabled, and in-order scheduling (the first ready
// context, guest before host), so a test can state exact sequences.
//
// The driver under test allocates its own channel -- through its C entry
// point, statically linked or loaded from a .so -- on driver_device(); the
// bed learns the channel when the driver enables it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/scripted_driver.h"

#include "kmcl_test_bed.h"

namespace vmbus::kmcl::testing {

class DriverBed : private TestBedRings {
 public:
  // The driver under test runs the host (server) endpoint if `driver_is_server`.
  explicit DriverBed(bool driver_is_server);
  ~DriverBed();

  Device guest;
  Device host;
  ScriptedDriver peer;  // on the other endpoint, with its channel allocated

  Device& driver_device() { return driver_is_server_ ? host : guest; }
  // The driver's channel once it enabled it (nullptr before).
  VMBCHANNEL driver_channel() const { return driver_channel_; }
  VMBCHANNEL guest_channel() const { return driver_is_server_ ? peer.channel() : driver_channel_; }
  VMBCHANNEL host_channel() const { return driver_is_server_ ? driver_channel_ : peer.channel(); }

  // Enables the peer's channel (and starts it on the server), runs until
  // idle and checks that both channels are open.
  void open();
  bool step();
  void run_until_idle();

  // "guest:dpc/1", ... for every step taken.
  const std::vector<std::string>& schedule() const { return schedule_; }

 private:
  class Plane;
  class Wire;
  void try_open();

  bool driver_is_server_;
  VMBCHANNEL driver_channel_ = nullptr;
  std::unique_ptr<Wire> guest_wire_;
  std::unique_ptr<Wire> host_wire_;
  std::unique_ptr<Plane> guest_plane_;
  std::unique_ptr<Plane> host_plane_;
  bool host_offered_ = false;
  bool guest_wants_open_ = false;
  std::uint64_t now_ns_ = 0;
  std::vector<std::string> schedule_;
};

// A request of the C test driver (c_driver/request_driver.c): its opcode
// and argument, 4 bytes each.
std::vector<std::byte> request(std::uint32_t opcode, std::uint32_t argument = 0);

}  // namespace vmbus::kmcl::testing
