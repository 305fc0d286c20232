// The C++ side of the KMCL C API.
//
// Drivers written in C (or C++ against the WDK-style header) include
// <vmbuskernelmodeclientlibapi.h> from sim/kmcl/include/km/ and call the
// extern "C" functions of src/c_api.cc, which convert their arguments and
// call this model's V1 functions (vmbus/kmcl/kmcl.h): one implementation,
// two spellings. The C header's macros (STATUS_*, TRUE, VOID, ...) would
// clash with the C++ declarations, so C++ code of the simulator never
// includes it; what C++ code needs to hand a Device to a C driver is here.
//
// Who uses it: the driver loader (vmbus/kmcl/driver_loader.h) and tests that
// link a C driver into the test program.
#pragma once

#include "vmbus/kmcl/device.h"

// The C header's opaque device object (typedef'd there as DEVICE_OBJECT).
struct _DEVICE_OBJECT;

namespace vmbus::kmcl {

// The PDEVICE_OBJECT a C driver passes to VmbChannelAllocate to create its
// channels on `device`. It names the device; nothing is ever read through it
// but the device itself.
::_DEVICE_OBJECT* as_device_object(Device& device);

}  // namespace vmbus::kmcl
