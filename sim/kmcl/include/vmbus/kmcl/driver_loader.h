// Loading a driver built as a shared library -- a .so that defines the entry
// point of <vmbus_sim_driver.h> -- into the program that hosts an endpoint.
//
// load_driver(path) dlopen()s the file and checks it before anything runs:
// every symbol it needs must resolve now (RTLD_NOW), so a WDK function the
// simulator does not provide is reported by name; its interface version must
// equal this build's; its entry point must exist. Each failure is a
// DriverLoadError naming the file and what is wrong. A LoadedDriver then
// calls the entry once per channel given to the driver (add_device).
//
// The library stays loaded while its LoadedDriver lives, which must be
// longer than any Device whose channels run the driver's callbacks. Its
// symbols stay private to it (RTLD_LOCAL): two drivers may both define the
// same names. The KMCL functions it calls come from the hosting program,
// which exports them to loaded libraries (vmbus_kmcl_export_to_drivers() in
// sim/kmcl/CMakeLists.txt).
//
// Who uses it: vmbus-guest and vmbus-host for the drivers a scenario names,
// and tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/ntdef.h"

namespace vmbus::kmcl {

// The driver interface version this build loads (VMBUS_SIM_DRIVER_INTERFACE_VERSION).
std::uint32_t driver_interface_version();

// The entry point's name (VMBUS_SIM_DRIVER_ENTRY_SYMBOL), for messages.
inline constexpr const char* kDriverEntryName = "VmbusSimDriverEntry";

enum class DriverLoadErrorKind : std::uint8_t {
  kFileNotFound,              // nothing at the path
  kNotLoadable,               // dlopen refused it: not a shared object, an undefined symbol, ...
  kMissingInterfaceVersion,   // no VmbusSimDriverInterfaceVersion: not built with the header
  kInterfaceVersionMismatch,  // built against another interface version
  kMissingEntryPoint,         // no VmbusSimDriverEntry
};
// "file_not_found", "not_loadable", ...
const char* driver_load_error_kind_name(DriverLoadErrorKind kind);

struct DriverLoadError {
  DriverLoadErrorKind kind = DriverLoadErrorKind::kFileNotFound;
  std::string path;     // as given
  std::string message;  // one line that starts with the path: "drivers/libx.so: no such file"
};

// What the entry point is told about its channel (VMBUS_SIM_DRIVER_PARAMETERS).
struct DriverParameters {
  bool is_server = false;    // the host endpoint (a VSP); else the guest (a VSC)
  std::string channel_name;  // the scenario's name for the channel
  GUID interface_type{};
  GUID interface_instance{};
  std::string arguments;  // the scenario's argument string; may be empty
};

class LoadedDriver {
 public:
  ~LoadedDriver();
  LoadedDriver(const LoadedDriver&) = delete;
  LoadedDriver& operator=(const LoadedDriver&) = delete;

  const std::string& path() const { return path_; }
  std::uint32_t interface_version() const { return interface_version_; }

  // Calls the driver's VmbusSimDriverEntry for one channel on `device`, at
  // PASSIVE_LEVEL, and returns its status.
  NTSTATUS add_device(Device& device, const DriverParameters& parameters) const;

  // Any other symbol of the library, or nullptr (tests and tools).
  void* find_symbol(const std::string& name) const;

 private:
  friend std::variant<std::unique_ptr<LoadedDriver>, DriverLoadError> load_driver(
      const std::string& path);
  LoadedDriver(std::string path, void* library, void* entry, std::uint32_t interface_version)
      : path_(std::move(path)),
        library_(library),
        entry_(entry),
        interface_version_(interface_version) {}

  std::string path_;
  void* library_;  // dlopen handle
  void* entry_;    // VmbusSimDriverEntry
  std::uint32_t interface_version_;
};

// A path without a slash names a file in the current directory (never one
// on the library search path).
std::variant<std::unique_ptr<LoadedDriver>, DriverLoadError> load_driver(const std::string& path);

}  // namespace vmbus::kmcl
