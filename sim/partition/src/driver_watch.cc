#include "vmbus/partition/driver_watch.h"

#include "vmbus/base/check.h"

namespace vmbus::partition {
namespace {

// The watch that lives (one per process at most).
DriverWatch* g_watch = nullptr;

}  // namespace

DriverWatch::DriverWatch(std::span<std::byte> page, ipc::DriverSlotSide side) : slot_(page, side) {
  VMBUS_CHECK(g_watch == nullptr, "two driver watches in one process");
  g_watch = this;
  kmcl::set_driver_position_listener(this);
}

DriverWatch::~DriverWatch() {
  kmcl::set_driver_position_listener(nullptr);
  g_watch = nullptr;
}

void DriverWatch::write(ipc::DriverSlotState state, const kmcl::DriverPosition& where,
                        const std::string& detail) {
  ipc::DriverSlotContents contents;
  contents.state = state;
  contents.driver = where.driver;
  contents.callback = where.callback;
  contents.channel = where.channel;
  contents.packet = where.packet;
  contents.send = where.send;
  contents.detail = detail;
  slot_.write(contents);
}

void DriverWatch::on_driver_position(const kmcl::DriverPosition* now) {
  if (now == nullptr) {
    slot_.write(ipc::DriverSlotContents{});
    return;
  }
  write(ipc::DriverSlotState::kInDriver, *now, "");
}

void DriverWatch::on_driver_exception(const kmcl::DriverPosition& where, const std::string& what) {
  write(ipc::DriverSlotState::kExceptionEscaped, where, what);
}

void DriverWatch::entry_failed(const kmcl::DriverPosition& where, const std::string& detail) {
  if (g_watch != nullptr) {
    g_watch->write(ipc::DriverSlotState::kEntryFailed, where, detail);
  }
}

}  // namespace vmbus::partition
