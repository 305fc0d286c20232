// The host's GPADL assembler fed a stream of guest messages: GPADL_HEADER
// and GPADL_BODY (and anything else a guest sends), parsed as the host
// parses them.
//
// Invariants beyond "no crash, no sanitizer report": the assembler never
// holds more PFNs than its header announced, never accepts more pages than
// its limit, and a complete GPADL holds exactly the announced pages.
#include "vmbus/wire/gpadl.h"

#include <string>

#include "vmbus/wire/codec.h"

#include "fuzz_input.h"

namespace vmbus::fuzz {
namespace {

void feed(wire::GpadlAssembler& assembler, const wire::Message& message) {
  if (const auto* header = std::get_if<wire::GpadlHeaderMessage>(&message)) {
    (void)assembler.add_header(*header);
  } else if (const auto* body = std::get_if<wire::GpadlBodyMessage>(&message)) {
    (void)assembler.add_body(*body);
  }
}

void check(const wire::GpadlAssembler& assembler, std::uint32_t max_pages) {
  if (assembler.failed()) {
    return;
  }
  if (assembler.pfns().size() > assembler.pages_expected() ||
      assembler.pages_expected() > max_pages) {
    invariant_failed("assembler holds " + std::to_string(assembler.pfns().size()) + " of " +
                     std::to_string(assembler.pages_expected()) + " pages, limit " +
                     std::to_string(max_pages));
  }
  if (assembler.complete() && assembler.pfns().size() != assembler.pages_expected()) {
    invariant_failed("a complete GPADL without all its pages");
  }
}

}  // namespace
}  // namespace vmbus::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  fuzz::FuzzInput input(data, size);
  const std::uint32_t max_pages = 1 + input.below(4096);
  wire::GpadlAssembler assembler(max_pages);
  for (int i = 0; i < 64 && !input.empty(); ++i) {
    const wire::ParseResult parsed =
        wire::parse_message(input.bytes(wire::kHvMessagePayloadMaxBytes), wire::Receiver::kHost);
    if (parsed.ok()) {
      fuzz::feed(assembler, parsed.value());
      fuzz::check(assembler, max_pages);
    }
  }
  return 0;
}
