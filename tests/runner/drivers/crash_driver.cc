// A driver library that fails on purpose, for the tests of how a user's
// driver failing is reported (driver_run_test.cc). Written in C++ against
// the WDK-style header, so that it can also throw. It completes every
// packet in-line, except that its argument string makes it, at its packet
// number N (counted from 0 in the order it sees them):
//   "segv N"   dereference a null pointer (SIGSEGV)
//   "abort N"  call abort() (SIGABRT)
//   "throw N"  throw std::runtime_error("request N is bad") out of the callback
//   "hang N"   never return
// With "post-started-abort" it aborts in EvtChannelPostStarted (PASSIVE_LEVEL,
// on the thread of KMCL's passive worker), with "entry-segv" in its entry
// point, and with "entry-fails" its entry point returns
// STATUS_INSUFFICIENT_RESOURCES.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vmbus_sim_driver.h>

namespace {

struct CrashPlan {
  char what[16] = {};
  long at = -1;
  long seen = 0;
};

CrashPlan g_plan;  // one channel per test run

volatile int* g_nowhere = nullptr;

void fail_now(const CrashPlan& plan) {
  if (std::strcmp(plan.what, "segv") == 0) {
    *g_nowhere = 1;
  } else if (std::strcmp(plan.what, "abort") == 0) {
    std::abort();
  } else if (std::strcmp(plan.what, "throw") == 0) {
    throw std::runtime_error("request " + std::to_string(plan.at) + " is bad");
  } else if (std::strcmp(plan.what, "hang") == 0) {
    for (volatile bool forever = true; forever;) {
    }
  }
}

VOID ProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                   UINT32 BufferLength, UINT32 Flags) {
  UNREFERENCED_PARAMETER(Channel);
  UNREFERENCED_PARAMETER(Buffer);
  UNREFERENCED_PARAMETER(BufferLength);
  UNREFERENCED_PARAMETER(Flags);
  if (g_plan.seen++ == g_plan.at) {
    fail_now(g_plan);
  }
  VmbChannelPacketComplete(Packet, nullptr, 0);
}

VOID PostStarted(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  std::abort();
}

}  // namespace

extern "C" NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                                        PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  if (std::strcmp(Parameters->Arguments, "entry-fails") == 0) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  if (std::strcmp(Parameters->Arguments, "entry-segv") == 0) {
    *g_nowhere = 1;
  }
  g_plan = CrashPlan{};
  char what[16] = {};
  long at = -1;
  if (std::sscanf(Parameters->Arguments, "%15s %ld", what, &at) == 2) {
    std::memcpy(g_plan.what, what, sizeof(what));
    g_plan.at = at;
  }
  VMBCHANNEL channel = nullptr;
  NTSTATUS status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = VmbChannelInitSetProcessPacketCallbacks(channel, ProcessPacket, nullptr);
  if (NT_SUCCESS(status) && std::strcmp(Parameters->Arguments, "post-started-abort") == 0) {
    VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
    VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
    callbacks.EvtChannelPostStarted = PostStarted;
    status = VmbChannelInitSetStateChangeCallbacks(channel, &callbacks);
  }
  if (NT_SUCCESS(status) && Parameters->IsServer) {
    status = VmbServerChannelInitSetTargetInterfaceId(channel, Parameters->InterfaceType,
                                                      Parameters->InterfaceInstance);
  }
  if (NT_SUCCESS(status)) {
    status = VmbChannelEnable(channel);
  }
  if (!NT_SUCCESS(status)) {
    VmbChannelCleanup(channel);
    return status;
  }
  if (Parameters->IsServer) {
    VmbChannelStart(channel);
  }
  return STATUS_SUCCESS;
}
