// Reading a fuzzer's bytes as a sequence of choices.
//
// A libFuzzer target gets one flat byte string. FuzzInput hands it out as
// integers, booleans and byte runs, front to back, and answers zeros once the
// bytes run out, so a target never reads past its input and a short input is
// still a complete (if boring) program. Every target of fuzz/ uses it, so the
// same input bytes always mean the same choices: a crash file replays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <string>

namespace vmbus::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : bytes_(data, size) {}

  bool empty() const { return position_ >= bytes_.size(); }
  std::size_t remaining() const { return bytes_.size() - position_; }

  template <typename T>
  T integer() {
    T value{};
    const std::size_t n = std::min(sizeof(T), remaining());
    std::memcpy(&value, bytes_.data() + position_, n);
    position_ += n;
    return value;
  }

  // A value in [0, bound); 0 when bound is 0.
  std::uint32_t below(std::uint32_t bound) {
    return bound == 0 ? 0 : integer<std::uint32_t>() % bound;
  }

  bool boolean() { return (integer<std::uint8_t>() & 1) != 0; }

  // Up to `max_bytes` bytes (a length byte first, then that many bytes).
  std::span<const std::byte> bytes(std::size_t max_bytes) {
    const std::size_t wanted = std::min<std::size_t>(integer<std::uint16_t>(), max_bytes);
    const std::size_t n = std::min(wanted, remaining());
    std::span<const std::byte> out(reinterpret_cast<const std::byte*>(bytes_.data()) + position_,
                                   n);
    position_ += n;
    return out;
  }

  // Everything not read yet.
  std::span<const std::byte> rest() {
    std::span<const std::byte> out(reinterpret_cast<const std::byte*>(bytes_.data()) + position_,
                                   remaining());
    position_ = bytes_.size();
    return out;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t position_ = 0;
};

// An invariant the target states beyond "does not crash" failed: print it
// and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void invariant_failed(const std::string& what) {
  std::cerr << "fuzz invariant failed: " << what << "\n";
  std::abort();
}

}  // namespace vmbus::fuzz
