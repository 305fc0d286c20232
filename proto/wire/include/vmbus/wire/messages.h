// The VMBus control-plane messages (CHANNELMSG_*), byte for byte.
//
// Source of every size and offset: Linux include/linux/hyperv.h, where every
// struct is __packed; cross-checked against QEMU and DPDK. Offsets are from the start of the
// SynIC message payload, so every struct starts with the 8-byte header.
//
// The structs are laid out with natural alignment, no #pragma pack: every
// field already sits at a multiple of its size, except OFFERCHANNEL's two u64
// reserved fields, which are modelled as u32 pairs so the struct stays
// 4-aligned and 196 bytes (QEMU's unpacked struct with u64s is 200). Fields
// can therefore be bound to references (gtest, std::min) without packed-field
// errors. The GPADL PFN arrays start at unaligned offsets and vary in length,
// so they are not struct members: GpadlHeader and GpadlBody are the fixed
// parts, and the constants below give the offset and capacity of the tails.
//
// Each struct defaults to its own msgtype and zero everywhere else.
// Encoding, parsing and printing live in codec.h; the per-type facts
// (name, direction, minimum payload) in message_table.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <variant>
#include <vector>

#include "vmbus/wire/guid.h"
#include "vmbus/wire/synic.h"

namespace vmbus::wire {

// enum vmbus_channel_message_type. msgtype on the wire is any u32; values
// outside this enum are reported by the parser, never cast blindly.
enum class MessageType : std::uint32_t {
  kInvalid = 0,                 // CHANNELMSG_INVALID
  kOfferChannel = 1,            // CHANNELMSG_OFFERCHANNEL
  kRescindChannelOffer = 2,     // CHANNELMSG_RESCIND_CHANNELOFFER
  kRequestOffers = 3,           // CHANNELMSG_REQUESTOFFERS
  kAllOffersDelivered = 4,      // CHANNELMSG_ALLOFFERS_DELIVERED
  kOpenChannel = 5,             // CHANNELMSG_OPENCHANNEL
  kOpenChannelResult = 6,       // CHANNELMSG_OPENCHANNEL_RESULT
  kCloseChannel = 7,            // CHANNELMSG_CLOSECHANNEL
  kGpadlHeader = 8,             // CHANNELMSG_GPADL_HEADER
  kGpadlBody = 9,               // CHANNELMSG_GPADL_BODY
  kGpadlCreated = 10,           // CHANNELMSG_GPADL_CREATED
  kGpadlTeardown = 11,          // CHANNELMSG_GPADL_TEARDOWN
  kGpadlTorndown = 12,          // CHANNELMSG_GPADL_TORNDOWN
  kRelidReleased = 13,          // CHANNELMSG_RELID_RELEASED
  kInitiateContact = 14,        // CHANNELMSG_INITIATE_CONTACT
  kVersionResponse = 15,        // CHANNELMSG_VERSION_RESPONSE
  kUnload = 16,                 // CHANNELMSG_UNLOAD
  kUnloadResponse = 17,         // CHANNELMSG_UNLOAD_RESPONSE
  kUnused18 = 18,               // CHANNELMSG_18
  kUnused19 = 19,               // CHANNELMSG_19
  kUnused20 = 20,               // CHANNELMSG_20
  kTlConnectRequest = 21,       // CHANNELMSG_TL_CONNECT_REQUEST
  kModifyChannel = 22,          // CHANNELMSG_MODIFYCHANNEL
  kTlConnectResult = 23,        // CHANNELMSG_TL_CONNECT_RESULT
  kModifyChannelResponse = 24,  // CHANNELMSG_MODIFYCHANNEL_RESPONSE
};

// CHANNELMSG_COUNT: msgtype values 0 .. kMessageTypeCount - 1 have a name.
inline constexpr std::uint32_t kMessageTypeCount = 25;

// --- Common header (struct vmbus_channel_message_header) -------------------

struct MessageHeader {
  std::uint32_t msgtype = 0;  // MessageType
  std::uint32_t padding = 0;

  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};
static_assert(sizeof(MessageHeader) == 8);
static_assert(offsetof(MessageHeader, msgtype) == 0);
static_assert(offsetof(MessageHeader, padding) == 4);

inline constexpr std::uint32_t kMessageHeaderBytes = sizeof(MessageHeader);

constexpr MessageHeader header_for(MessageType type) {
  return MessageHeader{static_cast<std::uint32_t>(type), 0};
}

// --- CHANNELMSG_OFFERCHANNEL (struct vmbus_channel_offer_channel) ----------

// chn_flags bits (VMBUS_CHANNEL_*). 0x2 and 0x4 were once
// SERVER_SUPPORTS_TRANSFER_PAGES and SERVER_SUPPORTS_GPADLS; VMBus 6.0
// (Confidential VMBus) gave them their current meaning: a paravisor's offer
// whose ring buffer, or whose GPA-direct and further GPADL memory, must be
// encrypted. A guest that is not confidential refuses such an offer, so a
// host sets them only for a channel that is.
inline constexpr std::uint16_t kChannelFlagEnumerateDeviceInterface = 0x1;
inline constexpr std::uint16_t kChannelFlagConfidentialRingBuffer = 0x2;
inline constexpr std::uint16_t kChannelFlagConfidentialExternalMemory = 0x4;
inline constexpr std::uint16_t kChannelFlagNamedPipeMode = 0x10;
inline constexpr std::uint16_t kChannelFlagLoopbackOffer = 0x100;
inline constexpr std::uint16_t kChannelFlagParentOffer = 0x200;
inline constexpr std::uint16_t kChannelFlagRequestMonitoredNotification = 0x400;
inline constexpr std::uint16_t kChannelFlagTlnpiProviderOffer = 0x2000;  // hv_sock

// MAX_USER_DEFINED_BYTES: OFFERCHANNEL user_def and OPENCHANNEL userdata.
inline constexpr std::uint32_t kMaxUserDefinedBytes = 120;
// In named-pipe mode user_def starts with u32 pipe_mode, then 116 bytes.
inline constexpr std::uint32_t kPipeModeByte = 0;     // VMBUS_PIPE_TYPE_BYTE
inline constexpr std::uint32_t kPipeModeMessage = 4;  // VMBUS_PIPE_TYPE_MESSAGE

// monitor_flags bit 0 (Linux bitfield monitor_allocated:1).
inline constexpr std::uint8_t kOfferMonitorAllocated = 0x1;
// interrupt_flags bit 0 (Linux bitfield is_dedicated_interrupt:1).
inline constexpr std::uint16_t kOfferDedicatedInterrupt = 0x1;

struct OfferChannel {
  static constexpr MessageType kType = MessageType::kOfferChannel;

  MessageHeader header = header_for(kType);
  Guid if_type;                  // device class
  Guid if_instance;              // this device
  std::uint32_t reserved1[2]{};  // a u64 in Linux; DPDK: chlat, latency in 100 ns units
  std::uint32_t reserved2[2]{};  // a u64 in Linux; DPDK: chrev, svrctx_sz
  std::uint16_t chn_flags = 0;   // kChannelFlag*
  std::uint16_t mmio_megabytes = 0;
  std::uint8_t user_def[kMaxUserDefinedBytes]{};
  std::uint16_t sub_channel_index = 0;  // 0: the primary channel
  std::uint16_t reserved3 = 0;
  std::uint32_t child_relid = 0;
  std::uint8_t monitorid = 0;         // monitor group monitorid / 32, bit monitorid % 32
  std::uint8_t monitor_flags = 0;     // kOfferMonitorAllocated; bits 1..7 reserved
  std::uint16_t interrupt_flags = 0;  // kOfferDedicatedInterrupt; bits 1..15 reserved
  std::uint32_t connection_id = 0;    // the guest signals the host with HvSignalEvent(this)

  bool monitor_allocated() const { return (monitor_flags & kOfferMonitorAllocated) != 0; }
  bool is_dedicated_interrupt() const { return (interrupt_flags & kOfferDedicatedInterrupt) != 0; }
  // The first four bytes of user_def as a little-endian u32 (meaningful when
  // chn_flags has kChannelFlagNamedPipeMode).
  std::uint32_t pipe_mode() const {
    return std::uint32_t{user_def[0]} | (std::uint32_t{user_def[1]} << 8) |
           (std::uint32_t{user_def[2]} << 16) | (std::uint32_t{user_def[3]} << 24);
  }

  friend bool operator==(const OfferChannel&, const OfferChannel&) = default;
};
static_assert(sizeof(OfferChannel) == 196);
static_assert(offsetof(OfferChannel, header) == 0);
static_assert(offsetof(OfferChannel, if_type) == 8);
static_assert(offsetof(OfferChannel, if_instance) == 24);
static_assert(offsetof(OfferChannel, reserved1) == 40);
static_assert(offsetof(OfferChannel, reserved2) == 48);
static_assert(offsetof(OfferChannel, chn_flags) == 56);
static_assert(offsetof(OfferChannel, mmio_megabytes) == 58);
static_assert(offsetof(OfferChannel, user_def) == 60);
static_assert(offsetof(OfferChannel, sub_channel_index) == 180);
static_assert(offsetof(OfferChannel, reserved3) == 182);
static_assert(offsetof(OfferChannel, child_relid) == 184);
static_assert(offsetof(OfferChannel, monitorid) == 188);
static_assert(offsetof(OfferChannel, monitor_flags) == 189);
static_assert(offsetof(OfferChannel, interrupt_flags) == 190);
static_assert(offsetof(OfferChannel, connection_id) == 192);

// --- CHANNELMSG_RESCIND_CHANNELOFFER ----------------------------------------

struct RescindChannelOffer {
  static constexpr MessageType kType = MessageType::kRescindChannelOffer;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;

  friend bool operator==(const RescindChannelOffer&, const RescindChannelOffer&) = default;
};
static_assert(sizeof(RescindChannelOffer) == 12);
static_assert(offsetof(RescindChannelOffer, header) == 0);
static_assert(offsetof(RescindChannelOffer, child_relid) == 8);

// --- Header-only messages ----------------------------------------------------

struct RequestOffers {
  static constexpr MessageType kType = MessageType::kRequestOffers;

  MessageHeader header = header_for(kType);

  friend bool operator==(const RequestOffers&, const RequestOffers&) = default;
};
static_assert(sizeof(RequestOffers) == 8);
static_assert(offsetof(RequestOffers, header) == 0);

struct AllOffersDelivered {
  static constexpr MessageType kType = MessageType::kAllOffersDelivered;

  MessageHeader header = header_for(kType);

  friend bool operator==(const AllOffersDelivered&, const AllOffersDelivered&) = default;
};
static_assert(sizeof(AllOffersDelivered) == 8);
static_assert(offsetof(AllOffersDelivered, header) == 0);

struct Unload {
  static constexpr MessageType kType = MessageType::kUnload;

  MessageHeader header = header_for(kType);

  friend bool operator==(const Unload&, const Unload&) = default;
};
static_assert(sizeof(Unload) == 8);
static_assert(offsetof(Unload, header) == 0);

struct UnloadResponse {
  static constexpr MessageType kType = MessageType::kUnloadResponse;

  MessageHeader header = header_for(kType);

  friend bool operator==(const UnloadResponse&, const UnloadResponse&) = default;
};
static_assert(sizeof(UnloadResponse) == 8);
static_assert(offsetof(UnloadResponse, header) == 0);

// --- CHANNELMSG_OPENCHANNEL / _RESULT, CLOSECHANNEL --------------------------

struct OpenChannel {
  static constexpr MessageType kType = MessageType::kOpenChannel;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t openid = 0;  // Linux: = child_relid; echoed in OPENCHANNEL_RESULT
  std::uint32_t ringbuffer_gpadlhandle = 0;
  std::uint32_t target_vp = 0;
  std::uint32_t downstream_ringbuffer_pageoffset = 0;  // pages of the GPADL in the outbound ring
  std::uint8_t userdata[kMaxUserDefinedBytes]{};

  friend bool operator==(const OpenChannel&, const OpenChannel&) = default;
};
static_assert(sizeof(OpenChannel) == 148);
static_assert(offsetof(OpenChannel, header) == 0);
static_assert(offsetof(OpenChannel, child_relid) == 8);
static_assert(offsetof(OpenChannel, openid) == 12);
static_assert(offsetof(OpenChannel, ringbuffer_gpadlhandle) == 16);
static_assert(offsetof(OpenChannel, target_vp) == 20);
static_assert(offsetof(OpenChannel, downstream_ringbuffer_pageoffset) == 24);
static_assert(offsetof(OpenChannel, userdata) == 28);

struct OpenChannelResult {
  static constexpr MessageType kType = MessageType::kOpenChannelResult;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t openid = 0;
  std::uint32_t status = 0;  // 0: success

  friend bool operator==(const OpenChannelResult&, const OpenChannelResult&) = default;
};
static_assert(sizeof(OpenChannelResult) == 20);
static_assert(offsetof(OpenChannelResult, header) == 0);
static_assert(offsetof(OpenChannelResult, child_relid) == 8);
static_assert(offsetof(OpenChannelResult, openid) == 12);
static_assert(offsetof(OpenChannelResult, status) == 16);

struct CloseChannel {
  static constexpr MessageType kType = MessageType::kCloseChannel;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;

  friend bool operator==(const CloseChannel&, const CloseChannel&) = default;
};
static_assert(sizeof(CloseChannel) == 12);
static_assert(offsetof(CloseChannel, header) == 0);
static_assert(offsetof(CloseChannel, child_relid) == 8);

// --- GPADL messages ----------------------------------------------------------

// GPADLs are described in Hyper-V pages whatever the guest's page size.
inline constexpr std::uint32_t kGpadlPageSizeBytes = 4096;
// One struct gpa_range header (byte_count, byte_offset) before its PFNs;
// range_buflen counts it.
inline constexpr std::uint32_t kGpaRangeHeaderBytes = 8;
inline constexpr std::uint32_t kPfnBytes = 8;

// The fixed part of CHANNELMSG_GPADL_HEADER (struct vmbus_channel_gpadl_header
// with its single struct gpa_range). range[0].pfn_array follows at offset
// kGpadlHeaderPfnOffsetBytes, which is not 8-aligned.
struct GpadlHeader {
  static constexpr MessageType kType = MessageType::kGpadlHeader;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t gpadl = 0;         // handle chosen by the guest
  std::uint16_t range_buflen = 0;  // 8 + 8 * total pages, including the pages sent in BODYs
  std::uint16_t rangecount = 0;    // Linux: always 1
  std::uint32_t byte_count = 0;    // range[0]: total bytes
  std::uint32_t byte_offset = 0;   // range[0]: offset into the first page

  friend bool operator==(const GpadlHeader&, const GpadlHeader&) = default;
};
static_assert(sizeof(GpadlHeader) == 28);
static_assert(offsetof(GpadlHeader, header) == 0);
static_assert(offsetof(GpadlHeader, child_relid) == 8);
static_assert(offsetof(GpadlHeader, gpadl) == 12);
static_assert(offsetof(GpadlHeader, range_buflen) == 16);
static_assert(offsetof(GpadlHeader, rangecount) == 18);
static_assert(offsetof(GpadlHeader, byte_count) == 20);
static_assert(offsetof(GpadlHeader, byte_offset) == 24);

inline constexpr std::uint32_t kGpadlHeaderPfnOffsetBytes = 28;
static_assert(kGpadlHeaderPfnOffsetBytes == sizeof(GpadlHeader));
// (240 - 28) / 8; FreeBSD VMBUS_CHANMSG_GPADL_CONN_PGMAX.
inline constexpr std::uint32_t kGpadlHeaderMaxPfns = 26;
static_assert(kGpadlHeaderMaxPfns ==
              (kHvMessagePayloadMaxBytes - kGpadlHeaderPfnOffsetBytes) / kPfnBytes);

// range_buflen is a u16, so one GPADL covers at most (65535 - 8) / 8 pages.
inline constexpr std::uint32_t kGpadlMaxPages = (0xFFFF - kGpaRangeHeaderBytes) / kPfnBytes;
static_assert(kGpadlMaxPages == 8190);

// The fixed part of CHANNELMSG_GPADL_BODY; pfn[] follows at offset 16.
struct GpadlBody {
  static constexpr MessageType kType = MessageType::kGpadlBody;

  MessageHeader header = header_for(kType);
  std::uint32_t msgnumber = 0;  // ignored by hosts; Linux and split_gpadl() send 0
  std::uint32_t gpadl = 0;

  friend bool operator==(const GpadlBody&, const GpadlBody&) = default;
};
static_assert(sizeof(GpadlBody) == 16);
static_assert(offsetof(GpadlBody, header) == 0);
static_assert(offsetof(GpadlBody, msgnumber) == 8);
static_assert(offsetof(GpadlBody, gpadl) == 12);

inline constexpr std::uint32_t kGpadlBodyPfnOffsetBytes = 16;
static_assert(kGpadlBodyPfnOffsetBytes == sizeof(GpadlBody));
// (240 - 16) / 8; FreeBSD VMBUS_CHANMSG_GPADL_SUBCONN_PGMAX.
inline constexpr std::uint32_t kGpadlBodyMaxPfns = 28;
static_assert(kGpadlBodyMaxPfns ==
              (kHvMessagePayloadMaxBytes - kGpadlBodyPfnOffsetBytes) / kPfnBytes);

// A decoded GPADL_HEADER: the fixed part and the PFNs carried in this message.
struct GpadlHeaderMessage {
  static constexpr MessageType kType = MessageType::kGpadlHeader;

  GpadlHeader fixed;
  std::vector<std::uint64_t> pfns;  // at most kGpadlHeaderMaxPfns

  friend bool operator==(const GpadlHeaderMessage&, const GpadlHeaderMessage&) = default;
};

// A decoded GPADL_BODY: the fixed part and the PFNs carried in this message.
struct GpadlBodyMessage {
  static constexpr MessageType kType = MessageType::kGpadlBody;

  GpadlBody fixed;
  std::vector<std::uint64_t> pfns;  // at most kGpadlBodyMaxPfns

  friend bool operator==(const GpadlBodyMessage&, const GpadlBodyMessage&) = default;
};

struct GpadlCreated {
  static constexpr MessageType kType = MessageType::kGpadlCreated;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t gpadl = 0;
  std::uint32_t creation_status = 0;  // 0: ok

  friend bool operator==(const GpadlCreated&, const GpadlCreated&) = default;
};
static_assert(sizeof(GpadlCreated) == 20);
static_assert(offsetof(GpadlCreated, header) == 0);
static_assert(offsetof(GpadlCreated, child_relid) == 8);
static_assert(offsetof(GpadlCreated, gpadl) == 12);
static_assert(offsetof(GpadlCreated, creation_status) == 16);

struct GpadlTeardown {
  static constexpr MessageType kType = MessageType::kGpadlTeardown;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t gpadl = 0;

  friend bool operator==(const GpadlTeardown&, const GpadlTeardown&) = default;
};
static_assert(sizeof(GpadlTeardown) == 16);
static_assert(offsetof(GpadlTeardown, header) == 0);
static_assert(offsetof(GpadlTeardown, child_relid) == 8);
static_assert(offsetof(GpadlTeardown, gpadl) == 12);

struct GpadlTorndown {
  static constexpr MessageType kType = MessageType::kGpadlTorndown;

  MessageHeader header = header_for(kType);
  std::uint32_t gpadl = 0;

  friend bool operator==(const GpadlTorndown&, const GpadlTorndown&) = default;
};
static_assert(sizeof(GpadlTorndown) == 12);
static_assert(offsetof(GpadlTorndown, header) == 0);
static_assert(offsetof(GpadlTorndown, gpadl) == 8);

// --- CHANNELMSG_RELID_RELEASED -----------------------------------------------

struct RelidReleased {
  static constexpr MessageType kType = MessageType::kRelidReleased;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;

  friend bool operator==(const RelidReleased&, const RelidReleased&) = default;
};
static_assert(sizeof(RelidReleased) == 12);
static_assert(offsetof(RelidReleased, header) == 0);
static_assert(offsetof(RelidReleased, child_relid) == 8);

// --- CHANNELMSG_INITIATE_CONTACT / VERSION_RESPONSE --------------------------

// The u64 at offset 16 is a union in Linux: the interrupt page's GPA before
// 5.0 (uses_message_connection_id_4() false), or {u8 msg_sint @16; u8 msg_vtl
// @17; u8 reserved[6]} from 5.0 on. It is one u64 here (no union type
// punning); the accessors read the bytes little-endian.
inline constexpr std::uint32_t kInitiateContactMsgSintOffset = 16;
inline constexpr std::uint32_t kInitiateContactMsgVtlOffset = 17;

struct InitiateContact {
  static constexpr MessageType kType = MessageType::kInitiateContact;

  MessageHeader header = header_for(kType);
  std::uint32_t vmbus_version_requested = 0;
  std::uint32_t target_vcpu = 0;     // the VP the host sends its messages to
  std::uint64_t interrupt_page = 0;  // or msg_sint / msg_vtl, see above
  std::uint64_t monitor_page1 = 0;   // GPA of monitor page 0 (parent -> child)
  std::uint64_t monitor_page2 = 0;   // GPA of monitor page 1 (child -> parent)

  std::uint8_t msg_sint() const { return static_cast<std::uint8_t>(interrupt_page); }
  std::uint8_t msg_vtl() const { return static_cast<std::uint8_t>(interrupt_page >> 8); }
  // The six bytes after msg_vtl, as an integer (bytes 18..23 of the payload).
  std::uint64_t target_info_reserved() const { return interrupt_page >> 16; }
  // The 5.0+ form: msg_sint and msg_vtl, reserved bytes zero.
  void set_msg_target(std::uint8_t sint, std::uint8_t vtl) {
    interrupt_page = std::uint64_t{sint} | (std::uint64_t{vtl} << 8);
  }

  friend bool operator==(const InitiateContact&, const InitiateContact&) = default;
};
static_assert(sizeof(InitiateContact) == 40);
static_assert(offsetof(InitiateContact, header) == 0);
static_assert(offsetof(InitiateContact, vmbus_version_requested) == 8);
static_assert(offsetof(InitiateContact, target_vcpu) == 12);
static_assert(offsetof(InitiateContact, interrupt_page) == 16);
static_assert(offsetof(InitiateContact, interrupt_page) == kInitiateContactMsgSintOffset);
static_assert(offsetof(InitiateContact, monitor_page1) == 24);
static_assert(offsetof(InitiateContact, monitor_page2) == 32);

struct VersionResponse {
  static constexpr MessageType kType = MessageType::kVersionResponse;

  MessageHeader header = header_for(kType);
  std::uint8_t version_supported = 0;  // non-zero: the requested version is accepted
  std::uint8_t connection_state = 0;
  std::uint16_t padding = 0;
  std::uint32_t msg_conn_id = 0;  // from 5.0: the connection id for later messages

  friend bool operator==(const VersionResponse&, const VersionResponse&) = default;
};
static_assert(sizeof(VersionResponse) == 16);
static_assert(offsetof(VersionResponse, header) == 0);
static_assert(offsetof(VersionResponse, version_supported) == 8);
static_assert(offsetof(VersionResponse, connection_state) == 9);
static_assert(offsetof(VersionResponse, padding) == 10);
static_assert(offsetof(VersionResponse, msg_conn_id) == 12);

// --- CHANNELMSG_TL_CONNECT_REQUEST (hv_sock) ---------------------------------

struct TlConnectRequest {
  static constexpr MessageType kType = MessageType::kTlConnectRequest;

  MessageHeader header = header_for(kType);
  Guid guest_endpoint_id;
  Guid host_service_id;

  friend bool operator==(const TlConnectRequest&, const TlConnectRequest&) = default;
};
static_assert(sizeof(TlConnectRequest) == 40);
static_assert(offsetof(TlConnectRequest, header) == 0);
static_assert(offsetof(TlConnectRequest, guest_endpoint_id) == 8);
static_assert(offsetof(TlConnectRequest, host_service_id) == 24);

// --- CHANNELMSG_MODIFYCHANNEL / _RESPONSE ------------------------------------

// Supported from 4.1; the host acknowledges it only from 5.3.
struct ModifyChannel {
  static constexpr MessageType kType = MessageType::kModifyChannel;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t target_vp = 0;

  friend bool operator==(const ModifyChannel&, const ModifyChannel&) = default;
};
static_assert(sizeof(ModifyChannel) == 16);
static_assert(offsetof(ModifyChannel, header) == 0);
static_assert(offsetof(ModifyChannel, child_relid) == 8);
static_assert(offsetof(ModifyChannel, target_vp) == 12);

struct ModifyChannelResponse {
  static constexpr MessageType kType = MessageType::kModifyChannelResponse;

  MessageHeader header = header_for(kType);
  std::uint32_t child_relid = 0;
  std::uint32_t status = 0;  // 0: success

  friend bool operator==(const ModifyChannelResponse&, const ModifyChannelResponse&) = default;
};
static_assert(sizeof(ModifyChannelResponse) == 16);
static_assert(offsetof(ModifyChannelResponse, header) == 0);
static_assert(offsetof(ModifyChannelResponse, child_relid) == 8);
static_assert(offsetof(ModifyChannelResponse, status) == 12);

// --- Every message the library can encode and decode -------------------------

// One alternative per implemented message type, in msgtype order. Each
// alternative names its type as T::kType.
using Message =
    std::variant<OfferChannel, RescindChannelOffer, RequestOffers, AllOffersDelivered, OpenChannel,
                 OpenChannelResult, CloseChannel, GpadlHeaderMessage, GpadlBodyMessage,
                 GpadlCreated, GpadlTeardown, GpadlTorndown, RelidReleased, InitiateContact,
                 VersionResponse, Unload, UnloadResponse, TlConnectRequest, ModifyChannel,
                 ModifyChannelResponse>;

// The msgtype of the message a Message holds.
MessageType message_type_of(const Message& message);

}  // namespace vmbus::wire
