// Small helpers shared by the benchmark programs that print their own
// medians (ring_vs_linux, trace_writer_bench).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace vmbus::bench {

// CPU time of the calling thread, in seconds: a preemption does not count.
inline double thread_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// The median of `values` (the mean of the middle two for an even count).
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// A positive decimal count from the command line, or `fallback` when the
// argument is absent. Anything else ends `program` with exit status 2.
inline std::uint64_t positive_argument(const char* program, const char* text,
                                       std::uint64_t fallback) {
  if (text == nullptr) {
    return fallback;
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || value == 0) {
    std::fprintf(stderr, "%s: not a positive number: %s\n", program, text);
    std::exit(2);
  }
  return value;
}

}  // namespace vmbus::bench
