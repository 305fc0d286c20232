// The ring reader against a ring the peer wrote: any control page (indices,
// interrupt_mask, pending_send_sz, feature bits) and any data area, with
// the peer changing indices and bytes between reads.
//
// Invariants beyond "no crash, no sanitizer report": every packet handed out
// lies inside the ring and inside the reader's maximum, its descriptor has
// 2 <= offset8 <= len8, the
// reader's cursor and every read_index it publishes are valid indices, and a
// corrupt ring leaves the cursor where it was.
#include <cstring>
#include <string>

#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

using ring::ReadStatus;

void check_packet(const ring::RingReader& reader, const ring::ReadResult& result,
                  std::uint32_t cursor_before) {
  const ring::PacketDescriptor& d = result.packet.descriptor;
  const std::uint32_t packet_bytes = std::uint32_t{d.len8} * 8;
  if (result.packet.offset != cursor_before) {
    invariant_failed("a packet not at the reader's cursor");
  }
  if (result.packet.bytes.size() != packet_bytes || packet_bytes > reader.max_packet_bytes()) {
    invariant_failed("packet of " + std::to_string(packet_bytes) + " bytes handed out, maximum " +
                     std::to_string(reader.max_packet_bytes()));
  }
  if (d.offset8 < ring::kMinOffset8 || d.offset8 > d.len8) {
    invariant_failed("descriptor with offset8 " + std::to_string(d.offset8) + " len8 " +
                     std::to_string(d.len8) + " accepted");
  }
  if (ring::ring_bytes_for_packet(packet_bytes) >= reader.view().data_size_bytes()) {
    invariant_failed("a packet larger than the ring");
  }
  if (!reader.view().is_valid_index(reader.read_cursor())) {
    invariant_failed("reader cursor left the ring");
  }
}

// One read session as a driver runs it: mask, drain a batch, publish.
void drain(ring::RingReader& reader, FuzzInput& input) {
  reader.begin_read();
  const std::uint32_t batch = 1 + input.below(16);
  for (std::uint32_t i = 0; i < batch; ++i) {
    const std::uint32_t before = reader.read_cursor();
    const ring::ReadResult result = reader.next();
    if (result.status == ReadStatus::kPacket) {
      check_packet(reader, result, before);
      continue;
    }
    if (result.status == ReadStatus::kCorrupt && reader.read_cursor() != before) {
      invariant_failed("a corrupt ring moved the reader");
    }
    break;
  }
  const std::uint64_t publishes = reader.counters().publishes;
  if (input.boolean()) {
    reader.commit();
  } else {
    reader.publish();
  }
  // A read_index the peer scribbled before we attached stays until we
  // consume something; what we store ourselves must be an index.
  if (reader.counters().publishes != publishes &&
      !reader.view().is_valid_index(reader.view().control().read_index)) {
    invariant_failed("published read_index " + std::to_string(reader.view().control().read_index) +
                     " is not an index");
  }
  reader.end_read();
}

// The peer's move between two sessions: new indices or new bytes.
void peer_move(ring::RingView& view, FuzzInput& input) {
  ring::RingControlPage& control = view.control();
  switch (input.below(4)) {
    case 0:
      control.write_index = input.integer<std::uint32_t>();
      break;
    case 1:
      control.pending_send_sz = input.integer<std::uint32_t>();
      control.feature_bits = input.integer<std::uint32_t>();
      break;
    case 2: {
      const std::uint32_t offset = input.below(view.data_size_bytes());
      const auto bytes = input.bytes(view.data_size_bytes() - offset);
      std::memcpy(view.data_at(offset), bytes.data(), bytes.size());
      break;
    }
    default:
      break;
  }
}

}  // namespace
}  // namespace vmbus::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  fuzz::FuzzInput input(data, size);
  ring::FlatRingMemory memory((1 + input.below(2)) * ring::kHvPageSizeBytes);
  ring::RingView view(memory);
  ring::RingControlPage& control = view.control();
  control.write_index = input.integer<std::uint32_t>();
  control.read_index = input.integer<std::uint32_t>();
  control.interrupt_mask = input.integer<std::uint32_t>();
  control.pending_send_sz = input.integer<std::uint32_t>();
  control.feature_bits = input.integer<std::uint32_t>();
  const std::uint32_t max_packet_bytes = 16 + 8 * input.below(1024);
  const auto image = input.bytes(view.data_size_bytes());
  std::memcpy(view.data_at(0), image.data(), image.size());

  ring::RingReader reader(memory, max_packet_bytes);
  for (int session = 0; session < 8 && !input.empty(); ++session) {
    fuzz::drain(reader, input);
    fuzz::peer_move(view, input);
  }
  return 0;
}
