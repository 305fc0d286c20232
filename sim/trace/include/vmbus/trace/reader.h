// Reads a trace file written by TraceWriter. The file may come from anyone
// (a customer, an old version): every length is checked before anything is
// allocated, and a bad file is an error naming what and where.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::trace {

struct TraceFile {
  proto::TraceHeader header;
  std::vector<proto::TraceRecord> records;
};

struct TraceReadResult {
  bool ok = false;
  std::string error;  // "run.trace: record 12 at byte 4410: ..." when !ok
  TraceFile trace;
};

// Frames above this size are refused as corrupt.
inline constexpr std::uint32_t kMaxTraceFrameBytes = 1u << 20;

TraceReadResult read_trace(const std::filesystem::path& path);

// The same from a stream; `name` is what errors call it. For bytes that are
// not in a file (fuzzers, tests).
TraceReadResult read_trace(std::istream& in, const std::string& name);

}  // namespace vmbus::trace
