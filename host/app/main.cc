// vmbus-host: the root partition process, started by vmbus-sim.
#include "vmbus/host/server.h"
#include "vmbus/partition/partition.h"

int main(int argc, char** argv) {
  vmbus::host::VmbusServer server;
  return vmbus::partition::partition_main(argc, argv, vmbus::proto::PARTITION_HOST, server);
}
