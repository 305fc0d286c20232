// `vmbus-sim ring encode`: build a ring image from packet lines.
//
// Input is JSON lines, one packet per line, in the shape `ring decode`
// prints:
//   {"type":6,"flags":1,"trans_id":7,"offset8":2,"payload":"0102"}
// type, flags, trans_id and payload are required; offset8 is optional
// (default 2); offset and len8 are accepted and ignored so decode output can
// be piped back in; any other key is an error. Empty lines and decode's
// header line (the object with "write_index") are skipped.
//
// Malformed packets, to build the dump a customer describes: "descriptor"
// (16 bytes in hex, written verbatim; type, flags and trans_id then need
// not be given) and "trailer" (8 bytes in hex) on any line, and with
// EncodeOptions::as_written len8, offset8 and type exactly as written plus
// the header line's control page fields. Such a packet is written byte by
// byte at write_index, not through the ring library's writer.
//
// The ring is set up with ring::initialize_ring (both indices at the start
// index, feature bit 0 set) and every packet goes through
// ring::RingWriter::write, so the image is what a real writer would leave.
// Errors name the input as "<stdin>:LINE:COL: message"; the output file is
// written only when every line was accepted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

namespace vmbus::cli {

// The largest data area a ring index (u32) can address, rounded to pages.
inline constexpr std::uint64_t kMaxRingDataSizeBytes = 0xFFFFF000u;

struct EncodeOptions {
  std::uint64_t data_size_bytes = 4096;  // positive multiple of 4096
  std::uint64_t start_index = 0;         // multiple of 8 below data_size_bytes
  std::filesystem::path output;
  // Malformed on purpose: len8, offset8 and type as written (any 16-bit
  // value), and decode's header line's interrupt_mask, pending_send_sz and
  // feature_bits kept.
  bool as_written = false;
};

// Why `options` cannot describe a ring ("--data-size 100 is not a positive
// multiple of 4096"), or an empty string if they can.
std::string check_encode_options(const EncodeOptions& options);

// The whole command: reads packet lines from `in`, writes the image to
// options.output. Returns kExitOk, or kExitError with a message on `err`
// (bad options, a bad line, a packet that does not fit, an I/O error).
int run_ring_encode(const EncodeOptions& options, std::istream& in, std::ostream& err);

}  // namespace vmbus::cli
