/*
 * kvs_vsc.c -- the key-value service's VSC: the guest end of the channel,
 * written the way a Windows VSC is written against KMCL.
 *
 * Its workload comes from the scenario's argument string, a list of
 * requests separated by ';':
 *
 *     guest_driver { library: "libkvs_vsc.so" args: "put 1 apple; get 1; get 2" }
 *
 *   put K TEXT   store TEXT under key K
 *   get K        read key K
 *   bad          a request the VSP must refuse (an unknown operation)
 *
 * It sends them all once the channel is up (EvtChannelPostStarted), each a
 * data packet that asks for a completion, and checks every answer in its
 * completion routine against what the requests before it imply (the VSP
 * answers in order). A wrong answer is a failed KVS_ASSERT: the driver stops
 * the way a Windows driver's assertion stops the machine, and the simulator
 * reports it as this driver's crash, in its completion routine, naming the
 * send.
 *
 * The VSP tells it when a key changed (KVS_NOTIFICATION). Refreshing the key
 * means a synchronous GET, and VmbChannelSendSynchronousRequest blocks: it
 * is only allowed at PASSIVE_LEVEL. EvtVmbChannelProcessPacket runs at
 * DISPATCH_LEVEL, so the VSC defers the notification
 * (VmbChannelPacketDeferToPassive, from inside the callback), and KMCL
 * delivers the same packet again at PASSIVE_LEVEL, where the VSC refreshes
 * and completes it.
 *
 * Built with -DKVS_MISTAKE_... it makes one of the real mistakes instead
 * (README.md says which scenario catches which):
 *   KVS_MISTAKE_DEFER_OUTSIDE_CALLBACK  keeps the notification and defers it
 *                                       later, from EvtVmbChannelProcessingComplete
 *   KVS_MISTAKE_BLOCK_AT_DISPATCH       refreshes right away, at DISPATCH_LEVEL
 */
#include <stdlib.h>
#include <string.h>
#include <vmbus_sim_driver.h>

#include "kvs_protocol.h"

/* A driver assertion: stop at once. */
#define KVS_ASSERT(condition) \
  do {                        \
    if (!(condition)) {       \
      abort();                \
    }                         \
  } while (0)

#define KVS_MAX_REQUESTS 16
/* A refresh that gets no answer within 10 ms (simulated) gives up. */
#define KVS_REFRESH_TIMEOUT_100NS (-100000LL)

typedef struct _KVS_PENDING {
  KVS_REQUEST Request;
  /* What the answer must say, from the requests before it. */
  NTSTATUS ExpectedStatus;
  UINT32 ExpectedLength;
  UCHAR Expected[KVS_VALUE_BYTES];
} KVS_PENDING;

typedef struct _KVS_CLIENT {
  VMBCHANNEL Channel;
  KVS_PENDING Requests[KVS_MAX_REQUESTS];
  ULONG RequestCount;
  KVS_RESPONSE Cache[KVS_KEY_COUNT]; /* refreshed on every change */
#if defined(KVS_MISTAKE_DEFER_OUTSIDE_CALLBACK)
  VMBPACKETCOMPLETION Kept;
#endif
} KVS_CLIENT;

static KVS_CLIENT g_clients[4];
static ULONG g_client_count;

static EVT_VMB_CHANNEL_PROCESS_PACKET KvsVscProcessPacket;
static EVT_VMB_CHANNEL_PROCESSING_COMPLETE KvsVscProcessingComplete;
static EVT_VMB_CHANNEL_POST_STARTED KvsVscPostStarted;
static EVT_VMB_PACKET_COMPLETION_ROUTINE KvsVscRequestCompleted;

/* --- The workload ------------------------------------------------------------------ */

/* The next word of `*Text` (at most `Size` - 1 bytes) into `Word`. */
static BOOLEAN KvsNextWord(const char** Text, char* Word, size_t Size) {
  size_t length = 0;
  while (**Text == ' ') {
    ++*Text;
  }
  while (**Text != '\0' && **Text != ' ' && **Text != ';') {
    if (length + 1 < Size) {
      Word[length++] = **Text;
    }
    ++*Text;
  }
  Word[length] = '\0';
  return length != 0;
}

/* One request of the argument string, and the answer the requests before it
   imply (`Store` is what the VSP holds by then). */
static BOOLEAN KvsParseRequest(const char** Text, KVS_PENDING* Pending, KVS_RESPONSE* Store) {
  char word[KVS_VALUE_BYTES + 1];
  RtlZeroMemory(Pending, sizeof(*Pending));
  if (!KvsNextWord(Text, word, sizeof(word))) {
    return FALSE;
  }
  if (strcmp(word, "bad") == 0) {
    Pending->Request.Op = 99; /* no such operation: the VSP fails it */
    return TRUE;
  }
  Pending->Request.Op = strcmp(word, "put") == 0 ? KVS_OP_PUT : KVS_OP_GET;
  if (!KvsNextWord(Text, word, sizeof(word))) {
    return FALSE;
  }
  Pending->Request.Key = (UINT32)strtoul(word, NULL, 10) % KVS_KEY_COUNT;
  if (Pending->Request.Op == KVS_OP_PUT) {
    (void)KvsNextWord(Text, word, sizeof(word));
    Pending->Request.ValueLength = (UINT32)strlen(word);
    RtlCopyMemory(Pending->Request.Value, word, Pending->Request.ValueLength);
    Store[Pending->Request.Key].Status = STATUS_SUCCESS;
    Store[Pending->Request.Key].ValueLength = Pending->Request.ValueLength;
    RtlCopyMemory(Store[Pending->Request.Key].Value, word, Pending->Request.ValueLength);
    Pending->ExpectedStatus = STATUS_SUCCESS;
    return TRUE;
  }
  Pending->ExpectedStatus = Store[Pending->Request.Key].Status;
  Pending->ExpectedLength = Store[Pending->Request.Key].ValueLength;
  RtlCopyMemory(Pending->Expected, Store[Pending->Request.Key].Value, KVS_VALUE_BYTES);
  return TRUE;
}

static VOID KvsParseWorkload(KVS_CLIENT* Client, const char* Text) {
  KVS_RESPONSE store[KVS_KEY_COUNT];
  ULONG key;
  for (key = 0; key < KVS_KEY_COUNT; ++key) {
    RtlZeroMemory(&store[key], sizeof(store[key]));
    store[key].Status = STATUS_NOT_FOUND;
  }
  while (*Text != '\0' && Client->RequestCount < KVS_MAX_REQUESTS) {
    if (KvsParseRequest(&Text, &Client->Requests[Client->RequestCount], store)) {
      ++Client->RequestCount;
    }
    while (*Text != '\0' && *Text++ != ';') {
    }
  }
}

/* --- Requests and their answers ------------------------------------------------------- */

static VOID KvsVscPostStarted(VMBCHANNEL Channel) {
  KVS_CLIENT* client = (KVS_CLIENT*)VmbChannelGetPointer(Channel);
  ULONG i;
  for (i = 0; i < client->RequestCount; ++i) {
    VMBPACKET packet = VmbPacketAllocate(Channel);
    KVS_ASSERT(packet != NULL);
    VmbPacketSetPointer(packet, &client->Requests[i]);
    VmbPacketSetCompletionRoutine(packet, KvsVscRequestCompleted);
    KVS_ASSERT(NT_SUCCESS(VmbPacketSend(packet, &client->Requests[i].Request, sizeof(KVS_REQUEST),
                                        NULL, VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION)));
  }
}

static VOID KvsVscRequestCompleted(VMBPACKET Packet, NTSTATUS Status, PVOID Buffer,
                                   UINT32 BufferLength) {
  const KVS_PENDING* pending = (const KVS_PENDING*)VmbPacketGetPointer(Packet);
  KVS_RESPONSE response;
  VmbPacketFree(Packet);
  if (!NT_SUCCESS(Status)) {
    return; /* the channel went away first (STATUS_CANCELLED, STATUS_DEVICE_REMOVED) */
  }
  KVS_ASSERT(BufferLength >= sizeof(response));
  RtlCopyMemory(&response, Buffer, sizeof(response));
  KVS_ASSERT(response.Status == pending->ExpectedStatus);
  if (pending->Request.Op == KVS_OP_GET && NT_SUCCESS(response.Status)) {
    KVS_ASSERT(response.ValueLength == pending->ExpectedLength);
    KVS_ASSERT(memcmp(response.Value, pending->Expected, response.ValueLength) == 0);
  }
}

/* --- Notifications -------------------------------------------------------------------- */

/* Reads `Key` again with a synchronous GET (PASSIVE_LEVEL only: it blocks). */
static VOID KvsVscRefresh(KVS_CLIENT* Client, UINT32 Key) {
  KVS_REQUEST request;
  KVS_RESPONSE response;
  UINT32 size = sizeof(response);
  LARGE_INTEGER timeout;
  NTSTATUS status;
  RtlZeroMemory(&request, sizeof(request));
  request.Op = KVS_OP_GET;
  request.Key = Key;
  timeout.QuadPart = KVS_REFRESH_TIMEOUT_100NS;
  status = VmbChannelSendSynchronousRequest(Client->Channel, &request, sizeof(request), NULL,
                                            VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION,
                                            &response, &size, &timeout);
  if (NT_SUCCESS(status) && size >= sizeof(response)) {
    Client->Cache[Key] = response;
  }
}

static VOID KvsVscProcessPacket(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet, PVOID Buffer,
                                UINT32 BufferLength, UINT32 Flags) {
  KVS_CLIENT* client = (KVS_CLIENT*)VmbChannelGetPointer(Channel);
  KVS_NOTIFICATION notification;
  UNREFERENCED_PARAMETER(Flags);
  if (BufferLength < sizeof(notification)) {
    VmbChannelPacketFail(Packet);
    return;
  }
  RtlCopyMemory(&notification, Buffer, sizeof(notification));
  if (notification.Op != KVS_OP_CHANGED || notification.Key >= KVS_KEY_COUNT) {
    VmbChannelPacketFail(Packet);
    return;
  }
#if defined(KVS_MISTAKE_DEFER_OUTSIDE_CALLBACK)
  /* THE MISTAKE: keep the packet and defer it once the pass is over. Defer
     only works in-line, for the packet being delivered; later KMCL ignores
     it (the verifier reports defer_outside_callback), and the packet stays
     with the driver for good. */
  if (KeGetCurrentIrql() > PASSIVE_LEVEL) {
    client->Kept = Packet;
    return;
  }
#elif !defined(KVS_MISTAKE_BLOCK_AT_DISPATCH)
  if (KeGetCurrentIrql() > PASSIVE_LEVEL) {
    VmbChannelPacketDeferToPassive(Packet); /* delivered again at PASSIVE_LEVEL */
    return;
  }
#endif
  /* THE MISTAKE of KVS_MISTAKE_BLOCK_AT_DISPATCH is to get here at
     DISPATCH_LEVEL: the synchronous request cannot wait there (the verifier
     reports wrong_irql and the call returns at once, without an answer). */
  KvsVscRefresh(client, notification.Key);
  VmbChannelPacketComplete(Packet, NULL, 0);
}

static VOID KvsVscProcessingComplete(VMBCHANNEL Channel, UINT32 PacketsProcessed) {
  UNREFERENCED_PARAMETER(PacketsProcessed);
#if defined(KVS_MISTAKE_DEFER_OUTSIDE_CALLBACK)
  {
    KVS_CLIENT* client = (KVS_CLIENT*)VmbChannelGetPointer(Channel);
    if (client->Kept != NULL) {
      VmbChannelPacketDeferToPassive(client->Kept);
      client->Kept = NULL;
    }
  }
#else
  UNREFERENCED_PARAMETER(Channel);
#endif
}

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS callbacks;
  KVS_CLIENT* client;
  NTSTATUS status;

  if (Parameters->IsServer) {
    return STATUS_INVALID_DEVICE_REQUEST; /* a VSC runs the guest end */
  }
  if (g_client_count == sizeof(g_clients) / sizeof(g_clients[0])) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  client = &g_clients[g_client_count++];
  RtlZeroMemory(client, sizeof(*client));
  KvsParseWorkload(client, Parameters->Arguments);
  status = VmbChannelAllocate(DeviceObject, FALSE, &client->Channel);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  VmbChannelSetPointer(client->Channel, client);
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&callbacks);
  callbacks.EvtChannelPostStarted = KvsVscPostStarted;
  status = VmbChannelInitSetStateChangeCallbacks(client->Channel, &callbacks);
  if (NT_SUCCESS(status)) {
    status = VmbChannelInitSetProcessPacketCallbacks(client->Channel, KvsVscProcessPacket,
                                                     KvsVscProcessingComplete);
  }
  if (NT_SUCCESS(status)) {
    status = VmbClientChannelInitSetTargetPnp(client->Channel, &Parameters->InterfaceType,
                                              &Parameters->InterfaceInstance, NULL);
  }
  if (NT_SUCCESS(status)) {
    status = VmbChannelEnable(client->Channel); /* opens it once offered */
  }
  if (!NT_SUCCESS(status)) {
    VmbChannelCleanup(client->Channel);
  }
  return status;
}
