#include "vmbus/ipc/frame.h"

#include <array>
#include <cstring>

#include <google/protobuf/message_lite.h>

#include "vmbus/base/check.h"

namespace vmbus::ipc {
namespace {

namespace asio = boost::asio;

std::uint32_t decode_length(const std::array<unsigned char, kFrameHeaderBytes>& header) {
  return std::uint32_t{header[0]} | std::uint32_t{header[1]} << 8 | std::uint32_t{header[2]} << 16 |
         std::uint32_t{header[3]} << 24;
}

FrameStatus status_for_read_error(const boost::system::error_code& error, std::size_t got,
                                  bool in_body) {
  if (error == asio::error::eof || error == asio::error::connection_reset) {
    if (got == 0 && !in_body) {
      return {FrameError::kClosed, "peer closed the connection"};
    }
    return {FrameError::kTruncated, "stream ended inside a frame after " + std::to_string(got) +
                                        (in_body ? " body bytes" : " header bytes")};
  }
  return {FrameError::kIo, error.message()};
}

FrameStatus check_length(std::uint32_t length, std::uint32_t max_frame_bytes) {
  if (length > max_frame_bytes) {
    return {FrameError::kTooLarge, "frame of " + std::to_string(length) +
                                       " bytes exceeds the maximum of " +
                                       std::to_string(max_frame_bytes)};
  }
  return {};
}

}  // namespace

const char* frame_error_name(FrameError error) {
  switch (error) {
    case FrameError::kNone:
      return "none";
    case FrameError::kClosed:
      return "closed";
    case FrameError::kTruncated:
      return "truncated";
    case FrameError::kTooLarge:
      return "too_large";
    case FrameError::kMalformed:
      return "malformed";
    case FrameError::kIo:
      return "io";
  }
  return "unknown";
}

std::string encode_frame(const google::protobuf::MessageLite& message) {
  std::string body;
  VMBUS_CHECK(message.SerializeToString(&body), "cannot serialize an IPC message");
  VMBUS_CHECK(body.size() <= 0xFFFFFFFFu, "IPC message too large to frame");
  const auto length = static_cast<std::uint32_t>(body.size());
  std::string frame(kFrameHeaderBytes, '\0');
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) {
    frame[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  }
  frame += body;
  return frame;
}

FrameStatus decode_frame_body(const std::string& body, google::protobuf::MessageLite& message) {
  if (!message.ParseFromString(body)) {
    return {FrameError::kMalformed, "a frame of " + std::to_string(body.size()) +
                                        " bytes is not a valid " + message.GetTypeName()};
  }
  return {};
}

FrameStatus write_frame(LocalSocket& socket, const google::protobuf::MessageLite& message) {
  const std::string frame = encode_frame(message);
  boost::system::error_code error;
  asio::write(socket, asio::buffer(frame), error);
  if (error) {
    return {FrameError::kIo, "write failed: " + error.message()};
  }
  return {};
}

FrameStatus read_frame(LocalSocket& socket, std::uint32_t max_frame_bytes,
                       google::protobuf::MessageLite& message) {
  std::array<unsigned char, kFrameHeaderBytes> header{};
  boost::system::error_code error;
  std::size_t got = asio::read(socket, asio::buffer(header), error);
  if (error) {
    return status_for_read_error(error, got, /*in_body=*/false);
  }
  const std::uint32_t length = decode_length(header);
  if (FrameStatus status = check_length(length, max_frame_bytes); !status.ok()) {
    return status;
  }
  std::string body(length, '\0');
  got = asio::read(socket, asio::buffer(body), error);
  if (error) {
    return status_for_read_error(error, got, /*in_body=*/true);
  }
  return decode_frame_body(body, message);
}

struct AsyncFrameReader::State {
  std::array<unsigned char, kFrameHeaderBytes> header{};
  std::string body;
};

AsyncFrameReader::AsyncFrameReader(LocalSocket& socket, std::uint32_t max_frame_bytes)
    : socket_(socket), max_frame_bytes_(max_frame_bytes), state_(std::make_shared<State>()) {}

void AsyncFrameReader::read_next(Callback callback) {
  auto state = state_;
  asio::async_read(
      socket_, asio::buffer(state->header),
      [this, state, callback = std::move(callback)](const boost::system::error_code& error,
                                                    std::size_t got) mutable {
        if (error) {
          callback(status_for_read_error(error, got, /*in_body=*/false), {});
          return;
        }
        const std::uint32_t length = decode_length(state->header);
        if (FrameStatus status = check_length(length, max_frame_bytes_); !status.ok()) {
          callback(status, {});
          return;
        }
        state->body.assign(length, '\0');
        asio::async_read(socket_, asio::buffer(state->body),
                         [state, callback = std::move(callback)](
                             const boost::system::error_code& body_error, std::size_t body_got) {
                           if (body_error) {
                             callback(status_for_read_error(body_error, body_got, true), {});
                             return;
                           }
                           callback(FrameStatus{}, std::move(state->body));
                         });
      });
}

}  // namespace vmbus::ipc
