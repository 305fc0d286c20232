/*
 * vmbus_sim_driver.h -- the one entry point of a driver that vmbus-sim loads
 * as a shared library (.so), and the interface version it was built against.
 *
 * A driver is a shared library that defines VmbusSimDriverEntry. The program
 * hosting an endpoint (vmbus-guest for a client channel, vmbus-host for a
 * server channel) loads it with dlopen(), checks the interface version, and
 * calls the entry once per channel the scenario gives the driver, at
 * PASSIVE_LEVEL, before the simulation starts -- the way Windows calls
 * DriverEntry and then EvtDeviceAdd. The entry allocates and initialises its
 * channel(s) with the KMCL API (vmbuskernelmodeclientlibapi.h) on the device
 * object it receives, enables them, and returns STATUS_SUCCESS; any other
 * status stops the run before it starts, naming the driver.
 *
 *   #include <vmbus_sim_driver.h>
 *
 *   NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
 *                                const VMBUS_SIM_DRIVER_PARAMETERS* Parameters) {
 *     VMBCHANNEL channel;
 *     NTSTATUS status = VmbChannelAllocate(DeviceObject, Parameters->IsServer, &channel);
 *     ...Init calls, VmbChannelSetPointer(channel, context)...
 *     return VmbChannelEnable(channel);
 *   }
 *
 * The interface version: including this header in any file of the driver
 * defines the exported constant VmbusSimDriverInterfaceVersion with the
 * VMBUS_SIM_DRIVER_INTERFACE_VERSION the driver was compiled with; the loader
 * refuses a driver whose version differs from its own, or that has no such
 * symbol or no entry point, naming the file and what is wrong. The version
 * changes whenever this header or the KMCL header changes incompatibly.
 *
 * The KMCL functions themselves come from the hosting program at load time:
 * a driver links against no library of the simulator.
 */
#ifndef VMBUS_SIM_DRIVER_H_
#define VMBUS_SIM_DRIVER_H_

#include "vmbuskernelmodeclientlibapi.h"

#define VMBUS_SIM_DRIVER_INTERFACE_VERSION 1

/* The symbol names the loader looks up. */
#define VMBUS_SIM_DRIVER_ENTRY_SYMBOL "VmbusSimDriverEntry"
#define VMBUS_SIM_DRIVER_INTERFACE_VERSION_SYMBOL "VmbusSimDriverInterfaceVersion"

/* Exported from the driver even when it is built with -fvisibility=hidden. */
#define VMBUS_SIM_DRIVER_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What the entry point is told about the channel it is given. The strings
 * are valid only during the call: copy what the driver keeps.
 */
typedef struct _VMBUS_SIM_DRIVER_PARAMETERS {
  /* sizeof(VMBUS_SIM_DRIVER_PARAMETERS) as the loader was built. */
  ULONG Size;
  /* The loader's VMBUS_SIM_DRIVER_INTERFACE_VERSION (equal to the driver's). */
  ULONG InterfaceVersion;
  /* The endpoint: TRUE for the server (host, a VSP), FALSE for the client
     (guest, a VSC). Pass it on to VmbChannelAllocate. */
  BOOLEAN IsServer;
  /* The scenario's name for the channel, e.g. "net" (UTF-8). */
  const char* ChannelName;
  /* The offer's interface type and instance: a server offers with them
     (VmbServerChannelInitSetTargetInterfaceId), a client targets them
     (VmbClientChannelInitSetTargetPnp). */
  GUID InterfaceType;
  GUID InterfaceInstance;
  /* The scenario's argument string for this driver; "" when there is none. */
  const char* Arguments;
} VMBUS_SIM_DRIVER_PARAMETERS;
typedef const VMBUS_SIM_DRIVER_PARAMETERS* PCVMBUS_SIM_DRIVER_PARAMETERS;

VMBUS_SIM_STATIC_ASSERT(sizeof(VMBUS_SIM_DRIVER_PARAMETERS) == 64,
                        "VMBUS_SIM_DRIVER_PARAMETERS on x64");
VMBUS_SIM_STATIC_ASSERT(offsetof(VMBUS_SIM_DRIVER_PARAMETERS, ChannelName) == 16,
                        "VMBUS_SIM_DRIVER_PARAMETERS.ChannelName");
VMBUS_SIM_STATIC_ASSERT(offsetof(VMBUS_SIM_DRIVER_PARAMETERS, Arguments) == 56,
                        "VMBUS_SIM_DRIVER_PARAMETERS.Arguments");

/* PASSIVE_LEVEL, once per channel given to the driver. */
typedef NTSTATUS VMBUS_SIM_DRIVER_ENTRY(_In_ PDEVICE_OBJECT DeviceObject,
                                        _In_ PCVMBUS_SIM_DRIVER_PARAMETERS Parameters);
typedef VMBUS_SIM_DRIVER_ENTRY* PFN_VMBUS_SIM_DRIVER_ENTRY;

/* The driver defines this. */
VMBUS_SIM_DRIVER_EXPORT VMBUS_SIM_DRIVER_ENTRY VmbusSimDriverEntry;

#ifdef __cplusplus
}
#endif

/* Weak, so that every file of the driver may include this header. The
   loader, which includes it only for the names above, defines
   VMBUS_SIM_DRIVER_LOADER first. */
#ifndef VMBUS_SIM_DRIVER_LOADER
VMBUS_SIM_EXTERN_DEFINITION VMBUS_SIM_DRIVER_EXPORT __attribute__((weak))
const UINT32 VmbusSimDriverInterfaceVersion = VMBUS_SIM_DRIVER_INTERFACE_VERSION;
#endif

#endif /* VMBUS_SIM_DRIVER_H_ */
