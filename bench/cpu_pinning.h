// Pinning the benchmark's two processes to two different CPUs.
//
// On a 2-CPU machine the scheduler otherwise sometimes puts producer and
// consumer on the same CPU for a while, and a run that spins (or sleeps and
// wakes) then measures the scheduler rather than the queue: the spread
// between repetitions grows several-fold. The consumer (this process) takes
// the first allowed CPU and the producer child the second.
#pragma once

#include <cstddef>
#include <optional>
#include <sched.h>

namespace vmbus::bench {

// The n-th CPU this process may run on (0-based), if there is one.
inline std::optional<int> allowed_cpu(int n) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    return std::nullopt;
  }
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(static_cast<std::size_t>(cpu), &allowed) && n-- == 0) {
      return cpu;
    }
  }
  return std::nullopt;
}

// Restricts the calling process to `cpu`. False if the system refuses.
inline bool pin_to_cpu(int cpu) {
  cpu_set_t only;
  CPU_ZERO(&only);
  CPU_SET(static_cast<std::size_t>(cpu), &only);
  return ::sched_setaffinity(0, sizeof(only), &only) == 0;
}

// Chosen once in main(), before any benchmark runs; -1: not pinned.
struct CpuPlan {
  int consumer_cpu = -1;
  int producer_cpu = -1;
};

inline CpuPlan& cpu_plan() {
  static CpuPlan plan;
  return plan;
}

// Called first thing in every producer child.
inline void pin_producer() {
  if (cpu_plan().producer_cpu >= 0) {
    pin_to_cpu(cpu_plan().producer_cpu);
  }
}

}  // namespace vmbus::bench
