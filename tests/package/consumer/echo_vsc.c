/*
 * A small VSC built out of tree against the installed <vmbus_sim_driver.h>
 * alone: it answers every packet with the packet's own bytes, after moving
 * to PASSIVE_LEVEL for those that start with 'P'.
 */
#include <vmbus_sim_driver.h>

typedef struct _ECHO_CONTEXT {
  ULONG PacketsAnswered;
} ECHO_CONTEXT;

/* One context per channel, from a fixed pool: the simulator never unloads a
   driver, so heap memory would never be freed. */
static ECHO_CONTEXT g_contexts[16];
static ULONG g_contexts_used;

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

  if (g_contexts_used == sizeof(g_contexts) / sizeof(g_contexts[0])) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  context = &g_contexts[g_contexts_used];
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
  if (NT_SUCCESS(status)) {
    g_contexts_used += 1;
  } else {
    VmbChannelCleanup(channel);
  }
  return status;
}
