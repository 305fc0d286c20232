// Writes a run's trace file: "VMBTRACE", then length-prefixed frames, the
// first a TraceHeader and every later one a TraceRecord
// (proto/schema/vmbus/proto/trace.proto). The writer assigns sequence
// numbers; callers give simulated time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "vmbus/proto/trace.pb.h"

namespace vmbus::trace {

inline constexpr char kTraceMagic[] = "VMBTRACE";
inline constexpr std::size_t kTraceMagicBytes = 8;
// Bump when the trace's shape changes in a way a reader would notice.
// 2: KmclRecord; 3: fault, action, completion; 4: the build in the header;
// 5: KmclRecord's relid, trans_id, packet, delivery and callback fields;
// 6: the run in the header (scenario text and path, simulate configs,
// command line, pinned schedule), so a trace can be replayed on its own.
inline constexpr std::uint32_t kTraceFormatVersion = 6;

class TraceWriter {
 public:
  // An inactive writer: records are counted but not written.
  TraceWriter() = default;

  // Throws std::runtime_error naming the path if it cannot be created.
  void open(const std::filesystem::path& path, const proto::TraceHeader& header);

  // Stamps `record` with the next sequence number and writes it.
  void write(proto::TraceRecord& record);

  // Flushes and closes; throws std::runtime_error if anything failed.
  void close();

  std::uint64_t records_written() const { return next_sequence_; }

 private:
  void write_frame(const google::protobuf::MessageLite& message);

  std::ofstream out_;
  std::filesystem::path path_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace vmbus::trace
