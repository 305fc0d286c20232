#include "vmbus/cli/ring_encode.h"

#include <array>
#include <cstring>
#include <istream>
#include <limits>
#include <new>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

#include "vmbus/base/check.h"
#include "vmbus/cli/command.h"
#include "vmbus/cli/hex.h"
#include "vmbus/cli/json_lines.h"
#include "vmbus/cli/ring_image.h"
#include "vmbus/ring/layout.h"
#include "vmbus/ring/memory.h"
#include "vmbus/ring/ring.h"

namespace vmbus::cli {
namespace {

constexpr std::string_view kCommandName = "vmbus-sim ring encode";
constexpr std::string_view kInputName = "<stdin>";
constexpr std::uint64_t kMaxLen8 = 0xFFFF;

// A problem with one input line, at a 1-based byte column.
struct LineError {
  std::size_t column = 1;
  std::string message;
};

struct PacketLine {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint64_t trans_id = 0;
  std::uint16_t offset8 = ring::kMinOffset8;
  std::vector<std::byte> payload;
  // Malformed on purpose: len8 as written (--as-written), the 16 descriptor
  // bytes verbatim, the 8 trailer bytes verbatim. Any of them: the packet
  // is written byte by byte instead of through the ring library's writer.
  std::optional<std::uint16_t> len8;
  std::vector<std::byte> descriptor;
  std::vector<std::byte> trailer;
  // A type or offset8 the writer refuses (--as-written).
  bool out_of_range = false;
  bool raw() const {
    return len8.has_value() || !descriptor.empty() || !trailer.empty() || out_of_range;
  }
};

// One packet line's keys. Decode prints offset and len8 too; they follow
// from the ring position and the payload, so encode accepts and ignores them
// (len8 is taken as written with --as-written).
enum class Key : std::uint8_t {
  kType,
  kFlags,
  kTransId,
  kOffset8,
  kPayload,
  kLen8,
  kDescriptor,
  kTrailer,
  kIgnored
};

std::optional<Key> key_of(std::string_view name, bool as_written) {
  if (name == "descriptor") {
    return Key::kDescriptor;
  }
  if (name == "trailer") {
    return Key::kTrailer;
  }
  if (name == "len8" && as_written) {
    return Key::kLen8;
  }
  if (name == "type") {
    return Key::kType;
  }
  if (name == "flags") {
    return Key::kFlags;
  }
  if (name == "trans_id") {
    return Key::kTransId;
  }
  if (name == "offset8") {
    return Key::kOffset8;
  }
  if (name == "payload") {
    return Key::kPayload;
  }
  if (name == "offset" || name == "len8") {
    return Key::kIgnored;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> integer_member(const JsonMember& member, std::uint64_t min,
                                            std::uint64_t max, LineError* error) {
  const std::optional<std::uint64_t> value = json_unsigned(member.value, max);
  if (!value || *value < min) {
    error->column = member.value.column;
    error->message = quote_for_message(member.key) + " must be an integer from " +
                     std::to_string(min) + " to " + std::to_string(max) + ", got " +
                     describe_json_value(member.value);
    return std::nullopt;
  }
  return value;
}

// A hex string member into bytes; `exact_bytes` (when not 0) is the only
// length it may have.
bool decode_payload(const JsonMember& member, std::vector<std::byte>* payload, LineError* error,
                    std::size_t exact_bytes = 0) {
  const JsonValue& value = member.value;
  const std::string name = quote_for_message(member.key);
  if (value.kind != JsonKind::kString) {
    error->column = value.column;
    error->message = name + " must be a string of hex digits, got " + describe_json_value(value);
    return false;
  }
  if (exact_bytes != 0 && value.text.size() != 2 * exact_bytes) {
    error->column = value.column;
    error->message = name + " must be " + std::to_string(2 * exact_bytes) + " hex digits (" +
                     std::to_string(exact_bytes) + " bytes as they sit in the ring), got " +
                     std::to_string(value.text.size());
    return false;
  }
  const std::string& hex = value.text;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (hex_digit_value(hex[i]) < 0) {
      // Columns map onto the source only when no escape changed the length.
      error->column = value.had_escapes ? value.column : value.column + 1 + i;
      error->message = name + " must hold only hex digits, found " +
                       quote_for_message(std::string_view(hex).substr(i, 1));
      return false;
    }
  }
  if (hex.size() % 2 != 0) {
    error->column = value.column;
    error->message = name + " has an odd number of hex digits (" + std::to_string(hex.size()) +
                     "); each byte takes two";
    return false;
  }
  payload->resize(hex.size() / 2);
  for (std::size_t i = 0; i < payload->size(); ++i) {
    const int high = hex_digit_value(hex[2 * i]);
    const int low = hex_digit_value(hex[2 * i + 1]);
    (*payload)[i] = static_cast<std::byte>(high * 16 + low);
  }
  return true;
}

// Which of the keys a packet line must have it has given.
struct SeenKeys {
  bool type = false;
  bool flags = false;
  bool trans_id = false;
  bool descriptor = false;  // then type, flags and trans_id are in it
  const JsonMember* payload = nullptr;
};

// Sets the field `key` names from `member`; false, with `error` set, when
// its value is not one the field can hold.
bool read_member(const JsonMember& member, Key key, PacketLine& packet, SeenKeys& seen,
                 bool as_written, LineError* error) {
  std::optional<std::uint64_t> value;
  switch (key) {
    case Key::kType:
      value = integer_member(member, as_written ? 0 : 1,
                             as_written ? 0xFFFF : ring::kMaxPacketTypeValue, error);
      packet.type = static_cast<std::uint16_t>(value.value_or(0));
      seen.type = true;
      break;
    case Key::kFlags:
      value = integer_member(member, 0, std::numeric_limits<std::uint16_t>::max(), error);
      packet.flags = static_cast<std::uint16_t>(value.value_or(0));
      seen.flags = true;
      break;
    case Key::kTransId:
      value = integer_member(member, 0, std::numeric_limits<std::uint64_t>::max(), error);
      packet.trans_id = value.value_or(0);
      seen.trans_id = true;
      break;
    case Key::kOffset8:
      value = integer_member(member, as_written ? 0 : ring::kMinOffset8, kMaxLen8, error);
      packet.offset8 = static_cast<std::uint16_t>(value.value_or(ring::kMinOffset8));
      break;
    case Key::kPayload:
      seen.payload = &member;
      return decode_payload(member, &packet.payload, error);
    case Key::kLen8:
      value = integer_member(member, 0, kMaxLen8, error);
      packet.len8 = static_cast<std::uint16_t>(value.value_or(0));
      break;
    case Key::kDescriptor:
      seen.descriptor = true;
      return decode_payload(member, &packet.descriptor, error, ring::kPacketDescriptorBytes);
    case Key::kTrailer:
      return decode_payload(member, &packet.trailer, error, ring::kPacketTrailerBytes);
    case Key::kIgnored:
      return true;
  }
  return value.has_value();
}

// Every required key is there and the descriptor can express the length.
bool check_packet(const PacketLine& packet, const SeenKeys& seen, const JsonObject& object,
                  LineError* error) {
  const std::pair<bool, std::string_view> required[] = {
      {seen.type || seen.descriptor, "type"},
      {seen.flags || seen.descriptor, "flags"},
      {seen.trans_id || seen.descriptor, "trans_id"},
      {seen.payload != nullptr, "payload"}};
  for (const auto& [given, name] : required) {
    if (!given) {
      error->column = object.column;
      error->message = "missing key " + quote_for_message(name);
      return false;
    }
  }
  const std::uint64_t payload_words = (std::uint64_t{packet.payload.size()} + 7) / 8;
  const std::uint64_t len8 = packet.offset8 + payload_words;
  if (len8 > kMaxLen8) {
    error->column = seen.payload->value.column;
    error->message = "packet too long: offset8 " + std::to_string(packet.offset8) + " and a " +
                     std::to_string(packet.payload.size()) + "-byte payload give len8 " +
                     std::to_string(len8) + ", above 65535";
    return false;
  }
  return true;
}

std::optional<PacketLine> packet_from_object(const JsonObject& object, bool as_written,
                                             LineError* error) {
  PacketLine packet;
  SeenKeys seen;
  for (const JsonMember& member : object.members) {
    const std::optional<Key> key = key_of(member.key, as_written);
    if (!key) {
      error->column = member.key_column;
      error->message = "unknown key " + quote_for_message(member.key) +
                       " (a packet has type, flags, trans_id, payload and optionally offset8)";
      return std::nullopt;
    }
    if (!read_member(member, *key, packet, seen, as_written, error)) {
      return std::nullopt;
    }
  }
  if (!check_packet(packet, seen, object, error)) {
    return std::nullopt;
  }
  packet.out_of_range = packet.offset8 < ring::kMinOffset8 || packet.type == 0 ||
                        packet.type > ring::kMaxPacketTypeValue;
  return packet;
}

// RingView::copy_in (ring.cc) hands span.data() to memcpy even for an empty
// span, whose data() is null: memcpy(dst, nullptr, 0) is undefined behaviour
// and UBSan aborts on it. RingWriter::copy() copies the header extension and
// the payload that way, so until the ring library guards empty copies, give
// it empty spans that point at a real object.
constexpr std::byte kNoBytes[1] = {};

std::span<const std::byte> never_null(std::span<const std::byte> bytes) {
  return bytes.empty() ? std::span<const std::byte>(kNoBytes, 0) : bytes;
}

int line_error(std::ostream& err, std::size_t line, const LineError& error) {
  err << kInputName << ':' << line << ':' << error.column << ": " << error.message << '\n';
  return kExitError;
}

// Writes `packet` into the ring; the reason when it does not fit.
std::optional<std::string> write_packet(ring::RingWriter& writer, const PacketLine& packet,
                                        std::size_t line, std::size_t packet_number,
                                        const EncodeOptions& options) {
  ring::OutgoingPacket outgoing;
  outgoing.type = packet.type;
  outgoing.flags = packet.flags;
  outgoing.trans_id = packet.trans_id;
  outgoing.offset8 = packet.offset8;
  outgoing.header_extension = never_null({});
  outgoing.payload = never_null(packet.payload);
  const std::uint32_t packet_bytes = ring::packet_bytes_for(outgoing);
  VMBUS_CHECK(packet_bytes != 0,
              "packet line " + std::to_string(line) + " passed validation but cannot be expressed");
  bool signal = false;
  const ring::WriteStatus status = writer.write(outgoing, &signal);
  if (status == ring::WriteStatus::kOk) {
    return std::nullopt;
  }
  VMBUS_CHECK(status != ring::WriteStatus::kCorrupt,
              "a ring we initialised ourselves reported corrupt indices");
  const auto data_size = static_cast<std::uint32_t>(options.data_size_bytes);
  // read_index never moves here, so the free space is the writer's view.
  const std::uint32_t free_bytes = ring::bytes_to_write(
      writer.write_cursor(), static_cast<std::uint32_t>(options.start_index), data_size);
  return "packet " + std::to_string(packet_number) + " does not fit in the ring: it needs " +
         std::to_string(ring::ring_bytes_for_packet(packet_bytes)) + " bytes (" +
         std::to_string(packet_bytes) + "-byte packet + " +
         std::to_string(ring::kPacketTrailerBytes) + "-byte trailer) and " +
         std::to_string(free_bytes) + " of " + std::to_string(data_size) +
         " bytes are free; a packet needs more free bytes than it takes, as a full ring would "
         "look empty";
}

template <typename T>
void append_little_endian(std::vector<std::byte>& bytes, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF));
  }
}

// The bytes of a packet written as given (a malformed one): the descriptor
// (verbatim, or from the fields with len8 as written), zeros up to offset8,
// the payload padded to 8 bytes, then the trailer (verbatim, or the start
// index in its upper half, as a writer leaves it).
std::vector<std::byte> raw_packet_bytes(const PacketLine& packet, std::uint32_t start_index) {
  std::vector<std::byte> bytes = packet.descriptor;
  if (bytes.empty()) {
    const auto payload_words = static_cast<std::uint16_t>((packet.payload.size() + 7) / 8);
    append_little_endian(bytes, packet.type);
    append_little_endian(bytes, packet.offset8);
    append_little_endian(bytes, packet.len8.value_or(packet.offset8 + payload_words));
    append_little_endian(bytes, packet.flags);
    append_little_endian(bytes, packet.trans_id);
  }
  bytes.resize(std::max<std::size_t>(bytes.size(), std::size_t{packet.offset8} * 8));
  bytes.insert(bytes.end(), packet.payload.begin(), packet.payload.end());
  bytes.resize((bytes.size() + 7) / 8 * 8);
  if (packet.trailer.empty()) {
    append_little_endian(bytes, std::uint64_t{start_index} << 32);
  } else {
    bytes.insert(bytes.end(), packet.trailer.begin(), packet.trailer.end());
  }
  return bytes;
}

// Writes a malformed packet at write_index, wrapping at the end of the
// data area, and publishes it; the reason when it does not fit (by the
// writer's rule: a full ring would look empty).
std::optional<std::string> write_raw_packet(ring::RingMemory& memory, const PacketLine& packet,
                                            std::size_t packet_number) {
  ring::RingView view(memory);
  ring::RingControlPage& control = view.control();
  const std::uint32_t data_size = view.data_size_bytes();
  const std::vector<std::byte> bytes = raw_packet_bytes(packet, control.write_index);
  const std::uint32_t free_bytes =
      ring::bytes_to_write(control.write_index, control.read_index, data_size);
  if (bytes.size() >= free_bytes) {
    return "packet " + std::to_string(packet_number) + " does not fit in the ring: it needs " +
           std::to_string(bytes.size()) + " bytes (trailer included) and " +
           std::to_string(free_bytes) + " of " + std::to_string(data_size) +
           " bytes are free; a packet needs more free bytes than it takes, as a full ring would "
           "look empty";
  }
  const std::span<std::byte> data = memory.region().subspan(ring::kRingDataOffsetBytes);
  std::uint32_t at = control.write_index;
  for (const std::byte b : bytes) {
    data[at] = b;
    at = (at + 1) % data_size;
  }
  control.write_index = at;
  return std::nullopt;
}

// The control page fields of decode's header line that --as-written keeps.
struct ControlFields {
  std::optional<std::uint32_t> interrupt_mask;
  std::optional<std::uint32_t> pending_send_sz;
  std::optional<std::uint32_t> feature_bits;
};

std::optional<LineError> read_control_fields(const JsonObject& header, ControlFields& fields) {
  const std::pair<std::string_view, std::optional<std::uint32_t>*> keys[] = {
      {"interrupt_mask", &fields.interrupt_mask},
      {"pending_send_sz", &fields.pending_send_sz},
      {"feature_bits", &fields.feature_bits}};
  for (const auto& [name, field] : keys) {
    if (const JsonMember* member = header.find(name)) {
      LineError error;
      const std::optional<std::uint64_t> value = integer_member(*member, 0, 0xFFFFFFFFu, &error);
      if (!value) {
        return error;
      }
      *field = static_cast<std::uint32_t>(*value);
    }
  }
  return std::nullopt;
}

void apply_control_fields(ring::RingMemory& memory, const ControlFields& fields) {
  ring::RingControlPage& control = ring::RingView(memory).control();
  control.interrupt_mask = fields.interrupt_mask.value_or(control.interrupt_mask);
  control.pending_send_sz = fields.pending_send_sz.value_or(control.pending_send_sz);
  control.feature_bits = fields.feature_bits.value_or(control.feature_bits);
}

// One packet line into the ring: through the writer, or byte by byte when
// it is malformed on purpose (the writer then resumes from the new
// write_index). The reason when it does not fit.
std::optional<std::string> write_line(ring::RingMemory& memory,
                                      std::optional<ring::RingWriter>& writer,
                                      const PacketLine& packet, std::size_t line,
                                      std::size_t packet_number, const EncodeOptions& options) {
  if (!packet.raw()) {
    return write_packet(*writer, packet, line, packet_number, options);
  }
  std::optional<std::string> full = write_raw_packet(memory, packet, packet_number);
  writer.emplace(memory);
  return full;
}

int encode(const EncodeOptions& options, std::istream& in, std::ostream& err) {
  ring::FlatRingMemory memory(static_cast<std::uint32_t>(options.data_size_bytes));
  ring::initialize_ring(memory, static_cast<std::uint32_t>(options.start_index));
  std::optional<ring::RingWriter> writer(std::in_place, memory);
  ControlFields control;

  std::string text;
  std::size_t line = 0;
  std::size_t packet_number = 0;
  while (std::getline(in, text)) {
    ++line;
    if (is_blank_json_line(text)) {
      continue;
    }
    const JsonLineResult parsed = parse_json_object_line(text);
    if (!parsed.ok) {
      return line_error(err, line, LineError{parsed.error.column, parsed.error.message});
    }
    if (parsed.object.find("write_index") != nullptr) {
      // The header line of `ring decode`.
      if (options.as_written) {
        if (std::optional<LineError> bad = read_control_fields(parsed.object, control)) {
          return line_error(err, line, *bad);
        }
      }
      continue;
    }
    ++packet_number;
    LineError error;
    const std::optional<PacketLine> packet =
        packet_from_object(parsed.object, options.as_written, &error);
    if (!packet) {
      return line_error(err, line, error);
    }
    if (auto full = write_line(memory, writer, *packet, line, packet_number, options)) {
      return line_error(err, line, LineError{1, *full});
    }
  }
  if (in.bad()) {
    err << kCommandName << ": cannot read " << kInputName << '\n';
    return kExitError;
  }
  apply_control_fields(memory, control);
  if (const std::string failure = write_file_atomically(options.output, memory.region());
      !failure.empty()) {
    err << kCommandName << ": " << failure << '\n';
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

std::string check_encode_options(const EncodeOptions& options) {
  if (options.data_size_bytes == 0 || options.data_size_bytes % ring::kHvPageSizeBytes != 0 ||
      options.data_size_bytes > kMaxRingDataSizeBytes) {
    return "--data-size " + std::to_string(options.data_size_bytes) +
           " is not a positive multiple of 4096 (at most " + std::to_string(kMaxRingDataSizeBytes) +
           ")";
  }
  if (options.start_index >= options.data_size_bytes ||
      options.start_index % ring::kPacketAlignmentBytes != 0) {
    return "--start-index " + std::to_string(options.start_index) +
           " is not a multiple of 8 below the data size " + std::to_string(options.data_size_bytes);
  }
  return {};
}

int run_ring_encode(const EncodeOptions& options, std::istream& in, std::ostream& err) {
  if (const std::string problem = check_encode_options(options); !problem.empty()) {
    err << kCommandName << ": " << problem << '\n';
    return kExitError;
  }
  try {
    return encode(options, in, err);
  } catch (const std::bad_alloc&) {
    err << kCommandName << ": not enough memory for a ring of " << options.data_size_bytes
        << " bytes\n";
    return kExitError;
  }
}

}  // namespace vmbus::cli
