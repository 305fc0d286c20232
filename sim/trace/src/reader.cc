#include "vmbus/trace/reader.h"

#include <fstream>
#include <istream>

#include "vmbus/trace/writer.h"

namespace vmbus::trace {

TraceReadResult read_trace(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    TraceReadResult result;
    result.error = path.string() + ": cannot open";
    return result;
  }
  return read_trace(in, path.string());
}

TraceReadResult read_trace(std::istream& in, const std::string& name) {
  TraceReadResult result;
  char magic[kTraceMagicBytes] = {};
  in.read(magic, kTraceMagicBytes);
  if (in.gcount() != static_cast<std::streamsize>(kTraceMagicBytes) ||
      std::string(magic, kTraceMagicBytes) != std::string(kTraceMagic, kTraceMagicBytes)) {
    result.error = name + ": not a vmbus-sim trace (no VMBTRACE header)";
    return result;
  }
  std::uint64_t offset = kTraceMagicBytes;
  std::string body;
  for (std::uint64_t index = 0;; ++index) {
    unsigned char prefix[4];
    in.read(reinterpret_cast<char*>(prefix), sizeof(prefix));
    const std::streamsize got = in.gcount();
    if (got == 0 && in.eof()) {
      break;
    }
    const std::string where =
        name + ": " + (index == 0 ? std::string("header") : "record " + std::to_string(index - 1)) +
        " at byte " + std::to_string(offset);
    if (got != sizeof(prefix)) {
      result.error = where + ": the file ends inside a length prefix";
      return result;
    }
    const std::uint32_t length = std::uint32_t{prefix[0]} | std::uint32_t{prefix[1]} << 8 |
                                 std::uint32_t{prefix[2]} << 16 | std::uint32_t{prefix[3]} << 24;
    if (length > kMaxTraceFrameBytes) {
      result.error = where + ": frame of " + std::to_string(length) + " bytes is over the limit";
      return result;
    }
    body.resize(length);
    in.read(body.data(), length);
    if (in.gcount() != static_cast<std::streamsize>(length)) {
      result.error = where + ": the file ends inside a frame";
      return result;
    }
    const bool parsed = index == 0 ? result.trace.header.ParseFromString(body)
                                   : result.trace.records.emplace_back().ParseFromString(body);
    if (!parsed) {
      result.error = where + ": the frame does not parse";
      return result;
    }
    if (index == 0 && result.trace.header.format_version() != kTraceFormatVersion) {
      result.error = name + ": trace format version " +
                     std::to_string(result.trace.header.format_version()) +
                     ", this vmbus-sim reads version " + std::to_string(kTraceFormatVersion);
      return result;
    }
    offset += sizeof(prefix) + length;
  }
  if (offset == kTraceMagicBytes) {
    result.error = name + ": no trace header";
    return result;
  }
  result.ok = true;
  return result;
}

}  // namespace vmbus::trace
