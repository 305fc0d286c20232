/*
 * A driver library that does what the scripted driver does under a simple
 * policy, so that a scenario's callbacks expectations can be written once
 * and hold for both (driver_run_test.cc): it completes every packet
 * in-line with an empty completion, or with the argument "defer-first"
 * defers its first packet to PASSIVE_LEVEL once and completes it there. It
 * registers every callback the scripted driver has, and on a server
 * channel offers with the parameters' GUIDs and starts the channel.
 */
#include <string.h>
#include <vmbus_sim_driver.h>

typedef struct _PARITY_CHANNEL {
  BOOLEAN DeferFirst;
  BOOLEAN Deferred;
} PARITY_CHANNEL;

/* Static, not the heap: a driver is never unloaded (docs/DRIVERS.md). */
static PARITY_CHANNEL g_channels[8];
static ULONG g_next;

static EVT_VMB_CHANNEL_PROCESS_PACKET ProcessPacket;
static EVT_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingComplete;
static EVT_VMB_CHANNEL_OPENED Opened;
static EVT_VMB_CHANNEL_CLOSED Closed;
static EVT_VMB_CHANNEL_SUSPEND Suspend;
static EVT_VMB_CHANNEL_STARTED Started;
static EVT_VMB_CHANNEL_POST_STARTED PostStarted;

static VOID ProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                          UINT32 BufferLength, UINT32 Flags) {
  PARITY_CHANNEL* context = (PARITY_CHANNEL*)VmbChannelGetPointer(Channel);
  UNREFERENCED_PARAMETER(Buffer);
  UNREFERENCED_PARAMETER(BufferLength);
  UNREFERENCED_PARAMETER(Flags);
  if (context->DeferFirst && !context->Deferred) {
    context->Deferred = TRUE;
    VmbChannelPacketDeferToPassive(Packet);
    return;
  }
  VmbChannelPacketComplete(Packet, NULL, 0);
}

static VOID ProcessingComplete(VMBCHANNEL Channel, UINT32 PacketsProcessed) {
  UNREFERENCED_PARAMETER(Channel);
  UNREFERENCED_PARAMETER(PacketsProcessed);
}

static NTSTATUS Opened(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  return STATUS_SUCCESS;
}

static VOID Closed(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
}

static VOID Suspend(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
}

static VOID Started(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
}

static VOID PostStarted(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
}

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  PARITY_CHANNEL* context;
  VMBCHANNEL channel;
  NTSTATUS status;

  if (g_next == sizeof(g_channels) / sizeof(g_channels[0])) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  context = &g_channels[g_next++];
  context->DeferFirst = strcmp(Parameters->Arguments, "defer-first") == 0;
  context->Deferred = FALSE;
  status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VmbChannelSetPointer(channel, context);
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.EvtChannelOpened = Opened;
  callbacks.EvtChannelClosed = Closed;
  callbacks.EvtChannelSuspend = Suspend;
  callbacks.EvtChannelStarted = Started;
  callbacks.EvtChannelPostStarted = PostStarted;
  status = VmbChannelInitSetStateChangeCallbacks(channel, &callbacks);
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetProcessPacketCallbacks(channel, ProcessPacket, ProcessingComplete);
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
