#include "vmbus/wire/gpadl.h"

#include <algorithm>
#include <cstdio>

#include "vmbus/base/check.h"
#include "vmbus/wire/codec.h"

namespace vmbus::wire {
namespace {

// GPADL handles print in hex, as describe() prints them.
std::string handle_text(std::uint32_t gpadl) {
  char text[2 + 8 + 1];
  std::snprintf(text, sizeof(text), "0x%x", static_cast<unsigned>(gpadl));
  return text;
}

}  // namespace

std::vector<Message> gpadl_messages(std::uint32_t child_relid, std::uint32_t gpadl,
                                    std::span<const std::uint64_t> pfns) {
  VMBUS_CHECK(!pfns.empty() && pfns.size() <= kGpadlMaxPages,
              "gpadl_messages: " + std::to_string(pfns.size()) + " pages, expected 1.." +
                  std::to_string(kGpadlMaxPages));
  const auto pages = static_cast<std::uint32_t>(pfns.size());
  std::vector<Message> messages;
  messages.reserve(gpadl_message_count(pages));

  GpadlHeaderMessage header;
  header.fixed.child_relid = child_relid;
  header.fixed.gpadl = gpadl;
  // Both fit: pages <= kGpadlMaxPages keeps range_buflen <= 0xFFFF and
  // byte_count below 2^32.
  header.fixed.range_buflen = static_cast<std::uint16_t>(kGpaRangeHeaderBytes + kPfnBytes * pages);
  header.fixed.rangecount = 1;
  header.fixed.byte_count = pages * kGpadlPageSizeBytes;
  header.fixed.byte_offset = 0;
  const std::size_t in_header = std::min<std::size_t>(pfns.size(), kGpadlHeaderMaxPfns);
  header.pfns.assign(pfns.begin(), pfns.begin() + static_cast<std::ptrdiff_t>(in_header));
  messages.emplace_back(std::move(header));

  for (std::size_t next = in_header; next < pfns.size();) {
    const std::size_t count = std::min<std::size_t>(pfns.size() - next, kGpadlBodyMaxPfns);
    GpadlBodyMessage body;
    body.fixed.msgnumber = 0;
    body.fixed.gpadl = gpadl;
    body.pfns.assign(pfns.begin() + static_cast<std::ptrdiff_t>(next),
                     pfns.begin() + static_cast<std::ptrdiff_t>(next + count));
    messages.emplace_back(std::move(body));
    next += count;
  }
  VMBUS_CHECK(messages.size() == gpadl_message_count(pages), "gpadl_message_count disagrees");
  return messages;
}

std::vector<std::vector<std::byte>> split_gpadl(std::uint32_t child_relid, std::uint32_t gpadl,
                                                std::span<const std::uint64_t> pfns) {
  std::vector<std::vector<std::byte>> payloads;
  for (const Message& message : gpadl_messages(child_relid, gpadl, pfns)) {
    payloads.push_back(encode_message(message));
  }
  return payloads;
}

const char* gpadl_error_code_name(GpadlErrorCode code) {
  switch (code) {
    case GpadlErrorCode::kUnexpectedHeader:
      return "unexpected_header";
    case GpadlErrorCode::kUnexpectedBody:
      return "unexpected_body";
    case GpadlErrorCode::kBadRangeCount:
      return "bad_range_count";
    case GpadlErrorCode::kBadByteOffset:
      return "bad_byte_offset";
    case GpadlErrorCode::kBadRangeBuflen:
      return "bad_range_buflen";
    case GpadlErrorCode::kNoPages:
      return "no_pages";
    case GpadlErrorCode::kOverLimit:
      return "over_limit";
    case GpadlErrorCode::kBadByteCount:
      return "bad_byte_count";
    case GpadlErrorCode::kGpadlMismatch:
      return "gpadl_mismatch";
    case GpadlErrorCode::kEmptyBody:
      return "empty_body";
    case GpadlErrorCode::kTooManyPfns:
      return "too_many_pfns";
    case GpadlErrorCode::kAlreadyFailed:
      return "already_failed";
  }
  return "unknown";
}

std::string to_string(const GpadlError& error) {
  return std::string(gpadl_error_code_name(error.code)) + ": " + error.message;
}

GpadlAssembler::GpadlAssembler(std::uint32_t max_pages) : max_pages_(max_pages) {}

GpadlError GpadlAssembler::fail(GpadlErrorCode code, std::string message) {
  state_ = State::kFailed;
  return GpadlError{code, std::move(message)};
}

Result<GpadlProgress, GpadlError> GpadlAssembler::add_header(const GpadlHeaderMessage& header) {
  const GpadlHeader& fixed = header.fixed;
  switch (state_) {
    case State::kAwaitingHeader:
      break;
    case State::kFailed:
      return GpadlError{GpadlErrorCode::kAlreadyFailed, "GPADL_HEADER after an earlier error"};
    case State::kAwaitingBodies:
    case State::kComplete:
      return fail(GpadlErrorCode::kUnexpectedHeader, "second GPADL_HEADER (gpadl " +
                                                         handle_text(fixed.gpadl) + ") for gpadl " +
                                                         handle_text(gpadl_));
  }
  if (fixed.rangecount != 1) {
    return fail(GpadlErrorCode::kBadRangeCount,
                "rangecount=" + std::to_string(fixed.rangecount) + ", only 1 is supported");
  }
  if (fixed.byte_offset != 0) {
    return fail(GpadlErrorCode::kBadByteOffset,
                "byte_offset=" + std::to_string(fixed.byte_offset) + ", must be 0");
  }
  if (fixed.range_buflen < kGpaRangeHeaderBytes ||
      (fixed.range_buflen - kGpaRangeHeaderBytes) % kPfnBytes != 0) {
    return fail(GpadlErrorCode::kBadRangeBuflen,
                "range_buflen=" + std::to_string(fixed.range_buflen) + " is not 8 + 8 * pages");
  }
  const std::uint32_t pages = (fixed.range_buflen - kGpaRangeHeaderBytes) / kPfnBytes;
  if (pages == 0) {
    return fail(GpadlErrorCode::kNoPages, "range_buflen=8 announces no pages");
  }
  // Before any allocation: the guest chooses `pages`.
  if (pages > max_pages_) {
    return fail(GpadlErrorCode::kOverLimit,
                std::to_string(pages) + " pages exceed the limit of " + std::to_string(max_pages_));
  }
  if (std::uint64_t{fixed.byte_count} != std::uint64_t{pages} * kGpadlPageSizeBytes) {
    return fail(GpadlErrorCode::kBadByteCount,
                "byte_count=" + std::to_string(fixed.byte_count) +
                    " but range_buflen=" + std::to_string(fixed.range_buflen) + " announces " +
                    std::to_string(pages) + " pages (" +
                    std::to_string(std::uint64_t{pages} * kGpadlPageSizeBytes) + " bytes)");
  }
  child_relid_ = fixed.child_relid;
  gpadl_ = fixed.gpadl;
  pages_expected_ = pages;
  pfns_.reserve(pages);
  state_ = State::kAwaitingBodies;
  return append(header.pfns, "GPADL_HEADER");
}

Result<GpadlProgress, GpadlError> GpadlAssembler::add_body(const GpadlBodyMessage& body) {
  switch (state_) {
    case State::kAwaitingBodies:
      break;
    case State::kFailed:
      return GpadlError{GpadlErrorCode::kAlreadyFailed, "GPADL_BODY after an earlier error"};
    case State::kAwaitingHeader:
      return fail(
          GpadlErrorCode::kUnexpectedBody,
          "GPADL_BODY (gpadl " + handle_text(body.fixed.gpadl) + ") before its GPADL_HEADER");
    case State::kComplete:
      return fail(GpadlErrorCode::kUnexpectedBody,
                  "GPADL_BODY after gpadl " + handle_text(gpadl_) + " was complete");
  }
  if (body.fixed.gpadl != gpadl_) {
    return fail(GpadlErrorCode::kGpadlMismatch, "GPADL_BODY for gpadl " +
                                                    handle_text(body.fixed.gpadl) +
                                                    ", header was for " + handle_text(gpadl_));
  }
  if (body.pfns.empty()) {
    return fail(GpadlErrorCode::kEmptyBody,
                "GPADL_BODY for gpadl " + handle_text(gpadl_) + " carries no PFNs");
  }
  return append(body.pfns, "GPADL_BODY");
}

Result<GpadlProgress, GpadlError> GpadlAssembler::append(const std::vector<std::uint64_t>& pfns,
                                                         const char* source) {
  const std::size_t remaining = pages_expected_ - pfns_.size();
  if (pfns.size() > remaining) {
    return fail(GpadlErrorCode::kTooManyPfns,
                std::string(source) + " brings " + std::to_string(pfns.size()) + " PFNs, only " +
                    std::to_string(remaining) + " of " + std::to_string(pages_expected_) +
                    " announced pages remain");
  }
  pfns_.insert(pfns_.end(), pfns.begin(), pfns.end());
  if (pfns_.size() == pages_expected_) {
    state_ = State::kComplete;
    return GpadlProgress::kComplete;
  }
  return GpadlProgress::kNeedMore;
}

}  // namespace vmbus::wire
