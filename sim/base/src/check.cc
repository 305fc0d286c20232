#include "vmbus/base/check.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace vmbus::base {
namespace {

std::atomic<CheckContextProvider> g_context_provider{nullptr};

}  // namespace

void set_check_context_provider(CheckContextProvider provider) {
  g_context_provider.store(provider, std::memory_order_release);
}

void check_failed(const char* file, int line, const char* condition, const std::string& message) {
  std::string context;
  if (CheckContextProvider provider = g_context_provider.load(std::memory_order_acquire)) {
    context = provider();
  }
  std::fprintf(stderr, "vmbus-sim internal error at %s:%d: check `%s` failed: %s%s%s\n", file, line,
               condition, message.c_str(), context.empty() ? "" : " | ", context.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace vmbus::base
