/*
 * kvs_vsp.c -- the key-value service's VSP: the host end of the channel,
 * written the way a Windows VSP is written against KMCL.
 *
 * It keeps KVS_KEY_COUNT values per channel and answers each KVS_REQUEST
 * (kvs_protocol.h) in EvtVmbChannelProcessPacket, at DISPATCH_LEVEL:
 *
 *  - it validates the request first -- its length, the operation, the key,
 *    the value's length -- because the guest is not trusted, and fails a
 *    malformed one with VmbChannelPacketFail, the call KMCL documents for
 *    "packets presented to the server endpoint which seem malformed". Fail
 *    stops the queue: the guest's later requests stay in the ring until the
 *    channel is paused and started again, or closed;
 *  - it answers a good one with VmbChannelPacketComplete, the response as
 *    the completion's payload, exactly once;
 *  - after a PUT it tells the guest the key changed (VmbPacketSend of a
 *    KVS_NOTIFICATION, no completion wanted).
 *
 * Built with -DKVS_MISTAKE_... it makes one of the real mistakes instead,
 * each marked below where the right code is (README.md says which scenario
 * catches which):
 *   KVS_MISTAKE_COMPLETE_AFTER_FAIL  fails a malformed request, then
 *                                    completes it too (a shared exit path)
 *   KVS_MISTAKE_DOUBLE_COMPLETE      acknowledges a PUT early and completes
 *                                    it again at the end
 *   KVS_MISTAKE_NEVER_COMPLETE       returns without completing a GET of a
 *                                    missing key; with the transaction quota
 *                                    of 2, two such requests stall the queue
 *
 * Its state is static: the simulator never unloads a driver, and the model
 * has no pool allocator (docs/DRIVERS.md).
 */
#include <string.h>
#include <vmbus_sim_driver.h>

#include "kvs_protocol.h"

#define KVS_VSP_QUOTA 2

typedef struct _KVS_VALUE {
  BOOLEAN Present;
  UINT32 Length;
  UCHAR Bytes[KVS_VALUE_BYTES];
} KVS_VALUE;

typedef struct _KVS_SERVER {
  VMBCHANNEL Channel;
  KVS_VALUE Values[KVS_KEY_COUNT];
} KVS_SERVER;

static KVS_SERVER g_servers[4];
static ULONG g_server_count;

static EVT_VMB_CHANNEL_PROCESS_PACKET KvsVspProcessPacket;
static EVT_VMB_CHANNEL_SUSPEND KvsVspSuspend;

/* A request the VSP can act on: long enough, a known operation, a key in
   range, a value that fits. */
static BOOLEAN KvsVspRequestIsValid(const KVS_REQUEST* Request, UINT32 BufferLength) {
  if (BufferLength < sizeof(KVS_REQUEST)) {
    return FALSE;
  }
  if (Request->Op != KVS_OP_GET && Request->Op != KVS_OP_PUT) {
    return FALSE;
  }
  return Request->Key < KVS_KEY_COUNT && Request->ValueLength <= KVS_VALUE_BYTES;
}

/* "Key changed": a packet of its own to the guest, freed by KMCL's default
   completion routine once it is in the ring. */
static VOID KvsVspNotifyChanged(VMBCHANNEL Channel, UINT32 Key) {
  KVS_NOTIFICATION notification;
  VMBPACKET packet = VmbPacketAllocate(Channel);
  if (packet == NULL) {
    return; /* the guest refreshes on its next GET anyway */
  }
  notification.Op = KVS_OP_CHANGED;
  notification.Key = Key;
  if (!NT_SUCCESS(VmbPacketSend(packet, &notification, sizeof(notification), NULL, 0))) {
    VmbPacketFree(packet);
  }
}

static VOID KvsVspProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                                UINT32 BufferLength, UINT32 Flags) {
  KVS_SERVER* server = (KVS_SERVER*)VmbChannelGetPointer(Channel);
  KVS_REQUEST request;
  KVS_RESPONSE response;
  KVS_VALUE* value;

  UNREFERENCED_PARAMETER(Flags);
  /* Copy first, then validate the copy: the ring is shared with the guest. */
  RtlZeroMemory(&request, sizeof(request));
  RtlCopyMemory(&request, Buffer, BufferLength < sizeof(request) ? BufferLength : sizeof(request));
  if (!KvsVspRequestIsValid(&request, BufferLength)) {
    VmbChannelPacketFail(Packet);
#if defined(KVS_MISTAKE_COMPLETE_AFTER_FAIL)
    /* THE MISTAKE: the error path falls through to the common exit, which
       completes every request. A failed packet is no longer the driver's;
       the verifier reports complete_after_fail. */
    RtlZeroMemory(&response, sizeof(response));
    response.Status = STATUS_INVALID_PARAMETER;
    VmbChannelPacketComplete(Packet, &response, sizeof(response));
#endif
    return;
  }

  value = &server->Values[request.Key];
  RtlZeroMemory(&response, sizeof(response));
  if (request.Op == KVS_OP_GET) {
    if (!value->Present) {
#if defined(KVS_MISTAKE_NEVER_COMPLETE)
      /* THE MISTAKE: "nothing to answer" -- but the guest waits for an
         answer, and the packet counts against the transaction quota until
         it is completed. */
      return;
#endif
      response.Status = STATUS_NOT_FOUND;
    } else {
      response.Status = STATUS_SUCCESS;
      response.ValueLength = value->Length;
      RtlCopyMemory(response.Value, value->Bytes, value->Length);
    }
    VmbChannelPacketComplete(Packet, &response, sizeof(response));
    return;
  }

  /* PUT */
  response.Status = STATUS_SUCCESS;
#if defined(KVS_MISTAKE_DOUBLE_COMPLETE)
  /* THE MISTAKE: acknowledge early "to keep the guest going", then complete
     again at the end. A packet is completed once; the verifier reports
     complete_twice. */
  VmbChannelPacketComplete(Packet, &response, sizeof(response));
#endif
  value->Present = TRUE;
  value->Length = request.ValueLength;
  RtlCopyMemory(value->Bytes, request.Value, request.ValueLength);
  VmbChannelPacketComplete(Packet, &response, sizeof(response));
  KvsVspNotifyChanged(Channel, request.Key);
}

/* The guest went away or the channel closes: KMCL waits for every packet
   the VSP holds. This VSP answers every request in-line, so it holds none. */
static VOID KvsVspSuspend(VMBCHANNEL Channel) {
  UNREFERENCED_PARAMETER(Channel);
}

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  KVS_SERVER* server;
  NTSTATUS status;

  if (!Parameters->IsServer) {
    return STATUS_INVALID_DEVICE_REQUEST; /* a VSP serves the host end */
  }
  if (g_server_count == sizeof(g_servers) / sizeof(g_servers[0])) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  server = &g_servers[g_server_count++];
  RtlZeroMemory(server, sizeof(*server));
  status = VmbChannelAllocate(DeviceObject, TRUE, &server->Channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VmbChannelSetPointer(server->Channel, server);
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.EvtChannelSuspend = KvsVspSuspend;
  status = VmbChannelInitSetStateChangeCallbacks(server->Channel, &callbacks);
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetProcessPacketCallbacks(server->Channel, KvsVspProcessPacket, NULL);
  }
  if (NT_SUCCESS(status)) {
    status = VmbServerChannelInitSetTargetInterfaceId(server->Channel, Parameters->InterfaceType,
                                                      Parameters->InterfaceInstance);
  }
  if (NT_SUCCESS(status)) {
    status = VmbChannelEnable(server->Channel); /* offers the channel */
  }
  if (!NT_SUCCESS(status)) {
    VmbChannelCleanup(server->Channel);
    return status;
  }
  /* At most KVS_VSP_QUOTA requests held at once: a request counts until it
     is completed (or failed), and KMCL dequeues no more while the quota is
     reached. This VSP completes in-line, so it never gets there. */
  VmbChannelSetTransactionQuota(server->Channel, KVS_VSP_QUOTA);
  VmbChannelStart(server->Channel); /* a server channel must be started */
  return STATUS_SUCCESS;
}
