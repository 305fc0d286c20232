#include "vmbus/kmcl/driver_position.h"

#include <atomic>
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <memory>
#include <typeinfo>
#include <vector>

namespace vmbus::kmcl {
namespace {

// Only one thread runs at a time (the strict hand-off), and the listener is
// set before any driver code runs; the atomic only keeps a late set from
// being a data race.
std::atomic<DriverPositionListener*> g_listener{nullptr};

struct Scope {
  std::uint64_t serial;  // unique in the process, never 0
  DriverPosition position;
};
thread_local std::vector<Scope> t_scopes;
std::atomic<std::uint64_t> g_next_serial{1};

// The scope last published (0: none), so that a hand-off between threads
// that both run no driver code, or the same code, tells the listener nothing.
std::atomic<std::uint64_t> g_published{0};

void publish_innermost() {
  DriverPositionListener* listener = g_listener.load(std::memory_order_acquire);
  if (listener == nullptr) {
    return;
  }
  const Scope* top = t_scopes.empty() ? nullptr : &t_scopes.back();
  const std::uint64_t serial = top != nullptr ? top->serial : 0;
  if (g_published.exchange(serial, std::memory_order_acq_rel) == serial) {
    return;
  }
  listener->on_driver_position(top != nullptr ? &top->position : nullptr);
}

// "std::runtime_error: what" for the exception being handled.
std::string describe_current_exception() {
  std::string type = "an exception of unknown type";
  if (const std::type_info* info = abi::__cxa_current_exception_type(); info != nullptr) {
    int status = 0;
    const std::unique_ptr<char, void (*)(void*)> demangled(
        abi::__cxa_demangle(info->name(), nullptr, nullptr, &status), std::free);
    type = status == 0 && demangled ? demangled.get() : info->name();
  }
  try {
    throw;
  } catch (const std::exception& e) {
    return type + ": " + e.what();
  } catch (...) {
    return type;
  }
}

}  // namespace

void set_driver_position_listener(DriverPositionListener* listener) {
  g_published.store(0, std::memory_order_relaxed);
  g_listener.store(listener, std::memory_order_release);
}

DriverCodeScope::DriverCodeScope(DriverPosition position) {
  t_scopes.push_back(
      Scope{g_next_serial.fetch_add(1, std::memory_order_relaxed), std::move(position)});
  publish_innermost();
}

DriverCodeScope::~DriverCodeScope() {
  t_scopes.pop_back();
  publish_innermost();
}

namespace detail {

void publish_driver_position() {
  publish_innermost();
}

void driver_exception_escaped() {
  const std::string what = describe_current_exception();
  DriverPositionListener* listener = g_listener.load(std::memory_order_acquire);
  if (listener != nullptr && !t_scopes.empty()) {
    listener->on_driver_exception(t_scopes.back().position, what);
  }
  std::abort();
}

}  // namespace detail

}  // namespace vmbus::kmcl
