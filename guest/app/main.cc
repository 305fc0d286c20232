// vmbus-guest: the child partition process, started by vmbus-sim.
#include "vmbus/guest/client.h"
#include "vmbus/platform/partition.h"

int main(int argc, char** argv) {
  vmbus::guest::VmbusClient client;
  return vmbus::platform::partition_main(argc, argv, vmbus::proto::PARTITION_GUEST, client);
}
