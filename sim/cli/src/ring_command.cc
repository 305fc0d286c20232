#include "vmbus/cli/ring_command.h"

#include <filesystem>
#include <limits>
#include <string>

#include "vmbus/cli/ring_decode.h"
#include "vmbus/cli/ring_encode.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kDecodeDescription =
    R"(Prints the control page and the packets of the ring image IMAGE: one VMBus
ring exactly as it sits in guest memory, a 4096-byte control page followed by
the data area (so the file size is 4096 plus a positive multiple of 4096).

The output is JSON lines. The first line is the control page:
  {"write_index":W,"read_index":R,"interrupt_mask":M,"pending_send_sz":P,"feature_bits":F,"data_size":D}
then one line per packet, from read_index to write_index:
  {"offset":O,"type":T,"flags":F,"trans_id":X,"offset8":A,"len8":B,"payload":"<hex>"}
where offset is the packet's byte offset in the data area and payload is the
packet's bytes from offset8*8 to len8*8 (padding included) in lowercase hex.
Packets are validated exactly as the ring library's reader validates them; a
corrupt packet ends the listing with
  {"error":"<reason>","offset":O}
The image is never modified.

Options:
  --text   print the same information as an aligned table for humans,
           then a picture of the data area: a bar of used and free bytes
           with read_index (R) and write_index (W) marked, and each
           packet's span (docs/RING.md)
  --help   print this help

Exit status:
  0  every packet decoded
  1  a corrupt packet ended the listing
  2  usage error, unreadable file, wrong file size, or a write_index or
     read_index that is out of range or not a multiple of 8
)";

constexpr std::string_view kDecodeExamples =
    R"(  vmbus-sim ring decode ring.img
  vmbus-sim ring decode --text ring.img
)";

constexpr std::string_view kEncodeDescription =
    R"(Writes the ring image OUT (see 'vmbus-sim ring decode --help') from packets
read on stdin as JSON lines, one packet per line:
  {"type":6,"flags":1,"trans_id":7,"offset8":2,"payload":"0102030405"}
  type      1 to 13 (VM_PKT_SYNCH to VM_PKT_ADDITIONAL_DATA)
  flags     0 to 65535
  trans_id  0 to 18446744073709551615
  offset8   optional, 2 to 65535, default 2: packet start to payload in
            8-byte units; the bytes between descriptor and payload are zero
  payload   hex digits, two per byte, padded with zeros to a multiple of 8
The keys "offset" and "len8" are accepted and ignored, and so are empty lines
and the header line of 'ring decode' (the one with "write_index"), so the
output of 'ring decode' can be piped back in. Any other key is an error.

The ring starts with read_index = write_index = the start index and feature
bit 0 (pending_send_sz) set; the packets are then written in order, as the
ring library's writer writes them, so they may wrap around the end of the data
area. Each packet takes its size plus an 8-byte trailer, and it is written
only if the free space is larger than that, since a full ring would look empty.

Malformed packets, to build the dump a customer describes, are written byte
by byte at write_index instead (the trailer after them, and write_index
moved past it, so a reader finds them where it would):
  descriptor  32 hex digits: the 16 descriptor bytes verbatim (type, flags
              and trans_id may then be left out)
  trailer     16 hex digits: the 8 trailer bytes verbatim (a bad trailer)
and with --as-written, len8 is taken as written instead of ignored, type
and offset8 may be any 16-bit value, and the header line's interrupt_mask,
pending_send_sz and feature_bits are kept:
  {"type":6,"flags":0,"trans_id":1,"offset8":4,"len8":3,"payload":"00"}

Errors in the input are reported as <stdin>:LINE:COLUMN: message. OUT is
written only when every line was accepted (through a temporary file renamed
over OUT), so a failed encode leaves an existing OUT untouched.

Options:
  --data-size N    the data area's size in bytes: a positive multiple of 4096
                   (required)
  --start-index I  the initial read_index and write_index: a multiple of 8
                   below N (default 0)
  --as-written     keep len8, offset8, type and the control page fields as
                   written, however malformed (see above)
  --help           print this help

Exit status:
  0  the image was written
  2  usage error, a bad input line, a packet that does not fit, or an I/O error
)";

constexpr std::string_view kEncodeExamples =
    R"(  echo '{"type":6,"flags":0,"trans_id":1,"payload":"cafe"}' | vmbus-sim ring encode --data-size 4096 ring.img
  vmbus-sim ring decode old.img | vmbus-sim ring encode --data-size 8192 --start-index 4000 new.img
  echo '{"type":6,"flags":0,"trans_id":1,"offset8":4,"len8":3,"payload":"00"}' | vmbus-sim ring encode --as-written --data-size 4096 bad.img
)";

constexpr std::string_view kRingDescription =
    R"(Decodes and builds ring images: one VMBus ring buffer exactly as it sits in
guest memory, a 4096-byte control page followed by the data area.
)";

constexpr std::string_view kRingExamples =
    R"(  vmbus-sim ring decode ring.img
  vmbus-sim ring decode ring.img | vmbus-sim ring encode --data-size 4096 copy.img
)";

int run_decode_command(const Invocation& invocation) {
  static constexpr FlagSpec kFlags[] = {{"--text", false}};
  const std::optional<ParsedArgs> parsed = parse_args(invocation, kFlags);
  if (!parsed) {
    return kExitError;
  }
  if (parsed->positionals.empty()) {
    return usage_error(invocation.command_path, invocation.io.err, "missing the IMAGE argument");
  }
  if (parsed->positionals.size() > 1) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "unexpected argument '" + std::string(parsed->positionals[1]) + "'");
  }
  return run_ring_decode(std::filesystem::path(parsed->positionals[0]), parsed->has("--text"),
                         invocation.io.out, invocation.io.err);
}

int run_encode_command(const Invocation& invocation) {
  static constexpr FlagSpec kFlags[] = {
      {"--data-size", true}, {"--start-index", true}, {"--as-written", false}};
  const std::optional<ParsedArgs> parsed = parse_args(invocation, kFlags);
  if (!parsed) {
    return kExitError;
  }
  EncodeOptions options;
  options.as_written = parsed->has("--as-written");
  const std::optional<std::string_view> data_size = parsed->value("--data-size");
  if (!data_size) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "missing the required flag --data-size");
  }
  constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
  const std::optional<std::uint64_t> size_value =
      parse_decimal_flag(invocation, "--data-size", *data_size, kNoLimit);
  if (!size_value) {
    return kExitError;
  }
  options.data_size_bytes = *size_value;
  if (const std::optional<std::string_view> start = parsed->value("--start-index")) {
    const std::optional<std::uint64_t> start_value =
        parse_decimal_flag(invocation, "--start-index", *start, kNoLimit);
    if (!start_value) {
      return kExitError;
    }
    options.start_index = *start_value;
  }
  if (parsed->positionals.empty()) {
    return usage_error(invocation.command_path, invocation.io.err, "missing the OUT argument");
  }
  if (parsed->positionals.size() > 1) {
    return usage_error(invocation.command_path, invocation.io.err,
                       "unexpected argument '" + std::string(parsed->positionals[1]) + "'");
  }
  options.output = std::filesystem::path(parsed->positionals[0]);
  if (const std::string problem = check_encode_options(options); !problem.empty()) {
    return usage_error(invocation.command_path, invocation.io.err, problem);
  }
  return run_ring_encode(options, invocation.io.in, invocation.io.err);
}

}  // namespace

const Command& ring_command() {
  static const Command kSubcommands[] = {
      Command{"decode",
              "[--text] IMAGE",
              "Print the control page and packets of a ring image",
              kDecodeDescription,
              kDecodeExamples,
              &run_decode_command,
              {}},
      Command{"encode",
              "--data-size N [--start-index I] [--as-written] OUT",
              "Write a ring image from packet lines read on stdin",
              kEncodeDescription,
              kEncodeExamples,
              &run_encode_command,
              {}},
  };
  static const Command kRing{
      "ring",           "<command> [arguments]", "Decode and build VMBus ring buffer images",
      kRingDescription, kRingExamples,           nullptr,
      kSubcommands};
  return kRing;
}

}  // namespace vmbus::cli
