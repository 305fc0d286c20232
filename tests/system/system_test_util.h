// Helpers for tests that run the real vmbus-host and vmbus-guest binaries
// under the simulator.
#pragma once

#include <string>

#include "vmbus/hypervisor/simulation.h"
#include "vmbus/proto/config.pb.h"

namespace vmbus::testing {

// A configuration with the binaries built next to the tests.
inline hypervisor::SimulationConfig base_config(const proto::HostConfig& host,
                                                const proto::GuestConfig& guest,
                                                std::uint64_t seed = 1) {
  hypervisor::SimulationConfig config;
  config.host_binary = VMBUS_HOST_BINARY;
  config.guest_binary = VMBUS_GUEST_BINARY;
  config.seed = seed;
  config.segment_size_bytes = 16ull << 20;
  config.host_config = host.SerializeAsString();
  config.guest_config = guest.SerializeAsString();
  return config;
}

// Offers `count` echo channels with relids 1..count.
inline proto::HostConfig echo_host(std::uint32_t count, std::uint32_t max_version = 0) {
  proto::HostConfig host;
  host.set_max_version(max_version);
  for (std::uint32_t relid = 1; relid <= count; ++relid) {
    auto* channel = host.add_channels();
    channel->set_child_relid(relid);
    channel->set_interface_guid("f8615163-df3e-46c5-913f-f2d2f965ed0e");
    channel->set_instance_guid("00000000-0000-0000-0000-" +
                               std::string(12 - std::to_string(relid).size(), '0') +
                               std::to_string(relid));
    channel->mutable_vsp()->set_kind(proto::VspConfig::KIND_ECHO);
  }
  return host;
}

inline std::string describe(const hypervisor::RunResult& result) {
  std::string text = std::string(hypervisor::run_outcome_name(result.outcome)) + ": " +
                     result.detail + " | guest:";
  for (const auto& [k, v] : result.guest_report) {
    text += " " + k + "=" + v;
  }
  return text;
}

}  // namespace vmbus::testing
