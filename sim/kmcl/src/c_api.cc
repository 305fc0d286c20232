// The KMCL C API: the extern "C" functions that <vmbuskernelmodeclientlibapi.h>
// declares, each a thin conversion onto the C++ model's V1 function of the
// same name (api.cc). Nothing here decides KMCL semantics.
//
// What crosses the boundary and how:
//  * Handles and the device object are keys, never dereferenced: the C
//    handle's value is the model's handle value.
//  * Structures (GUID, UNICODE_STRING, LARGE_INTEGER, MDL chains, the state
//    callbacks) are converted field by field; no layout is assumed equal.
//  * Driver callbacks have C types; the model calls C++ function pointers. So
//    the model is given trampolines, and the driver's pointers are kept in a
//    process-wide table keyed by handle (Bindings): a channel's process and
//    state callbacks, a packet object's completion routine, and the C MDLs
//    handed out by VmbChannelPacketGetExternalData, which stay valid until
//    the packet is retired. Entries of retired handles are dropped when the
//    driver frees, completes or cleans up (and at every channel cleanup for
//    whatever else retired, e.g. with a destroyed device).
//  * A driver loaded from a shared library is watched from here: when its
//    device has a DriverRecorder (driver_recorder.h), every trampoline
//    tells it about the callback and runs the driver inside a
//    DriverCodeScope (driver_position.h), and the packet and send functions
//    tell it what the driver did. An exception escaping driver code is
//    reported and aborts the process (run_driver()).
//
// The programs that host drivers export these symbols to dlopen()ed
// libraries (sim/kmcl/kmcl_c_api.dynamic-list); see docs/DRIVERS.md.
#include "vmbus/kmcl/c_api.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "vmbus/base/check.h"
#include "vmbus/kmcl/device.h"
#include "vmbus/kmcl/driver_position.h"
#include "vmbus/kmcl/driver_recorder.h"
#include "vmbus/kmcl/kmcl.h"

#include "core.h"
#include "fiber.h"
#include "handles.h"

// Last: the C headers' macros (STATUS_*, TRUE, VOID, ...) would rewrite the
// C++ declarations above. Below this line, unqualified names are the C
// header's; the model's are spelled k::.
#include "vmbuskernelmodeclientlibapi.h"

namespace k = vmbus::kmcl;

namespace {

// --- Handles and values ---------------------------------------------------------------

k::VMBCHANNEL to_model(VMBCHANNEL channel) {
  return reinterpret_cast<k::VMBCHANNEL>(channel);
}
k::VMBPACKET to_model(VMBPACKET packet) {
  return reinterpret_cast<k::VMBPACKET>(packet);
}
k::VMBPACKETCOMPLETION to_model(VMBPACKETCOMPLETION packet) {
  return reinterpret_cast<k::VMBPACKETCOMPLETION>(packet);
}
VMBCHANNEL to_c(k::VMBCHANNEL channel) {
  return reinterpret_cast<VMBCHANNEL>(channel);
}
VMBPACKET to_c(k::VMBPACKET packet) {
  return reinterpret_cast<VMBPACKET>(packet);
}
VMBPACKETCOMPLETION to_c(k::VMBPACKETCOMPLETION packet) {
  return reinterpret_cast<VMBPACKETCOMPLETION>(packet);
}

template <typename Handle>
std::uintptr_t key_of(Handle handle) {
  return reinterpret_cast<std::uintptr_t>(handle);
}

k::Device* device_of(PDEVICE_OBJECT device) {
  return reinterpret_cast<k::Device*>(device);
}

constexpr k::GUID to_model(const GUID& guid) {
  k::GUID out{guid.Data1, guid.Data2, guid.Data3, {}};
  std::copy(std::begin(guid.Data4), std::end(guid.Data4), std::begin(out.Data4));
  return out;
}

constexpr GUID to_c(const k::GUID& guid) {
  GUID out{guid.Data1, guid.Data2, guid.Data3, {}};
  std::copy(std::begin(guid.Data4), std::end(guid.Data4), std::begin(out.Data4));
  return out;
}

bool same_guid(const GUID& a, const GUID& b) {
  return to_model(a) == to_model(b);
}

// --- MDLs -------------------------------------------------------------------------------

// The PFNs a C MDL carries: as many as its Size says, else the pages its byte
// range spans (an MDL built by hand without Size).
std::size_t pfn_count(const MDL& mdl) {
  const auto size = static_cast<std::size_t>(std::max<int>(mdl.Size, 0));
  if (size > sizeof(MDL)) {
    return (size - sizeof(MDL)) / sizeof(PFN_NUMBER);
  }
  return (std::size_t{mdl.ByteOffset} + mdl.ByteCount + PAGE_SIZE - 1) / PAGE_SIZE;
}

// A C MDL chain as the model's MDLs, linked through Next like the original.
// The model copies what it needs during the call; the chain lives as long as
// the returned vector (whose elements do not move with it).
std::vector<k::MDL> to_model_chain(PMDL head) {
  std::vector<k::MDL> chain;
  for (const MDL* mdl = head; mdl != nullptr; mdl = mdl->Next) {
    k::MDL& range = chain.emplace_back();
    range.ByteCount = mdl->ByteCount;
    range.ByteOffset = mdl->ByteOffset;
    // The PFN array follows the header in the same allocation.
    const auto* pfns = reinterpret_cast<const PFN_NUMBER*>(mdl + 1);
    range.PfnArray.assign(pfns, pfns + pfn_count(*mdl));
  }
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    chain[i].Next = &chain[i + 1];
  }
  return chain;
}

k::PMDL model_head(std::vector<k::MDL>& chain) {
  return chain.empty() ? nullptr : &chain.front();
}

using MdlBlocks = std::vector<std::unique_ptr<std::byte[]>>;

// The model's MDL chain as C MDLs (header + PFN array in one block each),
// kept alive by `blocks`. No virtual address: StartVa stays NULL.
PMDL to_c_chain(const k::MDL* head, MdlBlocks& blocks) {
  PMDL first = nullptr;
  PMDL* link = &first;
  for (const k::MDL* range = head; range != nullptr; range = range->Next) {
    const std::size_t bytes = sizeof(MDL) + range->PfnArray.size() * sizeof(PFN_NUMBER);
    auto block = std::make_unique<std::byte[]>(bytes);
    MDL* mdl = new (block.get()) MDL{};
    mdl->Size = static_cast<CSHORT>(std::min<std::size_t>(bytes, 0x7FFF));
    mdl->ByteCount = range->ByteCount;
    mdl->ByteOffset = range->ByteOffset;
    std::copy(range->PfnArray.begin(), range->PfnArray.end(), MmGetMdlPfnArray(mdl));
    *link = mdl;
    link = &mdl->Next;
    blocks.push_back(std::move(block));
  }
  return first;
}

// --- Bindings: what the trampolines need to find the driver's C functions ----------------

struct ChannelBinding {
  PFN_VMB_CHANNEL_PROCESS_PACKET process_packet = nullptr;
  PFN_VMB_CHANNEL_PROCESSING_COMPLETE processing_complete = nullptr;
  VMB_CHANNEL_STATE_CHANGE_CALLBACKS state{};
  bool state_set = false;  // the model holds state-change trampolines
  PFN_VMB_CHANNEL_PNP_FAILURE pnp_failure = nullptr;
};

// The C MDLs of one incoming packet's external data.
struct ExternalData {
  const k::MDL* source = nullptr;  // the model's chain they were made from
  PMDL head = nullptr;
  MdlBlocks blocks;  // every chain handed out for this packet (a driver may still hold one)
};

// Process-wide, like the model's handle table; the mutex is never held while
// driver code runs.
class Bindings {
 public:
  static Bindings& instance() {
    static Bindings bindings;
    return bindings;
  }

  template <typename Update>
  void update_channel(k::VMBCHANNEL channel, Update update) {
    const std::lock_guard lock(mutex_);
    update(channels_[key_of(channel)]);
  }

  ChannelBinding channel(k::VMBCHANNEL channel) const {
    const std::lock_guard lock(mutex_);
    const auto it = channels_.find(key_of(channel));
    VMBUS_CHECK(it != channels_.end(), "a C trampoline ran for a channel with no C callbacks");
    return it->second;
  }

  void set_completion_routine(k::VMBPACKET packet, PFN_VMB_PACKET_COMPLETION_ROUTINE routine) {
    const std::lock_guard lock(mutex_);
    routines_[key_of(packet)] = routine;
  }

  bool has_completion_routine(k::VMBPACKET packet) const {
    const std::lock_guard lock(mutex_);
    return routines_.count(key_of(packet)) != 0;
  }

  PFN_VMB_PACKET_COMPLETION_ROUTINE completion_routine(k::VMBPACKET packet) const {
    const std::lock_guard lock(mutex_);
    const auto it = routines_.find(key_of(packet));
    VMBUS_CHECK(it != routines_.end(), "a C completion trampoline ran for an unknown packet");
    return it->second;
  }

  PMDL external_data(k::VMBPACKETCOMPLETION packet, const k::MDL* source) {
    const std::lock_guard lock(mutex_);
    ExternalData& data = external_data_[key_of(packet)];
    if (data.source != source || data.head == nullptr) {
      data.source = source;
      data.head = to_c_chain(source, data.blocks);
    }
    return data.head;
  }

  // Drops what belongs to `handle` once the model has retired it.
  void forget_if_retired(std::uintptr_t handle) {
    if (live(handle)) {
      return;
    }
    const std::lock_guard lock(mutex_);
    channels_.erase(handle);
    routines_.erase(handle);
    external_data_.erase(handle);
  }

  // Drops every entry whose handle is retired or whose device is gone.
  void forget_all_retired() {
    const std::lock_guard lock(mutex_);
    std::erase_if(channels_, [](const auto& entry) { return !live(entry.first); });
    std::erase_if(routines_, [](const auto& entry) { return !live(entry.first); });
    std::erase_if(external_data_, [](const auto& entry) { return !live(entry.first); });
  }

 private:
  static bool live(std::uintptr_t handle) {
    const std::optional<k::detail::HandleEntry> entry =
        k::detail::HandleRegistry::instance().find(handle);
    return entry.has_value() && entry->live;
  }

  mutable std::mutex mutex_;
  std::unordered_map<std::uintptr_t, ChannelBinding> channels_;
  std::unordered_map<std::uintptr_t, PFN_VMB_PACKET_COMPLETION_ROUTINE> routines_;
  std::unordered_map<std::uintptr_t, ExternalData> external_data_;
};

// --- Watching a loaded driver ------------------------------------------------------------

bool handle_live(std::uintptr_t handle) {
  const std::optional<k::detail::HandleEntry> entry =
      k::detail::HandleRegistry::instance().find(handle);
  return entry.has_value() && entry->live;
}

// The recorder of the device that issued `handle`, if a loaded driver runs there.
k::DriverRecorder* recorder_of(std::uintptr_t handle) {
  const std::optional<k::detail::HandleEntry> entry =
      k::detail::HandleRegistry::instance().find(handle);
  return entry.has_value() && entry->device != nullptr ? entry->device->recorder : nullptr;
}

// Runs `call`, a call into driver code. An exception must not unwind through
// the model: it is reported and the process aborts, as it would have
// without a handler. The model's own unwinding of a cancelled context
// passes through.
template <typename Call>
auto run_driver(Call call) {
  try {
    return call();
  } catch (const k::detail::FiberCancelled&) {
    throw;
  } catch (...) {
    k::detail::driver_exception_escaped();
  }
}

// A channel callback of a watched driver: its record and its position,
// for as long as this lives.
class WatchedCallback {
 public:
  WatchedCallback(k::VMBCHANNEL channel, const char* record_name, const char* wdk_name)
      : recorder_(recorder_of(key_of(channel))) {
    if (recorder_ != nullptr) {
      k::DriverRecorder::Begun begun = recorder_->begin_channel_callback(record_name, wdk_name);
      token_ = begun.token;
      scope_.emplace(std::move(begun.position));
    }
  }
  // The record's argument ("" for none).
  void end(const std::string& argument) {
    if (recorder_ != nullptr) {
      recorder_->end_channel_callback(token_, argument);
    }
  }
  k::DriverRecorder* recorder() const { return recorder_; }

 private:
  k::DriverRecorder* recorder_;
  std::size_t token_ = SIZE_MAX;
  std::optional<k::DriverCodeScope> scope_;
};

// A driver's call on an incoming packet, watched: whether it retired the
// packet, whether KMCL took it back.
class WatchedPacketCall {
 public:
  explicit WatchedPacketCall(VMBPACKETCOMPLETION packet)
      : packet_(packet), recorder_(recorder_of(key_of(packet))) {
    if (recorder_ != nullptr) {
      live_before_ = handle_live(key_of(packet));
      violations_before_ = violations();
    }
  }
  // The call was `word`; `handed_back`: it gives the packet back to KMCL if
  // it took effect (no verifier record).
  void done(const char* word, bool handed_back = false) const {
    if (recorder_ == nullptr) {
      return;
    }
    const bool took_effect = violations() == violations_before_;
    recorder_->on_packet_call(word, to_model(packet_),
                              live_before_ && !handle_live(key_of(packet_)),
                              handed_back && took_effect);
  }

 private:
  std::size_t violations() const {
    const std::optional<k::detail::HandleEntry> entry =
        k::detail::HandleRegistry::instance().find(key_of(packet_));
    return entry && entry->device != nullptr ? entry->device->violations().size() : 0;
  }

  VMBPACKETCOMPLETION packet_;
  k::DriverRecorder* recorder_;
  bool live_before_ = false;
  std::size_t violations_before_ = 0;
};

// --- Trampolines: the model calls these, they call the driver ------------------------------

k::NTSTATUS opened(k::VMBCHANNEL channel) {
  const auto callback = Bindings::instance().channel(channel).state.EvtChannelOpened;
  WatchedCallback watched(channel, "Opened", "EvtChannelOpened");
  const NTSTATUS status = run_driver([&] { return callback(to_c(channel)); });
  watched.end(NT_SUCCESS(status) ? "" : k::ntstatus_name(status));
  return status;
}
void closed(k::VMBCHANNEL channel) {
  // Installed for a watched driver even without a callback of its own: KMCL
  // detaches the rings right after Closed returns, and their counters count.
  if (k::DriverRecorder* recorder = recorder_of(key_of(channel))) {
    recorder->before_rings_detach();
  }
  const auto callback = Bindings::instance().channel(channel).state.EvtChannelClosed;
  if (callback != nullptr) {
    WatchedCallback watched(channel, "Closed", "EvtChannelClosed");
    run_driver([&] { callback(to_c(channel)); });
  }
}
void suspend(k::VMBCHANNEL channel) {
  const auto callback = Bindings::instance().channel(channel).state.EvtChannelSuspend;
  WatchedCallback watched(channel, "Suspend", "EvtChannelSuspend");
  const std::uint64_t before =
      watched.recorder() != nullptr ? watched.recorder()->retired_so_far() : 0;
  run_driver([&] { callback(to_c(channel)); });
  const std::uint64_t retired =
      watched.recorder() != nullptr ? watched.recorder()->retired_so_far() - before : 0;
  watched.end(retired != 0 ? "retire " + std::to_string(retired) : "");
}
void started(k::VMBCHANNEL channel) {
  const auto callback = Bindings::instance().channel(channel).state.EvtChannelStarted;
  WatchedCallback watched(channel, "Started", "EvtChannelStarted");
  run_driver([&] { callback(to_c(channel)); });
}
void post_started(k::VMBCHANNEL channel) {
  const auto callback = Bindings::instance().channel(channel).state.EvtChannelPostStarted;
  WatchedCallback watched(channel, "PostStarted", "EvtChannelPostStarted");
  run_driver([&] { callback(to_c(channel)); });
}
void process_packet(k::VMBCHANNEL channel, k::VMBPACKETCOMPLETION packet, k::PVOID buffer,
                    k::UINT32 length, k::UINT32 flags) {
  const auto callback = Bindings::instance().channel(channel).process_packet;
  const auto call = [&] { callback(to_c(channel), to_c(packet), buffer, length, flags); };
  k::DriverRecorder* recorder = recorder_of(key_of(channel));
  if (recorder == nullptr) {
    run_driver(call);
    return;
  }
  k::DriverRecorder::Begun begun = recorder->begin_process_packet(packet, buffer, length, flags);
  {
    const k::DriverCodeScope scope(std::move(begun.position));
    run_driver(call);
  }
  recorder->end_process_packet(begun.token, packet);
}
void processing_complete(k::VMBCHANNEL channel, k::UINT32 processed) {
  const auto callback = Bindings::instance().channel(channel).processing_complete;
  WatchedCallback watched(channel, "ProcessingComplete", "EvtVmbChannelProcessingComplete");
  watched.end(std::to_string(processed));
  run_driver([&] { callback(to_c(channel), processed); });
}
void pnp_failure(k::VMBCHANNEL channel, k::NTSTATUS status) {
  const auto callback = Bindings::instance().channel(channel).pnp_failure;
  run_driver([&] { callback(to_c(channel), status); });
}
void packet_completed(k::VMBPACKET packet, k::NTSTATUS status, k::PVOID buffer, k::UINT32 length) {
  const auto routine = Bindings::instance().completion_routine(packet);
  const auto call = [&] { routine(to_c(packet), status, buffer, length); };
  k::DriverRecorder* recorder = recorder_of(key_of(packet));
  if (recorder == nullptr) {
    run_driver(call);
    return;
  }
  k::DriverRecorder::Begun begun = recorder->begin_completion(packet, status, buffer, length);
  const k::DriverCodeScope scope(std::move(begun.position));
  run_driver(call);
}

// A send of the driver's (`status` says whether it went): with a completion
// routine of the driver's own, the recorder numbers it.
NTSTATUS watched_send(VMBPACKET packet, NTSTATUS status) {
  if (NT_SUCCESS(status) && Bindings::instance().has_completion_routine(to_model(packet))) {
    if (k::DriverRecorder* recorder = recorder_of(key_of(packet))) {
      recorder->on_send(to_model(packet));
    }
  }
  return status;
}

template <typename Trampoline, typename Callback>
Trampoline* if_set(Trampoline* trampoline, Callback* callback) {
  return callback != nullptr ? trampoline : nullptr;
}

// --- The interface tables ------------------------------------------------------------------

void interface_reference(PVOID) {}
void interface_dereference(PVOID) {}

KMCL_CLIENT_INTERFACE_V1 client_table();

KMCL_SERVER_INTERFACE_V1 server_table() {
  KMCL_SERVER_INTERFACE_V1 table{};
  table.ClientInterface = client_table();
  table.ClientInterface.InterfaceHeader.Size = sizeof(KMCL_SERVER_INTERFACE_V1);
  table.ServerOnlyMethods.VmbServerChannelInitSetFlags = VmbServerChannelInitSetFlags;
  table.ServerOnlyMethods.VmbServerChannelInitSetTargetInterfaceId =
      VmbServerChannelInitSetTargetInterfaceId;
  return table;
}

}  // namespace

namespace vmbus::kmcl {

::_DEVICE_OBJECT* as_device_object(Device& device) {
  return reinterpret_cast<::_DEVICE_OBJECT*>(&device);
}

}  // namespace vmbus::kmcl

extern "C" {

const GUID KMCL_CLIENT_INTERFACE_TYPE = to_c(k::KMCL_CLIENT_INTERFACE_TYPE);
// The model's own, like the client's: {6b6d636c-5632-4d6f-6465-6c4b4d434c53}.
const GUID KMCL_SERVER_INTERFACE_TYPE = {
    0x6b6d636c, 0x5632, 0x4d6f, {0x64, 0x65, 0x6c, 0x4b, 0x4d, 0x43, 0x4c, 0x53}};

KIRQL KeGetCurrentIrql(VOID) {
  return k::KeGetCurrentIrql();
}

// --- Lifecycle -------------------------------------------------------------------------------

NTSTATUS VmbChannelAllocate(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                            VMBCHANNEL* Channel) {
  k::VMBCHANNEL channel = nullptr;
  const NTSTATUS status = k::VmbChannelAllocate(device_of(ParentDeviceObject), IsServer,
                                                Channel != nullptr ? &channel : nullptr);
  if (Channel != nullptr) {
    *Channel = to_c(channel);
  }
  return status;
}

VOID VmbChannelCleanup(VMBCHANNEL Channel) {
  k::VmbChannelCleanup(to_model(Channel));
  Bindings::instance().forget_all_retired();
}

NTSTATUS VmbChannelEnable(VMBCHANNEL Channel) {
  // A watched driver that set no state-change callbacks still gets the
  // Closed trampoline (see closed()), while Init calls are still legal.
  if (recorder_of(key_of(Channel)) != nullptr && handle_live(key_of(Channel))) {
    bool install = false;
    Bindings::instance().update_channel(to_model(Channel), [&](ChannelBinding& binding) {
      install = !binding.state_set;
      binding.state_set = true;
    });
    if (install) {
      k::VMB_CHANNEL_STATE_CHANGE_CALLBACKS model{};
      k::VMB_CHANNEL_STATE_CHANGE_CALLBACKS_INIT(&model);
      model.EvtChannelClosed = closed;
      k::VmbChannelInitSetStateChangeCallbacks(to_model(Channel), &model);
    }
  }
  return k::VmbChannelEnable(to_model(Channel));
}

VOID VmbChannelDisable(VMBCHANNEL Channel) {
  k::VmbChannelDisable(to_model(Channel));
}

// --- Init ------------------------------------------------------------------------------------

NTSTATUS VmbChannelInitSetMaximumPacketSize(VMBCHANNEL Channel, UINT32 PacketSize) {
  return k::VmbChannelInitSetMaximumPacketSize(to_model(Channel), PacketSize);
}

NTSTATUS VmbChannelInitSetMaximumExternalData(VMBCHANNEL Channel, UINT32 DataSize,
                                              UINT32 ChainLength) {
  return k::VmbChannelInitSetMaximumExternalData(to_model(Channel), DataSize, ChainLength);
}

NTSTATUS VmbChannelInitSetClientContextSize(VMBCHANNEL Channel, UINT32 ContextSize) {
  return k::VmbChannelInitSetClientContextSize(to_model(Channel), ContextSize);
}

NTSTATUS VmbChannelInitSetProcessPacketCallbacks(
    VMBCHANNEL Channel, PFN_VMB_CHANNEL_PROCESS_PACKET ProcessPacketCallback,
    PFN_VMB_CHANNEL_PROCESSING_COMPLETE ProcessingCompleteCallback) {
  const NTSTATUS status = k::VmbChannelInitSetProcessPacketCallbacks(
      to_model(Channel), if_set(process_packet, ProcessPacketCallback),
      if_set(processing_complete, ProcessingCompleteCallback));
  if (NT_SUCCESS(status)) {
    Bindings::instance().update_channel(to_model(Channel), [&](ChannelBinding& binding) {
      binding.process_packet = ProcessPacketCallback;
      binding.processing_complete = ProcessingCompleteCallback;
    });
  }
  return status;
}

NTSTATUS VmbChannelInitSetStateChangeCallbacks(
    VMBCHANNEL Channel, PVMB_CHANNEL_STATE_CHANGE_CALLBACKS StateChangeCallbacks) {
  if (StateChangeCallbacks == nullptr) {
    return k::VmbChannelInitSetStateChangeCallbacks(to_model(Channel), nullptr);
  }
  const VMB_CHANNEL_STATE_CHANGE_CALLBACKS& callbacks = *StateChangeCallbacks;
  k::VMB_CHANNEL_STATE_CHANGE_CALLBACKS model{};
  model.Version = callbacks.Version;
  // The model checks Size against its own structure; a C caller's Size is
  // right when it is the C structure's.
  model.Size = callbacks.Size == sizeof(VMB_CHANNEL_STATE_CHANGE_CALLBACKS)
                   ? static_cast<k::ULONG>(sizeof(k::VMB_CHANNEL_STATE_CHANGE_CALLBACKS))
                   : 0;
  model.EvtChannelOpened = if_set(opened, callbacks.EvtChannelOpened);
  const bool watched = recorder_of(key_of(Channel)) != nullptr;
  model.EvtChannelClosed = watched ? closed : if_set(closed, callbacks.EvtChannelClosed);
  model.EvtChannelSuspend = if_set(suspend, callbacks.EvtChannelSuspend);
  model.EvtChannelStarted = if_set(started, callbacks.EvtChannelStarted);
  model.EvtChannelPostStarted = if_set(post_started, callbacks.EvtChannelPostStarted);
  const NTSTATUS status = k::VmbChannelInitSetStateChangeCallbacks(to_model(Channel), &model);
  if (NT_SUCCESS(status)) {
    Bindings::instance().update_channel(to_model(Channel), [&](ChannelBinding& binding) {
      binding.state = callbacks;
      binding.state_set = true;
    });
  }
  return status;
}

NTSTATUS VmbChannelInitSetFriendlyName(VMBCHANNEL Channel, PCUNICODE_STRING Name) {
  if (Name == nullptr) {
    return k::VmbChannelInitSetFriendlyName(to_model(Channel), nullptr);
  }
  std::u16string text;
  if (Name->Buffer != nullptr) {
    text.assign(Name->Buffer, Name->Length / sizeof(WCHAR));
  }
  const k::UNICODE_STRING model{Name->Length, Name->MaximumLength,
                                Name->Buffer != nullptr ? text.data() : nullptr};
  return k::VmbChannelInitSetFriendlyName(to_model(Channel), &model);
}

NTSTATUS VmbChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags) {
  return k::VmbChannelInitSetFlags(to_model(Channel), Flags);
}

NTSTATUS VmbClientChannelInitSetRingBufferPageCount(VMBCHANNEL Channel, UINT32 IncomingPageCount,
                                                    UINT32 OutgoingPageCount) {
  return k::VmbClientChannelInitSetRingBufferPageCount(to_model(Channel), IncomingPageCount,
                                                       OutgoingPageCount);
}

NTSTATUS VmbClientChannelInitSetTargetPnp(VMBCHANNEL Channel, LPCGUID InterfaceType,
                                          LPCGUID InterfaceInstance,
                                          PFN_VMB_CHANNEL_PNP_FAILURE PnpFailureCallback) {
  const k::GUID type = InterfaceType != nullptr ? to_model(*InterfaceType) : k::GUID{};
  const k::GUID instance = InterfaceInstance != nullptr ? to_model(*InterfaceInstance) : k::GUID{};
  const NTSTATUS status = k::VmbClientChannelInitSetTargetPnp(
      to_model(Channel), InterfaceType != nullptr ? &type : nullptr,
      InterfaceInstance != nullptr ? &instance : nullptr, if_set(pnp_failure, PnpFailureCallback));
  if (NT_SUCCESS(status)) {
    Bindings::instance().update_channel(to_model(Channel), [&](ChannelBinding& binding) {
      binding.pnp_failure = PnpFailureCallback;
    });
  }
  return status;
}

NTSTATUS VmbServerChannelInitSetFlags(VMBCHANNEL Channel, UINT32 Flags) {
  return k::VmbServerChannelInitSetFlags(to_model(Channel), Flags);
}

NTSTATUS VmbServerChannelInitSetTargetInterfaceId(VMBCHANNEL Channel, GUID InterfaceType,
                                                  GUID InterfaceInstance) {
  return k::VmbServerChannelInitSetTargetInterfaceId(to_model(Channel), to_model(InterfaceType),
                                                     to_model(InterfaceInstance));
}

// --- Receive path ----------------------------------------------------------------------------

VOID VmbChannelPacketComplete(VMBPACKETCOMPLETION PacketCompletionContext,
                              PVOID PacketCompletionBuffer, UINT32 BufSize) {
  const WatchedPacketCall watched(PacketCompletionContext);
  k::VmbChannelPacketComplete(to_model(PacketCompletionContext), PacketCompletionBuffer, BufSize);
  watched.done("complete");
  Bindings::instance().forget_if_retired(key_of(PacketCompletionContext));
}

VOID VmbChannelPacketDeferToPassive(VMBPACKETCOMPLETION PacketCompletionContext) {
  const WatchedPacketCall watched(PacketCompletionContext);
  k::VmbChannelPacketDeferToPassive(to_model(PacketCompletionContext));
  watched.done("defer", true);
}

VOID VmbChannelPacketFail(VMBPACKETCOMPLETION PacketCompletionContext) {
  const WatchedPacketCall watched(PacketCompletionContext);
  k::VmbChannelPacketFail(to_model(PacketCompletionContext));
  watched.done("fail");
  Bindings::instance().forget_if_retired(key_of(PacketCompletionContext));
}

NTSTATUS VmbChannelPacketGetExternalData(VMBPACKETCOMPLETION PacketCompletionContext, UINT32 Flags,
                                         PMDL* Mdl) {
  const WatchedPacketCall watched(PacketCompletionContext);
  k::PMDL chain = nullptr;
  const NTSTATUS status = k::VmbChannelPacketGetExternalData(
      to_model(PacketCompletionContext), Flags, Mdl != nullptr ? &chain : nullptr);
  const bool pending = status == STATUS_PENDING;
  watched.done(pending ? "external-data-pending" : "external-data", pending);
  if (Mdl != nullptr) {
    *Mdl = chain != nullptr
               ? Bindings::instance().external_data(to_model(PacketCompletionContext), chain)
               : nullptr;
  }
  return status;
}

// --- Queue control ---------------------------------------------------------------------------

VOID VmbChannelPause(VMBCHANNEL Channel) {
  k::VmbChannelPause(to_model(Channel));
}

VOID VmbChannelStart(VMBCHANNEL Channel) {
  k::VmbChannelStart(to_model(Channel));
}

VOID VmbChannelSetIncomingProcessingAtPassive(VMBCHANNEL Channel, BOOLEAN RequirePassive) {
  k::VmbChannelSetIncomingProcessingAtPassive(to_model(Channel), RequirePassive);
}

VOID VmbChannelSetTransactionQuota(VMBCHANNEL Channel, UINT32 Quota) {
  k::VmbChannelSetTransactionQuota(to_model(Channel), Quota);
}

NTSTATUS VmbChannelSetInterruptLatency(VMBCHANNEL Channel, UINT16 Latency,
                                       PUINT16 OriginalLatency) {
  return k::VmbChannelSetInterruptLatency(to_model(Channel), Latency, OriginalLatency);
}

// --- Send path -------------------------------------------------------------------------------

VMBPACKET VmbPacketAllocate(VMBCHANNEL Channel) {
  return to_c(k::VmbPacketAllocate(to_model(Channel)));
}

UINT32 VmbChannelSizeofPacket(VMBCHANNEL Channel) {
  return k::VmbChannelSizeofPacket(to_model(Channel));
}

NTSTATUS VmbPacketInitialize(VMBCHANNEL Channel, VMBPACKET VmbPacket, UINT32 ByteCount) {
  return k::VmbPacketInitialize(to_model(Channel), to_model(VmbPacket), ByteCount);
}

VOID VmbPacketFree(VMBPACKET VmbPacket) {
  k::VmbPacketFree(to_model(VmbPacket));
  Bindings::instance().forget_if_retired(key_of(VmbPacket));
}

VOID VmbPacketSetCompletionRoutine(VMBPACKET PacketObject,
                                   PFN_VMB_PACKET_COMPLETION_ROUTINE CompletionRoutine) {
  // The routine is bound before the model holds the trampoline, so that it
  // can never run unbound.
  if (CompletionRoutine != nullptr) {
    Bindings::instance().set_completion_routine(to_model(PacketObject), CompletionRoutine);
  }
  k::VmbPacketSetCompletionRoutine(to_model(PacketObject),
                                   if_set(packet_completed, CompletionRoutine));
  Bindings::instance().forget_if_retired(key_of(PacketObject));
}

NTSTATUS VmbPacketSend(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                       PMDL ExternalDataMdl, UINT32 Flags) {
  std::vector<k::MDL> chain = to_model_chain(ExternalDataMdl);
  return watched_send(PacketObject, k::VmbPacketSend(to_model(PacketObject), Buffer, BufferLength,
                                                     model_head(chain), Flags));
}

NTSTATUS VmbPacketSendWithExternalMdl(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                      PMDL ExternalDataMdl, UINT32 MdlOffset, UINT32 MdlLength,
                                      UINT32 Flags) {
  std::vector<k::MDL> chain = to_model_chain(ExternalDataMdl);
  return watched_send(PacketObject, k::VmbPacketSendWithExternalMdl(to_model(PacketObject), Buffer,
                                                                    BufferLength, model_head(chain),
                                                                    MdlOffset, MdlLength, Flags));
}

NTSTATUS VmbPacketSendWithExternalPfns(VMBPACKET PacketObject, PVOID Buffer, UINT32 BufferLength,
                                       PPFN_NUMBER ExternalDataPfns, UINT32 PfnLength,
                                       UINT32 Flags) {
  return watched_send(PacketObject,
                      k::VmbPacketSendWithExternalPfns(to_model(PacketObject), Buffer, BufferLength,
                                                       ExternalDataPfns, PfnLength, Flags));
}

NTSTATUS VmbChannelSendSynchronousRequest(VMBCHANNEL Channel, PVOID Buffer, UINT32 BufferSize,
                                          PMDL ExternalDataMdl, UINT32 Flags,
                                          PVOID CompletionBuffer, PUINT32 CompletionBufferSize,
                                          PLARGE_INTEGER Timeout) {
  std::vector<k::MDL> chain = to_model_chain(ExternalDataMdl);
  k::LARGE_INTEGER timeout{Timeout != nullptr ? Timeout->QuadPart : 0};
  k::DriverRecorder* recorder = recorder_of(key_of(Channel));
  if (recorder == nullptr) {
    return k::VmbChannelSendSynchronousRequest(
        to_model(Channel), Buffer, BufferSize, model_head(chain), Flags, CompletionBuffer,
        CompletionBufferSize, Timeout != nullptr ? &timeout : nullptr);
  }
  const UINT32 room = CompletionBufferSize != nullptr ? *CompletionBufferSize : 0;
  const k::DriverRecorder::SyncBegun begun = recorder->begin_synchronous_request();
  const NTSTATUS status = k::VmbChannelSendSynchronousRequest(
      to_model(Channel), Buffer, BufferSize, model_head(chain), Flags, CompletionBuffer,
      CompletionBufferSize, Timeout != nullptr ? &timeout : nullptr);
  const UINT32 answered =
      CompletionBufferSize != nullptr ? std::min(*CompletionBufferSize, room) : 0;
  recorder->end_synchronous_request(begun, status, CompletionBuffer, answered);
  return status;
}

// --- Accessors -------------------------------------------------------------------------------

VOID VmbPacketSetPointer(VMBPACKET PacketObject, PVOID Pointer) {
  k::VmbPacketSetPointer(to_model(PacketObject), Pointer);
}

PVOID VmbPacketGetPointer(VMBPACKET PacketObject) {
  return k::VmbPacketGetPointer(to_model(PacketObject));
}

VMBCHANNEL VmbPacketGetChannel(VMBPACKET PacketObject) {
  return to_c(k::VmbPacketGetChannel(to_model(PacketObject)));
}

VOID VmbChannelSetPointer(VMBCHANNEL Channel, PVOID Pointer) {
  k::VmbChannelSetPointer(to_model(Channel), Pointer);
}

PVOID VmbChannelGetPointer(VMBCHANNEL Channel) {
  return k::VmbChannelGetPointer(to_model(Channel));
}

VOID VmbChannelGetInterfaceInstance(VMBCHANNEL Channel, LPGUID InterfaceInstance) {
  if (InterfaceInstance == nullptr) {
    k::VmbChannelGetInterfaceInstance(to_model(Channel), nullptr);
    return;
  }
  k::GUID instance = to_model(*InterfaceInstance);
  k::VmbChannelGetInterfaceInstance(to_model(Channel), &instance);
  *InterfaceInstance = to_c(instance);
}

// --- Not supported by the model --------------------------------------------------------------

NTSTATUS VmbChannelCreateGpadlFromBuffer(VMBCHANNEL Channel, UINT32 Flags, PVOID Buffer,
                                         UINT32 ByteCount, PUINT32 GpadlHandle) {
  return k::VmbChannelCreateGpadlFromBuffer(to_model(Channel), Flags, Buffer, ByteCount,
                                            GpadlHandle);
}

NTSTATUS VmbChannelCreateGpadlFromMdl(VMBCHANNEL Channel, UINT32 Flags, PMDL Mdl,
                                      UINT32 StartOffsetWithinMdl, UINT32 DataLengthWithinMdl,
                                      PUINT32 GpadlHandle) {
  std::vector<k::MDL> chain = to_model_chain(Mdl);
  return k::VmbChannelCreateGpadlFromMdl(to_model(Channel), Flags, model_head(chain),
                                         StartOffsetWithinMdl, DataLengthWithinMdl, GpadlHandle);
}

VOID VmbChannelDeleteGpadl(VMBCHANNEL Channel, UINT32 GpadlHandle) {
  k::VmbChannelDeleteGpadl(to_model(Channel), GpadlHandle);
}

VOID VmbChannelGetMmioSpace(VMBCHANNEL Channel, UINT64* MmioAddress, UINT64* MmioSize) {
  k::VmbChannelGetMmioSpace(to_model(Channel), MmioAddress, MmioSize);
}

// --- The interface tables --------------------------------------------------------------------

NTSTATUS KmclQueryInterface(LPCGUID InterfaceType, PINTERFACE Interface, USHORT Size,
                            USHORT Version) {
  if (InterfaceType == nullptr || Interface == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (same_guid(*InterfaceType, KMCL_SERVER_INTERFACE_TYPE)) {
    if (Version != KMCL_SERVER_INTERFACE_VERSION_V1) {
      return STATUS_NOT_SUPPORTED;
    }
    if (Size < sizeof(KMCL_SERVER_INTERFACE_V1)) {
      return STATUS_BUFFER_TOO_SMALL;
    }
    const KMCL_SERVER_INTERFACE_V1 table = server_table();
    std::memcpy(static_cast<void*>(Interface), &table, sizeof(table));
    return STATUS_SUCCESS;
  }
  // The model decides for the client interface (type, version, size), in
  // its own structure; the C table is filled only if it says yes.
  const k::GUID type = to_model(*InterfaceType);
  k::KMCL_CLIENT_INTERFACE_V1 model{};
  const auto model_size = Size < sizeof(KMCL_CLIENT_INTERFACE_V1)
                              ? USHORT{0}
                              : static_cast<USHORT>(sizeof(k::KMCL_CLIENT_INTERFACE_V1));
  const NTSTATUS status = k::KmclQueryInterface(&type, &model.InterfaceHeader, model_size, Version);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  const KMCL_CLIENT_INTERFACE_V1 table = client_table();
  std::memcpy(static_cast<void*>(Interface), &table, sizeof(table));
  return STATUS_SUCCESS;
}

}  // extern "C"

namespace {

KMCL_CLIENT_INTERFACE_V1 client_table() {
  KMCL_CLIENT_INTERFACE_V1 table{};
  table.InterfaceHeader.Size = sizeof(KMCL_CLIENT_INTERFACE_V1);
  table.InterfaceHeader.Version = KMCL_CLIENT_INTERFACE_VERSION_V1;
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
  return table;
}

}  // namespace
