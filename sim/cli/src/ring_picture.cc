#include "vmbus/cli/ring_picture.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace vmbus::cli {
namespace {

// The column of the bar that byte `offset` of the data area falls in.
unsigned column_of(std::uint64_t offset, std::uint32_t data_size) {
  return static_cast<unsigned>(offset * kRingPictureColumns / data_size);
}

// Whether any byte of [first, last] (inclusive, no wrap) is used: used bytes
// run from read_index up to write_index, wrapping at the end of the area.
bool any_used(std::uint64_t first, std::uint64_t last, const DecodedRing& ring) {
  const std::uint64_t read = ring.read_index;
  const std::uint64_t write = ring.write_index;
  if (read == write) {
    return false;
  }
  if (read < write) {
    return first < write && last >= read;
  }
  return last >= read || first < write;
}

std::string bar(const DecodedRing& ring) {
  std::string line = "|";
  for (unsigned column = 0; column < kRingPictureColumns; ++column) {
    const std::uint64_t first =
        (std::uint64_t{column} * ring.data_size + kRingPictureColumns - 1) / kRingPictureColumns;
    const std::uint64_t last =
        (std::uint64_t{column + 1} * ring.data_size + kRingPictureColumns - 1) /
            kRingPictureColumns -
        1;
    line += any_used(first, last, ring) ? '#' : '.';
  }
  return line + "|";
}

// " ^ R read_index=4048" under the bar's column of `offset`.
std::string mark(std::uint32_t offset, std::uint32_t data_size, const std::string& label) {
  return std::string(1 + column_of(offset, data_size), ' ') + "^ " + label + "\n";
}

std::string packet_line(const DecodedPacket& packet, std::uint32_t data_size) {
  const ring::PacketDescriptor& d = packet.descriptor;
  const std::uint32_t packet_bytes = std::uint32_t{d.len8} * 8;
  const std::uint32_t header_bytes = std::uint32_t{d.offset8} * 8;
  const std::uint32_t span = packet_bytes + ring::kPacketTrailerBytes;
  const std::uint64_t end = std::uint64_t{packet.offset} + span;
  std::string line = "packet at " + std::to_string(packet.offset) + ": " + std::to_string(span) +
                     " bytes to " + std::to_string(end % data_size) +
                     (end > data_size ? " (wraps)" : "") + ": descriptor " +
                     std::to_string(ring::kPacketDescriptorBytes);
  if (header_bytes > ring::kPacketDescriptorBytes) {
    line += ", header extension " + std::to_string(header_bytes - ring::kPacketDescriptorBytes);
  }
  return line + ", payload and padding " + std::to_string(packet_bytes - header_bytes) +
         ", trailer " + std::to_string(ring::kPacketTrailerBytes) + "\n";
}

}  // namespace

void write_ring_picture(const DecodedRing& ring, std::ostream& out) {
  if (ring.data_size == 0) {
    return;
  }
  // A hostile or corrupt image's index may lie anywhere: it has no column
  // under the bar (and a mark that far to the right would be gigabytes of
  // spaces), and the used bytes it would bound mean nothing.
  if (ring.read_index >= ring.data_size || ring.write_index >= ring.data_size) {
    out << "\nthe data area (" << ring.data_size
        << " bytes): no picture, an index lies outside it (read_index " << ring.read_index
        << ", write_index " << ring.write_index << ")\n";
    return;
  }
  const std::uint32_t used = ring::bytes_to_read(ring.write_index, ring.read_index, ring.data_size);
  out << "\nthe data area (" << ring.data_size << " bytes, " << ring.data_size / kRingPictureColumns
      << " a column; # used, . free):\n"
      << bar(ring) << "\n"
      << mark(ring.read_index, ring.data_size,
              "R read_index=" + std::to_string(ring.read_index) + " (the reader's next byte)")
      << mark(ring.write_index, ring.data_size,
              "W write_index=" + std::to_string(ring.write_index) +
                  " (where the writer's next packet goes)")
      << "used " << used << " bytes";
  if (used != 0) {
    out << " from " << ring.read_index << " to " << ring.write_index
        << (ring.write_index < ring.read_index
                ? " (wrapping at " + std::to_string(ring.data_size) + ")"
                : "");
  }
  out << ", free " << ring.data_size - used << " bytes\n";
  for (const DecodedPacket& packet : ring.packets) {
    out << packet_line(packet, ring.data_size);
  }
}

}  // namespace vmbus::cli
