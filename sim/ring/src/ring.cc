#include "vmbus/ring/ring.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "vmbus/base/check.h"

namespace vmbus::ring {
namespace {

using Word = std::atomic_ref<std::uint32_t>;

constexpr std::uint32_t kMaxPacketBytes = 0xFFFFu * 8;  // len8 is 16 bits

constexpr std::size_t reason_slot(CorruptReason reason) {
  return static_cast<std::size_t>(reason);
}

// The full barrier of the Dekker-style handshakes below. Each use names the
// fence it pairs with on the other side; both must be seq_cst fences for the
// C++ memory model to forbid the "both sides read the old value" outcome.
void full_fence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// The bytes of the packet at `start` after its descriptor, into `body`.
// `contiguous`: the caller checked that the whole packet lies before the end
// of the data area, so it is one memcpy without wrap arithmetic.
void copy_packet_body(const RingView& view, std::uint32_t start, bool contiguous,
                      std::span<std::byte> body) {
  if (contiguous) {
    std::memcpy(body.data(), view.data_at(start) + kPacketDescriptorBytes, body.size());
  } else {
    view.copy_out(view.advance(start, kPacketDescriptorBytes), body);
  }
}

// A hint that the line holding `address` is about to be written: the core
// asks for it in exclusive state without waiting for it. Never faults.
void prefetch_line_for_write(const std::byte* address) {
#if defined(__x86_64__)
  // GCC without -mprfchw turns __builtin_prefetch(p, 1) into a read prefetch,
  // which leaves the line shared; PREFETCHW is a no-op where unsupported.
  asm volatile("prefetchw %0" : : "m"(*address));
#else
  __builtin_prefetch(address, 1);
#endif
}

}  // namespace

const char* corrupt_reason_name(CorruptReason reason) {
  switch (reason) {
    case CorruptReason::kWriteIndexOutOfRange:
      return "write_index_out_of_range";
    case CorruptReason::kWriteIndexMisaligned:
      return "write_index_misaligned";
    case CorruptReason::kReadIndexOutOfRange:
      return "read_index_out_of_range";
    case CorruptReason::kReadIndexMisaligned:
      return "read_index_misaligned";
    case CorruptReason::kTruncatedPacket:
      return "truncated_packet";
    case CorruptReason::kOffsetBelowDescriptor:
      return "offset8_below_descriptor";
    case CorruptReason::kOffsetBeyondLength:
      return "offset8_beyond_len8";
    case CorruptReason::kPacketBeyondAvailable:
      return "packet_beyond_available";
    case CorruptReason::kPacketAboveMaximum:
      return "packet_above_maximum";
    case CorruptReason::kUnknownPacketType:
      return "unknown_packet_type";
  }
  return "unknown_reason";
}

const char* write_status_name(WriteStatus status) {
  switch (status) {
    case WriteStatus::kOk:
      return "ok";
    case WriteStatus::kNotEnoughSpace:
      return "not_enough_space";
    case WriteStatus::kTooLarge:
      return "too_large";
    case WriteStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown_status";
}

const char* read_status_name(ReadStatus status) {
  switch (status) {
    case ReadStatus::kPacket:
      return "packet";
    case ReadStatus::kEmpty:
      return "empty";
    case ReadStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown_status";
}

const char* signal_reason_name(SignalReason reason) {
  switch (reason) {
    case SignalReason::kNone:
      return "none";
    case SignalReason::kWentNonEmpty:
      return "went_non_empty";
    case SignalReason::kInterruptMasked:
      return "interrupt_mask_set";
    case SignalReason::kReaderHadData:
      return "reader_had_data";
    case SignalReason::kNothingPublished:
      return "nothing_published";
    case SignalReason::kCrossedPendingSendSize:
      return "crossed_pending_send_sz";
    case SignalReason::kNothingFreed:
      return "nothing_freed";
    case SignalReason::kNoPendingSendSizeFeature:
      return "no_pending_send_sz_feature";
    case SignalReason::kWriterNotWaiting:
      return "writer_not_waiting";
    case SignalReason::kWriterWasNotBlocked:
      return "writer_was_not_blocked";
    case SignalReason::kStillBelowPendingSendSize:
      return "still_below_pending_send_sz";
    case SignalReason::kWriteIndexInvalid:
      return "write_index_invalid";
  }
  return "unknown_reason";
}

// ---------------------------------------------------------------------------
// RingView

RingView::RingView(RingMemory& memory) {
  std::span<std::byte> region = memory.region();
  VMBUS_CHECK(is_valid_ring_size(region.size()),
              "ring region of " + std::to_string(region.size()) +
                  " bytes is not a control page plus a multiple of 4096");
  VMBUS_CHECK(reinterpret_cast<std::uintptr_t>(region.data()) % kHvPageSizeBytes == 0,
              "ring region is not page aligned");
  control_ = reinterpret_cast<RingControlPage*>(region.data());
  data_ = region.data() + kRingDataOffsetBytes;
  data_size_bytes_ = static_cast<std::uint32_t>(region.size() - kRingDataOffsetBytes);
}

void RingView::copy_out(std::uint32_t offset, std::span<std::byte> destination) const {
  VMBUS_CHECK(offset < data_size_bytes_ && destination.size() <= data_size_bytes_,
              "copy_out outside the data area");
  if (destination.empty()) {
    return;  // an empty span may have a null data(), which memcpy must not see
  }
  const std::size_t first = std::min<std::size_t>(destination.size(), data_size_bytes_ - offset);
  std::memcpy(destination.data(), data_ + offset, first);
  if (first != destination.size()) {
    std::memcpy(destination.data() + first, data_, destination.size() - first);
  }
}

void RingView::copy_in(std::uint32_t offset, std::span<const std::byte> source) const {
  VMBUS_CHECK(offset < data_size_bytes_ && source.size() <= data_size_bytes_,
              "copy_in outside the data area");
  if (source.empty()) {
    return;  // an empty span may have a null data(), which memcpy must not see
  }
  const std::size_t first = std::min<std::size_t>(source.size(), data_size_bytes_ - offset);
  std::memcpy(data_ + offset, source.data(), first);
  if (first != source.size()) {
    std::memcpy(data_, source.data() + first, source.size() - first);
  }
}

void RingView::fill_zero(std::uint32_t offset, std::uint32_t length_bytes) const {
  VMBUS_CHECK(offset < data_size_bytes_ && length_bytes <= data_size_bytes_,
              "fill_zero outside the data area");
  const std::uint32_t first = std::min(length_bytes, data_size_bytes_ - offset);
  std::memset(data_ + offset, 0, first);
  std::memset(data_, 0, length_bytes - first);
}

std::uint32_t RingView::advance(std::uint32_t offset, std::uint32_t length_bytes) const {
  // Callers pass an index and at most one lap, so one subtraction wraps; it
  // is on every packet's path several times, where a division is not cheap.
  VMBUS_CHECK(offset < data_size_bytes_ && length_bytes <= data_size_bytes_,
              "advance by more than one lap");
  const std::uint64_t next = std::uint64_t{offset} + length_bytes;
  return static_cast<std::uint32_t>(next >= data_size_bytes_ ? next - data_size_bytes_ : next);
}

void initialize_ring(RingMemory& memory, std::uint32_t start_index, std::uint32_t feature_bits) {
  RingView view(memory);
  VMBUS_CHECK(view.is_valid_index(start_index),
              "initial ring index " + std::to_string(start_index) + " is not a valid index");
  RingControlPage& control = view.control();
  // Before either side attaches: plain stores, published to the peer by
  // whatever hands the ring over (the OPENCHANNEL message, a process start).
  std::memset(&control, 0, sizeof(control));
  control.write_index = start_index;
  control.read_index = start_index;
  control.feature_bits = feature_bits;
}

// ---------------------------------------------------------------------------
// Writer

std::uint32_t packet_bytes_for(const OutgoingPacket& packet) {
  if (packet.offset8 < kMinOffset8) {
    return 0;
  }
  const std::uint64_t header_bytes = std::uint64_t{packet.offset8} * 8;
  if (kPacketDescriptorBytes + packet.header_extension.size() > header_bytes) {
    return 0;
  }
  const std::uint64_t payload_padded = (packet.payload.size() + 7) / 8 * 8;
  const std::uint64_t total = header_bytes + payload_padded;
  if (total > kMaxPacketBytes) {
    return 0;
  }
  return static_cast<std::uint32_t>(total);
}

RingWriter::RingWriter(RingMemory& memory)
    : view_(memory),
      // We own write_index; nobody else stores it. A value the peer scribbled
      // over before we attached is caught by reserve()'s validation.
      write_cursor_(Word(view_.control().write_index).load(std::memory_order_relaxed)),
      published_index_(write_cursor_),
      next_copy_index_(write_cursor_) {}

ReserveResult RingWriter::reserve(std::uint32_t packet_bytes) {
  VMBUS_CHECK(packet_bytes >= kPacketDescriptorBytes && packet_bytes % kPacketAlignmentBytes == 0,
              "reserve of " + std::to_string(packet_bytes) + " bytes");
  ReserveResult result;
  if (!view_.is_valid_index(write_cursor_)) {
    // Only possible if the shared write_index was bad when we attached.
    const CorruptReason reason = write_cursor_ >= view_.data_size_bytes()
                                     ? CorruptReason::kWriteIndexOutOfRange
                                     : CorruptReason::kWriteIndexMisaligned;
    ++counters_.corrupt[reason_slot(reason)];
    result.status = WriteStatus::kCorrupt;
    result.reason = reason;
    return result;
  }
  const std::uint32_t needed = ring_bytes_for_packet(packet_bytes);
  if (needed >= view_.data_size_bytes()) {
    result.status = WriteStatus::kTooLarge;
    return result;
  }
  // Acquire pairs with the reader's release store in RingReader::publish():
  // once we see the new read_index, the reader has finished copying the bytes
  // it freed, so overwriting them cannot tear a packet it is still reading.
  const std::uint32_t read_index = Word(view_.control().read_index).load(std::memory_order_acquire);
  if (!view_.is_valid_index(read_index)) {
    const CorruptReason reason = read_index >= view_.data_size_bytes()
                                     ? CorruptReason::kReadIndexOutOfRange
                                     : CorruptReason::kReadIndexMisaligned;
    ++counters_.corrupt[reason_slot(reason)];
    result.status = WriteStatus::kCorrupt;
    result.reason = reason;
    return result;
  }
  result.free_bytes = bytes_to_write(write_cursor_, read_index, view_.data_size_bytes());
  // Strictly greater: a packet that filled the ring exactly would leave
  // write_index == read_index, which the reader takes for "empty".
  if (result.free_bytes <= needed) {
    ++counters_.full_events;
    result.status = WriteStatus::kNotEnoughSpace;
    return result;
  }
  result.reservation = Reservation{write_cursor_, packet_bytes};
  write_cursor_ = view_.advance(write_cursor_, needed);
  ++uncopied_;
  prefetch_ahead(needed, result.free_bytes - needed);
  return result;
}

void RingWriter::prefetch_ahead(std::uint32_t reserved_bytes, std::uint32_t free_after_cursor) {
  // The lines this writer fills next were last read by the reader, one lap
  // ago, so each store into them waits for the reader's core to give the
  // line up, and a few such waits fill the store queue and stall the
  // writer. Asking for them in exclusive state ahead of time overlaps those
  // waits: the 64 B stream across two processes runs 2.7x as fast
  // (docs/PERFORMANCE.md, "The ring across processes on a quiet machine").
  // Only bytes known to be free are asked for: the lines beyond them hold
  // packets the reader has yet to read, and taking those from it would slow
  // it down. Packets of 512 ring bytes or more are left alone: with the
  // prefetch the 4 KiB stream measured up to 70 % slower, and in one thread
  // (nothing to wait for) the prefetches of a 1 KiB packet cost 15 %.
  prefetched_ahead_ = prefetched_ahead_ > reserved_bytes ? prefetched_ahead_ - reserved_bytes : 0;
  if (reserved_bytes >= kWritePrefetchMaxPacketBytes) {
    return;
  }
  const std::uint32_t wanted = std::min(kWritePrefetchBytes, free_after_cursor);
  const std::uint32_t data_size = view_.data_size_bytes();
  for (std::uint32_t ahead = prefetched_ahead_; ahead < wanted; ahead += kCacheLineBytes) {
    std::uint32_t index = write_cursor_ + ahead;  // both < data_size: no overflow
    if (index >= data_size) {
      index -= data_size;
    }
    prefetch_line_for_write(view_.data_at(index));
  }
  prefetched_ahead_ = std::max(prefetched_ahead_, wanted);
}

void RingWriter::copy(const Reservation& reservation, const OutgoingPacket& packet) {
  VMBUS_CHECK(uncopied_ > 0 && reservation.start_index == next_copy_index_,
              "copy() of a reservation that is not the oldest uncopied one");
  const std::uint32_t packet_bytes = packet_bytes_for(packet);
  VMBUS_CHECK(packet_bytes == reservation.packet_bytes,
              "copy() of a packet of " + std::to_string(packet_bytes) +
                  " bytes into a reservation of " + std::to_string(reservation.packet_bytes));

  const std::uint32_t start = reservation.start_index;
  const PacketDescriptor descriptor{packet.type, packet.offset8,
                                    static_cast<std::uint16_t>(packet_bytes / 8), packet.flags,
                                    packet.trans_id};
  const std::uint64_t trailer = std::uint64_t{start} << 32;  // where this packet started
  const std::uint32_t header_bytes = std::uint32_t{packet.offset8} * 8;
  const auto extension_bytes = static_cast<std::uint32_t>(packet.header_extension.size());
  const auto payload_bytes = static_cast<std::uint32_t>(packet.payload.size());

  if (std::uint64_t{start} + ring_bytes_for_packet(packet_bytes) <= view_.data_size_bytes()) {
    // The common case: the packet and its trailer do not wrap, so they are
    // written straight into one contiguous stretch of the data area.
    // Every store below goes to a line the reader may hold (it read it one
    // lap earlier), so each waits for the other core. Nothing here may make
    // a later load wait for those stores too: the descriptor is written as
    // two 8-byte words from registers (a 16-byte copy of a descriptor just
    // built on the stack cannot take its bytes from the two 8-byte stores
    // that built it, so it waits for every earlier store to finish), and
    // zero-length fills are skipped (glibc's AVX-512 memset still issues a
    // masked vector store for 0 bytes, and the loads after it were seen
    // waiting the same way). Measured in
    // docs/PERFORMANCE.md, "The ring across processes on a quiet machine".
    std::byte* out = view_.data_at(start);
    const std::uint64_t first_word =
        std::uint64_t{descriptor.type} | std::uint64_t{descriptor.offset8} << 16 |
        std::uint64_t{descriptor.len8} << 32 | std::uint64_t{descriptor.flags} << 48;
    std::memcpy(out, &first_word, sizeof(first_word));
    std::memcpy(out + sizeof(first_word), &descriptor.trans_id, sizeof(descriptor.trans_id));
    if (extension_bytes != 0) {
      std::memcpy(out + kPacketDescriptorBytes, packet.header_extension.data(), extension_bytes);
    }
    if (header_bytes != kPacketDescriptorBytes + extension_bytes) {
      std::memset(out + kPacketDescriptorBytes + extension_bytes, 0,
                  header_bytes - kPacketDescriptorBytes - extension_bytes);
    }
    if (payload_bytes != 0) {
      std::memcpy(out + header_bytes, packet.payload.data(), payload_bytes);
    }
    if (packet_bytes != header_bytes + payload_bytes) {
      std::memset(out + header_bytes + payload_bytes, 0,
                  packet_bytes - header_bytes - payload_bytes);
    }
    std::memcpy(out + packet_bytes, &trailer, sizeof(trailer));
  } else {
    copy_wrapping(start, packet, descriptor, packet_bytes);
  }

  next_copy_index_ = view_.advance(start, ring_bytes_for_packet(packet_bytes));
  --uncopied_;
  ++counters_.packets;
  counters_.packet_bytes += packet_bytes;
}

void RingWriter::copy_wrapping(std::uint32_t start, const OutgoingPacket& packet,
                               const PacketDescriptor& descriptor, std::uint32_t packet_bytes) {
  view_.copy_in(start, std::as_bytes(std::span(&descriptor, 1)));

  const std::uint32_t header_bytes = std::uint32_t{packet.offset8} * 8;
  std::uint32_t cursor = view_.advance(start, kPacketDescriptorBytes);
  view_.copy_in(cursor, packet.header_extension);
  cursor = view_.advance(cursor, static_cast<std::uint32_t>(packet.header_extension.size()));
  view_.fill_zero(cursor, header_bytes - kPacketDescriptorBytes -
                              static_cast<std::uint32_t>(packet.header_extension.size()));

  cursor = view_.advance(start, header_bytes);
  view_.copy_in(cursor, packet.payload);
  const auto payload_bytes = static_cast<std::uint32_t>(packet.payload.size());
  cursor = view_.advance(cursor, payload_bytes);
  view_.fill_zero(cursor, packet_bytes - header_bytes - payload_bytes);

  // The trailer: where this packet started, in the upper 32 bits.
  const std::uint64_t trailer = std::uint64_t{start} << 32;
  view_.copy_in(view_.advance(start, packet_bytes), std::as_bytes(std::span(&trailer, 1)));
}

std::uint32_t RingWriter::publish() {
  VMBUS_CHECK(uncopied_ == 0, "publish() with reservations not yet copied");
  VMBUS_CHECK(!decision_due_, "publish() before decide_signal() of the previous publish");
  if (write_cursor_ == published_index_) {
    return 0;
  }
  const std::uint32_t published =
      bytes_to_read(write_cursor_, published_index_, view_.data_size_bytes());
  last_publish_start_ = published_index_;
  // Release pairs with the reader's acquire load of write_index in
  // RingReader::next(): a reader that sees the new index also sees every
  // packet and trailer byte copied before it.
  Word(view_.control().write_index).store(write_cursor_, std::memory_order_release);
  published_index_ = write_cursor_;
  decision_due_ = true;
  ++counters_.publishes;
  return published;
}

bool RingWriter::decide_signal() {
  if (!decision_due_) {
    last_reason_ = SignalReason::kNothingPublished;
    return false;
  }
  decision_due_ = false;
  // Fence A (writer side) pairs with fence A in RingReader::end_read().
  // Writer: store write_index; fence; load interrupt_mask.
  // Reader: store interrupt_mask = 0; fence; load write_index.
  // Without it both could read the old value: we see the mask still set and
  // skip the signal while the reader's re-check misses our packet -- a lost
  // wakeup with data sitting in the ring.
  full_fence();
  if (Word(view_.control().interrupt_mask).load(std::memory_order_relaxed) != 0) {
    ++counters_.signals_masked;
    last_reason_ = SignalReason::kInterruptMasked;
    return false;
  }
  // Read after the mask (the fence above orders it): if the reader finished
  // exactly where this publish began, the ring was empty before it and the
  // reader may be idle; any other position means the reader still has
  // (or already saw) data and will drain without an interrupt.
  const std::uint32_t read_index = Word(view_.control().read_index).load(std::memory_order_relaxed);
  if (read_index != last_publish_start_) {
    last_reason_ = SignalReason::kReaderHadData;
    return false;
  }
  ++counters_.signals;
  last_reason_ = SignalReason::kWentNonEmpty;
  return true;
}

WriteStatus RingWriter::write(const OutgoingPacket& packet, bool* signal) {
  *signal = false;
  const std::uint32_t packet_bytes = packet_bytes_for(packet);
  VMBUS_CHECK(packet_bytes != 0, "write() of a packet that cannot be expressed");
  const ReserveResult reserved = reserve(packet_bytes);
  if (reserved.status != WriteStatus::kOk) {
    return reserved.status;
  }
  copy(reserved.reservation, packet);
  publish();
  *signal = decide_signal();
  return WriteStatus::kOk;
}

WaitDecision RingWriter::prepare_to_wait(std::uint32_t packet_bytes) {
  // feature_bits is set by whoever initialised the ring; reading it relaxed is
  // enough, it does not change while the ring is in use.
  if ((Word(view_.control().feature_bits).load(std::memory_order_relaxed) &
       kFeaturePendingSendSize) == 0) {
    return WaitDecision::kMustPoll;
  }
  const std::uint32_t needed = ring_bytes_for_packet(packet_bytes);
  Word(view_.control().pending_send_sz).store(needed, std::memory_order_relaxed);
  ++counters_.pending_send_sz_sets;
  // Fence B (writer side) pairs with fence B in RingReader::decide_signal().
  // Writer: store pending_send_sz; fence; load read_index.
  // Reader: store read_index; fence; load pending_send_sz.
  // Either the reader sees our request and signals, or we see its progress
  // here and retry; never both miss, which would leave us waiting forever.
  full_fence();
  const std::uint32_t read_index = Word(view_.control().read_index).load(std::memory_order_acquire);
  if (!view_.is_valid_index(read_index) || !view_.is_valid_index(write_cursor_)) {
    clear_pending_send_size();
    return WaitDecision::kCorrupt;
  }
  if (bytes_to_write(write_cursor_, read_index, view_.data_size_bytes()) > needed) {
    clear_pending_send_size();
    return WaitDecision::kRetryNow;
  }
  return WaitDecision::kWaitForSignal;
}

void RingWriter::clear_pending_send_size() {
  // Relaxed: a reader that still sees the old value only sends one extra,
  // harmless signal; it never misses one we need.
  Word(view_.control().pending_send_sz).store(0, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------
// Reader

RingReader::RingReader(RingMemory& memory, std::uint32_t max_packet_bytes)
    : view_(memory),
      max_packet_bytes_(max_packet_bytes),
      // We own read_index. A bad value is reported by next(), not trusted.
      read_cursor_(Word(view_.control().read_index).load(std::memory_order_relaxed)),
      published_index_(read_cursor_),
      batch_start_(read_cursor_),
      // len8 is 16 bits: no packet is larger than kMaxPacketBytes, whatever
      // maximum the caller allows.
      buffer_(std::min(max_packet_bytes, kMaxPacketBytes)) {
  VMBUS_CHECK(
      max_packet_bytes >= kPacketDescriptorBytes && max_packet_bytes % kPacketAlignmentBytes == 0,
      "maximum packet size " + std::to_string(max_packet_bytes) +
          " is not a multiple of 8 of at least 16");
}

void RingReader::begin_read() {
  Word(view_.control().interrupt_mask).store(1, std::memory_order_relaxed);
  // Not needed for correctness (a writer that misses the mask only sends a
  // redundant interrupt) but keeps the window of redundant interrupts short,
  // as Linux's hv_begin_read() does.
  full_fence();
}

bool RingReader::end_read() {
  Word(view_.control().interrupt_mask).store(0, std::memory_order_relaxed);
  if (quirks_.has(base::Quirk::kReaderSkipsRecheckAfterUnmask)) {
    return false;  // the quirk: no re-check, whatever arrived while masked waits
  }
#ifdef VMBUS_PLANT_READER_SKIPS_RECHECK
  // The planted bug (a test-only build): no re-check, so a packet published
  // while the mask was still set is never read and never signalled.
  return false;
#endif
  // Fence A (reader side); see RingWriter::decide_signal().
  full_fence();
  const std::uint32_t write_index =
      Word(view_.control().write_index).load(std::memory_order_acquire);
  recheck_write_index_ = write_index;
  const bool more = write_index != read_cursor_;
  if (more) {
    ++counters_.end_read_races;
  }
  return more;
}

ReadResult RingReader::corrupt(CorruptReason reason) {
  ++counters_.corrupt[reason_slot(reason)];
  ReadResult result;
  result.status = ReadStatus::kCorrupt;
  result.reason = reason;
  result.offset = read_cursor_;
  return result;
}

ReadResult RingReader::next() {
  const std::uint32_t data_size = view_.data_size_bytes();
  if (!view_.is_valid_index(read_cursor_)) {
    return corrupt(read_cursor_ >= data_size ? CorruptReason::kReadIndexOutOfRange
                                             : CorruptReason::kReadIndexMisaligned);
  }
  // Acquire pairs with the writer's release store in RingWriter::publish():
  // every byte up to this index was written before we read it.
  const std::uint32_t write_index =
      Word(view_.control().write_index).load(std::memory_order_acquire);
  if (!view_.is_valid_index(write_index)) {
    return corrupt(write_index >= data_size ? CorruptReason::kWriteIndexOutOfRange
                                            : CorruptReason::kWriteIndexMisaligned);
  }
  const std::uint32_t available = bytes_to_read(write_index, read_cursor_, data_size);
  if (available == 0) {
    return ReadResult{};
  }
  if (available < kPacketDescriptorBytes + kPacketTrailerBytes) {
    return corrupt(CorruptReason::kTruncatedPacket);
  }

  // Copy the descriptor once and judge only the copy: the writer may change
  // the ring under us, but not our private bytes. A packet that does not wrap
  // (the common case) is copied straight from one contiguous stretch.
  const bool contiguous = std::uint64_t{read_cursor_} + available <= data_size;
  PacketDescriptor descriptor;
  if (contiguous) {
    std::memcpy(&descriptor, view_.data_at(read_cursor_), sizeof(descriptor));
  } else {
    view_.copy_out(read_cursor_, std::as_writable_bytes(std::span(&descriptor, 1)));
  }
  if (descriptor.offset8 < kMinOffset8) {
    return corrupt(CorruptReason::kOffsetBelowDescriptor);
  }
  if (descriptor.offset8 > descriptor.len8) {
    return corrupt(CorruptReason::kOffsetBeyondLength);
  }
  const std::uint32_t packet_bytes = std::uint32_t{descriptor.len8} * 8;
  if (ring_bytes_for_packet(packet_bytes) > available) {
    return corrupt(CorruptReason::kPacketBeyondAvailable);
  }
  if (packet_bytes > max_packet_bytes_) {
    return corrupt(CorruptReason::kPacketAboveMaximum);
  }
  if (!is_known_packet_type(descriptor.type)) {
    return corrupt(CorruptReason::kUnknownPacketType);
  }

  // The rest of the packet follows the descriptor we already hold; copying
  // it separately keeps the buffer's descriptor identical to the validated one.
  std::memcpy(buffer_.data(), &descriptor, sizeof(descriptor));
  copy_packet_body(
      view_, read_cursor_, contiguous,
      std::span(buffer_).subspan(kPacketDescriptorBytes, packet_bytes - kPacketDescriptorBytes));

  ReadResult result;
  result.status = ReadStatus::kPacket;
  result.packet.offset = read_cursor_;
  result.packet.descriptor = descriptor;
  result.packet.bytes = std::span<const std::byte>(buffer_).first(packet_bytes);
  // Consume: skip the packet and its trailer (never interpreted).
  read_cursor_ = view_.advance(read_cursor_, ring_bytes_for_packet(packet_bytes));
  ++counters_.packets;
  counters_.packet_bytes += packet_bytes;
  return result;
}

std::uint32_t RingReader::publish() {
  if (read_cursor_ == published_index_) {
    return 0;
  }
  const std::uint32_t freed =
      bytes_to_read(read_cursor_, published_index_, view_.data_size_bytes());
  // Release pairs with the writer's acquire load in RingWriter::reserve():
  // our copies out of the freed bytes are complete before the writer may
  // reuse them.
  Word(view_.control().read_index).store(read_cursor_, std::memory_order_release);
  published_index_ = read_cursor_;
  ++counters_.publishes;
  return freed;
}

bool RingReader::decide_signal() {
  const std::uint32_t data_size = view_.data_size_bytes();
  const std::uint32_t bytes_read = bytes_to_read(published_index_, batch_start_, data_size);
  batch_start_ = published_index_;
  if (bytes_read == 0) {
    last_reason_ = SignalReason::kNothingFreed;
    return false;
  }
  // The quirk's old test: the reader's own interrupt_mask, which only says
  // "do not interrupt me", taken as "do not interrupt the writer".
  if (quirks_.has(base::Quirk::kReaderSkipsSignalWhileMasked) &&
      Word(view_.control().interrupt_mask).load(std::memory_order_relaxed) != 0) {
    last_reason_ = SignalReason::kInterruptMasked;
    return false;
  }
  // A writer that has not set the feature bit polls; it must not be
  // interrupted for space.
  if ((Word(view_.control().feature_bits).load(std::memory_order_relaxed) &
       kFeaturePendingSendSize) == 0) {
    last_reason_ = SignalReason::kNoPendingSendSizeFeature;
    return false;
  }
  // Fence B (reader side); see RingWriter::prepare_to_wait().
  full_fence();
  const std::uint32_t pending =
      Word(view_.control().pending_send_sz).load(std::memory_order_relaxed);
  if (pending == 0) {
    last_reason_ = SignalReason::kWriterNotWaiting;
    return false;
  }
  // Free space now, after our publish. The writer may have written more since
  // (less free space), which only makes us more conservative below.
  const std::uint32_t write_index =
      Word(view_.control().write_index).load(std::memory_order_acquire);
  if (!view_.is_valid_index(write_index)) {
    // The next read reports the corruption; do not decide from garbage.
    last_reason_ = SignalReason::kWriteIndexInvalid;
    return false;
  }
  const std::uint32_t free_now = bytes_to_write(write_index, published_index_, data_size);
  // Linux boundaries (hv_pkt_iter_close): the writer was blocked only if free
  // space before this batch was <= pending, and it can go on only if free
  // space is now > pending (an exact fit is refused by the writer).
  // free_now < bytes_read means the writer wrote more than we freed after
  // our publish: it was not blocked then (Linux's unsigned wrap gives the
  // same answer).
  // The quirks (vmbus/base/quirks.h) put back the historical boundaries:
  // Linux's first test (blocked iff free < pending, wake iff free >= pending)
  // and the equals case hv_pkt_iter_close() once woke on.
  const bool old_test = quirks_.has(base::Quirk::kReaderSignalsOnOldTest);
  if (free_now < bytes_read || free_now - bytes_read > pending ||
      (old_test && free_now - bytes_read == pending)) {
    last_reason_ = SignalReason::kWriterWasNotBlocked;
    return false;
  }
  const bool wake_at_equal =
      old_test || quirks_.has(base::Quirk::kReaderSignalsWhenFreeEqualsPending);
  if (free_now <= pending && !(wake_at_equal && free_now == pending)) {
    last_reason_ = SignalReason::kStillBelowPendingSendSize;
    return false;
  }
  ++counters_.signals;
  last_reason_ = SignalReason::kCrossedPendingSendSize;
  return true;
}

}  // namespace vmbus::ring
