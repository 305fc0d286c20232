#include "vmbus/wire/codec.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <utility>

#include "vmbus/base/check.h"
#include "vmbus/wire/versions.h"

namespace vmbus::wire {
namespace {

// Every read of the payload goes through this private copy, so a peer that
// rewrites its slot while we parse cannot make two reads disagree.
struct PayloadCopy {
  std::array<std::byte, kHvMessagePayloadMaxBytes> bytes{};
  std::uint32_t size = 0;

  std::span<const std::byte> span() const { return {bytes.data(), size}; }
};

std::uint32_t read_u32(std::span<const std::byte> bytes, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

std::vector<std::uint64_t> read_pfns(std::span<const std::byte> bytes, std::size_t offset,
                                     std::size_t count) {
  std::vector<std::uint64_t> pfns(count);
  // The PFN arrays start at unaligned offsets (28 in GPADL_HEADER): memcpy,
  // never a cast.
  if (count != 0) {
    std::memcpy(pfns.data(), bytes.data() + offset, count * kPfnBytes);
  }
  return pfns;
}

template <typename T>
T read_struct(std::span<const std::byte> bytes) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

std::string type_label(const MessageInfo& info) {
  return std::string(info.name);
}

ParseError error(ParseErrorCode code, std::string message) {
  return ParseError{code, std::move(message)};
}

ParseResult decode_gpadl_header(std::span<const std::byte> bytes) {
  GpadlHeaderMessage message;
  message.fixed = read_struct<GpadlHeader>(bytes);
  const GpadlHeader& fixed = message.fixed;
  const std::size_t present = (bytes.size() - kGpadlHeaderPfnOffsetBytes) / kPfnBytes;
  if (fixed.range_buflen < kGpaRangeHeaderBytes ||
      (fixed.range_buflen - kGpaRangeHeaderBytes) % kPfnBytes != 0) {
    return error(ParseErrorCode::kGpadlRangeBuflenInvalid,
                 "CHANNELMSG_GPADL_HEADER range_buflen=" + std::to_string(fixed.range_buflen) +
                     " (offset 16) is not 8 + 8 * pages");
  }
  const std::uint32_t announced = (fixed.range_buflen - kGpaRangeHeaderBytes) / kPfnBytes;
  if (present > announced) {
    return error(ParseErrorCode::kGpadlPfnCountMismatch,
                 "CHANNELMSG_GPADL_HEADER carries " + std::to_string(present) +
                     " PFNs but range_buflen=" + std::to_string(fixed.range_buflen) +
                     " announces " + std::to_string(announced));
  }
  if (fixed.rangecount == 1) {
    const std::uint64_t end_bytes = std::uint64_t{fixed.byte_offset} + fixed.byte_count;
    const std::uint64_t spanned = (end_bytes + kGpadlPageSizeBytes - 1) / kGpadlPageSizeBytes;
    if (spanned != announced) {
      return error(ParseErrorCode::kGpadlPfnCountMismatch,
                   "CHANNELMSG_GPADL_HEADER byte_offset=" + std::to_string(fixed.byte_offset) +
                       " byte_count=" + std::to_string(fixed.byte_count) + " (offset 20) span " +
                       std::to_string(spanned) +
                       " pages but range_buflen=" + std::to_string(fixed.range_buflen) +
                       " announces " + std::to_string(announced));
    }
  }
  message.pfns = read_pfns(bytes, kGpadlHeaderPfnOffsetBytes, present);
  return Message(std::move(message));
}

ParseResult decode_gpadl_body(std::span<const std::byte> bytes) {
  GpadlBodyMessage message;
  message.fixed = read_struct<GpadlBody>(bytes);
  const std::size_t present = (bytes.size() - kGpadlBodyPfnOffsetBytes) / kPfnBytes;
  message.pfns = read_pfns(bytes, kGpadlBodyPfnOffsetBytes, present);
  return Message(std::move(message));
}

// Decodes a payload already checked to be at least the table's minimum for
// T's type; T's fixed part is exactly that minimum (message_table.h).
template <typename T>
ParseResult decode(std::span<const std::byte> bytes) {
  if constexpr (std::is_same_v<T, GpadlHeaderMessage>) {
    return decode_gpadl_header(bytes);
  } else if constexpr (std::is_same_v<T, GpadlBodyMessage>) {
    return decode_gpadl_body(bytes);
  } else {
    return Message(read_struct<T>(bytes));
  }
}

using DecodeFn = ParseResult (*)(std::span<const std::byte>);

template <std::size_t... I>
constexpr std::array<DecodeFn, kMessageTypeCount> make_decoders(std::index_sequence<I...>) {
  std::array<DecodeFn, kMessageTypeCount> decoders{};
  ((decoders[static_cast<std::uint32_t>(std::variant_alternative_t<I, Message>::kType)] =
        &decode<std::variant_alternative_t<I, Message>>),
   ...);
  return decoders;
}

// Indexed by msgtype; null where kMessageTable says not implemented (the
// static_assert in message_table.h keeps the two in step).
constexpr std::array<DecodeFn, kMessageTypeCount> kDecoders =
    make_decoders(std::make_index_sequence<std::variant_size_v<Message>>{});

bool accepts(Receiver receiver, Direction direction) {
  switch (receiver) {
    case Receiver::kAny:
      return true;
    case Receiver::kHost:
      return direction == Direction::kGuestToHost;
    case Receiver::kGuest:
      return direction == Direction::kHostToGuest;
  }
  return false;
}

const char* receiver_name(Receiver receiver) {
  switch (receiver) {
    case Receiver::kAny:
      return "any";
    case Receiver::kHost:
      return "the host";
    case Receiver::kGuest:
      return "the guest";
  }
  return "?";
}

void append_bytes(std::vector<std::byte>& out, const void* data, std::size_t size) {
  if (size == 0) {
    return;  // data may be null (an empty PFN vector)
  }
  const auto* first = static_cast<const std::byte*>(data);
  out.insert(out.end(), first, first + size);
}

template <typename Fixed>
std::vector<std::byte> encode_with_pfns(const Fixed& fixed, const std::vector<std::uint64_t>& pfns,
                                        std::uint32_t max_pfns) {
  VMBUS_CHECK(fixed.header.msgtype == static_cast<std::uint32_t>(Fixed::kType),
              "encode_message: header.msgtype " + std::to_string(fixed.header.msgtype) +
                  " does not match " + std::string(message_info(Fixed::kType).name));
  VMBUS_CHECK(pfns.size() <= max_pfns, std::string(message_info(Fixed::kType).name) + " with " +
                                           std::to_string(pfns.size()) +
                                           " PFNs does not fit in one message");
  std::vector<std::byte> out;
  out.reserve(sizeof(Fixed) + pfns.size() * kPfnBytes);
  append_bytes(out, &fixed, sizeof(Fixed));
  append_bytes(out, pfns.data(), pfns.size() * kPfnBytes);
  return out;
}

}  // namespace

const char* parse_error_code_name(ParseErrorCode code) {
  switch (code) {
    case ParseErrorCode::kPayloadTooLarge:
      return "payload_too_large";
    case ParseErrorCode::kPayloadTooShort:
      return "payload_too_short";
    case ParseErrorCode::kUnknownType:
      return "unknown_type";
    case ParseErrorCode::kUnusedType:
      return "unused_type";
    case ParseErrorCode::kUnimplementedType:
      return "unimplemented_type";
    case ParseErrorCode::kWrongDirection:
      return "wrong_direction";
    case ParseErrorCode::kGpadlRangeBuflenInvalid:
      return "gpadl_range_buflen_invalid";
    case ParseErrorCode::kGpadlPfnCountMismatch:
      return "gpadl_pfn_count_mismatch";
    case ParseErrorCode::kNotVmbusMessage:
      return "not_vmbus_message";
  }
  return "unknown";
}

std::string to_string(const ParseError& error) {
  return std::string(parse_error_code_name(error.code)) + ": " + error.message;
}

MessageType message_type_of(const Message& message) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

ParseResult parse_message(std::span<const std::byte> payload, Receiver receiver) {
  if (payload.size() > kHvMessagePayloadMaxBytes) {
    return error(ParseErrorCode::kPayloadTooLarge,
                 "payload is " + std::to_string(payload.size()) + " bytes, at most " +
                     std::to_string(kHvMessagePayloadMaxBytes) + " fit in a SynIC message");
  }
  PayloadCopy copy;
  copy.size = static_cast<std::uint32_t>(payload.size());
  std::copy(payload.begin(), payload.end(), copy.bytes.begin());
  const std::span<const std::byte> bytes = copy.span();

  if (bytes.size() < kMessageHeaderBytes) {
    return error(ParseErrorCode::kPayloadTooShort,
                 "payload is " + std::to_string(bytes.size()) +
                     " bytes, shorter than the 8-byte message header");
  }
  const std::uint32_t msgtype = read_u32(bytes, 0);
  const MessageInfo* info = find_message_info(msgtype);
  if (info == nullptr) {
    return error(ParseErrorCode::kUnknownType, "msgtype " + std::to_string(msgtype) +
                                                   " (offset 0) is beyond CHANNELMSG_COUNT " +
                                                   std::to_string(kMessageTypeCount));
  }
  if (!info->valid) {
    return error(ParseErrorCode::kUnusedType, "msgtype " + std::to_string(msgtype) +
                                                  " (offset 0) is " + type_label(*info) +
                                                  ", not a message");
  }
  if (!info->implemented) {
    return error(ParseErrorCode::kUnimplementedType, type_label(*info) + " (msgtype " +
                                                         std::to_string(msgtype) +
                                                         ") has no layout in vmbus-sim");
  }
  if (!accepts(receiver, info->direction)) {
    return error(ParseErrorCode::kWrongDirection,
                 type_label(*info) + " travels " + direction_name(info->direction) +
                     " but was received by " + receiver_name(receiver));
  }
  if (bytes.size() < info->min_payload_bytes) {
    return error(ParseErrorCode::kPayloadTooShort,
                 type_label(*info) + " needs " + std::to_string(info->min_payload_bytes) +
                     " bytes, got " + std::to_string(bytes.size()));
  }
  const DecodeFn decoder = kDecoders[msgtype];
  VMBUS_CHECK(decoder != nullptr, "no decoder for implemented " + type_label(*info));
  return decoder(bytes);
}

ParseResult parse_hv_message(const HvMessage& slot, Receiver receiver) {
  HvMessage copy;
  std::memcpy(&copy, &slot, sizeof(copy));
  if (copy.message_type != kHvMessageTypeVmbus) {
    return error(ParseErrorCode::kNotVmbusMessage, "SynIC message_type " +
                                                       std::to_string(copy.message_type) +
                                                       " is not the VMBus message type 1");
  }
  if (copy.payload_size > kHvMessagePayloadMaxBytes) {
    return error(ParseErrorCode::kPayloadTooLarge,
                 "SynIC payload_size " + std::to_string(copy.payload_size) + " exceeds " +
                     std::to_string(kHvMessagePayloadMaxBytes));
  }
  return parse_message(std::as_bytes(std::span(copy.payload).first(copy.payload_size)), receiver);
}

std::vector<std::byte> encode_message(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::vector<std::byte> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, GpadlHeaderMessage>) {
          return encode_with_pfns(m.fixed, m.pfns, kGpadlHeaderMaxPfns);
        } else if constexpr (std::is_same_v<T, GpadlBodyMessage>) {
          return encode_with_pfns(m.fixed, m.pfns, kGpadlBodyMaxPfns);
        } else {
          static_assert(std::is_trivially_copyable_v<T>);
          VMBUS_CHECK(m.header.msgtype == static_cast<std::uint32_t>(T::kType),
                      "encode_message: header.msgtype " + std::to_string(m.header.msgtype) +
                          " does not match " + std::string(message_info(T::kType).name));
          std::vector<std::byte> out;
          out.reserve(sizeof(T));
          append_bytes(out, &m, sizeof(T));
          return out;
        }
      },
      message);
}

HvMessage make_hv_message(std::span<const std::byte> payload, std::uint64_t sender) {
  VMBUS_CHECK(payload.size() <= kHvMessagePayloadMaxBytes,
              "make_hv_message: payload of " + std::to_string(payload.size()) + " bytes");
  HvMessage slot;
  slot.message_type = kHvMessageTypeVmbus;
  slot.payload_size = static_cast<std::uint8_t>(payload.size());
  slot.sender = sender;
  if (!payload.empty()) {
    std::memcpy(slot.payload, payload.data(), payload.size());
  }
  return slot;
}

std::string describe_payload(std::span<const std::byte> payload) {
  ParseResult parsed = parse_message(payload);
  if (parsed.ok()) {
    return describe(parsed.value());
  }
  return "unparsed " + to_string(parsed.error());
}

}  // namespace vmbus::wire
