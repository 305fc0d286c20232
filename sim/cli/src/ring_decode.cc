#include "vmbus/cli/ring_decode.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <ostream>
#include <string>
#include <vector>

#include "vmbus/cli/command.h"
#include "vmbus/cli/hex.h"
#include "vmbus/cli/ring_image.h"
#include "vmbus/cli/ring_picture.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kCommandName = "vmbus-sim ring decode";
// The text listing shows this many payload bytes per packet.
constexpr std::size_t kTextPayloadPreviewBytes = 16;

std::string flags_hex(std::uint16_t flags) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "0x%04x", static_cast<unsigned>(flags));
  return buffer;
}

// An aligned table: columns separated by two spaces, numbers right-aligned,
// no trailing blanks.
class TextTable {
 public:
  enum class Align : std::uint8_t { kLeft, kRight };

  explicit TextTable(std::vector<Align> aligns) : aligns_(std::move(aligns)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  void write(std::ostream& out) const {
    std::vector<std::size_t> widths(aligns_.size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (i > 0) {
          line += "  ";
        }
        const std::string padding(widths[i] - row[i].size(), ' ');
        line += aligns_[i] == Align::kRight ? padding + row[i] : row[i] + padding;
      }
      line.erase(line.find_last_not_of(' ') + 1);
      out << line << '\n';
    }
  }

 private:
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string index_error_message(ring::CorruptReason reason, const DecodedRing& ring) {
  const std::string size = std::to_string(ring.data_size);
  switch (reason) {
    case ring::CorruptReason::kWriteIndexOutOfRange:
      return "write_index " + std::to_string(ring.write_index) +
             " is out of range for a data area of " + size + " bytes";
    case ring::CorruptReason::kWriteIndexMisaligned:
      return "write_index " + std::to_string(ring.write_index) + " is not a multiple of 8";
    case ring::CorruptReason::kReadIndexOutOfRange:
      return "read_index " + std::to_string(ring.read_index) +
             " is out of range for a data area of " + size + " bytes";
    case ring::CorruptReason::kReadIndexMisaligned:
      return "read_index " + std::to_string(ring.read_index) + " is not a multiple of 8";
    default:
      return describe_corrupt_reason(reason);
  }
}

DecodedRing read_header(ring::RingMemory& memory) {
  const ring::RingView view(memory);
  // A private copy that nobody else writes: plain reads are enough.
  const ring::RingControlPage& control = view.control();
  DecodedRing decoded;
  decoded.write_index = control.write_index;
  decoded.read_index = control.read_index;
  decoded.interrupt_mask = control.interrupt_mask;
  decoded.pending_send_sz = control.pending_send_sz;
  decoded.feature_bits = control.feature_bits;
  decoded.data_size = view.data_size_bytes();
  return decoded;
}

}  // namespace

const char* describe_corrupt_reason(ring::CorruptReason reason) {
  switch (reason) {
    case ring::CorruptReason::kWriteIndexOutOfRange:
      return "write_index is not below the data size";
    case ring::CorruptReason::kWriteIndexMisaligned:
      return "write_index is not a multiple of 8";
    case ring::CorruptReason::kReadIndexOutOfRange:
      return "read_index is not below the data size";
    case ring::CorruptReason::kReadIndexMisaligned:
      return "read_index is not a multiple of 8";
    case ring::CorruptReason::kTruncatedPacket:
      return "fewer bytes are published than a descriptor and its trailer need (24)";
    case ring::CorruptReason::kOffsetBelowDescriptor:
      return "offset8 is below 2, so the payload would start inside the descriptor";
    case ring::CorruptReason::kOffsetBeyondLength:
      return "offset8 is greater than len8";
    case ring::CorruptReason::kPacketBeyondAvailable:
      return "the packet and its trailer are longer than the bytes the writer published";
    case ring::CorruptReason::kPacketAboveMaximum:
      return "the packet is longer than the reader's maximum packet size";
    case ring::CorruptReason::kUnknownPacketType:
      return "the type is not a packet type (1 to 13)";
  }
  return "unknown corruption";
}

std::optional<ring::CorruptReason> check_ring_indices(ring::RingMemory& memory) {
  const ring::RingView view(memory);
  const ring::RingControlPage& control = view.control();
  const std::uint32_t data_size = view.data_size_bytes();
  if (!view.is_valid_index(control.read_index)) {
    return control.read_index >= data_size ? ring::CorruptReason::kReadIndexOutOfRange
                                           : ring::CorruptReason::kReadIndexMisaligned;
  }
  if (!view.is_valid_index(control.write_index)) {
    return control.write_index >= data_size ? ring::CorruptReason::kWriteIndexOutOfRange
                                            : ring::CorruptReason::kWriteIndexMisaligned;
  }
  return std::nullopt;
}

DecodedRing decode_ring(ring::RingMemory& memory) {
  DecodedRing decoded = read_header(memory);
  // Every legal packet fits in the data area, so a reader bounded by it
  // rejects nothing the ring can hold; len8 limits packets further anyway.
  const std::uint32_t max_packet_bytes =
      decoded.data_size / ring::kPacketAlignmentBytes * ring::kPacketAlignmentBytes;
  ring::RingReader reader(memory, max_packet_bytes);
  // Neither begin_read() nor publish(): the walk must not change the image.
  while (true) {
    const ring::ReadResult result = reader.next();
    if (result.status == ring::ReadStatus::kEmpty) {
      break;
    }
    if (result.status == ring::ReadStatus::kCorrupt) {
      PacketCorruption corruption;
      corruption.reason = result.reason;
      corruption.offset = result.offset;
      const ring::RingView& view = reader.view();
      if (view.is_valid_index(result.offset) && view.is_valid_index(decoded.write_index)) {
        corruption.available_bytes =
            ring::bytes_to_read(decoded.write_index, result.offset, decoded.data_size);
        if (corruption.available_bytes >= ring::kPacketDescriptorBytes) {
          ring::PacketDescriptor descriptor{};
          view.copy_out(result.offset, std::as_writable_bytes(std::span(&descriptor, 1)));
          corruption.raw_descriptor = descriptor;
        }
      }
      decoded.corruption = corruption;
      break;
    }
    const std::span<const std::byte> payload = result.packet.payload();
    decoded.packets.push_back(
        DecodedPacket{result.packet.offset, result.packet.descriptor,
                      std::vector<std::byte>(payload.begin(), payload.end())});
  }
  return decoded;
}

void write_decoded_json(const DecodedRing& ring, std::ostream& out) {
  out << "{\"write_index\":" << ring.write_index << ",\"read_index\":" << ring.read_index
      << ",\"interrupt_mask\":" << ring.interrupt_mask
      << ",\"pending_send_sz\":" << ring.pending_send_sz
      << ",\"feature_bits\":" << ring.feature_bits << ",\"data_size\":" << ring.data_size << "}\n";
  for (const DecodedPacket& packet : ring.packets) {
    const ring::PacketDescriptor& d = packet.descriptor;
    out << "{\"offset\":" << packet.offset << ",\"type\":" << d.type << ",\"flags\":" << d.flags
        << ",\"trans_id\":" << d.trans_id << ",\"offset8\":" << d.offset8 << ",\"len8\":" << d.len8
        << ",\"payload\":\"" << to_hex(packet.payload) << "\"}\n";
  }
  if (ring.corruption) {
    out << "{\"error\":\"" << ring::corrupt_reason_name(ring.corruption->reason)
        << "\",\"offset\":" << ring.corruption->offset << "}\n";
  }
}

void write_decoded_text(const DecodedRing& ring, std::ostream& out) {
  using Align = TextTable::Align;
  TextTable header({Align::kLeft, Align::kLeft});
  header.add_row({"write_index", std::to_string(ring.write_index)});
  header.add_row({"read_index", std::to_string(ring.read_index)});
  header.add_row({"interrupt_mask", std::to_string(ring.interrupt_mask)});
  header.add_row({"pending_send_sz", std::to_string(ring.pending_send_sz)});
  header.add_row({"feature_bits", std::to_string(ring.feature_bits)});
  header.add_row({"data_size", std::to_string(ring.data_size)});
  header.write(out);
  out << '\n';

  if (!ring.packets.empty()) {
    TextTable table({Align::kRight, Align::kRight, Align::kLeft, Align::kLeft, Align::kRight,
                     Align::kRight, Align::kRight, Align::kRight, Align::kLeft});
    table.add_row({"offset", "type", "name", "flags", "trans_id", "offset8", "len8", "payload_len",
                   "payload_hex"});
    for (const DecodedPacket& packet : ring.packets) {
      const ring::PacketDescriptor& d = packet.descriptor;
      const char* name = ring::packet_type_name(d.type);
      const std::size_t shown = std::min(packet.payload.size(), kTextPayloadPreviewBytes);
      std::string preview = to_hex(std::span(packet.payload).first(shown));
      if (shown < packet.payload.size()) {
        preview += "...";
      }
      table.add_row({std::to_string(packet.offset), std::to_string(d.type),
                     name != nullptr ? name : "?", flags_hex(d.flags), std::to_string(d.trans_id),
                     std::to_string(d.offset8), std::to_string(d.len8),
                     std::to_string(packet.payload.size()), std::move(preview)});
    }
    table.write(out);
  }
  out << ring.packets.size() << (ring.packets.size() == 1 ? " packet" : " packets") << '\n';

  if (ring.corruption) {
    const PacketCorruption& c = *ring.corruption;
    out << "corrupt packet at offset " << c.offset << ": " << describe_corrupt_reason(c.reason)
        << " (" << ring::corrupt_reason_name(c.reason) << ")\n";
    if (c.raw_descriptor) {
      const ring::PacketDescriptor& d = *c.raw_descriptor;
      out << "  descriptor: type " << d.type << ", offset8 " << d.offset8 << ", len8 " << d.len8
          << ", flags " << flags_hex(d.flags) << ", trans_id " << d.trans_id << "; "
          << c.available_bytes << " bytes published from this offset\n";
    }
  }
  write_ring_picture(ring, out);
}

int run_ring_decode(const std::filesystem::path& image, bool text, std::ostream& out,
                    std::ostream& err) {
  try {
    LoadedRingImage loaded = load_ring_image(image);
    if (!loaded.memory) {
      err << kCommandName << ": " << loaded.error << '\n';
      return kExitError;
    }
    if (const auto reason = check_ring_indices(*loaded.memory)) {
      err << kCommandName << ": " << quote_path(image)
          << " is a corrupt ring: " << index_error_message(*reason, read_header(*loaded.memory))
          << " (" << ring::corrupt_reason_name(*reason) << ")\n";
      return kExitError;
    }
    const DecodedRing decoded = decode_ring(*loaded.memory);
    if (text) {
      write_decoded_text(decoded, out);
    } else {
      write_decoded_json(decoded, out);
      if (decoded.corruption) {
        // The listing may go to a file or a pipe; say it on the terminal too.
        err << kCommandName << ": " << quote_path(image) << ": corrupt packet at offset "
            << decoded.corruption->offset << ": "
            << describe_corrupt_reason(decoded.corruption->reason) << " ("
            << ring::corrupt_reason_name(decoded.corruption->reason) << ")\n";
      }
    }
    return decoded.corruption ? kExitCorrupt : kExitOk;
  } catch (const std::bad_alloc&) {
    err << kCommandName << ": " << quote_path(image) << ": not enough memory to load the image\n";
    return kExitError;
  }
}

}  // namespace vmbus::cli
