/*
 * kvs_protocol.h -- the wire protocol of the key-value example: what the
 * VSC (kvs_vsc.c, in the guest) and the VSP (kvs_vsp.c, in the host) send
 * each other over their VMBus channel.
 *
 * The VSC sends requests, each a VMBus data packet that asks for a
 * completion; the VSP answers each one in the packet's completion:
 *
 *   KVS_REQUEST  -> KVS_RESPONSE   GET key: the value stored, or
 *                                  STATUS_NOT_FOUND
 *                                  PUT key value: stored, STATUS_SUCCESS
 *
 * After every PUT the VSP tells the VSC, unasked, that the key changed: a
 * KVS_NOTIFICATION data packet with no completion wanted. The VSC answers
 * it by reading the key again with a synchronous GET -- a call that blocks,
 * so it must run at PASSIVE_LEVEL (kvs_vsc.c defers it there).
 *
 * Every field is little-endian; the peer's bytes are never trusted: the
 * VSP validates each request and fails (VmbChannelPacketFail) one that is
 * malformed, and the VSC checks each answer.
 */
#ifndef KVS_PROTOCOL_H_
#define KVS_PROTOCOL_H_

#include <vmbuskernelmodeclientlibapi.h>

#define KVS_KEY_COUNT 16   /* keys are 0 .. 15 */
#define KVS_VALUE_BYTES 32 /* a value is at most this long */

#define KVS_OP_GET 1u
#define KVS_OP_PUT 2u
#define KVS_OP_CHANGED 3u /* VSP -> VSC notification */

typedef struct _KVS_REQUEST {
  UINT32 Op; /* KVS_OP_GET or KVS_OP_PUT */
  UINT32 Key;
  UINT32 ValueLength; /* PUT: bytes of Value used; GET: 0 */
  UCHAR Value[KVS_VALUE_BYTES];
} KVS_REQUEST;

typedef struct _KVS_RESPONSE {
  NTSTATUS Status; /* STATUS_SUCCESS or STATUS_NOT_FOUND */
  UINT32 ValueLength;
  UCHAR Value[KVS_VALUE_BYTES];
} KVS_RESPONSE;

typedef struct _KVS_NOTIFICATION {
  UINT32 Op; /* KVS_OP_CHANGED */
  UINT32 Key;
} KVS_NOTIFICATION;

VMBUS_SIM_STATIC_ASSERT(sizeof(KVS_REQUEST) == 44, "KVS_REQUEST on the wire");
VMBUS_SIM_STATIC_ASSERT(sizeof(KVS_RESPONSE) == 40, "KVS_RESPONSE on the wire");
VMBUS_SIM_STATIC_ASSERT(sizeof(KVS_NOTIFICATION) == 8, "KVS_NOTIFICATION on the wire");

#endif /* KVS_PROTOCOL_H_ */
