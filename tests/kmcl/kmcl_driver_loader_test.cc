// The driver loader (vmbus/kmcl/driver_loader.h): a C driver built as a
// shared library is opened, checked and run on a device; every way a file
// can fail to be a driver is a typed error naming the file and the flaw.
// The test program exports the KMCL C API to the libraries it loads, as
// vmbus-guest and vmbus-host do (vmbus_kmcl_export_to_drivers).
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmbus/kmcl/driver_loader.h"

#include "kmcl_driver_bed.h"

namespace vmbus::kmcl::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::unique_ptr<LoadedDriver> loaded(const std::string& path) {
  auto result = load_driver(path);
  if (auto* error = std::get_if<DriverLoadError>(&result)) {
    ADD_FAILURE() << error->message;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<LoadedDriver>>(result));
}

DriverLoadError load_error(const std::string& path) {
  auto result = load_driver(path);
  if (std::holds_alternative<DriverLoadError>(result)) {
    return std::get<DriverLoadError>(result);
  }
  ADD_FAILURE() << path << " loaded";
  return {};
}

std::vector<std::string> log_of(const LoadedDriver& driver) {
  using LogFunction = const char* (*)();
  const auto log = reinterpret_cast<LogFunction>(driver.find_symbol("RequestDriverLog"));
  std::vector<std::string> lines;
  if (log == nullptr) {
    ADD_FAILURE() << "no RequestDriverLog in " << driver.path();
    return lines;
  }
  std::istringstream text(log());
  for (std::string line; std::getline(text, line);) {
    lines.push_back(line);
  }
  return lines;
}

constexpr GUID kNetType = {
    0xf8615163, 0xdf3e, 0x46c5, {0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e}};
constexpr GUID kInstance = {0x00000001, 0x0002, 0x0003, {4, 5, 6, 7, 8, 9, 10, 11}};

TEST(DriverLoader, LoadsADriverWhoseEntryCreatesItsChannelOnTheDevice) {
  // Declared first: the library outlives the devices that run its callbacks.
  const std::unique_ptr<LoadedDriver> driver = loaded(KMCL_TEST_REQUEST_DRIVER);
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->interface_version(), driver_interface_version());
  EXPECT_EQ(driver->path(), KMCL_TEST_REQUEST_DRIVER);

  DriverBed bed(false);
  DriverParameters parameters;
  parameters.channel_name = "net";
  parameters.interface_type = kNetType;
  parameters.interface_instance = kInstance;
  parameters.arguments = "greet";
  ASSERT_EQ(driver->add_device(bed.guest, parameters), STATUS_SUCCESS);
  bed.open();

  const ChannelConfig config = bed.guest.channel_config(bed.driver_channel());
  EXPECT_EQ(config.friendly_name, u"net");
  ASSERT_TRUE(config.target_interface_type.has_value());
  EXPECT_EQ(std::memcmp(&*config.target_interface_type, &kNetType, sizeof(GUID)), 0);
  ASSERT_TRUE(config.target_interface_instance.has_value());
  EXPECT_EQ(std::memcmp(&*config.target_interface_instance, &kInstance, sizeof(GUID)), 0);
  // "greet": one request from PostStarted, completed by the scripted VSP.
  EXPECT_THAT(log_of(*driver),
              ElementsAre("Opened PASSIVE", "Started PASSIVE", "PostStarted PASSIVE",
                          "SendCompleted DISPATCH status=0x00000000 bytes=0"));
  EXPECT_EQ(bed.host.channel_stats(bed.host_channel()).packets_dequeued, 1u);
  EXPECT_THAT(codes(bed.guest), IsEmpty());
}

TEST(DriverLoader, AMissingFileIsFileNotFoundNamingThePath) {
  const DriverLoadError error = load_error("no/such/libdriver.so");
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kFileNotFound);
  EXPECT_EQ(error.path, "no/such/libdriver.so");
  EXPECT_EQ(error.message, "no/such/libdriver.so: no such file");
}

// dlopen() would search the library path for a bare name; the loader
// looks in the current directory only.
TEST(DriverLoader, ABareNameIsLookedUpInTheCurrentDirectoryOnly) {
  const DriverLoadError error = load_error("libc.so.6");
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kFileNotFound);
  EXPECT_EQ(error.message, "libc.so.6: no such file");
}

TEST(DriverLoader, AFileThatIsNotASharedObjectIsNotLoadable) {
  const std::string path = ::testing::TempDir() + "kmcl_loader_not_a_driver.so";
  std::ofstream(path) << "not an ELF file\n";
  const DriverLoadError error = load_error(path);
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kNotLoadable);
  EXPECT_THAT(error.message, StartsWith(path + ": cannot be loaded: "));
}

TEST(DriverLoader, AnUndefinedSymbolIsNotLoadableAndNamesTheSymbol) {
  const DriverLoadError error = load_error(KMCL_TEST_DRIVER_UNDEFINED_SYMBOL);
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kNotLoadable);
  EXPECT_THAT(error.message,
              StartsWith(std::string(KMCL_TEST_DRIVER_UNDEFINED_SYMBOL) + ": cannot be loaded: "));
  EXPECT_THAT(error.message, HasSubstr("undefined symbol: ExAllocatePoolWithTag"));
}

TEST(DriverLoader, ALibraryBuiltWithoutTheHeaderHasNoInterfaceVersion) {
  const DriverLoadError error = load_error(KMCL_TEST_DRIVER_NO_VERSION);
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kMissingInterfaceVersion);
  EXPECT_EQ(error.message, std::string(KMCL_TEST_DRIVER_NO_VERSION) +
                               ": no VmbusSimDriverInterfaceVersion symbol: the driver was not "
                               "built with <vmbus_sim_driver.h>");
}

TEST(DriverLoader, AnotherInterfaceVersionIsAMismatchNamingBoth) {
  const DriverLoadError error = load_error(KMCL_TEST_DRIVER_OTHER_VERSION);
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kInterfaceVersionMismatch);
  EXPECT_EQ(error.message, std::string(KMCL_TEST_DRIVER_OTHER_VERSION) +
                               ": built against driver interface version 999, this vmbus-sim "
                               "loads version 1: rebuild it against this version's headers");
}

TEST(DriverLoader, ALibraryWithoutTheEntryPointIsMissingEntryPoint) {
  const DriverLoadError error = load_error(KMCL_TEST_DRIVER_NO_ENTRY);
  EXPECT_EQ(error.kind, DriverLoadErrorKind::kMissingEntryPoint);
  EXPECT_EQ(error.message, std::string(KMCL_TEST_DRIVER_NO_ENTRY) +
                               ": no entry point VmbusSimDriverEntry (NTSTATUS "
                               "VmbusSimDriverEntry(PDEVICE_OBJECT, "
                               "PCVMBUS_SIM_DRIVER_PARAMETERS))");
}

TEST(DriverLoader, ErrorKindsHaveStableNames) {
  EXPECT_STREQ(driver_load_error_kind_name(DriverLoadErrorKind::kFileNotFound), "file_not_found");
  EXPECT_STREQ(driver_load_error_kind_name(DriverLoadErrorKind::kNotLoadable), "not_loadable");
  EXPECT_STREQ(driver_load_error_kind_name(DriverLoadErrorKind::kMissingInterfaceVersion),
               "missing_interface_version");
  EXPECT_STREQ(driver_load_error_kind_name(DriverLoadErrorKind::kInterfaceVersionMismatch),
               "interface_version_mismatch");
  EXPECT_STREQ(driver_load_error_kind_name(DriverLoadErrorKind::kMissingEntryPoint),
               "missing_entry_point");
}

}  // namespace
}  // namespace vmbus::kmcl::testing
