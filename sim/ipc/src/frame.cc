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

asio::mutable_buffer as_asio_buffer(std::span<char> span) {
  return asio::buffer(span.data(), span.size());
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

std::span<char> FrameBuffer::prepare(std::size_t min_bytes) {
  if (begin_ == end_) {
    begin_ = end_ = 0;  // everything consumed: start over at the front
  } else if (begin_ > 0 && bytes_.size() - end_ < min_bytes) {
    std::memmove(bytes_.data(), bytes_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (bytes_.size() - end_ < min_bytes) {
    bytes_.resize(end_ + min_bytes);
  }
  return {bytes_.data() + end_, bytes_.size() - end_};
}

FrameBuffer::Next FrameBuffer::next(std::string* body, FrameStatus* error) {
  const std::size_t available = end_ - begin_;
  if (available < kFrameHeaderBytes) {
    return Next::kNeedMore;
  }
  std::array<unsigned char, kFrameHeaderBytes> header{};
  std::memcpy(header.data(), bytes_.data() + begin_, kFrameHeaderBytes);
  const std::uint32_t length = decode_length(header);
  if (FrameStatus status = check_length(length, max_frame_bytes_); !status.ok()) {
    *error = status;
    return Next::kError;
  }
  if (available - kFrameHeaderBytes < length) {
    return Next::kNeedMore;
  }
  body->assign(bytes_.data() + begin_ + kFrameHeaderBytes, length);
  begin_ += kFrameHeaderBytes + length;
  return Next::kFrame;
}

FrameStatus FrameBuffer::end_of_stream() const {
  if (begin_ == end_) {
    return {FrameError::kClosed, "peer closed the connection"};
  }
  return {FrameError::kTruncated,
          "stream ended inside a frame, " + std::to_string(end_ - begin_) + " bytes into it"};
}

bool FrameReader::has_buffered_frame() {
  if (has_pending_) {
    return true;
  }
  FrameStatus ignored;
  has_pending_ = buffer_.next(&pending_body_, &ignored) == FrameBuffer::Next::kFrame;
  return has_pending_;
}

FrameStatus FrameReader::read(google::protobuf::MessageLite& message) {
  std::string body;
  for (;;) {
    if (has_pending_) {
      has_pending_ = false;
      return decode_frame_body(pending_body_, message);
    }
    FrameStatus error;
    switch (buffer_.next(&body, &error)) {
      case FrameBuffer::Next::kFrame:
        return decode_frame_body(body, message);
      case FrameBuffer::Next::kError:
        return error;
      case FrameBuffer::Next::kNeedMore:
        break;
    }
    boost::system::error_code read_error;
    const std::size_t got = socket_.read_some(as_asio_buffer(buffer_.prepare()), read_error);
    if (read_error == asio::error::eof || read_error == asio::error::connection_reset) {
      return buffer_.end_of_stream();
    }
    if (read_error) {
      return {FrameError::kIo, read_error.message()};
    }
    buffer_.commit(got);
  }
}

AsyncFrameReader::AsyncFrameReader(LocalSocket& socket, std::uint32_t max_frame_bytes)
    : socket_(socket), buffer_(std::make_shared<FrameBuffer>(max_frame_bytes)) {}

void AsyncFrameReader::read_next(Callback callback) {
  std::string body;
  FrameStatus error;
  switch (buffer_->next(&body, &error)) {
    case FrameBuffer::Next::kFrame:
      // Already buffered: deliver through the executor, as a read would.
      asio::post(socket_.get_executor(),
                 [callback = std::move(callback), body = std::move(body)]() mutable {
                   callback(FrameStatus{}, std::move(body));
                 });
      return;
    case FrameBuffer::Next::kError:
      asio::post(socket_.get_executor(),
                 [callback = std::move(callback), error] { callback(error, {}); });
      return;
    case FrameBuffer::Next::kNeedMore:
      break;
  }
  auto buffer = buffer_;
  socket_.async_read_some(
      as_asio_buffer(buffer->prepare()),
      [this, buffer, callback = std::move(callback)](const boost::system::error_code& read_error,
                                                     std::size_t got) mutable {
        if (read_error == asio::error::eof || read_error == asio::error::connection_reset) {
          callback(buffer->end_of_stream(), {});
          return;
        }
        if (read_error) {
          callback(FrameStatus{FrameError::kIo, read_error.message()}, {});
          return;
        }
        buffer->commit(got);
        read_next(std::move(callback));
      });
}

}  // namespace vmbus::ipc
