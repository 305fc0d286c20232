// The VMBus ring buffer: one producer, one consumer, Linux semantics.
//
// A ring is a control page (write_index, read_index, interrupt_mask,
// pending_send_sz, feature_bits) followed by a data area of packets. The
// producer (RingWriter) and the consumer (RingReader) usually live in two
// different partitions and share only the ring's memory; either may be
// hostile, so every value read from the other side is validated and a bad
// one is reported as CorruptReason, never trusted and never asserted on.
//
// Both sides work in phases so that the simulator's scheduler can put a step
// of the other side between any two of them:
//
//   writer: reserve -> copy -> publish -> decide_signal
//   reader: begin_read -> next (read + validate + consume)... -> publish
//           -> decide_signal -> end_read
//
// The signal decisions are the Linux ones (drivers/hv/ring_buffer.c and
// channel.c; docs/ARCHITECTURE.md, "The ring buffer library"): the writer
// interrupts the reader only when the ring went from empty to non-empty and
// the reader's interrupt_mask is clear; the reader interrupts a blocked
// writer only when free space crosses pending_send_sz upwards within the
// batch it just consumed.
//
// Ownership: a RingWriter or RingReader borrows its RingMemory, which must
// outlive it. Neither is thread-safe; each is driven by one context.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmbus/base/quirks.h"
#include "vmbus/ring/layout.h"
#include "vmbus/ring/memory.h"

namespace vmbus::ring {

// Why the ring or a packet in it cannot be used. Stable: the names appear in
// traces and tool output.
enum class CorruptReason : std::uint8_t {
  kWriteIndexOutOfRange,   // write_index >= data size
  kWriteIndexMisaligned,   // write_index not a multiple of 8
  kReadIndexOutOfRange,    // read_index >= data size
  kReadIndexMisaligned,    // read_index not a multiple of 8
  kTruncatedPacket,        // bytes available, but fewer than a descriptor + trailer
  kOffsetBelowDescriptor,  // offset8 < 2: payload would start inside the descriptor
  kOffsetBeyondLength,     // offset8 > len8
  kPacketBeyondAvailable,  // len8 * 8 + trailer > bytes the writer published
  kPacketAboveMaximum,     // len8 * 8 > the reader's maximum packet size
  kUnknownPacketType,      // type is VM_PKT_INVALID or above VM_PKT_ADDITIONAL_DATA
};
inline constexpr std::size_t kCorruptReasonCount = 10;

// "write_index_out_of_range", ...
const char* corrupt_reason_name(CorruptReason reason);

// Bytes the consumer may read when the indices are (write, read). Both must
// be valid indices of a ring of `data_size` bytes.
constexpr std::uint32_t bytes_to_read(std::uint32_t write_index, std::uint32_t read_index,
                                      std::uint32_t data_size) {
  return write_index >= read_index ? write_index - read_index
                                   : data_size - read_index + write_index;
}

// Free bytes for the producer. Never zero: an exactly full ring would look empty.
constexpr std::uint32_t bytes_to_write(std::uint32_t write_index, std::uint32_t read_index,
                                       std::uint32_t data_size) {
  return data_size - bytes_to_read(write_index, read_index, data_size);
}

// Why the last signal decision (RingWriter::decide_signal,
// RingReader::decide_signal) went the way it did. Stable: the names appear
// in traces.
enum class SignalReason : std::uint8_t {
  kNone,  // no decision made yet
  // Writer.
  kWentNonEmpty,      // signal: the reader had read up to this publish, mask clear
  kInterruptMasked,   // no signal: the reader's interrupt_mask is set (it is draining)
  kReaderHadData,     // no signal: the reader had not read up to this publish
  kNothingPublished,  // no signal: no publish awaited a decision
  // Reader.
  kCrossedPendingSendSize,     // signal: free space rose above the writer's pending_send_sz
  kNothingFreed,               // no signal: this batch freed no bytes
  kNoPendingSendSizeFeature,   // no signal: the writer polls for space
  kWriterNotWaiting,           // no signal: pending_send_sz is 0
  kWriterWasNotBlocked,        // no signal: free space was above pending_send_sz already
  kStillBelowPendingSendSize,  // no signal: free space is still not above it
  kWriteIndexInvalid,          // no signal: write_index is bad (the next read says so)
};

// "went_non_empty", "interrupt_mask_set", ...
const char* signal_reason_name(SignalReason reason);

// Ring footprint of a packet of `packet_bytes` (len8 * 8): packet + trailer.
constexpr std::uint32_t ring_bytes_for_packet(std::uint32_t packet_bytes) {
  return packet_bytes + kPacketTrailerBytes;
}

// Typed view of one ring region. Holds no state beyond the geometry; the
// shared control words are always accessed atomically.
class RingView {
 public:
  // The region must satisfy is_valid_ring_size and be 4096-byte aligned
  // (checked: the geometry is our own configuration, not peer data).
  explicit RingView(RingMemory& memory);

  std::uint32_t data_size_bytes() const { return data_size_bytes_; }
  RingControlPage& control() const { return *control_; }

  bool is_valid_index(std::uint32_t index) const {
    return index < data_size_bytes_ && index % kPacketAlignmentBytes == 0;
  }

  // Copies between the data area and private memory, wrapping at the end of
  // the data area. `offset` must be a valid index and the span no longer
  // than the data area (checked).
  void copy_out(std::uint32_t offset, std::span<std::byte> destination) const;
  void copy_in(std::uint32_t offset, std::span<const std::byte> source) const;
  void fill_zero(std::uint32_t offset, std::uint32_t length_bytes) const;

  // `offset + length` modulo the data size.
  std::uint32_t advance(std::uint32_t offset, std::uint32_t length_bytes) const;

  // The data area from `offset` on, for callers that checked that what they
  // access does not wrap.
  std::byte* data_at(std::uint32_t offset) const { return data_ + offset; }

 private:
  RingControlPage* control_;
  std::byte* data_;
  std::uint32_t data_size_bytes_;
};

// Zeroes the control page and sets both indices to `start_index` and the
// feature bits. Done by whoever sets up the ring (the guest, for a channel),
// before either side attaches.
void initialize_ring(RingMemory& memory, std::uint32_t start_index = 0,
                     std::uint32_t feature_bits = kFeaturePendingSendSize);

// ---------------------------------------------------------------------------
// Writer

// The packet a writer puts on the ring.
struct OutgoingPacket {
  std::uint16_t type = static_cast<std::uint16_t>(PacketType::kDataInband);
  std::uint16_t flags = 0;
  std::uint64_t trans_id = 0;
  // Packet start to payload in 8-byte units; >= 2. Bytes 16..offset8*8 hold
  // `header_extension`, zero-padded (e.g. the GPA-direct range list).
  std::uint16_t offset8 = kMinOffset8;
  std::span<const std::byte> header_extension;
  std::span<const std::byte> payload;
};

// len8 * 8 of `packet`: descriptor, extension and payload, padded to 8.
// Returns 0 if the packet cannot be expressed (extension longer than
// offset8 allows, offset8 < 2, or len8 above 65535).
std::uint32_t packet_bytes_for(const OutgoingPacket& packet);

enum class WriteStatus : std::uint8_t {
  kOk,
  kNotEnoughSpace,  // free space <= packet + trailer right now
  kTooLarge,        // could never fit: packet + trailer >= data size
  kCorrupt,         // the reader's read_index is invalid
};

const char* write_status_name(WriteStatus status);

// Space taken by reserve() and not yet published.
struct Reservation {
  std::uint32_t start_index = 0;
  std::uint32_t packet_bytes = 0;  // len8 * 8; the trailer follows
};

struct ReserveResult {
  WriteStatus status = WriteStatus::kOk;
  Reservation reservation;       // valid when kOk
  CorruptReason reason{};        // valid when kCorrupt
  std::uint32_t free_bytes = 0;  // free space seen (kOk, kNotEnoughSpace)
};

// What a blocked writer should do after prepare_to_wait().
enum class WaitDecision : std::uint8_t {
  kRetryNow,       // space freed meanwhile; pending_send_sz is cleared again
  kWaitForSignal,  // pending_send_sz is set; the reader will signal
  kMustPoll,       // this ring has no pending_send_sz feature: nobody will signal
  kCorrupt,        // the reader's read_index is invalid
};

struct WriterCounters {
  std::uint64_t packets = 0;
  std::uint64_t packet_bytes = 0;          // sum of len8 * 8
  std::uint64_t publishes = 0;             // write_index stores that moved it
  std::uint64_t signals = 0;               // decide_signal() said yes
  std::uint64_t signals_masked = 0;        // a signal skipped because interrupt_mask was set
  std::uint64_t full_events = 0;           // reserve() answered kNotEnoughSpace
  std::uint64_t pending_send_sz_sets = 0;  // prepare_to_wait() stored pending_send_sz
  std::array<std::uint64_t, kCorruptReasonCount> corrupt{};  // by CorruptReason
};

class RingWriter {
 public:
  // Attaches to an initialised ring; the private write cursor starts at the
  // shared write_index (validated on every reserve).
  explicit RingWriter(RingMemory& memory);

  // Phase 1. Claims len8 * 8 == `packet_bytes` (a multiple of 8, >= 16) plus
  // the trailer, after earlier unpublished reservations. Leaves the writer
  // unchanged unless it answers kOk.
  ReserveResult reserve(std::uint32_t packet_bytes);

  // Phase 2. Writes descriptor, extension, payload, zero padding and trailer
  // into a reservation. `packet` must be the one the reservation was sized
  // for (checked).
  void copy(const Reservation& reservation, const OutgoingPacket& packet);

  // Phase 3. Makes every copied reservation visible to the reader by storing
  // write_index. Returns the bytes published (0 if there was nothing).
  std::uint32_t publish();

  // Phase 4. Whether the reader must be interrupted for the last publish:
  // its interrupt_mask is clear and it had consumed everything up to where
  // the publish started. Call once per non-empty publish.
  bool decide_signal();

  // All four phases for one packet. On kOk, `*signal` says whether to
  // interrupt the reader.
  WriteStatus write(const OutgoingPacket& packet, bool* signal);

  // For a writer that got kNotEnoughSpace for `packet_bytes`: stores
  // pending_send_sz = packet + trailer (when the ring has the feature), then
  // re-checks the space so that a reader which drained meanwhile is not missed.
  WaitDecision prepare_to_wait(std::uint32_t packet_bytes);

  // Clears pending_send_sz once the writer is no longer blocked.
  void clear_pending_send_size();

  std::uint32_t write_cursor() const { return write_cursor_; }
  // Why the last decide_signal() answered as it did.
  SignalReason last_signal_reason() const { return last_reason_; }

  const WriterCounters& counters() const { return counters_; }
  const RingView& view() const { return view_; }

 private:
  // Bytes beyond the write cursor the writer asks the cache for ahead of
  // writing them, after reserving a packet whose ring bytes are fewer than
  // kWritePrefetchMaxPacketBytes (reserve(), prefetch_ahead()).
  static constexpr std::uint32_t kWritePrefetchBytes = 4096;
  static constexpr std::uint32_t kWritePrefetchMaxPacketBytes = 512;
  static constexpr std::uint32_t kCacheLineBytes = 64;

  // After a reservation of `reserved_bytes`: prefetches for writing the
  // free bytes up to kWritePrefetchBytes beyond the cursor not yet asked for.
  void prefetch_ahead(std::uint32_t reserved_bytes, std::uint32_t free_after_cursor);

  // copy() for a packet or trailer that wraps around the end of the data area.
  void copy_wrapping(std::uint32_t start, const OutgoingPacket& packet,
                     const PacketDescriptor& descriptor, std::uint32_t packet_bytes);

  RingView view_;
  std::uint32_t write_cursor_;     // end of the last reservation (private)
  std::uint32_t published_index_;  // write_index as we last stored it
  std::uint32_t last_publish_start_ = 0;
  bool decision_due_ = false;           // a publish has not had its decide_signal yet
  std::uint32_t uncopied_ = 0;          // reservations still waiting for copy()
  std::uint32_t next_copy_index_;       // where the next copy() must start
  std::uint32_t prefetched_ahead_ = 0;  // bytes beyond write_cursor_ already prefetched
  SignalReason last_reason_ = SignalReason::kNone;
  WriterCounters counters_;
};

// ---------------------------------------------------------------------------
// Reader

enum class ReadStatus : std::uint8_t {
  kPacket,   // `packet` holds the next packet
  kEmpty,    // nothing published beyond the reader's cursor
  kCorrupt,  // `reason` says what; the reader did not move
};

const char* read_status_name(ReadStatus status);

// One packet, copied out of the ring into the reader's private buffer.
// Valid until the next call to next().
struct PacketView {
  std::uint32_t offset = 0;          // ring data offset of the descriptor
  PacketDescriptor descriptor{};     // the validated descriptor
  std::span<const std::byte> bytes;  // len8 * 8 bytes: descriptor .. padding

  std::span<const std::byte> payload() const {
    return bytes.subspan(std::size_t{descriptor.offset8} * 8);
  }
};

struct ReadResult {
  ReadStatus status = ReadStatus::kEmpty;
  PacketView packet;         // kPacket
  CorruptReason reason{};    // kCorrupt
  std::uint32_t offset = 0;  // kCorrupt: the reader's cursor (where the bad packet starts)
};

struct ReaderCounters {
  std::uint64_t packets = 0;
  std::uint64_t packet_bytes = 0;    // sum of len8 * 8
  std::uint64_t publishes = 0;       // read_index stores that moved it
  std::uint64_t signals = 0;         // decide_signal() said yes
  std::uint64_t end_read_races = 0;  // end_read() found data that arrived while masked
  std::array<std::uint64_t, kCorruptReasonCount> corrupt{};  // by CorruptReason
};

class RingReader {
 public:
  // `max_packet_bytes` bounds len8 * 8 of any packet this reader accepts
  // (its private buffer has that size); at least 16 (checked).
  RingReader(RingMemory& memory, std::uint32_t max_packet_bytes);

  // interrupt_mask protocol. begin_read() sets the mask so the writer stops
  // interrupting while we drain. end_read() clears it and reports whether
  // data arrived meanwhile, in which case the caller must drain again.
  void begin_read();
  bool end_read();

  // Read, validate and consume one packet. The packet is copied out of shared
  // memory before any field is checked, so a writer changing bytes afterwards
  // cannot change what we validated. Consuming moves the private cursor only;
  // the writer sees nothing until publish().
  ReadResult next();

  // Stores read_index = cursor, freeing everything consumed since the last
  // publish. Returns the bytes published.
  std::uint32_t publish();

  // Whether the writer must be interrupted because of the bytes freed since
  // the last decide_signal(): the ring has the pending_send_sz feature, the
  // writer asked for pending_send_sz bytes, free space was <= that before
  // this batch and is > it now.
  bool decide_signal();

  // publish() then decide_signal().
  bool commit() {
    publish();
    return decide_signal();
  }

  // Historical signalling bugs to re-create (the reader_* quirks of
  // vmbus/base/quirks.h); only decide_signal() and end_read() ask.
  void set_quirks(const base::QuirkSet& quirks) { quirks_ = quirks; }

  std::uint32_t read_cursor() const { return read_cursor_; }
  // Why the last decide_signal() answered as it did.
  SignalReason last_signal_reason() const { return last_reason_; }
  // The write_index end_read()'s re-check saw (0 before the first).
  std::uint32_t recheck_write_index() const { return recheck_write_index_; }
  std::uint32_t max_packet_bytes() const { return max_packet_bytes_; }
  const ReaderCounters& counters() const { return counters_; }
  const RingView& view() const { return view_; }

 private:
  ReadResult corrupt(CorruptReason reason);

  RingView view_;
  std::uint32_t max_packet_bytes_;
  std::uint32_t read_cursor_;      // after the last consumed packet (private)
  std::uint32_t published_index_;  // read_index as we last stored it
  std::uint32_t batch_start_;      // read_index at the last decide_signal()
  std::vector<std::byte> buffer_;  // private copy of the current packet
  SignalReason last_reason_ = SignalReason::kNone;
  std::uint32_t recheck_write_index_ = 0;
  base::QuirkSet quirks_;
  ReaderCounters counters_;
};

}  // namespace vmbus::ring
