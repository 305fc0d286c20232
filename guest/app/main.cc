// vmbus-guest: the child partition process, started by vmbus-sim.
#include "vmbus/guest/client.h"
#include "vmbus/partition/partition.h"

int main(int argc, char** argv) {
  vmbus::guest::VmbusClient client;
  return vmbus::partition::partition_main(argc, argv, vmbus::proto::PARTITION_GUEST, client);
}
