// The seeded random source of vmbus-sim. Every random choice that shapes a
// run (which context steps next, latency jitter, fault probabilities, the
// guest's workload, a driver's rules) comes from a Prng seeded from the
// run's seed, so the same seed replays the same run on any machine.
//
// One run seed, many streams: each consumer (the hypervisor, each partition,
// each driver) draws from its own stream, seeded with
// stream_seed(run_seed, "<name>"). Streams are independent, so one
// consumer drawing more or fewer numbers never shifts what another draws.
//
// splitmix64: tiny, fast, fully specified (unlike std::uniform_int_distribution,
// whose output differs between standard libraries).
#pragma once

#include <cstdint>
#include <string_view>

namespace vmbus::base {

// The seed of the stream `name` ("hypervisor", "guest", "guest/kmcl/1", ...)
// of a run seeded with `run_seed`: a 64-bit FNV-1a hash of the name, mixed
// with the run seed through the splitmix64 finaliser. Fully specified, so it
// is the same on every platform.
constexpr std::uint64_t stream_seed(std::uint64_t run_seed, std::string_view name) {
  std::uint64_t hash = 0xCBF29CE484222325ull;
  for (char c : name) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  }
  std::uint64_t z = run_seed ^ hash;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Prng {
 public:
  explicit Prng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound); bound > 0. Rejection sampling keeps it unbiased.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t value = next();
    while (value >= limit) {
      value = next();
    }
    return value % bound;
  }

 private:
  std::uint64_t state_;
};

}  // namespace vmbus::base
