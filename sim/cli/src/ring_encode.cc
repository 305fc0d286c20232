#include "vmbus/cli/ring_encode.h"

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
};

// One packet line's keys. Decode prints offset and len8 too; they follow
// from the ring position and the payload, so encode accepts and ignores them.
enum class Key : std::uint8_t { kType, kFlags, kTransId, kOffset8, kPayload, kIgnored };

std::optional<Key> key_of(std::string_view name) {
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

bool decode_payload(const JsonMember& member, std::vector<std::byte>* payload, LineError* error) {
  const JsonValue& value = member.value;
  if (value.kind != JsonKind::kString) {
    error->column = value.column;
    error->message =
        "\"payload\" must be a string of hex digits, got " + describe_json_value(value);
    return false;
  }
  const std::string& hex = value.text;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (hex_digit_value(hex[i]) < 0) {
      // Columns map onto the source only when no escape changed the length.
      error->column = value.had_escapes ? value.column : value.column + 1 + i;
      error->message = "\"payload\" must hold only hex digits, found " +
                       quote_for_message(std::string_view(hex).substr(i, 1));
      return false;
    }
  }
  if (hex.size() % 2 != 0) {
    error->column = value.column;
    error->message = "\"payload\" has an odd number of hex digits (" + std::to_string(hex.size()) +
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

std::optional<PacketLine> packet_from_object(const JsonObject& object, LineError* error) {
  PacketLine packet;
  bool seen_type = false;
  bool seen_flags = false;
  bool seen_trans_id = false;
  const JsonMember* payload_member = nullptr;
  for (const JsonMember& member : object.members) {
    const std::optional<Key> key = key_of(member.key);
    if (!key) {
      error->column = member.key_column;
      error->message = "unknown key " + quote_for_message(member.key) +
                       " (a packet has type, flags, trans_id, payload and optionally offset8)";
      return std::nullopt;
    }
    std::optional<std::uint64_t> value;
    switch (*key) {
      case Key::kType:
        value = integer_member(member, 1, ring::kMaxPacketTypeValue, error);
        if (!value) {
          return std::nullopt;
        }
        packet.type = static_cast<std::uint16_t>(*value);
        seen_type = true;
        break;
      case Key::kFlags:
        value = integer_member(member, 0, std::numeric_limits<std::uint16_t>::max(), error);
        if (!value) {
          return std::nullopt;
        }
        packet.flags = static_cast<std::uint16_t>(*value);
        seen_flags = true;
        break;
      case Key::kTransId:
        value = integer_member(member, 0, std::numeric_limits<std::uint64_t>::max(), error);
        if (!value) {
          return std::nullopt;
        }
        packet.trans_id = *value;
        seen_trans_id = true;
        break;
      case Key::kOffset8:
        value = integer_member(member, ring::kMinOffset8, kMaxLen8, error);
        if (!value) {
          return std::nullopt;
        }
        packet.offset8 = static_cast<std::uint16_t>(*value);
        break;
      case Key::kPayload:
        if (!decode_payload(member, &packet.payload, error)) {
          return std::nullopt;
        }
        payload_member = &member;
        break;
      case Key::kIgnored:
        break;
    }
  }
  const std::pair<bool, std::string_view> required[] = {{seen_type, "type"},
                                                        {seen_flags, "flags"},
                                                        {seen_trans_id, "trans_id"},
                                                        {payload_member != nullptr, "payload"}};
  for (const auto& [seen, name] : required) {
    if (!seen) {
      error->column = object.column;
      error->message = "missing key " + quote_for_message(name);
      return std::nullopt;
    }
  }
  const std::uint64_t payload_words = (std::uint64_t{packet.payload.size()} + 7) / 8;
  const std::uint64_t len8 = packet.offset8 + payload_words;
  if (len8 > kMaxLen8) {
    error->column = payload_member->value.column;
    error->message = "packet too long: offset8 " + std::to_string(packet.offset8) + " and a " +
                     std::to_string(packet.payload.size()) + "-byte payload give len8 " +
                     std::to_string(len8) + ", above 65535";
    return std::nullopt;
  }
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

int encode(const EncodeOptions& options, std::istream& in, std::ostream& err) {
  const auto data_size = static_cast<std::uint32_t>(options.data_size_bytes);
  const auto start_index = static_cast<std::uint32_t>(options.start_index);
  ring::FlatRingMemory memory(data_size);
  ring::initialize_ring(memory, start_index);
  ring::RingWriter writer(memory);

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
      continue;  // the header line of `ring decode`
    }
    ++packet_number;
    LineError error;
    const std::optional<PacketLine> packet = packet_from_object(parsed.object, &error);
    if (!packet) {
      return line_error(err, line, error);
    }

    ring::OutgoingPacket outgoing;
    outgoing.type = packet->type;
    outgoing.flags = packet->flags;
    outgoing.trans_id = packet->trans_id;
    outgoing.offset8 = packet->offset8;
    outgoing.header_extension = never_null({});
    outgoing.payload = never_null(packet->payload);
    const std::uint32_t packet_bytes = ring::packet_bytes_for(outgoing);
    VMBUS_CHECK(packet_bytes != 0, "packet line " + std::to_string(line) +
                                       " passed validation but cannot be expressed");
    bool signal = false;
    const ring::WriteStatus status = writer.write(outgoing, &signal);
    if (status == ring::WriteStatus::kOk) {
      continue;
    }
    VMBUS_CHECK(status != ring::WriteStatus::kCorrupt,
                "a ring we initialised ourselves reported corrupt indices");
    // read_index never moves here, so the free space is the writer's view.
    const std::uint32_t free_bytes =
        ring::bytes_to_write(writer.write_cursor(), start_index, data_size);
    const std::string message =
        "packet " + std::to_string(packet_number) + " does not fit in the ring: it needs " +
        std::to_string(ring::ring_bytes_for_packet(packet_bytes)) + " bytes (" +
        std::to_string(packet_bytes) + "-byte packet + " +
        std::to_string(ring::kPacketTrailerBytes) + "-byte trailer) and " +
        std::to_string(free_bytes) + " of " + std::to_string(data_size) +
        " bytes are free; a packet needs more free bytes than it takes, as a full ring would "
        "look empty";
    return line_error(err, line, LineError{1, message});
  }
  if (in.bad()) {
    err << kCommandName << ": cannot read " << kInputName << '\n';
    return kExitError;
  }

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
