// VMBus ring-buffer wire structures, byte for byte as Hyper-V lays them out.
//
// Source of every offset: Linux include/linux/hyperv.h (struct hv_ring_buffer,
// struct vmpacket_descriptor), cross-checked against DPDK, FreeBSD and QEMU.
// All fields are little-endian; the simulator only runs on little-endian hosts
// (checked below). The structs are used to name offsets and sizes; shared
// control words are accessed through std::atomic_ref by ring.h, never by
// plain loads and stores.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace vmbus::ring {

static_assert(std::endian::native == std::endian::little,
              "VMBus structures are little-endian; vmbus-sim maps them directly");

// Hyper-V page size. Rings, GPADLs and PFNs are in these units whatever the
// guest's own page size is.
inline constexpr std::uint32_t kHvPageSizeBytes = 4096;

// --- Ring control page (struct hv_ring_buffer) ------------------------------

// Bit 0 of feature_bits: the producer of this ring fills in pending_send_sz
// when it is blocked, and the consumer signals it when enough space frees up.
inline constexpr std::uint32_t kFeaturePendingSendSize = 1u << 0;

struct RingControlPage {
  std::uint32_t write_index;      // producer-owned byte offset into the data area
  std::uint32_t read_index;       // consumer-owned byte offset into the data area
  std::uint32_t interrupt_mask;   // consumer sets 1 while draining: "don't interrupt me"
  std::uint32_t pending_send_sz;  // producer sets the free bytes it needs when blocked
  std::uint32_t reserved1[12];
  std::uint32_t feature_bits;  // kFeaturePendingSendSize
  std::uint8_t reserved2[kHvPageSizeBytes - 68];
};

static_assert(sizeof(RingControlPage) == kHvPageSizeBytes);
static_assert(offsetof(RingControlPage, write_index) == 0x00);
static_assert(offsetof(RingControlPage, read_index) == 0x04);
static_assert(offsetof(RingControlPage, interrupt_mask) == 0x08);
static_assert(offsetof(RingControlPage, pending_send_sz) == 0x0C);
static_assert(offsetof(RingControlPage, reserved1) == 0x10);
static_assert(offsetof(RingControlPage, feature_bits) == 0x40);
static_assert(offsetof(RingControlPage, reserved2) == 0x44);

// The data area starts right after the control page.
inline constexpr std::uint32_t kRingDataOffsetBytes = kHvPageSizeBytes;

// --- Packet descriptor (struct vmpacket_descriptor) -------------------------

enum class PacketType : std::uint16_t {
  kInvalid = 0x0,                 // VM_PKT_INVALID
  kSynch = 0x1,                   // VM_PKT_SYNCH
  kAddXferPageset = 0x2,          // VM_PKT_ADD_XFER_PAGESET
  kRmXferPageset = 0x3,           // VM_PKT_RM_XFER_PAGESET
  kEstablishGpadl = 0x4,          // VM_PKT_ESTABLISH_GPADL
  kTeardownGpadl = 0x5,           // VM_PKT_TEARDOWN_GPADL
  kDataInband = 0x6,              // VM_PKT_DATA_INBAND
  kDataUsingXferPages = 0x7,      // VM_PKT_DATA_USING_XFER_PAGES
  kDataUsingGpadl = 0x8,          // VM_PKT_DATA_USING_GPADL
  kDataUsingGpaDirect = 0x9,      // VM_PKT_DATA_USING_GPA_DIRECT
  kCancelRequest = 0xa,           // VM_PKT_CANCEL_REQUEST
  kComp = 0xb,                    // VM_PKT_COMP
  kDataUsingAdditionalPkt = 0xc,  // VM_PKT_DATA_USING_ADDITIONAL_PKT
  kAdditionalData = 0xd,          // VM_PKT_ADDITIONAL_DATA
};

// The highest packet type value defined by the protocol.
inline constexpr std::uint16_t kMaxPacketTypeValue = 0xd;

// True for the types a reader accepts. VM_PKT_INVALID (0) and anything above
// VM_PKT_ADDITIONAL_DATA are not packets.
constexpr bool is_known_packet_type(std::uint16_t type) {
  return type >= 1 && type <= kMaxPacketTypeValue;
}

// The protocol name of a packet type ("VM_PKT_DATA_INBAND"), or nullptr.
const char* packet_type_name(std::uint16_t type);

// VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED.
inline constexpr std::uint16_t kPacketFlagCompletionRequested = 0x1;

struct PacketDescriptor {
  std::uint16_t type;     // PacketType
  std::uint16_t offset8;  // packet start to payload, in 8-byte units (>= 2)
  std::uint16_t len8;     // whole packet without the trailer, in 8-byte units
  std::uint16_t flags;    // kPacketFlagCompletionRequested
  std::uint64_t trans_id;
};

static_assert(sizeof(PacketDescriptor) == 16);
static_assert(offsetof(PacketDescriptor, type) == 0);
static_assert(offsetof(PacketDescriptor, offset8) == 2);
static_assert(offsetof(PacketDescriptor, len8) == 4);
static_assert(offsetof(PacketDescriptor, flags) == 6);
static_assert(offsetof(PacketDescriptor, trans_id) == 8);

inline constexpr std::uint32_t kPacketDescriptorBytes = sizeof(PacketDescriptor);
// The smallest legal offset8: the payload cannot start inside the descriptor.
inline constexpr std::uint16_t kMinOffset8 = kPacketDescriptorBytes / 8;
// After every packet the writer stores a u64 "previous indices" trailer:
// (u64)start_write_index << 32. Readers skip it.
inline constexpr std::uint32_t kPacketTrailerBytes = 8;
// Packets, trailers and therefore both indices are multiples of this.
inline constexpr std::uint32_t kPacketAlignmentBytes = 8;

// --- Extended headers -------------------------------------------------------

// One range of a transfer-page packet (struct vmtransfer_page_range).
struct TransferPageRange {
  std::uint32_t byte_count;
  std::uint32_t byte_offset;
};
static_assert(sizeof(TransferPageRange) == 8);
static_assert(offsetof(TransferPageRange, byte_count) == 0);
static_assert(offsetof(TransferPageRange, byte_offset) == 4);

// VM_PKT_DATA_USING_XFER_PAGES (struct vmtransfer_page_packet_header); the
// ranges follow at offset 24.
struct TransferPagePacketHeader {
  PacketDescriptor descriptor;
  std::uint16_t xfer_pageset_id;
  std::uint8_t sender_owns_set;
  std::uint8_t reserved;
  std::uint32_t range_cnt;
};
static_assert(sizeof(TransferPagePacketHeader) == 24);
static_assert(offsetof(TransferPagePacketHeader, descriptor) == 0);
static_assert(offsetof(TransferPagePacketHeader, xfer_pageset_id) == 16);
static_assert(offsetof(TransferPagePacketHeader, sender_owns_set) == 18);
static_assert(offsetof(TransferPagePacketHeader, reserved) == 19);
static_assert(offsetof(TransferPagePacketHeader, range_cnt) == 20);

// The fixed part of struct gpa_range; pfn_array[] (u64 each, one per 4 KiB
// page spanned by byte_offset..byte_offset+byte_count) follows at offset 8.
struct GpaRangeHeader {
  std::uint32_t byte_count;
  std::uint32_t byte_offset;
};
static_assert(sizeof(GpaRangeHeader) == 8);
static_assert(offsetof(GpaRangeHeader, byte_count) == 0);
static_assert(offsetof(GpaRangeHeader, byte_offset) == 4);

// VM_PKT_DATA_USING_GPA_DIRECT (struct vmdata_gpa_direct); the GPA ranges
// follow at offset 24.
struct GpaDirectPacketHeader {
  PacketDescriptor descriptor;
  std::uint32_t reserved;
  std::uint32_t range_cnt;
};
static_assert(sizeof(GpaDirectPacketHeader) == 24);
static_assert(offsetof(GpaDirectPacketHeader, descriptor) == 0);
static_assert(offsetof(GpaDirectPacketHeader, reserved) == 16);
static_assert(offsetof(GpaDirectPacketHeader, range_cnt) == 20);

// VM_PKT_DATA_USING_GPADL (struct vmgpadl_packet_header).
struct GpadlPacketHeader {
  PacketDescriptor descriptor;
  std::uint32_t gpadl;
  std::uint32_t reserved;
};
static_assert(sizeof(GpadlPacketHeader) == 24);
static_assert(offsetof(GpadlPacketHeader, gpadl) == 16);
static_assert(offsetof(GpadlPacketHeader, reserved) == 20);

// VM_PKT_ADD_XFER_PAGESET / VM_PKT_RM_XFER_PAGESET
// (struct vmadd_remove_transfer_page_set).
struct AddRemoveTransferPageSet {
  PacketDescriptor descriptor;
  std::uint32_t gpadl;
  std::uint16_t xfer_pageset_id;
  std::uint16_t reserved;
};
static_assert(sizeof(AddRemoveTransferPageSet) == 24);
static_assert(offsetof(AddRemoveTransferPageSet, gpadl) == 16);
static_assert(offsetof(AddRemoveTransferPageSet, xfer_pageset_id) == 20);
static_assert(offsetof(AddRemoveTransferPageSet, reserved) == 22);

// VM_PKT_ESTABLISH_GPADL (struct vmestablish_gpadl); GPA ranges follow at 24.
struct EstablishGpadlHeader {
  PacketDescriptor descriptor;
  std::uint32_t gpadl;
  std::uint32_t range_cnt;
};
static_assert(sizeof(EstablishGpadlHeader) == 24);
static_assert(offsetof(EstablishGpadlHeader, gpadl) == 16);
static_assert(offsetof(EstablishGpadlHeader, range_cnt) == 20);

// VM_PKT_TEARDOWN_GPADL (struct vmteardown_gpadl).
struct TeardownGpadlHeader {
  PacketDescriptor descriptor;
  std::uint32_t gpadl;
  std::uint32_t reserved;
};
static_assert(sizeof(TeardownGpadlHeader) == 24);
static_assert(offsetof(TeardownGpadlHeader, gpadl) == 16);
static_assert(offsetof(TeardownGpadlHeader, reserved) == 20);

// VM_PKT_ADDITIONAL_DATA (struct vmadditional_data); data[] follows at 32.
struct AdditionalDataHeader {
  PacketDescriptor descriptor;
  std::uint64_t total_bytes;
  std::uint32_t offset;
  std::uint32_t byte_cnt;
};
static_assert(sizeof(AdditionalDataHeader) == 32);
static_assert(offsetof(AdditionalDataHeader, total_bytes) == 16);
static_assert(offsetof(AdditionalDataHeader, offset) == 24);
static_assert(offsetof(AdditionalDataHeader, byte_cnt) == 28);

}  // namespace vmbus::ring
