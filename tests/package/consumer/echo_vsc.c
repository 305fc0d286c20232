/*
 * A small VSC built out of tree against the installed <vmbus_sim_driver.h>
 * alone: it answers every packet with the packet's own bytes, after moving
 * to PASSIVE_LEVEL for those that start with 'P'.
 */
#include <stdlib.h>
#include <string.h>
#include <vmbus_sim_driver.h>

typedef struct _ECHO_CONTEXT {
  ULONG PacketsAnswered;
} ECHO_CONTEXT;

static EVT_VMB_CHANNEL_PROCESS_PACKET EchoProcessPacket;

static VOID EchoProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                              UINT32 BufferLength, UINT32 Flags) {
  ECHO_CONTEXT* context = (ECHO_CONTEXT*)VmbChannelGetPointer(Channel);
  UNREFERENCED_PARAMETER(Flags);
  if (BufferLength > 0 && ((const char*)Buffer)[0] == 'P' && KeGetCurrentIrql() > PASSIVE_LEVEL) {
    VmbChannelPacketDeferToPassive(Packet);
    return;
  }
  context->PacketsAnswered += 1;
  VmbChannelPacketComplete(Packet, Buffer, BufferLength);
}

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  static WCHAR name[] = u"echo";
  UNICODE_STRING friendly_name;
  VMBCHANNEL channel;
  ECHO_CONTEXT* context;
  NTSTATUS status;

  context = (ECHO_CONTEXT*)calloc(1, sizeof(*context));
  if (context == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &channel);
  if (!NT_SUCCESS(status)) {
    free(context);
    return status;
  }
  VmbChannelSetPointer(channel, context);
  friendly_name.Buffer = name;
  friendly_name.Length = (USHORT)(sizeof(name) - sizeof(WCHAR));
  friendly_name.MaximumLength = (USHORT)sizeof(name);
  status = VmbChannelInitSetProcessPacketCallbacks(channel, EchoProcessPacket, NULL);
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetFriendlyName(channel, &friendly_name);
  }
  if (NT_SUCCESS(status)) {
    status = VmbChannelEnable(channel);
  }
  if (!NT_SUCCESS(status)) {
    VmbChannelCleanup(channel);
    free(context);
  }
  return status;
}
