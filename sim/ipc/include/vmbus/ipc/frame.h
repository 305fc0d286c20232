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
#include <span>
#include <string>
#include <vector>

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

// Splits a byte stream into frames. Fed whatever the socket returned, it
// hands out complete frame bodies; a length above the maximum is an error
// before anything is allocated for the body. Reading in large chunks through
// it costs one system call for many small frames instead of two per frame.
class FrameBuffer {
 public:
  explicit FrameBuffer(std::uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Space to read into (at least `min_bytes`); then commit() what arrived.
  std::span<char> prepare(std::size_t min_bytes = 64 * 1024);
  void commit(std::size_t bytes) { end_ += bytes; }

  enum class Next { kFrame, kNeedMore, kError };
  // The next complete frame body, kNeedMore, or a kTooLarge error.
  Next next(std::string* body, FrameStatus* error);

  // What an end of stream means now: kClosed between frames, else kTruncated.
  FrameStatus end_of_stream() const;

 private:
  std::uint32_t max_frame_bytes_;
  std::vector<char> bytes_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
};

// Blocking reads of frames from one socket, buffered.
class FrameReader {
 public:
  FrameReader(LocalSocket& socket, std::uint32_t max_frame_bytes)
      : socket_(socket), buffer_(max_frame_bytes) {}

  FrameStatus read(google::protobuf::MessageLite& message);

  // True if a complete frame is already buffered (no system call needed).
  bool has_buffered_frame();

 private:
  LocalSocket& socket_;
  FrameBuffer buffer_;
  std::string pending_body_;
  bool has_pending_ = false;
};

// Blocking read of one frame into `message`, unbuffered: for one-off reads
// (a test, a handshake) where nothing may be read past the frame.
FrameStatus read_frame(LocalSocket& socket, std::uint32_t max_frame_bytes,
                       google::protobuf::MessageLite& message);

// Reads frames asynchronously, one at a time, and hands each body (not yet
// parsed) to the callback. After an error the reader stops.
class AsyncFrameReader {
 public:
  using Callback = std::function<void(const FrameStatus& status, std::string body)>;

  AsyncFrameReader(LocalSocket& socket, std::uint32_t max_frame_bytes);

  // Delivers the next frame; the callback runs on the socket's executor.
  void read_next(Callback callback);

 private:
  LocalSocket& socket_;
  std::shared_ptr<FrameBuffer> buffer_;
};

}  // namespace vmbus::ipc
