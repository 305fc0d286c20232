// The IPC frame reader between the simulator and the partitions: a byte
// stream arriving in arbitrary chunks, split into length-prefixed frames,
// each parsed as the message either side expects.
//
// Invariants beyond "no crash, no sanitizer report": no frame body is larger
// than the reader's maximum, the frames handed out never hold more bytes
// than arrived, and a frame that parses re-encodes to a frame the reader
// hands back whole.
#include <algorithm>
#include <cstring>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "vmbus/ipc/frame.h"
#include "vmbus/proto/ipc.pb.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

void parse_body(const std::string& body) {
  proto::SimToPartition to_partition;
  proto::PartitionToSim to_sim;
  for (google::protobuf::MessageLite* message :
       {static_cast<google::protobuf::MessageLite*>(&to_partition),
        static_cast<google::protobuf::MessageLite*>(&to_sim)}) {
    if (!ipc::decode_frame_body(body, *message).ok()) {
      continue;
    }
    ipc::FrameBuffer again(ipc::kDefaultMaxFrameBytes);
    const std::string frame = ipc::encode_frame(*message);
    const auto space = again.prepare(frame.size());
    std::copy(frame.begin(), frame.end(), space.begin());
    again.commit(frame.size());
    std::string round;
    ipc::FrameStatus status;
    if (again.next(&round, &status) != ipc::FrameBuffer::Next::kFrame ||
        round.size() + ipc::kFrameHeaderBytes != frame.size()) {
      invariant_failed("an encoded frame does not come back whole");
    }
  }
}

}  // namespace
}  // namespace vmbus::fuzz

// Protobuf logs every string field with invalid UTF-8 it refuses; the
// refusal is what the target checks, the log line is noise.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  fuzz::FuzzInput input(data, size);
  const std::uint32_t max_frame_bytes = 1 + input.below(1u << 16);
  ipc::FrameBuffer buffer(max_frame_bytes);
  std::size_t arrived = 0;
  std::size_t handed_out = 0;
  while (!input.empty()) {
    const auto chunk = input.bytes(4096);
    const auto space = buffer.prepare(chunk.size() + 1);
    std::memcpy(space.data(), chunk.data(), chunk.size());
    buffer.commit(chunk.size());
    arrived += chunk.size();
    std::string body;
    ipc::FrameStatus status;
    while (buffer.next(&body, &status) == ipc::FrameBuffer::Next::kFrame) {
      handed_out += ipc::kFrameHeaderBytes + body.size();
      if (body.size() > max_frame_bytes || handed_out > arrived) {
        fuzz::invariant_failed("frame of " + std::to_string(body.size()) + " bytes handed out");
      }
      fuzz::parse_body(body);
    }
  }
  (void)buffer.end_of_stream();
  return 0;
}
