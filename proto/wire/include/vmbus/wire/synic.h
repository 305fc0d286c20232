// SynIC message slot, post-message hypercall input, and the hypervisor
// constants VMBus's control plane is carried by.
//
// Source of every value and offset: Linux include/hyperv/hvgdk_mini.h and
// drivers/hv/hyperv_vmbus.h, QEMU hw/hyperv/vmbus.c. A VMBus control message is the payload of one
// HvMessage: at most 240 bytes, starting with the 8-byte CHANNELMSG header
// (messages.h). The simulator plays the hypervisor: it copies posted
// payloads into the receiver's SIMP slot kVmbusMessageSint.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace vmbus::wire {

static_assert(std::endian::native == std::endian::little,
              "VMBus structures are little-endian; vmbus-sim maps them directly");

// --- Message slot (struct hv_message) ---------------------------------------

inline constexpr std::uint32_t kHvMessageTypeNone = 0;   // HVMSG_NONE: the slot is free
inline constexpr std::uint32_t kHvMessageTypeVmbus = 1;  // every VMBus control message
inline constexpr std::uint32_t kHvMessageTypeTimerExpired = 0x80000010;  // HVMSG_TIMER_EXPIRED

inline constexpr std::uint32_t kHvMessageBytes = 256;
inline constexpr std::uint32_t kHvMessagePayloadMaxBytes = 240;

// message_flags bit 0: more messages are queued behind this one; the
// receiver writes the EOM register after freeing the slot.
inline constexpr std::uint8_t kHvMessageFlagPending = 0x1;

struct HvMessage {
  std::uint32_t message_type = kHvMessageTypeNone;
  std::uint8_t payload_size = 0;   // untrusted: may exceed kHvMessagePayloadMaxBytes
  std::uint8_t message_flags = 0;  // kHvMessageFlagPending
  std::uint16_t reserved = 0;
  std::uint64_t sender = 0;  // partition id, or the port id in the low 24 bits
  std::uint8_t payload[kHvMessagePayloadMaxBytes]{};
};
static_assert(sizeof(HvMessage) == kHvMessageBytes);
static_assert(offsetof(HvMessage, message_type) == 0);
static_assert(offsetof(HvMessage, payload_size) == 4);
static_assert(offsetof(HvMessage, message_flags) == 5);
static_assert(offsetof(HvMessage, reserved) == 6);
static_assert(offsetof(HvMessage, sender) == 8);
static_assert(offsetof(HvMessage, payload) == 16);

// --- SynIC pages ------------------------------------------------------------

inline constexpr std::uint32_t kSynicSintCount = 16;
// VMBUS_MESSAGE_SINT (HV_SYNIC_VMBUS_SINT_INDEX): VMBus uses SIMP slot 2
// (offset 0x200) and SIEFP slot 2.
inline constexpr std::uint32_t kVmbusMessageSint = 2;
// Every VP has its own SynIC (SIMP, SIEFP, SINTs). A simulated guest has at
// most this many VPs: enough to move a channel's interrupts between VPs.
inline constexpr std::uint32_t kMaxSimulatedGuestVps = 4;

// --- Connection and port ids ------------------------------------------------

// HvPostMessage / HvSignalEvent connection ids are 24 bits wide.
inline constexpr std::uint32_t kConnectionIdMask = 0x00FFFFFF;

inline constexpr std::uint32_t kVmbusMessageConnectionId = 1;   // VMBUS_MESSAGE_CONNECTION_ID
inline constexpr std::uint32_t kVmbusMessageConnectionId4 = 4;  // VMBUS_MESSAGE_CONNECTION_ID_4
inline constexpr std::uint32_t kVmbusEventConnectionId = 2;     // VMBUS_EVENT_CONNECTION_ID
inline constexpr std::uint32_t kVmbusMonitorConnectionId = 3;   // VMBUS_MONITOR_CONNECTION_ID

// The connection id a host gives a channel in its offer when it has no other
// plan: the guest signals the host for channel `child_relid` with
// HvSignalEvent(kChannelConnectionIdBase + child_relid). The simulated host
// always offers this id, so the hypervisor and the scenario engine can map
// an id back to its channel.
inline constexpr std::uint32_t kChannelConnectionIdBase = 0x10000;
constexpr std::uint32_t connection_id_of(std::uint32_t child_relid) {
  return kChannelConnectionIdBase + child_relid;
}
// The channel behind a channel connection id, or 0 for any other id.
constexpr std::uint32_t relid_of_connection_id(std::uint32_t connection_id) {
  return connection_id > kChannelConnectionIdBase ? connection_id - kChannelConnectionIdBase : 0;
}
inline constexpr std::uint32_t kVmbusMessagePortId = 1;  // VMBUS_MESSAGE_PORT_ID
inline constexpr std::uint32_t kVmbusEventPortId = 2;    // VMBUS_EVENT_PORT_ID
inline constexpr std::uint32_t kVmbusMonitorPortId = 3;  // VMBUS_MONITOR_PORT_ID

// --- Hypercalls -------------------------------------------------------------

inline constexpr std::uint16_t kHvCallPostMessage = 0x005c;  // HVCALL_POST_MESSAGE
inline constexpr std::uint16_t kHvCallSignalEvent = 0x005d;  // HVCALL_SIGNAL_EVENT (fast call)

// HVCALL_POST_MESSAGE input (struct hv_input_post_message).
struct HvInputPostMessage {
  std::uint32_t connection_id = 0;  // low 24 bits (kConnectionIdMask)
  std::uint32_t reserved = 0;
  std::uint32_t message_type = kHvMessageTypeVmbus;
  std::uint32_t payload_size = 0;  // untrusted: may exceed kHvMessagePayloadMaxBytes
  std::uint8_t payload[kHvMessagePayloadMaxBytes]{};
};
static_assert(sizeof(HvInputPostMessage) == 256);
static_assert(offsetof(HvInputPostMessage, connection_id) == 0);
static_assert(offsetof(HvInputPostMessage, reserved) == 4);
static_assert(offsetof(HvInputPostMessage, message_type) == 8);
static_assert(offsetof(HvInputPostMessage, payload_size) == 12);
static_assert(offsetof(HvInputPostMessage, payload) == 16);

// Hypercall status codes (HV_STATUS_*, Linux hvgdk_mini.h). What the
// post-message path returns (as QEMU and Hyper-V do): SUCCESS when queued;
// INVALID_CONNECTION_ID for an id the host does not listen on (a <= 4.0 host
// asked on id 4); INSUFFICIENT_BUFFERS when the port's queue is full (QEMU:
// 16 buffers); INVALID_HYPERCALL_INPUT for a malformed message (QEMU: too
// short, or an unknown CHANNELMSG type). Linux retries MEMORY, BUFFERS and
// CONNECTION_ID.
inline constexpr std::uint16_t kHvStatusSuccess = 0x0;
inline constexpr std::uint16_t kHvStatusInvalidHypercallCode = 0x2;
inline constexpr std::uint16_t kHvStatusInvalidHypercallInput = 0x3;
inline constexpr std::uint16_t kHvStatusInvalidAlignment = 0x4;
inline constexpr std::uint16_t kHvStatusInvalidParameter = 0x5;
inline constexpr std::uint16_t kHvStatusAccessDenied = 0x6;
inline constexpr std::uint16_t kHvStatusInsufficientMemory = 0xB;
inline constexpr std::uint16_t kHvStatusInvalidPortId = 0x11;
inline constexpr std::uint16_t kHvStatusInvalidConnectionId = 0x12;
inline constexpr std::uint16_t kHvStatusInsufficientBuffers = 0x13;

// "HV_STATUS_SUCCESS", ..., or nullptr for a code not listed above.
const char* hv_status_name(std::uint16_t status);

}  // namespace vmbus::wire
