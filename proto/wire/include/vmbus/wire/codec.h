// Parse, encode and describe VMBus control-plane messages.
//
// parse_message() is the trust boundary: the host runs it on every payload a
// guest posts, the guest on every payload it finds in its SIMP slot, and the
// simulator on everything it relays. It copies the bytes before looking at
// them (the slot is shared memory the peer can rewrite at any time), and any
// payload, however malformed, yields a ParseError, never an assertion or
// undefined behaviour. What it checks, in order:
//   1. size <= 240 (payload_too_large), size >= 8 (payload_too_short);
//   2. msgtype: >= 25 unknown_type; 0 and 18..20 unused_type; 23
//      unimplemented_type (kMessageTable);
//   3. direction against the receiver, when the caller names one
//      (wrong_direction);
//   4. size >= the table's minimum for the type (payload_too_short). Longer
//      payloads are accepted and the extra bytes ignored: QEMU posts a
//      200-byte OFFERCHANNEL and a 16-byte-rounded VERSION_RESPONSE;
//   5. GPADL_HEADER only: range_buflen is 8 + 8 * pages
//      (gpadl_range_buflen_invalid); the PFNs present do not exceed those
//      pages, and with rangecount 1, byte_offset + byte_count spans exactly
//      those pages (gpadl_pfn_count_mismatch). The PFNs present are
//      (size - 28) / 8 and in a GPADL_BODY (size - 16) / 8: a trailing
//      partial PFN (a payload rounded up by its sender) is ignored.
// Whether a GPADL as a whole is acceptable (rangecount 1, byte_offset 0,
// page-sized byte_count, bodies for the right handle, a size limit) is the
// GpadlAssembler's job (gpadl.h): that needs the messages before this one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmbus/wire/message_table.h"
#include "vmbus/wire/messages.h"
#include "vmbus/wire/result.h"
#include "vmbus/wire/synic.h"

namespace vmbus::wire {

// Why a payload is not a usable message. Stable: the names appear in traces.
enum class ParseErrorCode : std::uint8_t {
  kPayloadTooLarge,          // more than 240 bytes
  kPayloadTooShort,          // shorter than the header or the type's minimum
  kUnknownType,              // msgtype >= CHANNELMSG_COUNT (25)
  kUnusedType,               // CHANNELMSG_INVALID (0) or an unused number (18..20)
  kUnimplementedType,        // a real message with no layout here (TL_CONNECT_RESULT)
  kWrongDirection,           // e.g. an OFFERCHANNEL received by the host
  kGpadlRangeBuflenInvalid,  // GPADL_HEADER range_buflen is not 8 + 8 * pages
  kGpadlPfnCountMismatch,    // GPADL_HEADER PFNs / byte_count disagree with range_buflen
  kNotVmbusMessage,          // parse_hv_message(): the slot's message_type is not 1
};
inline constexpr std::size_t kParseErrorCodeCount = 9;

// "payload_too_large", "payload_too_short", "unknown_type", "unused_type",
// "unimplemented_type", "wrong_direction", "gpadl_range_buflen_invalid",
// "gpadl_pfn_count_mismatch", "not_vmbus_message".
const char* parse_error_code_name(ParseErrorCode code);

struct ParseError {
  ParseErrorCode code{};
  std::string message;  // what and where, e.g. "CHANNELMSG_OPENCHANNEL needs 148 bytes, got 100"
};

// "payload_too_short: CHANNELMSG_OPENCHANNEL needs 148 bytes, got 100".
std::string to_string(const ParseError& error);

// Which side is parsing. kHost accepts only guest->host messages, kGuest
// only host->guest ones; kAny (tools, the simulator's relay) accepts both.
enum class Receiver : std::uint8_t { kAny, kHost, kGuest };

using ParseResult = Result<Message, ParseError>;

// Decodes one SynIC message payload (see the checks above).
ParseResult parse_message(std::span<const std::byte> payload, Receiver receiver = Receiver::kAny);

// Decodes the message in a SIMP slot: message_type must be 1 (VMBus) and
// payload_size at most 240 (the slot is copied first).
ParseResult parse_hv_message(const HvMessage& slot, Receiver receiver = Receiver::kAny);

// The exact payload bytes: the struct's size for fixed messages, the fixed
// part plus 8 bytes per PFN for GPADL_HEADER/BODY. Fields are written as
// given, including reserved ones and inconsistent GPADL counts (the
// simulator encodes faults on purpose). Checked: header.msgtype matches the
// alternative, and the PFNs fit in one message.
std::vector<std::byte> encode_message(const Message& message);

// A slot holding `payload` (at most 240 bytes, checked) as a VMBus message.
HvMessage make_hv_message(std::span<const std::byte> payload, std::uint64_t sender = 0);

// One line for traces and `trace show`: the table name, then every field as
// name=value in wire order. Stable (traces are compared byte for byte):
//   - counts, ids, sizes, VP numbers: decimal;
//   - GPADL handles, flags, statuses, GPAs, PFNs: lowercase hex with 0x;
//   - versions: "5.3 (0x50003)"; GUIDs: canonical lowercase text;
//   - byte arrays (user_def, userdata): hex up to the last non-zero byte,
//     "0" when all zero;
//   - PFN lists: pfns=[0x1,0x2];
//   - reserved and padding fields only when non-zero, so a corrupted one
//     shows up without cluttering every line.
// e.g. "CHANNELMSG_GPADL_TORNDOWN gpadl=0xe1e10".
std::string describe(const Message& message);

// describe() of the parsed payload, or, when it does not parse,
// "unparsed <error code>: <message>" (never checks).
std::string describe_payload(std::span<const std::byte> payload);

}  // namespace vmbus::wire
