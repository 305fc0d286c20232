// A program embedding the installed KMCL model: it loads the driver named
// on its command line and checks that the driver's entry point creates and
// enables one channel, named as the driver names it. Exit 0 when it does.
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/driver_loader.h"

namespace kmcl = vmbus::kmcl;

namespace {

struct EnabledChannels final : kmcl::ControlPlane {
  void on_channel_enabled(kmcl::VMBCHANNEL, const kmcl::ChannelConfig& config) override {
    names.push_back(config.friendly_name);
  }
  std::vector<std::u16string> names;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: load_echo_vsc DRIVER.so\n");
    return 2;
  }
  auto loaded = kmcl::load_driver(argv[1]);
  if (const auto* error = std::get_if<kmcl::DriverLoadError>(&loaded)) {
    std::fprintf(stderr, "%s\n", error->message.c_str());
    return 1;
  }
  const auto& driver = std::get<std::unique_ptr<kmcl::LoadedDriver>>(loaded);
  EnabledChannels channels;
  kmcl::DeviceConfig config;
  config.name = "guest";
  kmcl::Device device(config);
  device.set_control_plane(&channels);
  kmcl::DriverParameters parameters;
  parameters.channel_name = "echo";
  const kmcl::NTSTATUS status = driver->add_device(device, parameters);
  device.set_control_plane(nullptr);
  if (status != kmcl::STATUS_SUCCESS || channels.names.size() != 1 ||
      channels.names[0] != u"echo") {
    std::fprintf(stderr, "the driver's entry point returned %s and enabled %zu channel(s)\n",
                 kmcl::ntstatus_name(status), channels.names.size());
    return 1;
  }
  std::printf("loaded %s: one channel enabled\n", driver->path().c_str());
  return 0;
}
