// DriverWatch: a partition's end of the driver slots (vmbus/ipc/driver_slot.h).
//
// While it lives it is the process's KMCL driver position listener
// (vmbus/kmcl/driver_position.h): whenever the loaded driver code that runs
// changes -- a callback begins or ends, a fiber hand-off resumes a blocked
// one -- it writes the new position into the partition's slot, so that the
// simulator can name the driver, callback, channel and packet if the
// process then dies or stops answering. An exception that escapes driver
// code and an entry point that fails are written there too.
//
// run_partition() makes one when the simulator hands over the slot page
// (Hello.driver_slot_name); nothing is written without one.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "vmbus/ipc/driver_slot.h"
#include "vmbus/kmcl/driver_position.h"

namespace vmbus::partition {

class DriverWatch final : public kmcl::DriverPositionListener {
 public:
  DriverWatch(std::span<std::byte> page, ipc::DriverSlotSide side);
  ~DriverWatch() override;
  DriverWatch(const DriverWatch&) = delete;
  DriverWatch& operator=(const DriverWatch&) = delete;

  void on_driver_position(const kmcl::DriverPosition* now) override;
  void on_driver_exception(const kmcl::DriverPosition& where, const std::string& what) override;

  // The entry point at `where` returned an error (`detail`): written to the
  // slot of the watch that lives, if one does.
  static void entry_failed(const kmcl::DriverPosition& where, const std::string& detail);

 private:
  void write(ipc::DriverSlotState state, const kmcl::DriverPosition& where,
             const std::string& detail);

  ipc::DriverSlotWriter slot_;
};

}  // namespace vmbus::partition
