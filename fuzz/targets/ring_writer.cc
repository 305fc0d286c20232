// The ring writer against a hostile reader: the attacker owns read_index,
// interrupt_mask, pending_send_sz and the feature bits and changes them
// between any two of the writer's steps (reserve, copy, publish, signal
// decision, prepare_to_wait).
//
// Invariants beyond "no crash, no sanitizer report": the writer's
// write_index is always a valid index (the attacker cannot make it publish a
// bad one), it never publishes more bytes than it reserved, and every
// packet it publishes reads back, byte for byte, with a fresh reader
// positioned where the writer started.
#include <cstring>
#include <string>
#include <vector>

#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

struct Written {
  std::uint32_t start = 0;
  std::vector<std::byte> payload;
  std::uint64_t trans_id = 0;
};

void attacker_move(ring::RingControlPage& control, FuzzInput& input) {
  switch (input.below(5)) {
    case 0:
      control.read_index = input.integer<std::uint32_t>();
      break;
    case 1:
      control.interrupt_mask = input.integer<std::uint32_t>();
      break;
    case 2:
      control.pending_send_sz = input.integer<std::uint32_t>();
      break;
    case 3:
      control.feature_bits = input.integer<std::uint32_t>();
      break;
    default:
      break;
  }
}

// Reserve, copy and publish one packet, with attacker moves in between.
void write_one(ring::RingWriter& writer, ring::RingControlPage& control, FuzzInput& input,
               std::vector<Written>& written) {
  const auto payload = input.bytes(6000);
  ring::OutgoingPacket packet;
  packet.trans_id = input.integer<std::uint64_t>();
  packet.flags = input.integer<std::uint16_t>();
  packet.payload = payload;
  const std::uint32_t packet_bytes = ring::packet_bytes_for(packet);
  const ring::ReserveResult reserved = writer.reserve(packet_bytes);
  attacker_move(control, input);
  if (reserved.status == ring::WriteStatus::kNotEnoughSpace) {
    writer.prepare_to_wait(packet_bytes);
    attacker_move(control, input);
    writer.clear_pending_send_size();
    return;
  }
  if (reserved.status != ring::WriteStatus::kOk) {
    return;
  }
  writer.copy(reserved.reservation, packet);
  attacker_move(control, input);
  const std::uint32_t published = writer.publish();
  if (published != ring::ring_bytes_for_packet(packet_bytes)) {
    invariant_failed("published " + std::to_string(published) + " bytes for a reservation of " +
                     std::to_string(packet_bytes));
  }
  attacker_move(control, input);
  writer.decide_signal();
  written.push_back({reserved.reservation.start_index,
                     std::vector<std::byte>(payload.begin(), payload.end()), packet.trans_id});
}

// A reader of our own, starting where the writer started, sees exactly what
// was written (the attacker's read_index aside), as long as the writer has
// not lapped its own start.
void check_readback(ring::FlatRingMemory& memory, std::uint32_t start,
                    const std::vector<Written>& written) {
  ring::RingView view(memory);
  std::uint64_t total = 0;
  for (const Written& w : written) {
    ring::OutgoingPacket packet;
    packet.payload = w.payload;
    total += ring::ring_bytes_for_packet(ring::packet_bytes_for(packet));
  }
  if (total >= view.data_size_bytes()) {
    return;  // the writer reused space the attacker said was free
  }
  view.control().read_index = start;
  ring::RingReader reader(memory, 64 * 1024);
  for (const Written& w : written) {
    const ring::ReadResult result = reader.next();
    if (result.status != ring::ReadStatus::kPacket || result.packet.offset != w.start ||
        result.packet.descriptor.trans_id != w.trans_id ||
        result.packet.payload().size() < w.payload.size() ||
        !std::equal(w.payload.begin(), w.payload.end(), result.packet.payload().begin())) {
      invariant_failed("a written packet does not read back at offset " + std::to_string(w.start));
    }
  }
}

}  // namespace
}  // namespace vmbus::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  fuzz::FuzzInput input(data, size);
  ring::FlatRingMemory memory((1 + input.below(3)) * ring::kHvPageSizeBytes);
  ring::RingView view(memory);
  const std::uint32_t start = 8 * input.below(view.data_size_bytes() / 8);
  ring::initialize_ring(memory, start, input.integer<std::uint32_t>());
  ring::RingWriter writer(memory);
  std::vector<fuzz::Written> written;
  for (int i = 0; i < 16 && !input.empty(); ++i) {
    fuzz::write_one(writer, view.control(), input, written);
    if (!view.is_valid_index(view.control().write_index)) {
      fuzz::invariant_failed("write_index " + std::to_string(view.control().write_index) +
                             " published");
    }
  }
  fuzz::check_readback(memory, start, written);
  return 0;
}
