/*
 * Drivers the loader must refuse, one per BAD_DRIVER_* definition, each
 * with the one flaw its name says (tests/kmcl/kmcl_driver_loader_test.cc).
 */
#if defined(BAD_DRIVER_NO_ENTRY)
/* Built with the header (so it has the version symbol) but no entry point. */
#include <vmbus_sim_driver.h>

int BadDriverSomethingElse(void);
int BadDriverSomethingElse(void) {
  return 0;
}

#elif defined(BAD_DRIVER_NO_VERSION) || defined(BAD_DRIVER_OTHER_VERSION)
/* Not built with the header: an entry point, and no version or a wrong one. */
#include <stdint.h>

#if defined(BAD_DRIVER_OTHER_VERSION)
__attribute__((visibility("default"))) const uint32_t VmbusSimDriverInterfaceVersion = 999;
#endif

__attribute__((visibility("default"))) int32_t VmbusSimDriverEntry(void* device,
                                                                   const void* parameters);
int32_t VmbusSimDriverEntry(void* device, const void* parameters) {
  (void)device;
  (void)parameters;
  return 0;
}

#elif defined(BAD_DRIVER_UNDEFINED_SYMBOL)
/* Calls a WDK function the simulator does not provide. */
#include <vmbus_sim_driver.h>

PVOID ExAllocatePoolWithTag(UINT32 PoolType, SIZE_T NumberOfBytes, ULONG Tag);

NTSTATUS VmbusSimDriverEntry(PDEVICE_OBJECT DeviceObject,
                             PCVMBUS_SIM_DRIVER_PARAMETERS Parameters) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Parameters);
  return ExAllocatePoolWithTag(0, 64, 0x74736554) != NULL ? STATUS_SUCCESS
                                                          : STATUS_INSUFFICIENT_RESOURCES;
}

#else
#error "define one BAD_DRIVER_* variant"
#endif
