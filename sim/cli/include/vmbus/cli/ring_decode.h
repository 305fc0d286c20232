// `vmbus-sim ring decode`: list the control page and packets of a ring image.
//
// The packets are walked with ring::RingReader on a private copy of the
// image, so the tool accepts and rejects exactly what the library's reader
// does. The reader never publishes, so the copy is not modified either.
//
// Output formats (see the command's --help for the user's view):
//   JSON lines: a header object, then one object per packet from read_index
//     to write_index, then {"error":"<reason>","offset":O} if a packet is
//     corrupt. Keys in fixed order, integers in decimal, payload in
//     lowercase hex, no spaces, so the output is stable for diffs and can
//     be piped into `ring encode`.
//   Text: the same information as an aligned table for humans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <vector>

#include "vmbus/ring/layout.h"
#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

namespace vmbus::cli {

struct DecodedPacket {
  std::uint32_t offset = 0;  // ring data offset of the descriptor
  ring::PacketDescriptor descriptor{};
  std::vector<std::byte> payload;  // bytes offset8 * 8 .. len8 * 8 of the packet
};

// Where and why the walk stopped early.
struct PacketCorruption {
  ring::CorruptReason reason{};
  std::uint32_t offset = 0;           // where the bad packet starts
  std::uint32_t available_bytes = 0;  // published bytes from `offset` to write_index
  // The descriptor bytes as found, when at least a descriptor's worth of
  // bytes was published (for the human-readable listing).
  std::optional<ring::PacketDescriptor> raw_descriptor;
};

struct DecodedRing {
  std::uint32_t write_index = 0;
  std::uint32_t read_index = 0;
  std::uint32_t interrupt_mask = 0;
  std::uint32_t pending_send_sz = 0;
  std::uint32_t feature_bits = 0;
  std::uint32_t data_size = 0;
  std::vector<DecodedPacket> packets;
  std::optional<PacketCorruption> corruption;
};

// The first problem with the ring's indices (read_index is checked before
// write_index, as RingReader does), or nullopt if both are valid.
std::optional<ring::CorruptReason> check_ring_indices(ring::RingMemory& memory);

// Reads every packet from read_index to write_index without modifying
// `memory`. Index corruption is reported like packet corruption, at
// read_index.
DecodedRing decode_ring(ring::RingMemory& memory);

// The JSON-lines listing: header, packets, error line.
void write_decoded_json(const DecodedRing& ring, std::ostream& out);

// The human-readable listing: header fields, a table of packets, the error.
void write_decoded_text(const DecodedRing& ring, std::ostream& out);

// A sentence describing `reason` ("offset8 is greater than len8").
const char* describe_corrupt_reason(ring::CorruptReason reason);

// The whole command: load `image`, check the indices, print the listing to
// `out` (as text if `text`). Returns kExitOk when every packet decodes,
// kExitCorrupt after a corrupt packet (the listing ends with the error) and
// kExitError, with a message on `err`, when the file cannot be read, is not
// a ring image or has bad indices.
int run_ring_decode(const std::filesystem::path& image, bool text, std::ostream& out,
                    std::ostream& err);

}  // namespace vmbus::cli
