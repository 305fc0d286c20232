// The V1 free functions. Each one names itself (ApiCall) for the verifier,
// resolves its handle through the handle table (a bad handle is a record and
// a harmless return, never a dereference), checks the IRQL rule, and hands
// the work to its DeviceCore.
#include <cstring>

#include "vmbus/base/check.h"

#include "core.h"

namespace vmbus::kmcl {

using detail::ApiCall;
using detail::CompletionUse;
using detail::DeviceCore;
using detail::HandleKind;
using detail::HandleRegistry;
using detail::IncomingPacket;
using detail::RetireReason;

namespace detail {
namespace {

// Looks a handle up; reports unknown, stale and wrong-kind handles. Returns
// the entry for a live handle of the expected kind on a device that has not
// stopped, else nullopt.
std::optional<HandleEntry> lookup(const ApiCall& call, HandleKind expected) {
  const std::optional<HandleEntry> entry = HandleRegistry::instance().find(call.handle);
  if (!entry && HandleRegistry::instance().forgotten(call.handle)) {
    DeviceCore::report_bad_handle(ViolationCode::kStaleHandle, call,
                                  std::string("a ") + handle_kind_name(expected) +
                                      " retired long ago (the verifier remembers the last " +
                                      std::to_string(HandleRegistry::kRetiredRemembered) +
                                      " retirements)",
                                  nullptr);
    return std::nullopt;
  }
  if (!entry) {
    DeviceCore::report_bad_handle(
        ViolationCode::kUnknownHandle, call,
        call.handle == 0
            ? std::string("null ") + handle_kind_name(expected)
            : std::string("a ") + handle_kind_name(expected) + " that was never issued",
        nullptr);
    return std::nullopt;
  }
  if (entry->kind != expected) {
    DeviceCore::report_bad_handle(ViolationCode::kUnknownHandle, call,
                                  std::string("a ") + handle_kind_name(entry->kind) +
                                      " passed where a " + handle_kind_name(expected) +
                                      " is expected",
                                  entry->device);
    return std::nullopt;
  }
  if (entry->device->stopped()) {
    return std::nullopt;  // bug-checked: nothing runs any more
  }
  return entry;
}

}  // namespace

// The object behind a live handle of `kind`; a stale one is reported as
// stale_handle (the lookup already reported unknown or wrong-type handles).
void* resolve_live(const ApiCall& call, HandleKind kind) {
  const std::optional<HandleEntry> entry = lookup(call, kind);
  if (!entry) {
    return nullptr;
  }
  if (!entry->live) {
    DeviceCore::report_bad_handle(
        ViolationCode::kStaleHandle, call,
        std::string(handle_kind_name(kind)) + " was " + retire_reason_name(entry->reason),
        entry->device);
    return nullptr;
  }
  return entry->object;
}

Channel* DeviceCore::resolve_channel(const ApiCall& call, VMBCHANNEL /*channel*/) {
  return static_cast<Channel*>(resolve_live(call, HandleKind::kChannel));
}

PacketObject* DeviceCore::resolve_packet(const ApiCall& call, VMBPACKET /*packet*/) {
  return static_cast<PacketObject*>(resolve_live(call, HandleKind::kPacket));
}

IncomingPacket* DeviceCore::resolve_completion(const ApiCall& call, VMBPACKETCOMPLETION packet,
                                               CompletionUse use, Channel** channel) {
  static_cast<void>(packet);
  const std::optional<HandleEntry> entry = lookup(call, HandleKind::kCompletion);
  if (!entry) {
    return nullptr;
  }
  if (entry->live) {
    auto* incoming = static_cast<IncomingPacket*>(entry->object);
    *channel = incoming->channel;
    return incoming;
  }
  // A retired packet: name the contract it breaks, not just "stale".
  ViolationCode code = ViolationCode::kStaleHandle;
  const std::string reason =
      std::string("the packet was already ") + retire_reason_name(entry->reason);
  if (entry->reason == RetireReason::kCompleted || entry->reason == RetireReason::kFailed) {
    switch (use) {
      case CompletionUse::kComplete:
        code = entry->reason == RetireReason::kCompleted ? ViolationCode::kCompleteTwice
                                                         : ViolationCode::kCompleteAfterFail;
        break;
      case CompletionUse::kDefer:
        code = ViolationCode::kDeferOutsideCallback;
        break;
      case CompletionUse::kFail:
        code = ViolationCode::kFailOutsideCallback;
        break;
      case CompletionUse::kGetExternalData:
        code = ViolationCode::kExternalDataOutsideCallback;
        break;
    }
  }
  report_bad_handle(code, call, reason + "; the call is ignored", entry->device);
  return nullptr;
}

}  // namespace detail

namespace {

template <typename Handle>
ApiCall call_of(const char* api, Handle handle) {
  return ApiCall{api, reinterpret_cast<std::uintptr_t>(handle)};
}

}  // namespace

// --- Lifecycle -------------------------------------------------------------------------

NTSTATUS VmbChannelAllocate(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                            VMBCHANNEL* Channel) {
  if (ParentDeviceObject == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if (Channel == nullptr) {
    return STATUS_INVALID_PARAMETER_3;
  }
  DeviceCore& device = ParentDeviceObject->core();
  if (device.stopped()) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  const ApiCall call{"VmbChannelAllocate", 0};
  if (!device.require_passive(call, nullptr, DeviceCore::IrqlRule::kDocumented)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  return device.allocate_channel(IsServer != FALSE, Channel);
}

VOID VmbChannelCleanup(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelCleanup", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.cleanup_channel(call, *ch);
  }
}

NTSTATUS VmbChannelEnable(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelEnable", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  return ch != nullptr ? ch->device.enable(call, *ch) : STATUS_INVALID_PARAMETER_1;
}

VOID VmbChannelDisable(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelDisable", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.disable(call, *ch);
  }
}

// --- Init ----------------------------------------------------------------------------------

namespace {

// Resolves the channel and applies the Init rules; on success returns the
// channel and leaves *status STATUS_SUCCESS.
detail::Channel* init_channel(const ApiCall& call, VMBCHANNEL channel, NTSTATUS* status) {
  detail::Channel* ch = DeviceCore::resolve_channel(call, channel);
  if (ch == nullptr) {
    *status = STATUS_INVALID_PARAMETER_1;
    return nullptr;
  }
  *status = ch->device.check_init_allowed(call, *ch);
  return NT_SUCCESS(*status) ? ch : nullptr;
}

// Larger would not fit len8 (16 bits of 8-byte units) with headers.
constexpr UINT32 kMaximumPacketSizeLimitBytes = 0x40000;

}  // namespace

NTSTATUS VmbChannelInitSetMaximumPacketSize(VMBCHANNEL Channel, UINT32 PacketSize) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetMaximumPacketSize", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (PacketSize == 0 || PacketSize > kMaximumPacketSizeLimitBytes) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->maximum_packet_size = PacketSize;
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetMaximumExternalData(VMBCHANNEL Channel, UINT32 DataSize,
                                              UINT32 ChainLength) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetMaximumExternalData", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (DataSize == 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (ChainLength == 0) {
    return STATUS_INVALID_PARAMETER_3;
  }
  ch->maximum_external_data = DataSize;
  ch->maximum_external_chain = ChainLength;
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetClientContextSize(VMBCHANNEL Channel, UINT32 ContextSize) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetClientContextSize", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  ch->client_context_size = ContextSize;  // V1 has no accessor for the area
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetProcessPacketCallbacks(
    VMBCHANNEL Channel, PFN_VMB_CHANNEL_PROCESS_PACKET ProcessPacketCallback,
    PFN_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingCompleteCallback) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetProcessPacketCallbacks", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (ProcessPacketCallback == nullptr) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->process_packet = ProcessPacketCallback;
  ch->processing_complete = ProcessingCompleteCallback;
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetStateChangeCallbacks(
    VMBCHANNEL Channel, PVMB_CHANNEL_STATE_CHANGE_CALLBACKS StateChangeCallbacks) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetStateChangeCallbacks", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (StateChangeCallbacks == nullptr ||
      StateChangeCallbacks->Version != VMB_CHANNEL_STATE_CHANGE_CALLBACKS_VERSION_1 ||
      StateChangeCallbacks->Size != sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS)) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->state_callbacks = *StateChangeCallbacks;
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetFriendlyName(VMBCHANNEL Channel, PCUNICODE_STRING Name) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbChannelInitSetFriendlyName", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (Name == nullptr || (Name->Length > 0 && Name->Buffer == nullptr) || Name->Length % 2 != 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->friendly_name.assign(Name->Buffer, Name->Length / 2);
  return STATUS_SUCCESS;
}

NTSTATUS VmbChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags) {
  NTSTATUS status;
  detail::Channel* ch = init_channel(call_of("VmbChannelInitSetFlags", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if ((Flags & ~VMBUS_CHANNEL_INIT_FLAGS) != 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->init_flags = Flags;
  return STATUS_SUCCESS;
}

NTSTATUS VmbClientChannelInitSetRingBufferPageCount(VMBCHANNEL Channel, UINT32 IncomingPageCount,
                                                    UINT32 OutgoingPageCount) {
  NTSTATUS status;
  detail::Channel* ch = init_channel(call_of("VmbClientChannelInitSetRingBufferPageCount", Channel),
                                     Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (ch->is_server) {
    return STATUS_INVALID_PARAMETER_1;  // the guest donates both rings
  }
  if (IncomingPageCount == 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (OutgoingPageCount == 0) {
    return STATUS_INVALID_PARAMETER_3;
  }
  ch->incoming_page_count = IncomingPageCount;
  ch->outgoing_page_count = OutgoingPageCount;
  return STATUS_SUCCESS;
}

NTSTATUS VmbClientChannelInitSetTargetPnp(VMBCHANNEL Channel, LPCGUID InterfaceType,
                                          LPCGUID InterfaceInstance,
                                          PFN_VMB_CHANNEL_PNP_FAILURE PnpFailureCallback) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbClientChannelInitSetTargetPnp", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (ch->is_server) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if (InterfaceType == nullptr) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->target_interface_type = *InterfaceType;
  ch->target_interface_instance =
      InterfaceInstance != nullptr ? std::optional<GUID>(*InterfaceInstance) : std::nullopt;
  ch->pnp_failure = PnpFailureCallback;  // never called: the model has no PnP
  return STATUS_SUCCESS;
}

NTSTATUS VmbServerChannelInitSetTargetInterfaceId(VMBCHANNEL Channel, GUID InterfaceType,
                                                  GUID InterfaceInstance) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbServerChannelInitSetTargetInterfaceId", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (!ch->is_server) {
    return STATUS_INVALID_PARAMETER_1;  // a client finds its offer with TargetPnp
  }
  ch->target_interface_type = InterfaceType;
  ch->target_interface_instance = InterfaceInstance;
  return STATUS_SUCCESS;
}

NTSTATUS VmbServerChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags) {
  NTSTATUS status;
  detail::Channel* ch =
      init_channel(call_of("VmbServerChannelInitSetFlags", Channel), Channel, &status);
  if (ch == nullptr) {
    return status;
  }
  if (!ch->is_server) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if ((Flags & ~VMBUS_SERVER_CHANNEL_INIT_FLAGS) != 0) {
    return STATUS_INVALID_PARAMETER_2;
  }
  ch->server_flags = Flags;
  return STATUS_SUCCESS;
}

// --- Receive path
// ----------------------------------------------------------------------------------

VOID VmbChannelPacketComplete(VMBPACKETCOMPLETION PacketCompletionContext,
                              PVOID PacketCompletionBuffer, UINT32 BufSize) {
  const ApiCall call = call_of("VmbChannelPacketComplete", PacketCompletionContext);
  detail::Channel* ch = nullptr;
  if (IncomingPacket* p = DeviceCore::resolve_completion(call, PacketCompletionContext,
                                                         CompletionUse::kComplete, &ch)) {
    ch->device.complete_packet(call, *ch, *p, PacketCompletionBuffer, BufSize);
  }
}

VOID VmbChannelPacketDeferToPassive(VMBPACKETCOMPLETION PacketCompletionContext) {
  const ApiCall call = call_of("VmbChannelPacketDeferToPassive", PacketCompletionContext);
  detail::Channel* ch = nullptr;
  if (IncomingPacket* p = DeviceCore::resolve_completion(call, PacketCompletionContext,
                                                         CompletionUse::kDefer, &ch)) {
    ch->device.defer_packet(call, *ch, *p);
  }
}

VOID VmbChannelPacketFail(VMBPACKETCOMPLETION PacketCompletionContext) {
  const ApiCall call = call_of("VmbChannelPacketFail", PacketCompletionContext);
  detail::Channel* ch = nullptr;
  if (IncomingPacket* p = DeviceCore::resolve_completion(call, PacketCompletionContext,
                                                         CompletionUse::kFail, &ch)) {
    ch->device.fail_packet(call, *ch, *p);
  }
}

NTSTATUS VmbChannelPacketGetExternalData(VMBPACKETCOMPLETION PacketCompletionContext, UINT32 Flags,
                                         PMDL* Mdl) {
  const ApiCall call = call_of("VmbChannelPacketGetExternalData", PacketCompletionContext);
  detail::Channel* ch = nullptr;
  IncomingPacket* p = DeviceCore::resolve_completion(call, PacketCompletionContext,
                                                     CompletionUse::kGetExternalData, &ch);
  if (p == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  return ch->device.get_external_data(call, *ch, *p, Flags, Mdl);
}

// --- Queue control
// -------------------------------------------------------------------------------------

VOID VmbChannelPause(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelPause", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.pause(call, *ch);
  }
}

VOID VmbChannelStart(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelStart", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.start(call, *ch);
  }
}

VOID VmbChannelSetIncomingProcessingAtPassive(VMBCHANNEL Channel, BOOLEAN RequirePassive) {
  const ApiCall call = call_of("VmbChannelSetIncomingProcessingAtPassive", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.set_incoming_processing_at_passive(*ch, RequirePassive != FALSE);
  }
}

VOID VmbChannelSetTransactionQuota(VMBCHANNEL Channel, UINT32 Quota) {
  const ApiCall call = call_of("VmbChannelSetTransactionQuota", Channel);
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, Channel)) {
    ch->device.set_transaction_quota(call, *ch, Quota);
  }
}

NTSTATUS VmbChannelSetInterruptLatency(VMBCHANNEL Channel, UINT16 Latency,
                                       PUINT16 OriginalLatency) {
  const ApiCall call = call_of("VmbChannelSetInterruptLatency", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  if (ch == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if (OriginalLatency == nullptr) {
    return STATUS_INVALID_PARAMETER_3;
  }
  // "between the calls to EvtChannelOpened and EvtChannelClosed, inclusive".
  if (!ch->opened) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  *OriginalLatency = ch->interrupt_latency;
  ch->interrupt_latency = Latency;  // stored only: the model has no monitor pages
  return STATUS_SUCCESS;
}

// --- Send path
// -------------------------------------------------------------------------------------------

VMBPACKET VmbPacketAllocate(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbPacketAllocate", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  return ch != nullptr ? ch->device.allocate_packet(*ch) : nullptr;
}

UINT32 VmbChannelSizeofPacket(VMBCHANNEL Channel) {
  const ApiCall call = call_of("VmbChannelSizeofPacket", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  if (ch == nullptr) {
    return 0;
  }
  return ch->maximum_packet_size + static_cast<UINT32>(sizeof(void*)) + kPacketObjectOverheadBytes;
}

NTSTATUS VmbPacketInitialize(VMBCHANNEL Channel, VMBPACKET VmbPacket, UINT32 ByteCount) {
  const ApiCall call = call_of("VmbPacketInitialize", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  if (ch == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  return ch->device.initialize_packet(call, *ch, VmbPacket, ByteCount);
}

VOID VmbPacketFree(VMBPACKET VmbPacket) {
  const ApiCall call = call_of("VmbPacketFree", VmbPacket);
  if (detail::PacketObject* packet = DeviceCore::resolve_packet(call, VmbPacket)) {
    packet->channel->device.free_packet(call, *packet);
  }
}

VOID VmbPacketSetCompletionRoutine(VMBPACKET PacketObject,
                                   PFN_VMB_PACKET_COMPLETION_ROUTINE CompletionRoutine) {
  const ApiCall call = call_of("VmbPacketSetCompletionRoutine", PacketObject);
  if (detail::PacketObject* packet = DeviceCore::resolve_packet(call, PacketObject)) {
    if (CompletionRoutine == nullptr) {
      packet->channel->device.violate(ViolationCode::kInvalidParameter, call, packet->channel,
                                      "null completion routine; ignored");
      return;
    }
    packet->completion_routine = CompletionRoutine;
  }
}

NTSTATUS VmbPacketSend(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                       PMDL ExternalDataMdl, UINT32 Flags) {
  const ApiCall call = call_of("VmbPacketSend", PacketObject);
  detail::PacketObject* packet = DeviceCore::resolve_packet(call, PacketObject);
  if (packet == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  std::vector<const MDL*> ranges;
  for (const MDL* mdl = ExternalDataMdl; mdl != nullptr; mdl = mdl->Next) {
    ranges.push_back(mdl);
  }
  return packet->channel->device.send_packet(call, *packet, Buffer, BufferLength, ranges, Flags);
}

NTSTATUS VmbPacketSendWithExternalMdl(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                      PMDL ExternalDataMdl, UINT32 MdlOffset, UINT32 MdlLength,
                                      UINT32 Flags) {
  const ApiCall call = call_of("VmbPacketSendWithExternalMdl", PacketObject);
  detail::PacketObject* packet = DeviceCore::resolve_packet(call, PacketObject);
  if (packet == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if (ExternalDataMdl == nullptr) {
    return STATUS_INVALID_PARAMETER_4;
  }
  if ((Flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) == 0) {
    return STATUS_INVALID_PARAMETER_7;  // "must be set" for external data
  }
  // The sub-range [MdlOffset, MdlOffset + MdlLength) of the first MDL (0 =
  // to its end), as one GPA range. FORCE_MDL_LENGTH lets MdlLength run past
  // ByteCount up to the end of the MDL's last page.
  const MDL& source = *ExternalDataMdl;
  const std::uint64_t page_span =
      static_cast<std::uint64_t>(source.PfnArray.size()) * ring::kHvPageSizeBytes -
      source.ByteOffset;
  const std::uint64_t limit =
      (Flags & VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH) != 0 ? page_span : source.ByteCount;
  const std::uint64_t length =
      MdlLength == 0 ? limit - std::min<std::uint64_t>(MdlOffset, limit) : MdlLength;
  if (MdlOffset >= limit || length == 0 || MdlOffset + length > limit) {
    return STATUS_INVALID_PARAMETER_5;
  }
  const std::uint64_t start = std::uint64_t{source.ByteOffset} + MdlOffset;
  MDL range;
  range.ByteOffset = static_cast<ULONG>(start % ring::kHvPageSizeBytes);
  range.ByteCount = static_cast<ULONG>(length);
  const std::uint64_t first_page = start / ring::kHvPageSizeBytes;
  const std::uint64_t pages =
      (range.ByteOffset + length + ring::kHvPageSizeBytes - 1) / ring::kHvPageSizeBytes;
  for (std::uint64_t page = 0; page < pages; ++page) {
    range.PfnArray.push_back(source.PfnArray[first_page + page]);
  }
  return packet->channel->device.send_packet(call, *packet, Buffer, BufferLength, {&range},
                                             Flags & ~VMBUS_CHANNEL_FORMAT_FLAG_FORCE_MDL_LENGTH);
}

NTSTATUS VmbPacketSendWithExternalPfns(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                       PPFN_NUMBER ExternalDataPfns, UINT32 PfnLength,
                                       UINT32 Flags) {
  const ApiCall call = call_of("VmbPacketSendWithExternalPfns", PacketObject);
  detail::PacketObject* packet = DeviceCore::resolve_packet(call, PacketObject);
  if (packet == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  if (ExternalDataPfns == nullptr || PfnLength == 0) {
    return STATUS_INVALID_PARAMETER_4;
  }
  if ((Flags & VMBUS_CHANNEL_FORMAT_FLAG_WAIT_FOR_COMPLETION) == 0) {
    return STATUS_INVALID_PARAMETER_6;
  }
  // The 6-parameter form: whole pages, one GPA range.
  MDL range;
  range.ByteOffset = 0;
  range.ByteCount = PfnLength * ring::kHvPageSizeBytes;
  range.PfnArray.assign(ExternalDataPfns, ExternalDataPfns + PfnLength);
  return packet->channel->device.send_packet(call, *packet, Buffer, BufferLength, {&range}, Flags);
}

NTSTATUS VmbChannelSendSynchronousRequest(VMBCHANNEL Channel, PVOID Buffer, UINT32 BufferSize,
                                          PMDL ExternalDataMdl, UINT32 Flags,
                                          PVOID CompletionBuffer, PUINT32 CompletionBufferSize,
                                          PLARGE_INTEGER Timeout) {
  const ApiCall call = call_of("VmbChannelSendSynchronousRequest", Channel);
  detail::Channel* ch = DeviceCore::resolve_channel(call, Channel);
  if (ch == nullptr) {
    return STATUS_INVALID_PARAMETER_1;
  }
  return ch->device.send_synchronous(call, *ch, Buffer, BufferSize, ExternalDataMdl, Flags,
                                     CompletionBuffer, CompletionBufferSize, Timeout);
}

// --- Accessors
// -------------------------------------------------------------------------------------------

VOID VmbPacketSetPointer(VMBPACKET PacketObject, PVOID Pointer) {
  if (detail::PacketObject* packet =
          DeviceCore::resolve_packet(call_of("VmbPacketSetPointer", PacketObject), PacketObject)) {
    packet->pointer = Pointer;
  }
}

PVOID VmbPacketGetPointer(VMBPACKET PacketObject) {
  detail::PacketObject* packet =
      DeviceCore::resolve_packet(call_of("VmbPacketGetPointer", PacketObject), PacketObject);
  return packet != nullptr ? packet->pointer : nullptr;
}

VMBCHANNEL VmbPacketGetChannel(VMBPACKET PacketObject) {
  detail::PacketObject* packet =
      DeviceCore::resolve_packet(call_of("VmbPacketGetChannel", PacketObject), PacketObject);
  return packet != nullptr ? reinterpret_cast<VMBCHANNEL>(packet->channel->handle) : nullptr;
}

VOID VmbChannelSetPointer(VMBCHANNEL Channel, PVOID Pointer) {
  if (detail::Channel* ch =
          DeviceCore::resolve_channel(call_of("VmbChannelSetPointer", Channel), Channel)) {
    ch->pointer = Pointer;
  }
}

PVOID VmbChannelGetPointer(VMBCHANNEL Channel) {
  detail::Channel* ch =
      DeviceCore::resolve_channel(call_of("VmbChannelGetPointer", Channel), Channel);
  return ch != nullptr ? ch->pointer : nullptr;
}

VOID VmbChannelGetInterfaceInstance(VMBCHANNEL Channel, LPGUID InterfaceInstance) {
  detail::Channel* ch =
      DeviceCore::resolve_channel(call_of("VmbChannelGetInterfaceInstance", Channel), Channel);
  if (ch != nullptr && InterfaceInstance != nullptr) {
    *InterfaceInstance = ch->interface_instance;
  }
}

// --- Left out
// ------------------------------------------------------------------------------------------------

namespace {

void left_out(const ApiCall& call, VMBCHANNEL channel, const char* why) {
  if (detail::Channel* ch = DeviceCore::resolve_channel(call, channel)) {
    ch->device.trace("not_supported", ch, ch->handle, std::string(call.api) + ": " + why);
  }
}

constexpr const char* kGpadlReason =
    "GPADLs belong to the control plane (the guest process's VMBus client), not to this library";

}  // namespace

NTSTATUS VmbChannelCreateGpadlFromBuffer(VMBCHANNEL Channel, UINT32, PVOID, UINT32,
                                         PUINT32 GpadlHandle) {
  left_out(call_of("VmbChannelCreateGpadlFromBuffer", Channel), Channel, kGpadlReason);
  if (GpadlHandle != nullptr) {
    *GpadlHandle = 0;
  }
  return STATUS_NOT_SUPPORTED;
}

NTSTATUS VmbChannelCreateGpadlFromMdl(VMBCHANNEL Channel, UINT32, PMDL, UINT32, UINT32,
                                      PUINT32 GpadlHandle) {
  left_out(call_of("VmbChannelCreateGpadlFromMdl", Channel), Channel, kGpadlReason);
  if (GpadlHandle != nullptr) {
    *GpadlHandle = 0;
  }
  return STATUS_NOT_SUPPORTED;
}

VOID VmbChannelDeleteGpadl(VMBCHANNEL Channel, UINT32) {
  left_out(call_of("VmbChannelDeleteGpadl", Channel), Channel, kGpadlReason);
}

VOID VmbChannelGetMmioSpace(VMBCHANNEL Channel, UINT64* MmioAddress, UINT64* MmioSize) {
  left_out(call_of("VmbChannelGetMmioSpace", Channel), Channel,
           "no MMIO space is reserved in the model (server-only InitSetMmioMegabytes is out)");
  if (MmioAddress != nullptr) {
    *MmioAddress = 0;
  }
  if (MmioSize != nullptr) {
    *MmioSize = 0;
  }
}

// --- The interface table
// -------------------------------------------------------------------------------------

namespace {

VOID interface_reference(PVOID) {}
VOID interface_dereference(PVOID) {}

}  // namespace

NTSTATUS KmclQueryInterface(LPCGUID InterfaceType, PINTERFACE Interface, USHORT Size,
                            USHORT Version) {
  if (InterfaceType == nullptr || Interface == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (!(*InterfaceType == KMCL_CLIENT_INTERFACE_TYPE) ||
      Version != KMCL_CLIENT_INTERFACE_VERSION_V1) {
    return STATUS_NOT_SUPPORTED;
  }
  if (Size < sizeof(KMCL_CLIENT_INTERFACE_V1)) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  KMCL_CLIENT_INTERFACE_V1 table{};
  table.InterfaceHeader.Size = sizeof(KMCL_CLIENT_INTERFACE_V1);
  table.InterfaceHeader.Version = KMCL_CLIENT_INTERFACE_VERSION_V1;
  table.InterfaceHeader.Context = nullptr;
  table.InterfaceHeader.InterfaceReference = interface_reference;
  table.InterfaceHeader.InterfaceDereference = interface_dereference;
  table.VmbChannelAllocate = VmbChannelAllocate;
  table.VmbChannelCleanup = VmbChannelCleanup;
  table.VmbChannelCreateGpadlFromBuffer = VmbChannelCreateGpadlFromBuffer;
  table.VmbChannelCreateGpadlFromMdl = VmbChannelCreateGpadlFromMdl;
  table.VmbChannelDeleteGpadl = VmbChannelDeleteGpadl;
  table.VmbChannelDisable = VmbChannelDisable;
  table.VmbChannelEnable = VmbChannelEnable;
  table.VmbChannelGetInterfaceInstance = VmbChannelGetInterfaceInstance;
  table.VmbChannelGetMmioSpace = VmbChannelGetMmioSpace;
  table.VmbChannelGetPointer = VmbChannelGetPointer;
  table.VmbChannelInitSetClientContextSize = VmbChannelInitSetClientContextSize;
  table.VmbChannelInitSetFlags = VmbChannelInitSetFlags;
  table.VmbChannelInitSetFriendlyName = VmbChannelInitSetFriendlyName;
  table.VmbChannelInitSetMaximumExternalData = VmbChannelInitSetMaximumExternalData;
  table.VmbChannelInitSetMaximumPacketSize = VmbChannelInitSetMaximumPacketSize;
  table.VmbChannelInitSetProcessPacketCallbacks = VmbChannelInitSetProcessPacketCallbacks;
  table.VmbChannelInitSetStateChangeCallbacks = VmbChannelInitSetStateChangeCallbacks;
  table.VmbChannelPacketComplete = VmbChannelPacketComplete;
  table.VmbChannelPacketDeferToPassive = VmbChannelPacketDeferToPassive;
  table.VmbChannelPacketFail = VmbChannelPacketFail;
  table.VmbChannelPacketGetExternalData = VmbChannelPacketGetExternalData;
  table.VmbChannelPause = VmbChannelPause;
  table.VmbChannelSendSynchronousRequest = VmbChannelSendSynchronousRequest;
  table.VmbChannelSetIncomingProcessingAtPassive = VmbChannelSetIncomingProcessingAtPassive;
  table.VmbChannelSetInterruptLatency = VmbChannelSetInterruptLatency;
  table.VmbChannelSetPointer = VmbChannelSetPointer;
  table.VmbChannelSetTransactionQuota = VmbChannelSetTransactionQuota;
  table.VmbChannelSizeofPacket = VmbChannelSizeofPacket;
  table.VmbChannelStart = VmbChannelStart;
  table.VmbClientChannelInitSetRingBufferPageCount = VmbClientChannelInitSetRingBufferPageCount;
  table.VmbClientChannelInitSetTargetPnp = VmbClientChannelInitSetTargetPnp;
  table.VmbPacketAllocate = VmbPacketAllocate;
  table.VmbPacketFree = VmbPacketFree;
  table.VmbPacketGetChannel = VmbPacketGetChannel;
  table.VmbPacketGetPointer = VmbPacketGetPointer;
  table.VmbPacketInitialize = VmbPacketInitialize;
  table.VmbPacketSend = VmbPacketSend;
  table.VmbPacketSendWithExternalMdl = VmbPacketSendWithExternalMdl;
  table.VmbPacketSendWithExternalPfns = VmbPacketSendWithExternalPfns;
  table.VmbPacketSetCompletionRoutine = VmbPacketSetCompletionRoutine;
  table.VmbPacketSetPointer = VmbPacketSetPointer;
  std::memcpy(static_cast<void*>(Interface), &table, sizeof(table));
  return STATUS_SUCCESS;
}

}  // namespace vmbus::kmcl
