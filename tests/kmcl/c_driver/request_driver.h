/*
 * The test's C driver (request_driver.c): its request protocol and its log.
 * Plain C, no KMCL types, so that the C++ tests can include it too.
 *
 * A request is 8 bytes or more: a little-endian UINT32 opcode, a UINT32
 * argument, then anything. The driver answers each one the way its opcode
 * says and logs one line per callback it gets and per thing it does.
 */
#ifndef KMCL_TEST_REQUEST_DRIVER_H_
#define KMCL_TEST_REQUEST_DRIVER_H_

#include <stddef.h>
#include <stdint.h>

enum {
  REQUEST_ECHO = 1,                /* complete with the request's own bytes */
  REQUEST_NEEDS_PASSIVE = 2,       /* defer to PASSIVE_LEVEL, then complete with the IRQL */
  REQUEST_MALFORMED = 3,           /* fail (the queue stops) */
  REQUEST_SEND_BACK = 4,           /* send a packet back (no completion asked), then complete */
  REQUEST_EXTERNAL_DATA = 5,       /* map the external data, log its MDL, complete */
  REQUEST_COMPLETE_AFTER_FAIL = 6, /* the mistake: fail, then complete anyway */
  REQUEST_SEND_EXTERNAL_DATA = 7   /* send "ext" with a two-page MDL, then complete */
};

/* The interface the driver targets (client) or offers (server) when added
   by RequestDriverAdd: {0x52455155-0x4553-0x5400-0102030405060708}. */
#define REQUEST_DRIVER_INTERFACE_DATA1 0x52455155u
#define REQUEST_DRIVER_INTERFACE_DATA2 0x4553u
#define REQUEST_DRIVER_INTERFACE_DATA3 0x5400u
/* Its instance: the same with Data1 + 1. */

#ifdef __cplusplus
extern "C" {
#endif

struct _DEVICE_OBJECT;

/* Calls the driver's VmbusSimDriverEntry for one channel on `device`, the
   way the loader does: channel name "req", the interface above, `arguments`.
   Returns its NTSTATUS. */
int32_t RequestDriverAdd(struct _DEVICE_OBJECT* device, int is_server, const char* arguments);

/* Every line the driver logged since the last reset, each ending in "\n". */
const char* RequestDriverLog(void);
void RequestDriverResetLog(void);

/* KmclQueryInterface, asked the ways a driver might ask: the statuses in
   order (see request_driver.c). Returns how many were written (at most max). */
size_t RequestDriverQueryInterfaceStatuses(int32_t* statuses, size_t max);
/* Whether the V1 table's members are the exported functions themselves. */
int RequestDriverTableMatchesTheExports(void);

#ifdef __cplusplus
}
#endif

#endif /* KMCL_TEST_REQUEST_DRIVER_H_ */
