// load_driver and LoadedDriver: dlopen, the two symbols a driver must have,
// and the call of its entry point with the parameters converted to the C
// structure of <vmbus_sim_driver.h>.
#include "vmbus/kmcl/driver_loader.h"

#include <algorithm>
#include <dlfcn.h>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include "vmbus/kmcl/c_api.h"
#include "vmbus/kmcl/driver_position.h"
#include "vmbus/kmcl/driver_recorder.h"

#include "core.h"
#include "fiber.h"

// Last: the C headers' macros would rewrite the C++ declarations above. The
// loader only reads the symbol names and the parameter structure.
#define VMBUS_SIM_DRIVER_LOADER
#include "vmbus_sim_driver.h"

namespace vmbus::kmcl {

namespace {

DriverLoadError error(DriverLoadErrorKind kind, const std::string& path, std::string_view what) {
  return DriverLoadError{kind, path, path + ": " + std::string(what)};
}

// dlerror() text, without the "<file>: " it usually starts with.
std::string dl_reason(const std::string& opened_as) {
  const char* text = dlerror();
  std::string reason = text != nullptr ? text : "unknown dlopen error";
  const std::string prefix = opened_as + ": ";
  if (reason.starts_with(prefix)) {
    reason.erase(0, prefix.size());
  }
  return reason;
}

::GUID to_c(const GUID& guid) {
  ::GUID out{guid.Data1, guid.Data2, guid.Data3, {}};
  std::copy(std::begin(guid.Data4), std::end(guid.Data4), std::begin(out.Data4));
  return out;
}

}  // namespace

static_assert(std::string_view(kDriverEntryName) == VMBUS_SIM_DRIVER_ENTRY_SYMBOL);

std::uint32_t driver_interface_version() {
  return VMBUS_SIM_DRIVER_INTERFACE_VERSION;
}

const char* driver_load_error_kind_name(DriverLoadErrorKind kind) {
  switch (kind) {
    case DriverLoadErrorKind::kFileNotFound:
      return "file_not_found";
    case DriverLoadErrorKind::kNotLoadable:
      return "not_loadable";
    case DriverLoadErrorKind::kMissingInterfaceVersion:
      return "missing_interface_version";
    case DriverLoadErrorKind::kInterfaceVersionMismatch:
      return "interface_version_mismatch";
    case DriverLoadErrorKind::kMissingEntryPoint:
      return "missing_entry_point";
  }
  return "unknown";
}

std::variant<std::unique_ptr<LoadedDriver>, DriverLoadError> load_driver(const std::string& path) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    return error(DriverLoadErrorKind::kFileNotFound, path, "no such file");
  }
  const std::string opened_as = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void* library = dlopen(opened_as.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    return error(DriverLoadErrorKind::kNotLoadable, path,
                 "cannot be loaded: " + dl_reason(opened_as));
  }
  const auto close_and = [library](DriverLoadError e) {
    dlclose(library);
    return e;
  };
  const auto* version =
      static_cast<const UINT32*>(dlsym(library, VMBUS_SIM_DRIVER_INTERFACE_VERSION_SYMBOL));
  if (version == nullptr) {
    return close_and(error(DriverLoadErrorKind::kMissingInterfaceVersion, path,
                           "no " VMBUS_SIM_DRIVER_INTERFACE_VERSION_SYMBOL
                           " symbol: the driver was not built with <vmbus_sim_driver.h>"));
  }
  if (*version != VMBUS_SIM_DRIVER_INTERFACE_VERSION) {
    return close_and(error(DriverLoadErrorKind::kInterfaceVersionMismatch, path,
                           "built against driver interface version " + std::to_string(*version) +
                               ", this vmbus-sim loads version " +
                               std::to_string(VMBUS_SIM_DRIVER_INTERFACE_VERSION) +
                               ": rebuild it against this version's headers"));
  }
  void* entry = dlsym(library, VMBUS_SIM_DRIVER_ENTRY_SYMBOL);
  if (entry == nullptr) {
    return close_and(error(DriverLoadErrorKind::kMissingEntryPoint, path,
                           "no entry point " VMBUS_SIM_DRIVER_ENTRY_SYMBOL
                           " (NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT, "
                           "PCVMBUS_SIM_DRIVER_PARAMETERS))"));
  }
  return std::unique_ptr<LoadedDriver>(new LoadedDriver(path, library, entry, *version));
}

LoadedDriver::~LoadedDriver() {
  dlclose(library_);
}

NTSTATUS LoadedDriver::add_device(Device& device, const DriverParameters& parameters) const {
  VMBUS_SIM_DRIVER_PARAMETERS c_parameters{};
  c_parameters.Size = sizeof(c_parameters);
  c_parameters.InterfaceVersion = VMBUS_SIM_DRIVER_INTERFACE_VERSION;
  c_parameters.IsServer = static_cast<::BOOLEAN>(parameters.is_server ? 1 : 0);
  c_parameters.ChannelName = parameters.channel_name.c_str();
  c_parameters.InterfaceType = to_c(parameters.interface_type);
  c_parameters.InterfaceInstance = to_c(parameters.interface_instance);
  c_parameters.Arguments = parameters.arguments.c_str();
  // dlsym gives an object pointer; POSIX guarantees it converts to the
  // function's type.
  const auto entry = reinterpret_cast<PFN_VMBUS_SIM_DRIVER_ENTRY>(entry_);
  std::optional<DriverCodeScope> scope;
  if (const DriverRecorder* recorder = device.core().recorder; recorder != nullptr) {
    scope.emplace(recorder->position(VMBUS_SIM_DRIVER_ENTRY_SYMBOL));
  }
  try {
    return entry(as_device_object(device), &c_parameters);
  } catch (const detail::FiberCancelled&) {
    throw;
  } catch (...) {
    detail::driver_exception_escaped();
  }
}

void* LoadedDriver::find_symbol(const std::string& name) const {
  return dlsym(library_, name.c_str());
}

}  // namespace vmbus::kmcl
