#include "vmbus/cli/scenario_command.h"

#include <fstream>
#include <new>
#include <optional>
#include <ostream>
#include <sstream>

#include "vmbus/cli/output_paths.h"
#include "vmbus/cli/ring_decode.h"
#include "vmbus/cli/ring_image.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFromRingDescription =
    R"(Writes a starter scenario around the ring image IMAGE: a VMBus ring as it
sits in guest memory (the format of 'vmbus-sim ring decode'), typically a
customer's dump of the guest's incoming ring. The scenario has one channel,
"dump", whose incoming ring starts as the image -- packets, indices,
interrupt_mask, pending_send_sz and feature bits exactly as they were -- and
interrupts the guest once its driver has started, so the driver reads what
the image holds. The file's comment lists the image's control page and
packets (and the corrupt packet, if there is one), so the next edits -- the
driver's policy, the expectations -- can be written against them.

Options:
  -o FILE       write the scenario to FILE (never over an existing file); it
                names IMAGE relative to FILE's folder. Default: stdout, naming
                IMAGE by its absolute path
  --name NAME   the scenario's name (default: IMAGE's file name without its
                extension)
  --help        print this help

Exit status:
  0  the scenario was written
  2  usage error, an image that cannot be read, of a size that is not a
     ring, or with indices outside its data area; FILE exists
)";

constexpr std::string_view kFromRingExamples =
    R"(  vmbus-sim scenario from-ring customer.img -o scenarios/support/customer.textproto
  vmbus-sim scenario from-ring --name netvsc-hang dump.img
)";

constexpr std::string_view kScenarioDescription =
    R"(Writes scenario files (see docs/SCENARIOS.md) from what a support case
brings.
)";

std::string packet_line(const DecodedPacket& packet) {
  const ring::PacketDescriptor& d = packet.descriptor;
  return "offset " + std::to_string(packet.offset) + ": type " + std::to_string(d.type) +
         " flags " + std::to_string(d.flags) + " trans_id " + std::to_string(d.trans_id) +
         " offset8 " + std::to_string(d.offset8) + " len8 " + std::to_string(d.len8) + " (" +
         std::to_string(packet.payload.size()) + " payload bytes)";
}

// The comment that says what the image holds.
std::string image_comment(const DecodedRing& ring, const fs::path& image) {
  std::ostringstream text;
  text << "# A starter scenario around the ring image " << image.filename().string()
       << " (vmbus-sim scenario\n"
       << "# from-ring): the guest's incoming ring of channel \"dump\" starts as the image,\n"
       << "# and the guest is interrupted once its driver has started, so the driver\n"
       << "# reads what the image holds.\n#\n"
       << "# The image: write_index " << ring.write_index << ", read_index " << ring.read_index
       << ", interrupt_mask " << ring.interrupt_mask << ",\n# pending_send_sz "
       << ring.pending_send_sz << ", feature_bits " << ring.feature_bits << ", a " << ring.data_size
       << "-byte data area; " << ring.packets.size() << " packet(s) to read:\n";
  for (const DecodedPacket& packet : ring.packets) {
    text << "#   " << packet_line(packet) << "\n";
  }
  if (ring.corruption) {
    text << "#   offset " << ring.corruption->offset
         << ": corrupt: " << describe_corrupt_reason(ring.corruption->reason) << " ("
         << ring::corrupt_reason_name(ring.corruption->reason) << ")\n";
  }
  text << "#\n# Next: give the guest's driver the policy the customer's driver had\n"
       << "# (guest_driver), and expect what it did (expect { callbacks ... }).\n";
  return text.str();
}

int run_from_ring(const Invocation& invocation) {
  static constexpr FlagSpec kFlags[] = {{"-o", true}, {"--name", true}};
  const std::optional<ParsedArgs> args = parse_args(invocation, kFlags);
  if (!args) {
    return kExitError;
  }
  if (args->positionals.size() != 1) {
    return usage_error(invocation.command_path, invocation.io.err,
                       args->positionals.empty() ? "missing IMAGE" : "expected one IMAGE");
  }
  const fs::path image = std::string(args->positionals.front());
  std::string name = std::string(args->value("--name").value_or(image.stem().string()));
  std::error_code ignored;
  std::string image_in_file = fs::absolute(image, ignored).lexically_normal().string();
  std::optional<fs::path> out;
  if (auto text = args->value("-o")) {
    out = std::string(*text);
    if (fs::exists(*out, ignored)) {
      invocation.io.err << invocation.command_path << ": " << quote_path(*out)
                        << " exists; it is not written over\n";
      return kExitError;
    }
    const fs::path folder = fs::absolute(*out, ignored).parent_path();
    image_in_file =
        fs::absolute(image, ignored).lexically_normal().lexically_relative(folder).string();
  }
  std::string error;
  const std::string scenario = scenario_from_ring(image, image_in_file, name, error);
  if (!error.empty()) {
    invocation.io.err << invocation.command_path << ": " << error << "\n";
    return kExitError;
  }
  if (!out) {
    invocation.io.out << scenario;
    return kExitOk;
  }
  if (std::string problem = write_file_atomically(*out, scenario); !problem.empty()) {
    invocation.io.err << invocation.command_path << ": " << problem << "\n";
    return kExitError;
  }
  invocation.io.err << "wrote " << out->string() << "\n";
  return kExitOk;
}

}  // namespace

std::string scenario_from_ring(const fs::path& image, const std::string& image_in_file,
                               const std::string& name, std::string& error) {
  LoadedRingImage loaded;
  try {
    loaded = load_ring_image(image);
  } catch (const std::bad_alloc&) {
    error = quote_path(image) + ": not enough memory to load the image";
    return "";
  }
  if (!loaded.memory) {
    error = loaded.error;
    return "";
  }
  if (const auto reason = check_ring_indices(*loaded.memory)) {
    error = quote_path(image) + " has impossible indices: " + describe_corrupt_reason(*reason) +
            " (" + ring::corrupt_reason_name(*reason) + ")";
    return "";
  }
  const DecodedRing ring = decode_ring(*loaded.memory);
  const std::uint64_t ring_pages = ring.data_size / 4096 + 1;
  std::ostringstream text;
  text << "# proto-file: proto/schema/vmbus/proto/scenario.proto\n"
       << "# proto-message: vmbus.proto.Scenario\n#\n"
       << image_comment(ring, image) << "\n"
       << "name: \"" << name << "\"\n"
       << "topology {\n  channel {\n    name: \"dump\"\n"
       << "    ring_pages: " << ring_pages << "\n"
       << "    inbound_ring_image: \"" << image_in_file << "\"\n  }\n}\n"
       << "step {\n"
       << "  when { event { kmcl { callback: \"PostStarted\" } side: GUEST } }\n"
       << "  spurious_interrupt { channel: \"dump\" direction: HOST_TO_GUEST }\n"
       << "}\n";
  return text.str();
}

const Command& scenario_command() {
  static const Command kSubcommands[] = {
      Command{"from-ring",
              "[-o FILE] [--name NAME] IMAGE",
              "Write a starter scenario around a ring image",
              kFromRingDescription,
              kFromRingExamples,
              &run_from_ring,
              {}},
  };
  static const Command kScenario{
      "scenario",           "<command> [arguments]", "Write scenario files from ring images",
      kScenarioDescription, kFromRingExamples,       nullptr,
      kSubcommands};
  return kScenario;
}

}  // namespace vmbus::cli
