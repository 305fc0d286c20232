#include "vmbus/base/prng.h"

#include <cstdint>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace vmbus::base {
namespace {

TEST(Prng, SameSeedGivesTheSameSequenceOnEveryPlatform) {
  // splitmix64's published first outputs for seed 0 and seed 1.
  Prng zero(0);
  EXPECT_EQ(zero.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(zero.next(), 0x6E789E6AA1B965F4ull);
  Prng one(1);
  EXPECT_EQ(one.next(), 0x910A2DEC89025CC1ull);
}

TEST(Prng, BelowStaysInRangeAndHitsEveryValue) {
  Prng prng(7);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t value = prng.below(5);
    ASSERT_LT(value, 5u);
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(StreamSeed, IsAFixedFunctionOfRunSeedAndName) {
  static_assert(stream_seed(1, "guest") == stream_seed(1, "guest"));
  EXPECT_EQ(stream_seed(1, "guest"), stream_seed(1, std::string("gu") + "est"));
  // Computed independently (Python) from the definition in prng.h.
  EXPECT_EQ(stream_seed(0, ""), 0xF52A15E9A9B5E89Bull);
  EXPECT_EQ(stream_seed(1, "guest"), 0xACB21C68AA21C9B8ull);
}

TEST(StreamSeed, DiffersBetweenNamesAndBetweenRunSeeds) {
  std::set<std::uint64_t> seeds;
  for (std::uint64_t run : {1ull, 2ull, 3ull}) {
    for (const char* name : {"hypervisor", "host", "guest", "guest/kmcl/1", "guest/kmcl/2"}) {
      seeds.insert(stream_seed(run, name));
    }
  }
  EXPECT_EQ(seeds.size(), 15u);
}

TEST(StreamSeed, StreamsOfOneRunDoNotShareTheirFirstValues) {
  Prng host(stream_seed(42, "host"));
  Prng guest(stream_seed(42, "guest"));
  EXPECT_NE(host.next(), guest.next());
}

}  // namespace
}  // namespace vmbus::base
