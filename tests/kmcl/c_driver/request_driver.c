/*
 * A small KMCL driver written the way a Windows driver is written: C, the
 * WDK-style header only, function-pointer callbacks, its context found again
 * with VmbChannelGetPointer. It runs on either endpoint (vmbus_sim_driver.h
 * entry point) and answers the request protocol of request_driver.h.
 *
 * The tests build it three ways: linked into the test program (C11, with
 * -Wall -Wextra -Werror -pedantic), as a shared library the loader opens,
 * and compiled as C++17 and C++20 (request_driver_as_cxx.cc) to prove the
 * headers are valid C++ too.
 *
 * Arguments (the scenario's argument string): "greet" sends one request
 * from EvtChannelPostStarted and logs its completion.
 */
#include "request_driver.h"

#include <stdio.h>
#include <string.h>
#include <vmbus_sim_driver.h>

/* --- The log ------------------------------------------------------------------- */

static char g_log[8192];
static size_t g_log_length;

const char* RequestDriverLog(void) {
  return g_log;
}

void RequestDriverResetLog(void) {
  g_log[0] = '\0';
  g_log_length = 0;
}

static const char* IrqlName(void) {
  return KeGetCurrentIrql() == PASSIVE_LEVEL ? "PASSIVE" : "DISPATCH";
}

static void Log(const char* what, const char* detail) {
  const int written = snprintf(g_log + g_log_length, sizeof(g_log) - g_log_length, "%s %s%s%s\n",
                               what, IrqlName(), detail[0] != '\0' ? " " : "", detail);
  if (written > 0 && g_log_length + (size_t)written < sizeof(g_log)) {
    g_log_length += (size_t)written;
  }
}

/* --- The driver's context ----------------------------------------------------------- */

typedef struct _REQUEST_CHANNEL {
  VMBCHANNEL Channel;
  BOOLEAN Greet;
  WCHAR Name[32];
} REQUEST_CHANNEL;

/* Contexts come from a fixed pool, not the heap: the simulator has no
   unload call, so nothing would ever free them. They are reused in turn;
   the tests never hold sixteen channels at once. */
static REQUEST_CHANNEL g_contexts[16];
static size_t g_next_context;

static REQUEST_CHANNEL* NewContext(void) {
  REQUEST_CHANNEL* context =
      &g_contexts[g_next_context % (sizeof(g_contexts) / sizeof(g_contexts[0]))];
  g_next_context += 1;
  memset(context, 0, sizeof(*context));
  return context;
}

static REQUEST_CHANNEL* ContextOf(VMBCHANNEL Channel) {
  return (REQUEST_CHANNEL*)VmbChannelGetPointer(Channel);
}

/* --- Sending -------------------------------------------------------------------------- */

static EVT_VMB_PACKET_COMPLETION_ROUTINE SendCompleted;

static VOID SendCompleted(VMBPACKET Packet, NTSTATUS Status, PVOID Buffer, UINT32 BufferLength) {
  char detail[64];
  UNREFERENCED_PARAMETER(Buffer);
  snprintf(detail, sizeof(detail), "status=0x%08X bytes=%u", (unsigned)Status,
           (unsigned)BufferLength);
  Log("SendCompleted", detail);
  VmbPacketFree(Packet);
}

static NTSTATUS Send(VMBCHANNEL Channel, const char* Text, UINT32 Flags) {
  VMBPACKET packet = VmbPacketAllocate(Channel);
  if (packet == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  VmbPacketSetCompletionRoutine(packet, SendCompleted);
  return VmbPacketSend(packet, (PVOID)Text, (UINT32)strlen(Text), NULL, Flags);
}

/* An MDL for guest pages 0x42 and 0x43: 4096 bytes from offset 0x100 of the
   first, built the WDK way (MmSizeOfMdl, MmInitializeMdl, the PFN array). */
static union {
  MDL Header;
  UCHAR Bytes[sizeof(MDL) + 2 * sizeof(PFN_NUMBER)];
} g_external;

static NTSTATUS SendExternalData(VMBCHANNEL Channel) {
  PMDL mdl = &g_external.Header;
  PVOID base = (PVOID)(ULONG_PTR)0x100;
  VMBPACKET packet;
  if (MmSizeOfMdl(base, PAGE_SIZE) > sizeof(g_external)) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  MmInitializeMdl(mdl, base, PAGE_SIZE);
  MmGetMdlPfnArray(mdl)[0] = 0x42;
  MmGetMdlPfnArray(mdl)[1] = 0x43;
  packet = VmbPacketAllocate(Channel);
  if (packet == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  VmbPacketSetCompletionRoutine(packet, SendCompleted);
  return VmbPacketSend(packet, (PVOID) "ext", 3, mdl,
                       VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
}

/* --- Receiving ------------------------------------------------------------------------- */

static VOID LogExternalData(VMBPACKETCOMPLETION Packet) {
  PMDL mdl = NULL;
  char detail[96];
  const NTSTATUS status = VmbChannelPacketGetExternalData(Packet, 0, &mdl);
  if (status == STATUS_PENDING) {
    Log("ExternalData", "pending");
    return;
  }
  if (!NT_SUCCESS(status) || mdl == NULL) {
    Log("ExternalData", "none");
  } else {
    snprintf(detail, sizeof(detail), "bytes=%u offset=%u pfn0=0x%llX next=%s",
             (unsigned)MmGetMdlByteCount(mdl), (unsigned)MmGetMdlByteOffset(mdl),
             (unsigned long long)MmGetMdlPfnArray(mdl)[0], mdl->Next != NULL ? "yes" : "no");
    Log("ExternalData", detail);
  }
  VmbChannelPacketComplete(Packet, NULL, 0);
}

static VOID Answer(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                   UINT32 BufferLength, UINT32 Opcode) {
  UINT32 irql;
  switch (Opcode) {
    case REQUEST_ECHO:
      Log("ProcessPacket", "echo");
      VmbChannelPacketComplete(Packet, Buffer, BufferLength);
      return;
    case REQUEST_NEEDS_PASSIVE:
      if (KeGetCurrentIrql() > PASSIVE_LEVEL) {
        Log("ProcessPacket", "defer");
        VmbChannelPacketDeferToPassive(Packet);
        return;
      }
      Log("ProcessPacket", "complete-at-passive");
      irql = KeGetCurrentIrql();
      VmbChannelPacketComplete(Packet, &irql, sizeof(irql));
      return;
    case REQUEST_SEND_BACK:
      Log("ProcessPacket", "send-back");
      (void)Send(Channel, "reply", 0);
      VmbChannelPacketComplete(Packet, NULL, 0);
      return;
    case REQUEST_EXTERNAL_DATA:
      LogExternalData(Packet);
      return;
    case REQUEST_SEND_EXTERNAL_DATA:
      Log("ProcessPacket", NT_SUCCESS(SendExternalData(Channel)) ? "sent-external" : "send-failed");
      VmbChannelPacketComplete(Packet, NULL, 0);
      return;
    case REQUEST_COMPLETE_AFTER_FAIL:
      Log("ProcessPacket", "fail-then-complete");
      VmbChannelPacketFail(Packet);
      VmbChannelPacketComplete(Packet, NULL, 0);
      return;
    default:
      Log("ProcessPacket", "fail");
      VmbChannelPacketFail(Packet);
      return;
  }
}

static EVT_VMB_CHANNEL_PROCESS_PACKET ProcessPacket;

static VOID ProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                          UINT32 BufferLength, UINT32 Flags) {
  UINT32 opcode = 0;
  UNREFERENCED_PARAMETER(Flags);
  /* Validate before use: the peer's bytes are untrusted. */
  if (ContextOf(Channel) == NULL || BufferLength < 8) {
    Log("ProcessPacket", "short");
    VmbChannelPacketFail(Packet);
    return;
  }
  memcpy(&opcode, Buffer, sizeof(opcode));
  Answer(Channel, Packet, Buffer, BufferLength, opcode);
}

static EVT_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingComplete;

static VOID ProcessingComplete(VMBCHANNEL Channel, UINT32 PacketsProcessed) {
  char detail[16];
  UNREFERENCED_PARAMETER(Channel);
  snprintf(detail, sizeof(detail), "%u", (unsigned)PacketsProcessed);
  Log("ProcessingComplete", detail);
}

/* --- State changes ----------------------------------------------------------------------- */

static EVT_VMB_CHANNEL_OPENED Opened;
static EVT_VMB_CHANNEL_STARTED Started;
static EVT_VMB_CHANNEL_POST_STARTED PostStarted;
static EVT_VMB_CHANNEL_SUSPEND Suspend;
static EVT_VMB_CHANNEL_CLOSED Closed;

static NTSTATUS Opened(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  Log("Opened", "");
  return STATUS_SUCCESS;
}

static VOID Started(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  Log("Started", "");
}

static VOID PostStarted(VMBCHANNEL Channel) {
  Log("PostStarted", "");
  if (ContextOf(Channel)->Greet) {
    (void)Send(Channel, "hello", VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION);
  }
}

static VOID Suspend(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  Log("Suspend", "");
}

static VOID Closed(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
  Log("Closed", "");
}

/* --- The entry point ---------------------------------------------------------------------- */

static NTSTATUS Configure(REQUEST_CHANNEL* Context, PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  UNICODE_STRING name;
  size_t i;
  NTSTATUS status;

  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.EvtChannelOpened = Opened;
  callbacks.EvtChannelStarted = Started;
  callbacks.EvtChannelPostStarted = PostStarted;
  callbacks.EvtChannelSuspend = Suspend;
  callbacks.EvtChannelClosed = Closed;
  status = VmbChannelInitSetStateChangeCallbacks(Context->Channel, &callbacks);
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetProcessPacketCallbacks(Context->Channel, ProcessPacket,
                                                     ProcessingComplete);
  }
  for (i = 0; Parameters->ChannelName[i] != '\0' && i + 1 < sizeof(Context->Name) / 2; ++i) {
    Context->Name[i] = (WCHAR)Parameters->ChannelName[i];
  }
  name.Length = (USHORT)(i * sizeof(WCHAR));
  name.MaximumLength = (USHORT)sizeof(Context->Name);
  name.Buffer = Context->Name;
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetFriendlyName(Context->Channel, &name);
  }
  if (NT_SUCCESS(status)) {
    status = Parameters->IsServer
                 ? VmbServerChannelInitSetTargetInterfaceId(
                       Context->Channel, Parameters->InterfaceType, Parameters->InterfaceInstance)
                 : VmbClientChannelInitSetTargetPnp(Context->Channel, &Parameters->InterfaceType,
                                                    &Parameters->InterfaceInstance, NULL);
  }
  return status;
}

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  REQUEST_CHANNEL* context;
  NTSTATUS status;

  if (Parameters->Size < sizeof(*Parameters)) {
    return STATUS_INVALID_PARAMETER;
  }
  context = NewContext();
  context->Greet = strcmp(Parameters->Arguments, "greet") == 0;
  status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &context->Channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VmbChannelSetPointer(context->Channel, context);
  status = Configure(context, Parameters);
  if (NT_SUCCESS(status)) {
    status = VmbChannelEnable(context->Channel);
  }
  if (NT_SUCCESS(status) && Parameters->IsServer) {
    VmbChannelStart(context->Channel); /* a server channel starts paused */
  }
  if (!NT_SUCCESS(status)) {
    VmbChannelCleanup(context->Channel);
  }
  return status;
}

int32_t RequestDriverAdd(struct _DEVICE_OBJECT* device, int is_server, const char* arguments) {
  VMBUS_SIM_DRIVER_PARAMETERS parameters;
  const GUID type = {REQUEST_DRIVER_INTERFACE_DATA1,
                     REQUEST_DRIVER_INTERFACE_DATA2,
                     REQUEST_DRIVER_INTERFACE_DATA3,
                     {1, 2, 3, 4, 5, 6, 7, 8}};
  memset(&parameters, 0, sizeof(parameters));
  parameters.Size = sizeof(parameters);
  parameters.InterfaceVersion = VMBUS_SIM_DRIVER_INTERFACE_VERSION;
  parameters.IsServer = is_server != 0 ? TRUE : FALSE;
  parameters.ChannelName = "req";
  parameters.InterfaceType = type;
  parameters.InterfaceInstance = type;
  parameters.InterfaceInstance.Data1 += 1;
  parameters.Arguments = arguments;
  return VmbusSimDriverEntry(device, &parameters);
}

/* --- Interface queries, as a driver without import-linking would make them ------------------ */

size_t RequestDriverQueryInterfaceStatuses(int32_t* statuses, size_t max) {
  KMCL_CLIENT_INTERFACE_V1 client;
  KMCL_SERVER_INTERFACE_V1 server;
  const GUID other = {0x12345678, 0x1234, 0x5678, {1, 2, 3, 4, 5, 6, 7, 8}};
  NTSTATUS results[6];
  size_t i;

  results[0] = KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, (PINTERFACE)&client, sizeof(client),
                                  KMCL_CLIENT_INTERFACE_VERSION_V1);
  results[1] = KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, (PINTERFACE)&client,
                                  sizeof(client) - 8, KMCL_CLIENT_INTERFACE_VERSION_V1);
  results[2] =
      KmclQueryInterface(&KMCL_CLIENT_INTERFACE_TYPE, (PINTERFACE)&client, sizeof(client), 2);
  results[3] = KmclQueryInterface(&other, (PINTERFACE)&client, sizeof(client), 1);
  results[4] = KmclQueryInterface(&KMCL_SERVER_INTERFACE_TYPE, (PINTERFACE)&server, sizeof(server),
                                  KMCL_SERVER_INTERFACE_VERSION_V1);
  results[5] = KmclQueryInterface(NULL, (PINTERFACE)&client, sizeof(client), 1);
  for (i = 0; i < max && i < sizeof(results) / sizeof(results[0]); ++i) {
    statuses[i] = results[i];
  }
  return i;
}

int RequestDriverTableMatchesTheExports(void) {
  KMCL_SERVER_INTERFACE_V1 table;
  memset(&table, 0, sizeof(table));
  if (!NT_SUCCESS(KmclQueryInterface(&KMCL_SERVER_INTERFACE_TYPE, (PINTERFACE)&table, sizeof(table),
                                     KMCL_SERVER_INTERFACE_VERSION_V1))) {
    return 0;
  }
  return table.ClientInterface.InterfaceHeader.Size == sizeof(table) &&
         table.ClientInterface.InterfaceHeader.Version == 1 &&
         table.ClientInterface.VmbChannelAllocate == VmbChannelAllocate &&
         table.ClientInterface.VmbChannelPacketDeferToPassive == VmbChannelPacketDeferToPassive &&
         table.ClientInterface.VmbChannelPacketFail == VmbChannelPacketFail &&
         table.ClientInterface.VmbPacketSetPointer == VmbPacketSetPointer &&
         table.ServerOnlyMethods.VmbServerChannelInitSetTargetInterfaceId ==
             VmbServerChannelInitSetTargetInterfaceId;
}
