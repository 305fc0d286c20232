// Length-prefixed protobuf frames over a local stream socket.
//
// A frame is a 4-byte little-endian length followed by that many bytes of
// one serialized protobuf message. The peer is another process and is not
// trusted: a length above the receiver's maximum is refused before anything
// is allocated, a frame that does not parse is an error, and an end of stream
// in the middle of a frame is told apart from a clean close between frames.
// Every failure is a FrameError, never an exception or a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vmbus/ipc/asio.h"

namespace google::protobuf {
class MessageLite;
}

namespace vmbus::ipc {

inline constexpr std::uint32_t kFrameHeaderBytes = 4;
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 1u << 20;

enum class FrameError : std::uint8_t {
  kNone,
  kClosed,     // the peer closed the stream between frames
  kTruncated,  // the stream ended inside a frame
  kTooLarge,   // the length prefix exceeds the maximum
  kMalformed,  // the bytes are not a valid message of the expected type
  kIo,         // any other socket error
};

const char* frame_error_name(FrameError error);

struct FrameStatus {
  FrameError error = FrameError::kNone;
  std::string detail;  // human-readable: what, how many bytes, the OS error

  bool ok() const { return error == FrameError::kNone; }
};

// The frame for `message`: length prefix and serialized bytes.
std::string encode_frame(const google::protobuf::MessageLite& message);

// Parses a frame body into `message`.
FrameStatus decode_frame_body(const std::string& body, google::protobuf::MessageLite& message);

// Blocking write of one frame.
FrameStatus write_frame(LocalSocket& socket, const google::protobuf::MessageLite& message);

// Blocking read of one frame into `message`.
FrameStatus read_frame(LocalSocket& socket, std::uint32_t max_frame_bytes,
                       google::protobuf::MessageLite& message);

// Reads frames asynchronously, one at a time, and hands each body (not yet
// parsed) to the callback. After an error the reader stops.
class AsyncFrameReader {
 public:
  using Callback = std::function<void(const FrameStatus& status, std::string body)>;

  AsyncFrameReader(LocalSocket& socket, std::uint32_t max_frame_bytes);

  // Starts reading the next frame; the callback runs on the socket's executor.
  void read_next(Callback callback);

 private:
  struct State;
  LocalSocket& socket_;
  std::uint32_t max_frame_bytes_;
  std::shared_ptr<State> state_;
};

}  // namespace vmbus::ipc
