// Helpers shared by the vmbus_cli tests: scratch directories, file
// contents, ring images built with the ring library, and in-process runs of
// the commands that capture exit code, stdout and stderr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vmbus/cli/sweep_flags.h"
#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

namespace vmbus::cli::testing {

// A fresh directory under the system temp dir, removed with everything in
// it when the object goes away. Unique per process and per instance, so
// tests may run in parallel.
class ScratchDir {
 public:
  ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::vector<std::byte> read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes);
void write_text_file(const std::filesystem::path& path, std::string_view text);

// The bytes of `memory`'s whole region (control page + data area).
std::vector<std::byte> image_bytes(ring::RingMemory& memory);

// Bytes from a list of small integers: bytes({0xde, 0xad}).
std::vector<std::byte> bytes(std::initializer_list<unsigned> values);

// Writes `packet` with RingWriter::write and expects kOk.
void write_packet(ring::RingMemory& memory, const ring::OutgoingPacket& packet);

// A little-endian u16 / u32 stored into an image at a byte offset.
void poke_u16(std::vector<std::byte>& image, std::size_t offset, std::uint16_t value);
void poke_u32(std::vector<std::byte>& image, std::size_t offset, std::uint32_t value);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

RunResult decode_file(const std::filesystem::path& image, bool text = false);
RunResult encode_text(std::string_view input, std::uint64_t data_size, std::uint64_t start_index,
                      const std::filesystem::path& output);
// vmbus-sim with `args` (no program name) and `input` on stdin.
RunResult run_cli(std::vector<std::string_view> args, std::string_view input = "");

// An environment holding exactly `variables`, for the functions that read
// the process environment through an EnvironmentLookup.
EnvironmentLookup environment_of(std::map<std::string, std::string> variables);

}  // namespace vmbus::cli::testing
