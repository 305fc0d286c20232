#include "vmbus/trace/writer.h"

#include <stdexcept>

namespace vmbus::trace {

void TraceWriter::open(const std::filesystem::path& path, const proto::TraceHeader& header) {
  path_ = path;
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) {
    throw std::runtime_error("cannot create trace file '" + path.string() + "'");
  }
  out_.write(kTraceMagic, kTraceMagicBytes);
  write_frame(header);
}

void TraceWriter::append_to(const std::filesystem::path& path, std::uint64_t records_written) {
  path_ = path;
  out_.open(path, std::ios::binary | std::ios::app);
  if (!out_) {
    throw std::runtime_error("cannot append to trace file '" + path.string() + "'");
  }
  next_sequence_ = records_written;
}

void TraceWriter::write(proto::TraceRecord& record) {
  record.set_sequence(next_sequence_++);
  if (out_.is_open()) {
    write_frame(record);
  }
}

void TraceWriter::write_frame(const google::protobuf::MessageLite& message) {
  // Deterministic output: proto3 without maps serializes fields in number
  // order, so equal records give equal bytes.
  const std::string body = message.SerializeAsString();
  const auto length = static_cast<std::uint32_t>(body.size());
  const char prefix[4] = {static_cast<char>(length & 0xFF), static_cast<char>((length >> 8) & 0xFF),
                          static_cast<char>((length >> 16) & 0xFF),
                          static_cast<char>((length >> 24) & 0xFF)};
  out_.write(prefix, sizeof(prefix));
  out_.write(body.data(), static_cast<std::streamsize>(body.size()));
}

void TraceWriter::close() {
  if (!out_.is_open()) {
    return;
  }
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok) {
    throw std::runtime_error("writing trace file '" + path_.string() + "' failed");
  }
}

}  // namespace vmbus::trace
