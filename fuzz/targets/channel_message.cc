// The CHANNELMSG decoder, as the host, the guest and the simulator's relay
// use it: a SIMP slot of 256 arbitrary bytes, then its payload.
//
// Invariants beyond "no crash, no sanitizer report": a message that parses
// encodes back to bytes that parse to the same message (compared through
// its one-line description, which shows every field), and a parse from a
// slot and from the slot's payload agree.
#include <cstring>
#include <string>

#include "vmbus/wire/codec.h"
#include "vmbus/wire/synic.h"

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vmbus;
  fuzz::FuzzInput input(data, size);
  const auto receiver = static_cast<wire::Receiver>(input.below(3));
  wire::HvMessage slot;
  const auto bytes = input.rest();
  std::memcpy(&slot, bytes.data(), std::min(bytes.size(), sizeof(slot)));

  const wire::ParseResult from_slot = wire::parse_hv_message(slot, receiver);
  if (!from_slot.ok()) {
    (void)wire::to_string(from_slot.error());
    (void)wire::describe_payload(
        std::span(reinterpret_cast<const std::byte*>(slot.payload), sizeof(slot.payload)));
    return 0;
  }
  const std::string description = wire::describe(from_slot.value());
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(slot.payload),
                                           slot.payload_size);
  const wire::ParseResult from_payload = wire::parse_message(payload, receiver);
  if (!from_payload.ok() || wire::describe(from_payload.value()) != description) {
    fuzz::invariant_failed("a slot and its payload parse differently: " + description);
  }
  const std::vector<std::byte> encoded = wire::encode_message(from_slot.value());
  const wire::ParseResult again = wire::parse_message(encoded, receiver);
  if (!again.ok() || wire::describe(again.value()) != description) {
    fuzz::invariant_failed("encode then parse changed " + description);
  }
  return 0;
}
