#include "tool_test_util.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include <gtest/gtest.h>

#include "vmbus/cli/cli.h"
#include "vmbus/cli/ring_decode.h"
#include "vmbus/cli/ring_encode.h"

namespace vmbus::cli::testing {

ScratchDir::ScratchDir() {
  static int instance = 0;
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name =
      "vmbus-tools-test-" + std::to_string(::getpid()) + "-" + std::to_string(instance++);
  if (test != nullptr) {
    name += std::string("-") + test->name();
  }
  for (char& c : name) {
    if (c == '/') {
      c = '_';  // parameterized test names
    }
  }
  path_ = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> result(text.size());
  std::memcpy(result.data(), text.data(), text.size());
  return result;
}

void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  write_file(path, std::as_bytes(std::span(text.data(), text.size())));
}

std::vector<std::byte> image_bytes(ring::RingMemory& memory) {
  const std::span<std::byte> region = memory.region();
  return {region.begin(), region.end()};
}

std::vector<std::byte> bytes(std::initializer_list<unsigned> values) {
  std::vector<std::byte> result;
  for (const unsigned value : values) {
    result.push_back(static_cast<std::byte>(value));
  }
  return result;
}

void write_packet(ring::RingMemory& memory, const ring::OutgoingPacket& packet) {
  // RingView::copy_in passes an empty span's null data() to memcpy, which is
  // undefined behaviour (UBSan aborts); give it non-null empty spans, as the
  // encode command does, until the ring library guards empty copies.
  static constexpr std::byte kNoBytes[1] = {};
  ring::OutgoingPacket safe = packet;
  if (safe.header_extension.empty()) {
    safe.header_extension = std::span<const std::byte>(kNoBytes, 0);
  }
  if (safe.payload.empty()) {
    safe.payload = std::span<const std::byte>(kNoBytes, 0);
  }
  ring::RingWriter writer(memory);
  bool signal = false;
  ASSERT_EQ(writer.write(safe, &signal), ring::WriteStatus::kOk);
}

void poke_u16(std::vector<std::byte>& image, std::size_t offset, std::uint16_t value) {
  std::memcpy(image.data() + offset, &value, sizeof(value));
}

void poke_u32(std::vector<std::byte>& image, std::size_t offset, std::uint32_t value) {
  std::memcpy(image.data() + offset, &value, sizeof(value));
}

RunResult decode_file(const std::filesystem::path& image, bool text) {
  std::ostringstream out;
  std::ostringstream err;
  RunResult result;
  result.exit_code = run_ring_decode(image, text, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

RunResult encode_text(std::string_view input, std::uint64_t data_size, std::uint64_t start_index,
                      const std::filesystem::path& output) {
  std::istringstream in{std::string(input)};
  std::ostringstream err;
  RunResult result;
  result.exit_code = run_ring_encode(EncodeOptions{data_size, start_index, output}, in, err);
  result.err = err.str();
  return result;
}

RunResult run_cli(std::vector<std::string_view> args, std::string_view input) {
  std::istringstream in{std::string(input)};
  std::ostringstream out;
  std::ostringstream err;
  RunResult result;
  result.exit_code = run_vmbus_sim(args, in, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

EnvironmentLookup environment_of(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
    const auto it = variables.find(name);
    return it == variables.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

}  // namespace vmbus::cli::testing
