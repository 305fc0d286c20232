// The KMCL model's driver-facing API: the Windows VMBus Kernel Mode Client
// Library, V1 interface, with the same names, parameter order, handle types,
// flag values and NTSTATUS codes as the WDK header
// vmbuskernelmodeclientlibapi.h (docs/KMCL-SEMANTICS.md says where the
// model had to choose).
//
// Driver code calls the free functions below (or the same functions through
// the KMCL_CLIENT_INTERFACE_V1 table from KmclQueryInterface). Every function
// first validates its handle against the owning Device's live handle table:
// an unknown or stale handle is a verifier record (vmbus/kmcl/verifier.h),
// never a dereference. What the docs leave open is decided in
// docs/KMCL-SEMANTICS.md; each function's comment names its rule there.
//
// IRQL and blocking: KeGetCurrentIrql() answers for the context that is
// running (vmbus/kmcl/device.h). Functions that block (VmbChannelPause,
// VmbChannelDisable, VmbChannelSendSynchronousRequest with a wait) suspend
// the calling PASSIVE_LEVEL context and let the scheduler run others; called
// at DISPATCH_LEVEL they are a wrong_irql record and return at once.
#pragma once

#include "vmbus/kmcl/ntdef.h"

namespace vmbus::kmcl {

class Device;

// The parent device object of VmbChannelAllocate. In the model the "device"
// is the KMCL environment itself: it owns the channels, contexts and verifier.
using DEVICE_OBJECT = Device;
using PDEVICE_OBJECT = Device*;

// --- Handles (DECLARE_HANDLE): distinct opaque pointer types ---------------
// The pointees are never defined: a handle is a key into the owning device's
// handle table, not an address of a KMCL object.
struct VmbChannelObject;
struct VmbPacketObject;
struct VmbPacketCompletionObject;
using VMBCHANNEL = VmbChannelObject*;
using VMBPACKET = VmbPacketObject*;
using VMBPACKETCOMPLETION = VmbPacketCompletionObject*;

// --- Flags (values from [H]) -----------------------------

inline constexpr UINT32 VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH = 0x2;
inline constexpr UINT32 VMBUS_CHANNEL_FORMAT_FLAG_PAGED_BUFFER = 0x4;
inline constexpr UINT32 VMBUS_CHANNEL_FORMAT_FLAGS = 0x7;
inline constexpr UINT32 VMBUS_CHANNEL_GPADL_FLAG_READ_ONLY = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_GPADL_FLAGS = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_INIT_FLAG_IS_PIPE = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_INIT_FLAGS = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_PROCESS_PACKET_FLAG_EXTERNAL_DATA = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_PROCESS_PACKET_FLAGS = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAG_READ_ONLY = 0x1;
inline constexpr UINT32 VMBUS_CHANNEL_PACKET_EXTERNAL_DATA_FLAGS = 0x1;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAG_LOOPBACK_OFFER = 0x1;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAG_ENUMERATE_DEVICE_INTERFACE = 0x2;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAG_OFFER_AS_PIPE = 0x4;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAG_FORCE_NEW_CHANNEL = 0x8;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAG_TLNPI_PROVIDER_OFFER = 0x10;
inline constexpr UINT32 VMBUS_SERVER_CHANNEL_INIT_FLAGS = 0x1F;

// --- Callbacks --------------------------------------------

using EVT_VMB_CHANNEL_OPENED = NTSTATUS(VMBCHANNEL Channel);
using EVT_VMB_CHANNEL_CLOSED = VOID(VMBCHANNEL Channel);
using EVT_VMB_CHANNEL_SUSPEND = VOID(VMBCHANNEL Channel);
using EVT_VMB_CHANNEL_STARTED = VOID(VMBCHANNEL Channel);
using EVT_VMB_CHANNEL_POST_STARTED = VOID(VMBCHANNEL Channel);
using EVT_VMB_CHANNEL_PROCESS_PACKET = VOID(VMBCHANNEL Channel, VMBPACKETCOMPLETION Packet,
                                            PVOID Buffer, UINT32 BufferLength, UINT32 Flags);
using EVT_VMB_CHANNEL_PROCESSING_COMPLETE = VOID(VMBCHANNEL Channel, UINT32 PacketsProcessed);
using EVT_VMB_PACKET_COMPLETION_ROUTINE = VOID(VMBPACKET Packet, NTSTATUS Status, PVOID Buffer,
                                               UINT32 BufferLength);
using EVT_VMB_CHANNEL_PNP_FAILURE = VOID(VMBCHANNEL Channel, NTSTATUS FailureStatus);

using PFN_VMB_CHANNEL_OPENED = EVT_VMB_CHANNEL_OPENED*;
using PFN_VMB_CHANNEL_CLOSED = EVT_VMB_CHANNEL_CLOSED*;
using PFN_VMB_CHANNEL_SUSPEND = EVT_VMB_CHANNEL_SUSPEND*;
using PFN_VMB_CHANNEL_STARTED = EVT_VMB_CHANNEL_STARTED*;
using PFN_VMB_CHANNEL_POST_STARTED = EVT_VMB_CHANNEL_POST_STARTED*;
using PFN_VMB_CHANNEL_PROCESS_PACKET = EVT_VMB_CHANNEL_PROCESS_PACKET*;
using PFN_VMB_CHANNEL_PROCESSING_COMPLETE = EVT_VMB_CHANNEL_PROCESSING_COMPLETE*;
using PFN_VMB_PACKET_COMPLETION_ROUTINE = EVT_VMB_PACKET_COMPLETION_ROUTINE*;
using PFN_VMB_CHANNEL_PNP_FAILURE = EVT_VMB_CHANNEL_PNP_FAILURE*;

struct VMB_CHANNEL_STATE_CHANGE_CALLBACKS {
  ULONG Version;  // must be 1
  ULONG Size;     // sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS)
  PFN_VMB_CHANNEL_OPENED EvtChannelOpened;
  PFN_VMB_CHANNEL_CLOSED EvtChannelClosed;
  PFN_VMB_CHANNEL_SUSPEND EvtChannelSuspend;
  PFN_VMB_CHANNEL_STARTED EvtChannelStarted;
  PFN_VMB_CHANNEL_POST_STARTED EvtChannelPostStarted;
};
using PVMB_CHANNEL_STATE_CHANGE_CALLBACKS = VMB_CHANNEL_STATE_CHANGE_CALLBACKS*;
static_assert(sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS) == 48);

inline constexpr ULONG VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION_1 = 1;

// [H]: RtlZeroMemory, Version = 1, Size = sizeof.
inline VOID VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(PVMB_CHANNEL_STATE_CHANGE_CALLBACKS Callbacks) {
  *Callbacks = VMB_CHANNEL_STATE_CHANGE_CALLBACKS{};
  Callbacks->Version = VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION_1;
  Callbacks->Size = sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS);
}

// --- IRQL of the running context ---------------------------------------------
// PASSIVE_LEVEL outside any scheduled step (owner and test code).
KIRQL KeGetCurrentIrql();

// --- Channel lifecycle ------------------------------------

// PASSIVE_LEVEL (documented). The channel starts Disabled with default
// parameters: maximum packet size kDefaultMaximumPacketSizeBytes, 16 + 16
// ring pages, unlimited quota, DISPATCH_LEVEL delivery.
NTSTATUS VmbChannelAllocate(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                            VMBCHANNEL* Channel);
// The channel must be Disabled (else cleanup_while_enabled). Frees the
// channel's idle packet objects; its handles become stale.
VOID VmbChannelCleanup(VMBCHANNEL Channel);
// Client: accept an offer / wait for one; server: offer. Returns at once; the
// owner's ControlPlane hears about it and opens the channel later.
NTSTATUS VmbChannelEnable(VMBCHANNEL Channel);
// Blocks (PASSIVE) until the channel is torn down: Suspend, outstanding
// incoming packets retired, Closed. See KMCL-SEMANTICS "Disable".
VOID VmbChannelDisable(VMBCHANNEL Channel);

// Init functions: only before the first VmbChannelEnable; afterwards
// they return STATUS_INVALID_PARAMETER_1 and record init_after_enable.
NTSTATUS VmbChannelInitSetMaximumPacketSize(VMBCHANNEL Channel, UINT32 PacketSize);
NTSTATUS VmbChannelInitSetMaximumExternalData(VMBCHANNEL Channel, UINT32 DataSize,
                                              UINT32 ChainLength);
NTSTATUS VmbChannelInitSetClientContextSize(VMBCHANNEL Channel, UINT32 ContextSize);
NTSTATUS VmbChannelInitSetProcessPacketCallbacks(
    VMBCHANNEL Channel, PFN_VMB_CHANNEL_PROCESS_PACKET ProcessPacketCallback,
    PFN_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingCompleteCallback);
NTSTATUS VmbChannelInitSetStateChangeCallbacks(
    VMBCHANNEL Channel, PVMB_CHANNEL_STATE_CHANGE_CALLBACKS StateChangeCallbacks);
NTSTATUS VmbChannelInitSetFriendlyName(VMBCHANNEL Channel, PCUNICODE_STRING Name);
NTSTATUS VmbChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags);
NTSTATUS VmbClientChannelInitSetRingBufferPageCount(VMBCHANNEL Channel, UINT32 IncomingPageCount,
                                                    UINT32 OutgoingPageCount);
NTSTATUS VmbClientChannelInitSetTargetPnp(VMBCHANNEL Channel, LPCGUID InterfaceType,
                                          LPCGUID InterfaceInstance,
                                          PFN_VMB_CHANNEL_PNP_FAILURE PnpFailureCallback);

// Server-only Init functions (KMCL_SERVER_ONLY_METHODS; the model provides
// these two as free functions, not the server interface table). On a client
// channel they return STATUS_INVALID_PARAMETER_1, as the client-only ones do
// on a server channel. The offer the control plane makes on Enable carries
// what they set (ChannelConfig).
// The offer's interface type (the protocol) and instance GUIDs, by value.
NTSTATUS VmbServerChannelInitSetTargetInterfaceId(VMBCHANNEL Channel, GUID InterfaceType,
                                                  GUID InterfaceInstance);
// VMBUS_SERVER_CHANNEL_INIT_FLAG_*; bits outside VMBUS_SERVER_CHANNEL_INIT_FLAGS
// are STATUS_INVALID_PARAMETER_2. Stored and passed on; the model offers every
// channel the same way (no pipe mode, no loopback, no save/restore).
NTSTATUS VmbServerChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags);

// --- Receive path ----------------------------------

VOID VmbChannelPacketComplete(VMBPACKETCOMPLETION PacketCompletionContext,
                              PVOID PacketCompletionBuffer, UINT32 BufSize);
VOID VmbChannelPacketDeferToPassive(VMBPACKETCOMPLETION PacketCompletionContext);
VOID VmbChannelPacketFail(VMBPACKETCOMPLETION PacketCompletionContext);
NTSTATUS VmbChannelPacketGetExternalData(VMBPACKETCOMPLETION PacketCompletionContext, UINT32 Flags,
                                         PMDL* Mdl);

// --- Queue control ------------------------------------------

VOID VmbChannelPause(VMBCHANNEL Channel);
VOID VmbChannelStart(VMBCHANNEL Channel);
VOID VmbChannelSetIncomingProcessingAtPassive(VMBCHANNEL Channel, BOOLEAN RequirePassive);
VOID VmbChannelSetTransactionQuota(VMBCHANNEL Channel, UINT32 Quota);
NTSTATUS VmbChannelSetInterruptLatency(VMBCHANNEL Channel, UINT16 Latency, PUINT16 OriginalLatency);

// --- Send path ----------------------------------------------

VMBPACKET VmbPacketAllocate(VMBCHANNEL Channel);
UINT32 VmbChannelSizeofPacket(VMBCHANNEL Channel);
NTSTATUS VmbPacketInitialize(VMBCHANNEL Channel, VMBPACKET VmbPacket, UINT32 ByteCount);
VOID VmbPacketFree(VMBPACKET VmbPacket);
VOID VmbPacketSetCompletionRoutine(VMBPACKET PacketObject,
                                   PFN_VMB_PACKET_COMPLETION_ROUTINE CompletionRoutine);
NTSTATUS VmbPacketSend(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                       PMDL ExternalDataMdl, UINT32 Flags);
NTSTATUS VmbPacketSendWithExternalMdl(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                      PMDL ExternalDataMdl, UINT32 MdlOffset, UINT32 MdlLength,
                                      UINT32 Flags);
NTSTATUS VmbPacketSendWithExternalPfns(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                       PPFN_NUMBER ExternalDataPfns, UINT32 PfnLength,
                                       UINT32 Flags);
NTSTATUS VmbChannelSendSynchronousRequest(VMBCHANNEL Channel, PVOID Buffer, UINT32 BufferSize,
                                          PMDL ExternalDataMdl, UINT32 Flags,
                                          PVOID CompletionBuffer, PUINT32 CompletionBufferSize,
                                          PLARGE_INTEGER Timeout);

// --- Accessors ----------------------------------------------

VOID VmbPacketSetPointer(VMBPACKET PacketObject, PVOID Pointer);
PVOID VmbPacketGetPointer(VMBPACKET PacketObject);
VMBCHANNEL VmbPacketGetChannel(VMBPACKET PacketObject);
VOID VmbChannelSetPointer(VMBCHANNEL Channel, PVOID Pointer);
PVOID VmbChannelGetPointer(VMBCHANNEL Channel);
VOID VmbChannelGetInterfaceInstance(VMBCHANNEL Channel, LPGUID InterfaceInstance);

// --- Left out of the model (docs/KMCL-SEMANTICS.md "Left out") ---------------------
// They exist so that the V1 table is complete; each returns
// STATUS_NOT_SUPPORTED (or does nothing) and says why in a trace event.
NTSTATUS VmbChannelCreateGpadlFromBuffer(VMBCHANNEL Channel, UINT32 Flags, PVOID Buffer,
                                         UINT32 ByteCount, PUINT32 GpadlHandle);
NTSTATUS VmbChannelCreateGpadlFromMdl(VMBCHANNEL Channel, UINT32 Flags, PMDL Mdl,
                                      UINT32 StartOffsetWithinMdl, UINT32 DataLengthWithinMdl,
                                      PUINT32 GpadlHandle);
VOID VmbChannelDeleteGpadl(VMBCHANNEL Channel, UINT32 GpadlHandle);
VOID VmbChannelGetMmioSpace(VMBCHANNEL Channel, UINT64* MmioAddress, UINT64* MmioSize);

// --- The V1 interface table --------------------------------

#define KMCL_FN(name, ret, ...)       \
  using FN_##name = ret(__VA_ARGS__); \
  using PFN_##name = FN_##name*
KMCL_FN(VMB_CHANNEL_ALLOCATE, NTSTATUS, PDEVICE_OBJECT, BOOLEAN, VMBCHANNEL*);
KMCL_FN(VMB_CHANNEL_CLEANUP, VOID, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_CREATE_GPADL_FROM_BUFFER, NTSTATUS, VMBCHANNEL, UINT32, PVOID, UINT32, PUINT32);
KMCL_FN(VMB_CHANNEL_CREATE_GPADL_FROM_MDL, NTSTATUS, VMBCHANNEL, UINT32, PMDL, UINT32, UINT32,
        PUINT32);
KMCL_FN(VMB_CHANNEL_DELETE_GPADL, VOID, VMBCHANNEL, UINT32);
KMCL_FN(VMB_CHANNEL_DISABLE, VOID, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_ENABLE, NTSTATUS, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_GET_INTERFACE_INSTANCE, VOID, VMBCHANNEL, LPGUID);
KMCL_FN(VMB_CHANNEL_GET_MMIO_SPACE, VOID, VMBCHANNEL, UINT64*, UINT64*);
KMCL_FN(VMB_CHANNEL_GET_POINTER, PVOID, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_INIT_SET_CLIENT_CONTEXT_SIZE, NTSTATUS, VMBCHANNEL, UINT32);
KMCL_FN(VMB_CHANNEL_INIT_SET_FLAGS, NTSTATUS, VMBCHANNEL, UINT32);
KMCL_FN(VMB_CHANNEL_INIT_SET_FRIENDLY_NAME, NTSTATUS, VMBCHANNEL, PCUNICODE_STRING);
KMCL_FN(VMB_CHANNEL_INIT_SET_MAXIMUM_EXTERNAL_DATA, NTSTATUS, VMBCHANNEL, UINT32, UINT32);
KMCL_FN(VMB_CHANNEL_INIT_SET_MAXIMUM_PACKET_SIZE, NTSTATUS, VMBCHANNEL, UINT32);
KMCL_FN(VMB_CHANNEL_INIT_SET_PROCESS_PACKET_CALLBACKS, NTSTATUS, VMBCHANNEL,
        PFN_VMB_CHANNEL_PROCESS_PACKET, PFN_VMB_CHANNEL_PROCESSING_COMPLETE);
KMCL_FN(VMB_CHANNEL_INIT_SET_STATE_CHANGE_CALLBACKS, NTSTATUS, VMBCHANNEL,
        PVMB_CHANNEL_STATE_CHANGE_CALLBACKS);
KMCL_FN(VMB_CHANNEL_PACKET_COMPLETE, VOID, VMBPACKETCOMPLETION, PVOID, UINT32);
KMCL_FN(VMB_CHANNEL_PACKET_DEFER_TO_PASSIVE, VOID, VMBPACKETCOMPLETION);
KMCL_FN(VMB_CHANNEL_PACKET_FAIL, VOID, VMBPACKETCOMPLETION);
KMCL_FN(VMB_CHANNEL_PACKET_GET_EXTERNAL_DATA, NTSTATUS, VMBPACKETCOMPLETION, UINT32, PMDL*);
KMCL_FN(VMB_CHANNEL_PAUSE, VOID, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_SEND_SYNCHRONOUS_REQUEST, NTSTATUS, VMBCHANNEL, PVOID, UINT32, PMDL, UINT32,
        PVOID, PUINT32, PLARGE_INTEGER);
KMCL_FN(VMB_CHANNEL_SET_INCOMING_PROCESSING_AT_PASSIVE, VOID, VMBCHANNEL, BOOLEAN);
KMCL_FN(VMB_CHANNEL_SET_INTERRUPT_LATENCY, NTSTATUS, VMBCHANNEL, UINT16, PUINT16);
KMCL_FN(VMB_CHANNEL_SET_POINTER, VOID, VMBCHANNEL, PVOID);
KMCL_FN(VMB_CHANNEL_SET_TRANSACTION_QUOTA, VOID, VMBCHANNEL, UINT32);
KMCL_FN(VMB_CHANNEL_SIZEOF_PACKET, UINT32, VMBCHANNEL);
KMCL_FN(VMB_CHANNEL_START, VOID, VMBCHANNEL);
KMCL_FN(VMB_CLIENT_CHANNEL_INIT_SET_RING_BUFFER_PAGE_COUNT, NTSTATUS, VMBCHANNEL, UINT32, UINT32);
KMCL_FN(VMB_CLIENT_CHANNEL_INIT_SET_TARGET_PNP, NTSTATUS, VMBCHANNEL, LPCGUID, LPCGUID,
        PFN_VMB_CHANNEL_PNP_FAILURE);
KMCL_FN(VMB_PACKET_ALLOCATE, VMBPACKET, VMBCHANNEL);
KMCL_FN(VMB_PACKET_FREE, VOID, VMBPACKET);
KMCL_FN(VMB_PACKET_GET_CHANNEL, VMBCHANNEL, VMBPACKET);
KMCL_FN(VMB_PACKET_GET_POINTER, PVOID, VMBPACKET);
KMCL_FN(VMB_PACKET_INITIALIZE, NTSTATUS, VMBCHANNEL, VMBPACKET, UINT32);
KMCL_FN(VMB_PACKET_SEND, NTSTATUS, VMBPACKET, PVOID, UINT32, PMDL, UINT32);
KMCL_FN(VMB_PACKET_SEND_WITH_EXTERNAL_MDL, NTSTATUS, VMBPACKET, PVOID, UINT32, PMDL, UINT32, UINT32,
        UINT32);
KMCL_FN(VMB_PACKET_SEND_WITH_EXTERNAL_PFNS, NTSTATUS, VMBPACKET, PVOID, UINT32, PPFN_NUMBER, UINT32,
        UINT32);
KMCL_FN(VMB_PACKET_SET_COMPLETION_ROUTINE, VOID, VMBPACKET, PFN_VMB_PACKET_COMPLETION_ROUTINE);
KMCL_FN(VMB_PACKET_SET_POINTER, VOID, VMBPACKET, PVOID);
#undef KMCL_FN

// The 41 members in the documented order ([D:ns-..._kmcl_client_interface_v1.md]).
struct KMCL_CLIENT_INTERFACE_V1 {
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
};
using PKMCL_CLIENT_INTERFACE_V1 = KMCL_CLIENT_INTERFACE_V1*;

// 32 + 41 * 8: the Size 0x168 seen in [U-dxgkrnl].
static_assert(sizeof(KMCL_CLIENT_INTERFACE_V1) == 360);

// The real GUID is not published; this one is the model's own.
inline constexpr GUID KMCL_CLIENT_INTERFACE_TYPE = {
    0x6b6d636c, 0x5631, 0x4d6f, {0x64, 0x65, 0x6c, 0x4b, 0x4d, 0x43, 0x4c, 0x31}};
// Inferred from [U-dxgkrnl] (Size 0x168, Version 1); not documented.
inline constexpr USHORT KMCL_CLIENT_INTERFACE_VERSION_V1 = 1;

// The model's stand-in for WdfFdoQueryForInterface / IRP_MN_QUERY_INTERFACE.
// Fills `Interface` (which must point to a KMCL_CLIENT_INTERFACE_V1 of `Size`
// bytes) with the V1 table. STATUS_NOT_SUPPORTED for another interface type
// or version, STATUS_BUFFER_TOO_SMALL if Size < sizeof(KMCL_CLIENT_INTERFACE_V1),
// STATUS_INVALID_PARAMETER for null pointers.
NTSTATUS KmclQueryInterface(LPCGUID InterfaceType, PINTERFACE Interface, USHORT Size,
                            USHORT Version);

}  // namespace vmbus::kmcl
