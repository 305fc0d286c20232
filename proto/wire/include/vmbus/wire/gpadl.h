// GPADL establishment over the control plane: splitting a page list into
// GPADL_HEADER + GPADL_BODY messages (guest side), and reassembling and
// validating them (host side).
//
// Sources: Linux drivers/hv/channel.c (create_gpadl_header), QEMU
// hw/hyperv/vmbus.c (handle_gpadl_header, handle_gpadl_body).
//
// On the wire a GPADL is one GPADL_HEADER carrying up to 26 PFNs, followed
// by as many GPADL_BODY messages (up to 28 PFNs each) as the rest needs.
// The header announces the total page count twice: range_buflen = 8 + 8 *
// pages and byte_count = pages * 4096.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmbus/wire/messages.h"
#include "vmbus/wire/result.h"

namespace vmbus::wire {

// How many messages (header + bodies) a GPADL of `pages` pages takes.
constexpr std::size_t gpadl_message_count(std::size_t pages) {
  if (pages <= kGpadlHeaderMaxPfns) {
    return 1;
  }
  return 1 + (pages - kGpadlHeaderMaxPfns + kGpadlBodyMaxPfns - 1) / kGpadlBodyMaxPfns;
}

// The messages a Linux guest sends for one GPADL over `pfns` (1 ..
// kGpadlMaxPages pages, checked): a GPADL_HEADER with rangecount 1,
// range_buflen 8 + 8 * pages, byte_count pages * 4096, byte_offset 0 and the
// first 26 PFNs; then GPADL_BODY messages with up to 28 PFNs each, in order.
// Every body's msgnumber is 0, as Linux sends it (hosts ignore it), so our
// guest's bytes match a Linux guest's.
std::vector<Message> gpadl_messages(std::uint32_t child_relid, std::uint32_t gpadl,
                                    std::span<const std::uint64_t> pfns);

// gpadl_messages(), each encoded with encode_message().
std::vector<std::vector<std::byte>> split_gpadl(std::uint32_t child_relid, std::uint32_t gpadl,
                                                std::span<const std::uint64_t> pfns);

// Why the assembler refused a message. Stable: the names appear in traces.
enum class GpadlErrorCode : std::uint8_t {
  kUnexpectedHeader,  // a second GPADL_HEADER for the same assembler
  kUnexpectedBody,    // a body before the header, or after the GPADL is complete
  kBadRangeCount,     // rangecount != 1
  kBadByteOffset,     // byte_offset != 0
  kBadRangeBuflen,    // range_buflen is not 8 + 8 * pages
  kNoPages,           // range_buflen announces zero pages
  kOverLimit,         // more pages than the caller's limit
  kBadByteCount,      // byte_count != pages * 4096
  kGpadlMismatch,     // a body's gpadl differs from the header's
  kEmptyBody,         // a body carrying no PFNs
  kTooManyPfns,       // more PFNs than the header announced
  kAlreadyFailed,     // fed after an earlier error
};
inline constexpr std::size_t kGpadlErrorCodeCount = 12;

// "unexpected_header", "unexpected_body", "bad_range_count", ...
const char* gpadl_error_code_name(GpadlErrorCode code);

struct GpadlError {
  GpadlErrorCode code{};
  std::string message;  // what and where
};

// "bad_range_count: ...".
std::string to_string(const GpadlError& error);

enum class GpadlProgress : std::uint8_t {
  kNeedMore,  // more GPADL_BODY messages are due
  kComplete,  // pfns() holds every announced page
};

// Reassembles one GPADL on the host. Feed it the parsed GPADL_HEADER, then
// the parsed GPADL_BODY messages for that handle, in arrival order. It
// accepts what the QEMU host accepts (rangecount 1, byte_offset 0,
// byte_count = pages * 4096; msgnumber ignored), bounds the page count by
// the caller's limit before allocating anything, and never stores more PFNs
// than announced. Any error leaves it failed: the host then answers
// GPADL_CREATED with a non-zero status and drops it.
class GpadlAssembler {
 public:
  // `max_pages`: the most pages this host accepts in one GPADL.
  explicit GpadlAssembler(std::uint32_t max_pages);

  Result<GpadlProgress, GpadlError> add_header(const GpadlHeaderMessage& header);
  Result<GpadlProgress, GpadlError> add_body(const GpadlBodyMessage& body);

  bool complete() const { return state_ == State::kComplete; }
  bool failed() const { return state_ == State::kFailed; }
  // Valid once a header was accepted.
  std::uint32_t child_relid() const { return child_relid_; }
  std::uint32_t gpadl() const { return gpadl_; }
  std::uint32_t pages_expected() const { return pages_expected_; }
  // The PFNs received so far, in order; all of them once complete().
  const std::vector<std::uint64_t>& pfns() const { return pfns_; }

 private:
  enum class State : std::uint8_t { kAwaitingHeader, kAwaitingBodies, kComplete, kFailed };

  GpadlError fail(GpadlErrorCode code, std::string message);
  Result<GpadlProgress, GpadlError> append(const std::vector<std::uint64_t>& pfns,
                                           const char* source);

  std::uint32_t max_pages_;
  State state_ = State::kAwaitingHeader;
  std::uint32_t child_relid_ = 0;
  std::uint32_t gpadl_ = 0;
  std::uint32_t pages_expected_ = 0;
  std::vector<std::uint64_t> pfns_;
};

}  // namespace vmbus::wire
