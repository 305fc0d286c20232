// The seeded random source of vmbus-sim. Every random choice that shapes a
// run (which context steps next, latency jitter, fault probabilities, the
// guest's workload) comes from a Prng seeded from the run's seed, so the
// same seed replays the same run on any machine.
//
// splitmix64: tiny, fast, fully specified (unlike std::uniform_int_distribution,
// whose output differs between standard libraries).
#pragma once

#include <cstdint>

namespace vmbus::base {

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
