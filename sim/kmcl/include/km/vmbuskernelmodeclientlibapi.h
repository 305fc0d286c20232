/*
 * vmbuskernelmodeclientlibapi.h -- the VMBus Kernel Mode Client Library (KMCL)
 * V1 API for drivers that run on vmbus-sim's KMCL model, in C11 or C++17/20.
 *
 * A VSC (client channel, guest endpoint) or VSP (server channel, host
 * endpoint) written the way a Windows driver is written -- C, function
 * pointers, VmbChannelGetPointer for its context -- includes this header
 * alone and compiles with gcc -std=c11 or g++ -std=c++20. The names,
 * parameter order, handle types, callback typedefs, flag values and NTSTATUS
 * codes are the WDK's; the base types come from vmbus_sim_wdm.h. The
 * functions are exported by the program that hosts the driver (vmbus-guest,
 * vmbus-host, or a test linking vmbus_kmcl) and run the simulator's KMCL
 * model: docs/KMCL-SEMANTICS.md says what each one does, rule by rule, and
 * docs/DRIVERS.md how to build and load a driver (vmbus_sim_driver.h).
 *
 * Implemented: every function of KMCL_CLIENT_INTERFACE_V1, called directly or
 * through the table KmclQueryInterface fills, and of KMCL_SERVER_ONLY_METHODS
 * the two Init functions an offer needs (VmbServerChannelInitSetFlags,
 * VmbServerChannelInitSetTargetInterfaceId).
 *
 * Declared but answered "not supported" (the call returns
 * STATUS_NOT_SUPPORTED or does nothing, and the model traces a not_supported
 * event): VmbChannelCreateGpadlFromBuffer, VmbChannelCreateGpadlFromMdl,
 * VmbChannelDeleteGpadl (GPADLs belong to the simulated VMBus control plane)
 * and VmbChannelGetMmioSpace (no MMIO space is reserved).
 *
 * Not declared, because the model does not implement them: the other
 * server-only methods (VmbChannelMapGpadl / UnmapGpadl, VmbChannelSave* /
 * RestoreFromBuffer, VmbPacketRestore, VmbServerChannelInitSetMmioMegabytes,
 * ...SetSaveRestorePacketCallbacks, ...SetTargetVtl, ...SetVmbusHandle,
 * VmbConvertVmbusHandleToKernelHandle) and the later interface versions
 * (KMCL_CLIENT_INTERFACE_V2 and up). A driver that calls one fails to load,
 * naming the symbol.
 *
 * Differences from the WDK header a port may meet:
 *  - The interface tables name their INTERFACE header member InterfaceHeader
 *    (the WDK uses an unnamed member, a Microsoft extension), and
 *    KMCL_SERVER_INTERFACE_V1 names its parts ClientInterface and
 *    ServerOnlyMethods.
 *  - KmclQueryInterface stands in for WdfFdoQueryForInterface /
 *    IRP_MN_QUERY_INTERFACE, and KMCL_CLIENT_INTERFACE_TYPE /
 *    KMCL_SERVER_INTERFACE_TYPE are the simulator's own GUIDs (the real ones
 *    are not published).
 *  - KMCL_SERVER_ONLY_METHODS lists its two members in the documentation's
 *    (alphabetical) order; the real member order is not published.
 *  - FASTCALL is not used (it has no effect on x64).
 */
#ifndef VMBUSKERNELMODECLIENTLIBAPI_H_
#define VMBUSKERNELMODECLIENTLIBAPI_H_

#include "vmbus_sim_wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- Handles: opaque, distinct types ---------------------------------------- */

DECLARE_HANDLE(VMBCHANNEL);          /* a channel */
DECLARE_HANDLE(VMBPACKET);           /* an outgoing packet object (one transaction) */
DECLARE_HANDLE(VMBPACKETCOMPLETION); /* an incoming packet until it is retired */

/* --- Flags -------------------------------------------------------------------- */

/* VmbPacketSend*, VmbChannelSendSynchronousRequest */
#define VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION 0x1
#define VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH 0x2
#define VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER 0x4
#define VMBUS_CHANNEL_FORMAT_FLAGS 0x7
/* VmbChannelCreateGpadlFrom* */
#define VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY 0x1
#define VMBUS_CHANNEL_GPADL_FLAGS 0x1
/* VmbChannelInitSetFlags */
#define VMBUS_CHANNEL_INIT_FLAG_IS_PIPE 0x1
#define VMBUS_CHANNEL_INIT_FLAGS 0x1
/* EvtVmbChannelProcessPacket's Flags */
#define VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA 0x1
#define VMBUS_CHANNEL_PROCESS_PACKET_FLAGS 0x1
/* VmbChannelPacketGetExternalData */
#define VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY 0x1
#define VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS 0x1
/* VmbServerChannelInitSetFlags */
#define VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER 0x1
#define VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE 0x2
#define VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE 0x4
#define VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL 0x8
#define VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER 0x10
#define VMBUS_SERVER_CHANNEL_INIT_FLAGS 0x1F

/* --- Driver callbacks ----------------------------------------------------------
 * Declare a callback the WDK way, `EVT_VMB_CHANNEL_PROCESS_PACKET
 * MyProcessPacket;`, then define it with the same parameters. */

/* PASSIVE_LEVEL. A failure rolls the channel back; no traffic flows. */
typedef NTSTATUS EVT_VMB_CHANNEL_OPENED(_In_ VMBCHANNEL Channel);
/* PASSIVE_LEVEL. */
typedef VOID EVT_VMB_CHANNEL_CLOSED(_In_ VMBCHANNEL Channel);
/* PASSIVE_LEVEL. No ProcessPacket runs or is queued after it, until Started;
   every packet still outstanding must be completed. */
typedef VOID EVT_VMB_CHANNEL_SUSPEND(_In_ VMBCHANNEL Channel);
/* PASSIVE_LEVEL. May queue sends; must not wait for the peer. */
typedef VOID EVT_VMB_CHANNEL_STARTED(_In_ VMBCHANNEL Channel);
/* PASSIVE_LEVEL. Packets can arrive; synchronous requests are fine here. */
typedef VOID EVT_VMB_CHANNEL_POST_STARTED(_In_ VMBCHANNEL Channel);
/* <= DISPATCH_LEVEL (PASSIVE_LEVEL after DeferToPassive or with
   VmbChannelSetIncomingProcessingAtPassive). Every delivered packet must
   eventually be retired: Complete (now or later) or Fail (in-line). */
typedef VOID EVT_VMB_CHANNEL_PROCESS_PACKET(_In_ VMBCHANNEL Channel,
                                            _In_ VMBPACKETCOMPLETION Packet,
                                            _In_reads_bytes_(BufferLength) PVOID Buffer,
                                            _In_ UINT32 BufferLength, _In_ UINT32 Flags);
/* <= DISPATCH_LEVEL, at the end of each batch of deliveries. */
typedef VOID EVT_VMB_CHANNEL_PROCESSING_COMPLETE(_In_ VMBCHANNEL Channel,
                                                 _In_ UINT32 PacketsProcessed);
/* <= DISPATCH_LEVEL. Status: STATUS_SUCCESS, STATUS_CANCELLED (closed),
   STATUS_DEVICE_REMOVED (rescinded). */
typedef VOID EVT_VMB_PACKET_COMPLETION_ROUTINE(_In_ VMBPACKET Packet, _In_ NTSTATUS Status,
                                               _In_reads_bytes_opt_(BufferLength) PVOID Buffer,
                                               _In_ UINT32 BufferLength);
/* PASSIVE_LEVEL. Never called by the model (it has no PnP manager). */
typedef VOID EVT_VMB_CHANNEL_PNP_FAILURE(_In_ VMBCHANNEL Channel, _In_ NTSTATUS FailureStatus);

typedef EVT_VMB_CHANNEL_OPENED* PFN_VMB_CHANNEL_OPENED;
typedef EVT_VMB_CHANNEL_CLOSED* PFN_VMB_CHANNEL_CLOSED;
typedef EVT_VMB_CHANNEL_SUSPEND* PFN_VMB_CHANNEL_SUSPEND;
typedef EVT_VMB_CHANNEL_STARTED* PFN_VMB_CHANNEL_STARTED;
typedef EVT_VMB_CHANNEL_POST_STARTED* PFN_VMB_CHANNEL_POST_STARTED;
typedef EVT_VMB_CHANNEL_PROCESS_PACKET* PFN_VMB_CHANNEL_PROCESS_PACKET;
typedef EVT_VMB_CHANNEL_PROCESSING_COMPLETE* PFN_VMB_CHANNEL_PROCESSING_COMPLETE;
typedef EVT_VMB_PACKET_COMPLETION_ROUTINE* PFN_VMB_PACKET_COMPLETION_ROUTINE;
typedef EVT_VMB_CHANNEL_PNP_FAILURE* PFN_VMB_CHANNEL_PNP_FAILURE;

/* Any member may be NULL. Version must be 1 and Size sizeof the structure:
   set both with VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT. */
typedef struct _VMB_CHANNEL_STATE_CHANGE_CALLBACKS {
  ULONG Version;
  ULONG Size;
  PFN_VMB_CHANNEL_OPENED EvtChannelOpened;
  PFN_VMB_CHANNEL_CLOSED EvtChannelClosed;
  PFN_VMB_CHANNEL_SUSPEND EvtChannelSuspend;
  PFN_VMB_CHANNEL_STARTED EvtChannelStarted;
  PFN_VMB_CHANNEL_POST_STARTED EvtChannelPostStarted;
} VMB_CHANNEL_STATE_CHANGE_CALLBACKS;
typedef VMB_CHANNEL_STATE_CHANGE_CALLBACKS* PVMB_CHANNEL_STATE_CHANGE_CALLBACKS;

VMBUS_SIM_STATIC_ASSERT(sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS) == 48,
                        "VMB_CHANNEL_STATE_CHANGE_CALLBACKS on x64");

static inline VOID VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(
    _Out_ PVMB_CHANNEL_STATE_CHANGE_CALLBACKS Callbacks) {
  RtlZeroMemory(Callbacks, sizeof(*Callbacks));
  Callbacks->Version = 1;
  Callbacks->Size = VMBUS_SIM_CAST(ULONG, sizeof(*Callbacks));
}

/* --- The functions, as typedefs (the interface table's member types) -----------
 * IRQL: PASSIVE_LEVEL for Allocate and for a SendSynchronousRequest that may
 * wait; Pause, Disable (they block) and Enable, Start, Cleanup, the Init
 * functions at PASSIVE_LEVEL; the rest <= DISPATCH_LEVEL. A breach is a
 * verifier record and the call returns at once. */

/* Lifecycle. Init functions only before the first Enable. */
typedef NTSTATUS FN_VMB_CHANNEL_ALLOCATE(_In_ PDEVICE_OBJECT ParentDeviceObject,
                                         _In_ BOOLEAN IsServer, _Out_ VMBCHANNEL* Channel);
typedef VOID FN_VMB_CHANNEL_CLEANUP(_In_ VMBCHANNEL Channel);
typedef NTSTATUS FN_VMB_CHANNEL_ENABLE(_In_ VMBCHANNEL Channel);
typedef VOID FN_VMB_CHANNEL_DISABLE(_In_ VMBCHANNEL Channel);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE(_In_ VMBCHANNEL Channel,
                                                             _In_ UINT32 PacketSize);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA(_In_ VMBCHANNEL Channel,
                                                               _In_ UINT32 DataSize,
                                                               _In_ UINT32 ChainLength);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE(_In_ VMBCHANNEL Channel,
                                                             _In_ UINT32 ContextSize);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS(
    _In_ VMBCHANNEL Channel, _In_ PFN_VMB_CHANNEL_PROCESS_PACKET ProcessPacketCallback,
    _In_opt_ PFN_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingCompleteCallback);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS(
    _In_ VMBCHANNEL Channel, _In_ PVMB_CHANNEL_STATE_CHANGE_CALLBACKS StateChangeCallbacks);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_FRIENDLY_NAME(_In_ VMBCHANNEL Channel,
                                                       _In_ PCUNICODE_STRING Name);
typedef NTSTATUS FN_VMB_CHANNEL_INIT_SET_FLAGS(_In_ VMBCHANNEL Channel, _In_ UINT32 Flags);

/* Client (guest) channels only. */
typedef NTSTATUS FN_VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT(
    _In_ VMBCHANNEL Channel, _In_ UINT32 IncomingPageCount, _In_ UINT32 OutgoingPageCount);
typedef NTSTATUS FN_VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP(
    _In_ VMBCHANNEL Channel, _In_ LPCGUID InterfaceType, _In_opt_ LPCGUID InterfaceInstance,
    _In_opt_ PFN_VMB_CHANNEL_PNP_FAILURE PnpFailureCallback);

/* Server (host) channels only: KMCL_SERVER_ONLY_METHODS. */
typedef NTSTATUS FN_VMB_SERVER_CHANNEL_INIT_SET_FLAGS(_In_ VMBCHANNEL Channel, _In_ UINT32 Flags);
typedef NTSTATUS FN_VMB_SERVER_CHANNEL_INIT_SET_TARGET_INTERFACE_ID(_In_ VMBCHANNEL Channel,
                                                                    _In_ GUID InterfaceType,
                                                                    _In_ GUID InterfaceInstance);

/* Receive path. Defer, Fail and GetExternalData only in-line, from
   EvtVmbChannelProcessPacket for the packet being delivered. */
typedef VOID FN_VMB_CHANNEL_PACKET_COMPLETE(_In_ VMBPACKETCOMPLETION PacketCompletionContext,
                                            _In_reads_bytes_opt_(BufSize)
                                                PVOID PacketCompletionBuffer,
                                            _In_ UINT32 BufSize);
typedef VOID FN_VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE(
    _In_ VMBPACKETCOMPLETION PacketCompletionContext);
typedef VOID FN_VMB_CHANNEL_PACKET_FAIL(_In_ VMBPACKETCOMPLETION PacketCompletionContext);
/* STATUS_PENDING: return from the callback; it is called again (possibly at
   another IRQL) once the data is mapped. The MDL is KMCL's and stays valid
   until the packet is completed. */
typedef NTSTATUS FN_VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA(
    _In_ VMBPACKETCOMPLETION PacketCompletionContext, _In_ UINT32 Flags, _Out_ PMDL* Mdl);

/* Queue control. */
typedef VOID FN_VMB_CHANNEL_PAUSE(_In_ VMBCHANNEL Channel);
typedef VOID FN_VMB_CHANNEL_START(_In_ VMBCHANNEL Channel);
typedef VOID FN_VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE(_In_ VMBCHANNEL Channel,
                                                               _In_ BOOLEAN RequirePassive);
typedef VOID FN_VMB_CHANNEL_SET_TRANSACTION_QUOTA(_In_ VMBCHANNEL Channel, _In_ UINT32 Quota);
typedef NTSTATUS FN_VMB_CHANNEL_SET_INTERRUPT_LATENCY(_In_ VMBCHANNEL Channel, _In_ UINT16 Latency,
                                                      _Out_ PUINT16 OriginalLatency);

/* Send path. A packet from VmbPacketAllocate frees itself when its
   transaction completes, unless the driver set its own completion routine. */
typedef VMBPACKET FN_VMB_PACKET_ALLOCATE(_In_ VMBCHANNEL Channel);
typedef UINT32 FN_VMB_CHANNEL_SIZEOF_PACKET(_In_ VMBCHANNEL Channel);
typedef NTSTATUS FN_VMB_PACKET_INITIALIZE(_In_ VMBCHANNEL Channel, _In_ VMBPACKET VmbPacket,
                                          _In_ UINT32 ByteCount);
typedef VOID FN_VMB_PACKET_FREE(_In_ VMBPACKET VmbPacket);
typedef VOID FN_VMB_PACKET_SET_COMPLETION_ROUTINE(
    _In_ VMBPACKET PacketObject, _In_ PFN_VMB_PACKET_COMPLETION_ROUTINE CompletionRoutine);
typedef NTSTATUS FN_VMB_PACKET_SEND(_In_ VMBPACKET PacketObject,
                                    _In_reads_bytes_(BufferLength) PVOID Buffer,
                                    _In_ UINT32 BufferLength, _In_opt_ PMDL ExternalDataMdl,
                                    _In_ UINT32 Flags);
typedef NTSTATUS FN_VMB_PACKET_SEND_WITH_EXTERNAL_MDL(_In_ VMBPACKET PacketObject,
                                                      _In_reads_bytes_(BufferLength) PVOID Buffer,
                                                      _In_ UINT32 BufferLength,
                                                      _In_ PMDL ExternalDataMdl,
                                                      _In_ UINT32 MdlOffset, _In_ UINT32 MdlLength,
                                                      _In_ UINT32 Flags);
typedef NTSTATUS FN_VMB_PACKET_SEND_WITH_EXTERNAL_PFNS(_In_ VMBPACKET PacketObject,
                                                       _In_reads_bytes_(BufferLength) PVOID Buffer,
                                                       _In_ UINT32 BufferLength,
                                                       _In_ PPFN_NUMBER ExternalDataPfns,
                                                       _In_ UINT32 PfnLength, _In_ UINT32 Flags);
/* Timeout: NULL waits forever; see LARGE_INTEGER. *CompletionBufferSize must
   be a multiple of 8. */
typedef NTSTATUS FN_VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST(
    _In_ VMBCHANNEL Channel, _In_reads_bytes_(BufferSize) PVOID Buffer, _In_ UINT32 BufferSize,
    _In_opt_ PMDL ExternalDataMdl, _In_ UINT32 Flags,
    _Out_writes_bytes_to_opt_(*CompletionBufferSize, *CompletionBufferSize) PVOID CompletionBuffer,
    _Inout_opt_ PUINT32 CompletionBufferSize, _In_opt_ PLARGE_INTEGER Timeout);

/* Accessors: the driver's own context pointers. */
typedef VOID FN_VMB_PACKET_SET_POINTER(_In_ VMBPACKET PacketObject, _In_opt_ PVOID Pointer);
typedef PVOID FN_VMB_PACKET_GET_POINTER(_In_ VMBPACKET PacketObject);
typedef VMBCHANNEL FN_VMB_PACKET_GET_CHANNEL(_In_ VMBPACKET PacketObject);
typedef VOID FN_VMB_CHANNEL_SET_POINTER(_In_ VMBCHANNEL Channel, _In_opt_ PVOID Pointer);
typedef PVOID FN_VMB_CHANNEL_GET_POINTER(_In_ VMBCHANNEL Channel);
typedef VOID FN_VMB_CHANNEL_GET_INTERFACE_INSTANCE(_In_ VMBCHANNEL Channel,
                                                   _Out_ LPGUID InterfaceInstance);

/* Answered "not supported" (see the overview). */
typedef NTSTATUS FN_VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER(_In_ VMBCHANNEL Channel, _In_ UINT32 Flags,
                                                         _In_ PVOID Buffer, _In_ UINT32 ByteCount,
                                                         _Out_ PUINT32 GpadlHandle);
typedef NTSTATUS FN_VMB_CHANNEL_CREATE_GPADL_FROM_MDL(_In_ VMBCHANNEL Channel, _In_ UINT32 Flags,
                                                      _In_ PMDL Mdl,
                                                      _In_ UINT32 StartOffsetWithinMdl,
                                                      _In_ UINT32 DataLengthWithinMdl,
                                                      _Out_ PUINT32 GpadlHandle);
typedef VOID FN_VMB_CHANNEL_DELETE_GPADL(_In_ VMBCHANNEL Channel, _In_ UINT32 GpadlHandle);
typedef VOID FN_VMB_CHANNEL_GET_MMIO_SPACE(_In_ VMBCHANNEL Channel, _Out_ UINT64* MmioAddress,
                                           _Out_ UINT64* MmioSize);

typedef FN_VMB_CHANNEL_ALLOCATE* PFN_VMB_CHANNEL_ALLOCATE;
typedef FN_VMB_CHANNEL_CLEANUP* PFN_VMB_CHANNEL_CLEANUP;
typedef FN_VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER* PFN_VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER;
typedef FN_VMB_CHANNEL_CREATE_GPADL_FROM_MDL* PFN_VMB_CHANNEL_CREATE_GPADL_FROM_MDL;
typedef FN_VMB_CHANNEL_DELETE_GPADL* PFN_VMB_CHANNEL_DELETE_GPADL;
typedef FN_VMB_CHANNEL_DISABLE* PFN_VMB_CHANNEL_DISABLE;
typedef FN_VMB_CHANNEL_ENABLE* PFN_VMB_CHANNEL_ENABLE;
typedef FN_VMB_CHANNEL_GET_INTERFACE_INSTANCE* PFN_VMB_CHANNEL_GET_INTERFACE_INSTANCE;
typedef FN_VMB_CHANNEL_GET_MMIO_SPACE* PFN_VMB_CHANNEL_GET_MMIO_SPACE;
typedef FN_VMB_CHANNEL_GET_POINTER* PFN_VMB_CHANNEL_GET_POINTER;
typedef FN_VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE* PFN_VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE;
typedef FN_VMB_CHANNEL_INIT_SET_FLAGS* PFN_VMB_CHANNEL_INIT_SET_FLAGS;
typedef FN_VMB_CHANNEL_INIT_SET_FRIENDLY_NAME* PFN_VMB_CHANNEL_INIT_SET_FRIENDLY_NAME;
typedef FN_VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA*
    PFN_VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA;
typedef FN_VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE* PFN_VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE;
typedef FN_VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS*
    PFN_VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS;
typedef FN_VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS*
    PFN_VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS;
typedef FN_VMB_CHANNEL_PACKET_COMPLETE* PFN_VMB_CHANNEL_PACKET_COMPLETE;
typedef FN_VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE* PFN_VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE;
typedef FN_VMB_CHANNEL_PACKET_FAIL* PFN_VMB_CHANNEL_PACKET_FAIL;
typedef FN_VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA* PFN_VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA;
typedef FN_VMB_CHANNEL_PAUSE* PFN_VMB_CHANNEL_PAUSE;
typedef FN_VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST* PFN_VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST;
typedef FN_VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE*
    PFN_VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE;
typedef FN_VMB_CHANNEL_SET_INTERRUPT_LATENCY* PFN_VMB_CHANNEL_SET_INTERRUPT_LATENCY;
typedef FN_VMB_CHANNEL_SET_POINTER* PFN_VMB_CHANNEL_SET_POINTER;
typedef FN_VMB_CHANNEL_SET_TRANSACTION_QUOTA* PFN_VMB_CHANNEL_SET_TRANSACTION_QUOTA;
typedef FN_VMB_CHANNEL_SIZEOF_PACKET* PFN_VMB_CHANNEL_SIZEOF_PACKET;
typedef FN_VMB_CHANNEL_START* PFN_VMB_CHANNEL_START;
typedef FN_VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT*
    PFN_VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT;
typedef FN_VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP* PFN_VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP;
typedef FN_VMB_PACKET_ALLOCATE* PFN_VMB_PACKET_ALLOCATE;
typedef FN_VMB_PACKET_FREE* PFN_VMB_PACKET_FREE;
typedef FN_VMB_PACKET_GET_CHANNEL* PFN_VMB_PACKET_GET_CHANNEL;
typedef FN_VMB_PACKET_GET_POINTER* PFN_VMB_PACKET_GET_POINTER;
typedef FN_VMB_PACKET_INITIALIZE* PFN_VMB_PACKET_INITIALIZE;
typedef FN_VMB_PACKET_SEND* PFN_VMB_PACKET_SEND;
typedef FN_VMB_PACKET_SEND_WITH_EXTERNAL_MDL* PFN_VMB_PACKET_SEND_WITH_EXTERNAL_MDL;
typedef FN_VMB_PACKET_SEND_WITH_EXTERNAL_PFNS* PFN_VMB_PACKET_SEND_WITH_EXTERNAL_PFNS;
typedef FN_VMB_PACKET_SET_COMPLETION_ROUTINE* PFN_VMB_PACKET_SET_COMPLETION_ROUTINE;
typedef FN_VMB_PACKET_SET_POINTER* PFN_VMB_PACKET_SET_POINTER;
typedef FN_VMB_SERVER_CHANNEL_INIT_SET_FLAGS* PFN_VMB_SERVER_CHANNEL_INIT_SET_FLAGS;
typedef FN_VMB_SERVER_CHANNEL_INIT_SET_TARGET_INTERFACE_ID*
    PFN_VMB_SERVER_CHANNEL_INIT_SET_TARGET_INTERFACE_ID;

/* --- The exported functions --------------------------------------------------- */

FN_VMB_CHANNEL_ALLOCATE VmbChannelAllocate;
FN_VMB_CHANNEL_CLEANUP VmbChannelCleanup;
FN_VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER VmbChannelCreateGpadlFromBuffer;
FN_VMB_CHANNEL_CREATE_GPADL_FROM_MDL VmbChannelCreateGpadlFromMdl;
FN_VMB_CHANNEL_DELETE_GPADL VmbChannelDeleteGpadl;
FN_VMB_CHANNEL_DISABLE VmbChannelDisable;
FN_VMB_CHANNEL_ENABLE VmbChannelEnable;
FN_VMB_CHANNEL_GET_INTERFACE_INSTANCE VmbChannelGetInterfaceInstance;
FN_VMB_CHANNEL_GET_MMIO_SPACE VmbChannelGetMmioSpace;
FN_VMB_CHANNEL_GET_POINTER VmbChannelGetPointer;
FN_VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE VmbChannelInitSetClientContextSize;
FN_VMB_CHANNEL_INIT_SET_FLAGS VmbChannelInitSetFlags;
FN_VMB_CHANNEL_INIT_SET_FRIENDLY_NAME VmbChannelInitSetFriendlyName;
FN_VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA VmbChannelInitSetMaximumExternalData;
FN_VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE VmbChannelInitSetMaximumPacketSize;
FN_VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS VmbChannelInitSetProcessPacketCallbacks;
FN_VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS VmbChannelInitSetStateChangeCallbacks;
FN_VMB_CHANNEL_PACKET_COMPLETE VmbChannelPacketComplete;
FN_VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE VmbChannelPacketDeferToPassive;
FN_VMB_CHANNEL_PACKET_FAIL VmbChannelPacketFail;
FN_VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA VmbChannelPacketGetExternalData;
FN_VMB_CHANNEL_PAUSE VmbChannelPause;
FN_VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST VmbChannelSendSynchronousRequest;
FN_VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE VmbChannelSetIncomingProcessingAtPassive;
FN_VMB_CHANNEL_SET_INTERRUPT_LATENCY VmbChannelSetInterruptLatency;
FN_VMB_CHANNEL_SET_POINTER VmbChannelSetPointer;
FN_VMB_CHANNEL_SET_TRANSACTION_QUOTA VmbChannelSetTransactionQuota;
FN_VMB_CHANNEL_SIZEOF_PACKET VmbChannelSizeofPacket;
FN_VMB_CHANNEL_START VmbChannelStart;
FN_VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT VmbClientChannelInitSetRingBufferPageCount;
FN_VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP VmbClientChannelInitSetTargetPnp;
FN_VMB_PACKET_ALLOCATE VmbPacketAllocate;
FN_VMB_PACKET_FREE VmbPacketFree;
FN_VMB_PACKET_GET_CHANNEL VmbPacketGetChannel;
FN_VMB_PACKET_GET_POINTER VmbPacketGetPointer;
FN_VMB_PACKET_INITIALIZE VmbPacketInitialize;
FN_VMB_PACKET_SEND VmbPacketSend;
FN_VMB_PACKET_SEND_WITH_EXTERNAL_MDL VmbPacketSendWithExternalMdl;
FN_VMB_PACKET_SEND_WITH_EXTERNAL_PFNS VmbPacketSendWithExternalPfns;
FN_VMB_PACKET_SET_COMPLETION_ROUTINE VmbPacketSetCompletionRoutine;
FN_VMB_PACKET_SET_POINTER VmbPacketSetPointer;
FN_VMB_SERVER_CHANNEL_INIT_SET_FLAGS VmbServerChannelInitSetFlags;
FN_VMB_SERVER_CHANNEL_INIT_SET_TARGET_INTERFACE_ID VmbServerChannelInitSetTargetInterfaceId;

/* --- The interface tables ---------------------------------------------------- */

/* The 41 members in the documented order, after the INTERFACE header. */
typedef struct _KMCL_CLIENT_INTERFACE_V1 {
  INTERFACE InterfaceHeader;
  PFN_VMB_CHANNEL_ALLOCATE VmbChannelAllocate;
  PFN_VMB_CHANNEL_CLEANUP VmbChannelCleanup;
  PFN_VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER VmbChannelCreateGpadlFromBuffer;
  PFN_VMB_CHANNEL_CREATE_GPADL_FROM_MDL VmbChannelCreateGpadlFromMdl;
  PFN_VMB_CHANNEL_DELETE_GPADL VmbChannelDeleteGpadl;
  PFN_VMB_CHANNEL_DISABLE VmbChannelDisable;
  PFN_VMB_CHANNEL_ENABLE VmbChannelEnable;
  PFN_VMB_CHANNEL_GET_INTERFACE_INSTANCE VmbChannelGetInterfaceInstance;
  PFN_VMB_CHANNEL_GET_MMIO_SPACE VmbChannelGetMmioSpace;
  PFN_VMB_CHANNEL_GET_POINTER VmbChannelGetPointer;
  PFN_VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE VmbChannelInitSetClientContextSize;
  PFN_VMB_CHANNEL_INIT_SET_FLAGS VmbChannelInitSetFlags;
  PFN_VMB_CHANNEL_INIT_SET_FRIENDLY_NAME VmbChannelInitSetFriendlyName;
  PFN_VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA VmbChannelInitSetMaximumExternalData;
  PFN_VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE VmbChannelInitSetMaximumPacketSize;
  PFN_VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS VmbChannelInitSetProcessPacketCallbacks;
  PFN_VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS VmbChannelInitSetStateChangeCallbacks;
  PFN_VMB_CHANNEL_PACKET_COMPLETE VmbChannelPacketComplete;
  PFN_VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE VmbChannelPacketDeferToPassive;
  PFN_VMB_CHANNEL_PACKET_FAIL VmbChannelPacketFail;
  PFN_VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA VmbChannelPacketGetExternalData;
  PFN_VMB_CHANNEL_PAUSE VmbChannelPause;
  PFN_VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST VmbChannelSendSynchronousRequest;
  PFN_VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE VmbChannelSetIncomingProcessingAtPassive;
  PFN_VMB_CHANNEL_SET_INTERRUPT_LATENCY VmbChannelSetInterruptLatency;
  PFN_VMB_CHANNEL_SET_POINTER VmbChannelSetPointer;
  PFN_VMB_CHANNEL_SET_TRANSACTION_QUOTA VmbChannelSetTransactionQuota;
  PFN_VMB_CHANNEL_SIZEOF_PACKET VmbChannelSizeofPacket;
  PFN_VMB_CHANNEL_START VmbChannelStart;
  PFN_VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT VmbClientChannelInitSetRingBufferPageCount;
  PFN_VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP VmbClientChannelInitSetTargetPnp;
  PFN_VMB_PACKET_ALLOCATE VmbPacketAllocate;
  PFN_VMB_PACKET_FREE VmbPacketFree;
  PFN_VMB_PACKET_GET_CHANNEL VmbPacketGetChannel;
  PFN_VMB_PACKET_GET_POINTER VmbPacketGetPointer;
  PFN_VMB_PACKET_INITIALIZE VmbPacketInitialize;
  PFN_VMB_PACKET_SEND VmbPacketSend;
  PFN_VMB_PACKET_SEND_WITH_EXTERNAL_MDL VmbPacketSendWithExternalMdl;
  PFN_VMB_PACKET_SEND_WITH_EXTERNAL_PFNS VmbPacketSendWithExternalPfns;
  PFN_VMB_PACKET_SET_COMPLETION_ROUTINE VmbPacketSetCompletionRoutine;
  PFN_VMB_PACKET_SET_POINTER VmbPacketSetPointer;
} KMCL_CLIENT_INTERFACE_V1;
typedef KMCL_CLIENT_INTERFACE_V1* PKMCL_CLIENT_INTERFACE_V1;

VMBUS_SIM_STATIC_ASSERT(sizeof(KMCL_CLIENT_INTERFACE_V1) == 32 + 41 * 8,
                        "KMCL_CLIENT_INTERFACE_V1 on x64 (Size 0x168)");

/* The server-only methods the model implements. */
typedef struct _KMCL_SERVER_ONLY_METHODS {
  PFN_VMB_SERVER_CHANNEL_INIT_SET_FLAGS VmbServerChannelInitSetFlags;
  PFN_VMB_SERVER_CHANNEL_INIT_SET_TARGET_INTERFACE_ID VmbServerChannelInitSetTargetInterfaceId;
} KMCL_SERVER_ONLY_METHODS;
typedef KMCL_SERVER_ONLY_METHODS* PKMCL_SERVER_ONLY_METHODS;

typedef struct _KMCL_SERVER_INTERFACE_V1 {
  KMCL_CLIENT_INTERFACE_V1 ClientInterface;
  KMCL_SERVER_ONLY_METHODS ServerOnlyMethods;
} KMCL_SERVER_INTERFACE_V1;
typedef KMCL_SERVER_INTERFACE_V1* PKMCL_SERVER_INTERFACE_V1;

/* Query GUIDs (the simulator's own) and versions. */
extern const GUID KMCL_CLIENT_INTERFACE_TYPE;
extern const GUID KMCL_SERVER_INTERFACE_TYPE;
#define KMCL_CLIENT_INTERFACE_VERSION_V1 1
#define KMCL_SERVER_INTERFACE_VERSION_V1 1

/*
 * The simulator's stand-in for WdfFdoQueryForInterface: fills *Interface, of
 * Size bytes, with the table of InterfaceType (KMCL_CLIENT_INTERFACE_TYPE ->
 * KMCL_CLIENT_INTERFACE_V1, KMCL_SERVER_INTERFACE_TYPE ->
 * KMCL_SERVER_INTERFACE_V1) at Version. STATUS_NOT_SUPPORTED for another type
 * or version, STATUS_BUFFER_TOO_SMALL if Size is below the table's size,
 * STATUS_INVALID_PARAMETER for a NULL pointer.
 */
NTSTATUS KmclQueryInterface(_In_ LPCGUID InterfaceType, _Out_ PINTERFACE Interface,
                            _In_ USHORT Size, _In_ USHORT Version);

#ifdef __cplusplus
}
#endif

#endif /* VMBUSKERNELMODECLIENTLIBAPI_H_ */
