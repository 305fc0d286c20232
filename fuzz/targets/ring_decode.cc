// `vmbus-sim ring decode` on an arbitrary ring image, then the round trip
// through `ring encode`.
//
// Invariants beyond "no crash, no sanitizer report": every decoded packet
// lies between read_index and write_index; both listings (text and JSON
// lines) render; and encoding the JSON listing again, from the same start
// index into a ring of the same size, decodes to the same packets (the
// bytes between the descriptor and offset8 aside, which the listing does
// not carry).
#include "vmbus/cli/ring_decode.h"

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <unistd.h>

#include "vmbus/cli/command.h"
#include "vmbus/cli/ring_encode.h"
#include "vmbus/cli/ring_image.h"
#include "vmbus/ring/memory.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

bool same_packets(const cli::DecodedRing& a, const cli::DecodedRing& b) {
  if (a.packets.size() != b.packets.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.packets.size(); ++i) {
    const cli::DecodedPacket& x = a.packets[i];
    const cli::DecodedPacket& y = b.packets[i];
    if (x.offset != y.offset || x.descriptor.type != y.descriptor.type ||
        x.descriptor.flags != y.descriptor.flags ||
        x.descriptor.trans_id != y.descriptor.trans_id ||
        x.descriptor.offset8 != y.descriptor.offset8 || x.descriptor.len8 != y.descriptor.len8 ||
        x.payload != y.payload) {
      return false;
    }
  }
  return true;
}

void check_inside(const cli::DecodedRing& decoded) {
  std::uint64_t used = 0;
  const std::uint64_t available =
      ring::bytes_to_read(decoded.write_index, decoded.read_index, decoded.data_size);
  for (const cli::DecodedPacket& packet : decoded.packets) {
    used += ring::ring_bytes_for_packet(std::uint32_t{packet.descriptor.len8} * 8);
    if (packet.offset >= decoded.data_size || used > available) {
      invariant_failed("decoded packet at " + std::to_string(packet.offset) +
                       " outside the published bytes");
    }
  }
}

// The packets before a corrupt one must survive the trip on their own.
void round_trip(cli::DecodedRing decoded) {
  decoded.corruption.reset();
  std::ostringstream json;
  cli::write_decoded_json(decoded, json);
  cli::EncodeOptions options;
  options.data_size_bytes = decoded.data_size;
  options.start_index = decoded.read_index;
  options.output = std::filesystem::temp_directory_path() /
                   ("vmbus-fuzz-ring-decode-" + std::to_string(::getpid()) + ".img");
  std::istringstream in(json.str());
  std::ostringstream err;
  if (cli::run_ring_encode(options, in, err) != cli::kExitOk) {
    invariant_failed("ring encode refused ring decode's listing: " + err.str());
  }
  cli::LoadedRingImage image = cli::load_ring_image(options.output);
  std::filesystem::remove(options.output);
  if (!image.memory) {
    invariant_failed("the encoded image does not load: " + image.error);
  }
  if (!same_packets(decoded, cli::decode_ring(*image.memory))) {
    invariant_failed("decode, encode, decode changed the packets");
  }
}

}  // namespace
}  // namespace vmbus::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  // The input is an image file: control page, then data. Its size picks
  // one or two data pages; what is missing reads as zeros.
  ring::FlatRingMemory memory((size > 2 * ring::kHvPageSizeBytes ? 2 : 1) * ring::kHvPageSizeBytes);
  const auto region = memory.region();
  std::memcpy(region.data(), data, std::min(size, region.size()));

  const cli::DecodedRing decoded = cli::decode_ring(memory);
  fuzz::check_inside(decoded);
  std::ostringstream text;
  cli::write_decoded_text(decoded, text);
  if (!cli::check_ring_indices(memory)) {
    fuzz::round_trip(decoded);
  }
  return 0;
}
