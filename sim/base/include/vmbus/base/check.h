// Assertions for vmbus-sim's own invariants.
//
// VMBUS_CHECK is for bugs in our own logic, never for data read from shared
// memory, a socket or a file: those are validated and reported as typed
// errors. A check is compiled into every build type (NDEBUG does not remove
// it). On failure it prints the file, line, condition, a message and the run
// context (seed and simulated time, once the simulator registers a context
// provider), then aborts.
#pragma once

#include <string>

namespace vmbus::base {

// Returns a description of the current run, e.g. "seed=42 time=1200ns".
// The simulator installs one; until then failures print no run context.
using CheckContextProvider = std::string (*)();

void set_check_context_provider(CheckContextProvider provider);

[[noreturn]] void check_failed(const char* file, int line, const char* condition,
                               const std::string& message);

}  // namespace vmbus::base

#define VMBUS_CHECK(condition, message)                                       \
  do {                                                                        \
    if (!(condition)) [[unlikely]] {                                          \
      ::vmbus::base::check_failed(__FILE__, __LINE__, #condition, (message)); \
    }                                                                         \
  } while (false)
