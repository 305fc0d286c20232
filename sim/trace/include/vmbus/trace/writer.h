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
// 6: both ends of every ring (the KMCL endpoints' ring records), rings named
// by direction ("host_to_guest", "guest_to_host"), RingEvent's
// interrupt_mask, pending_send_sz, index_before and reason.
// Also the run in the header (scenario text and path, simulate configs,
// command line, pinned schedule), so a trace can be replayed on its own.
inline constexpr std::uint32_t kTraceFormatVersion = 6;

class TraceWriter {
 public:
  // An inactive writer: records are counted but not written.
  TraceWriter() = default;

  // Throws std::runtime_error naming the path if it cannot be created.
  void open(const std::filesystem::path& path, const proto::TraceHeader& header);

  // Continues a closed trace of `records_written` records at its end: what
  // is written next gets sequence numbers from there on (a scenario run's
  // final state, written after the run was judged). Throws
  // std::runtime_error naming the path if it cannot be opened.
  void append_to(const std::filesystem::path& path, std::uint64_t records_written);

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
