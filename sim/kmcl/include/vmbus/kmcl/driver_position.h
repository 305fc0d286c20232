// Where the code of a loaded driver runs, for the report of a driver that
// crashes or hangs.
//
// Every call from the model into a driver loaded from a shared library --
// its entry point, each callback the C trampolines make (src/c_api.cc) --
// runs inside a DriverCodeScope that names it: the driver's file, the
// callback, the channel and the packet. Each thread keeps its own stack of
// scopes (a driver's callback can call KMCL, which calls another of its
// callbacks in-line); what counts is the innermost scope of the thread that
// runs. PASSIVE_LEVEL contexts run on their own threads with strict
// hand-off (src/fiber.h), so at every hand-off the thread that takes over
// publishes its own innermost scope: a callback blocked in a KMCL wait is
// not running, and runs again when its context resumes.
//
// A DriverPositionListener -- the partition's crash slot, which the
// simulator reads once the process is gone -- hears every change of the
// running position. It must be cheap and must not call into the model.
//
// An exception that escapes driver code (a C++ driver's uncaught throw)
// cannot unwind through the model: run_driver_code() catches it, tells the
// listener what it was, and aborts the process, as an uncaught exception
// would have.
//
// Who uses it: src/c_api.cc and the driver loader; vmbus-host and
// vmbus-guest set the listener.
#pragma once

#include <cstdint>
#include <string>

namespace vmbus::kmcl {

struct DriverPosition {
  std::string driver;        // the library's file name: "libkvs_vsc.so"
  std::string callback;      // "EvtVmbChannelProcessPacket", "VmbusSimDriverEntry", ...
  std::string channel;       // the scenario's name for the channel ("net")
  std::int64_t packet = -1;  // ProcessPacket: the driver's packet index
  std::int64_t send = -1;    // a completion routine: the send index
};

class DriverPositionListener {
 public:
  virtual ~DriverPositionListener() = default;
  // Driver code at `now` runs (the innermost scope of the running thread),
  // or, with nullptr, no driver code runs.
  virtual void on_driver_position(const DriverPosition* now) = 0;
  // An exception escaped the driver code at `where`; the process aborts
  // when this returns.
  virtual void on_driver_exception(const DriverPosition& where, const std::string& what) = 0;
};

// Process-wide; nullptr (the default) stops the reports.
void set_driver_position_listener(DriverPositionListener* listener);

// The calling thread runs driver code at `position` while this lives.
class DriverCodeScope {
 public:
  explicit DriverCodeScope(DriverPosition position);
  ~DriverCodeScope();
  DriverCodeScope(const DriverCodeScope&) = delete;
  DriverCodeScope& operator=(const DriverCodeScope&) = delete;
};

namespace detail {
// The calling thread has just taken over from another (a fiber hand-off):
// publish its innermost scope.
void publish_driver_position();
// An exception escaped driver code: tell the listener, then abort.
[[noreturn]] void driver_exception_escaped();
}  // namespace detail

}  // namespace vmbus::kmcl
