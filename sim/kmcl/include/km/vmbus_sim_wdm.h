/*
 * vmbus_sim_wdm.h -- the Windows kernel base types, NTSTATUS codes, IRQLs
 * and helper macros that vmbuskernelmodeclientlibapi.h needs, for driver code
 * built against vmbus-sim's KMCL model on Linux with gcc or g++.
 *
 * vmbuskernelmodeclientlibapi.h includes this file; a driver does not need to
 * include it itself. It stands in for the small part of ntdef.h / wdm.h that
 * a KMCL packet path uses, with the WDK's names and values, so that such code
 * compiles unchanged as C11 or C++17/20. It is not the WDK: there is no
 * memory manager, no pool allocator, no I/O manager, no DbgPrint. Where the
 * Linux data model differs from Windows x64 the type keeps its Windows width
 * (LONG and ULONG are 32 bits, as on Windows; `long` is 64 bits on Linux).
 *
 * What each definition means in the simulator:
 *  - NTSTATUS codes: the ones the model returns (docs/KMCL-SEMANTICS.md).
 *  - KIRQL / KeGetCurrentIrql(): the IRQL of the simulated context that runs
 *    the caller (DISPATCH_LEVEL in a channel's DPC, PASSIVE_LEVEL on the
 *    passive worker and driver threads).
 *  - MDL: the Windows x64 header followed by its page-frame array, as far as
 *    external data (GPA ranges) needs it. The model's MDLs have no virtual
 *    address (StartVa and MappedSystemVa are NULL), as KMCL documents for
 *    VmbChannelPacketGetExternalData.
 *  - DEVICE_OBJECT: opaque; in the simulator it names the KMCL environment
 *    (one per endpoint) that VmbChannelAllocate creates channels in.
 *  - SAL annotations (_In_, _IRQL_requires_, ...) are accepted and ignored.
 *
 * Layouts are checked for the x64 (LP64) data model the simulator runs on.
 */
#ifndef VMBUS_SIM_WDM_H_
#define VMBUS_SIM_WDM_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifndef __cplusplus
#include <uchar.h>
#endif

/* Casts that read as C casts in C and pass g++ -Wold-style-cast in C++. */
#ifdef __cplusplus
#define EXTERN_C extern "C"
#define VMBUS_SIM_CAST(type, value) (static_cast<type>(value))
#define VMBUS_SIM_REINTERPRET(type, value) (reinterpret_cast<type>(value))
#define VMBUS_SIM_UNCONST(type, value) (const_cast<type>(value))
#define VMBUS_SIM_STATIC_ASSERT(condition, message) static_assert(condition, message)
#else
#define EXTERN_C extern
#define VMBUS_SIM_CAST(type, value) ((type)(value))
#define VMBUS_SIM_REINTERPRET(type, value) ((type)(value))
#define VMBUS_SIM_UNCONST(type, value) ((type)(value))
#define VMBUS_SIM_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif
/* Starts the definition of an object with external linkage and C names: a
   const object at namespace scope in C++ is otherwise internal. */
#ifdef __cplusplus
#define VMBUS_SIM_EXTERN_DEFINITION extern "C"
#else
#define VMBUS_SIM_EXTERN_DEFINITION
#endif

/* --- SAL annotations: accepted, ignored ----------------------------------- */
#ifndef _In_
#define _In_
#define _In_opt_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _In_reads_bytes_(size)
#define _In_reads_bytes_opt_(size)
#define _Out_writes_bytes_(size)
#define _Out_writes_bytes_to_opt_(size, count)
#define _Use_decl_annotations_
#define _Must_inspect_result_
#define _Success_(expression)
#define _When_(condition, annotations)
#define _Function_class_(name)
#define _IRQL_requires_(irql)
#define _IRQL_requires_max_(irql)
#define _IRQL_requires_same_
#endif

/* --- Basic types (Windows x64 widths) ------------------------------------- */
#ifndef VOID
#define VOID void
#endif
typedef void* PVOID;
typedef char CHAR;
typedef CHAR* PCHAR;
typedef uint8_t UCHAR;
typedef UCHAR* PUCHAR;
typedef int16_t SHORT;
typedef int16_t CSHORT;
typedef uint16_t USHORT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef ULONG* PULONG;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef uint64_t ULONG64;
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef UINT16* PUINT16;
typedef uint32_t UINT32;
typedef UINT32* PUINT32;
typedef uint64_t UINT64;
typedef UINT64* PUINT64;
typedef int32_t INT32;
typedef size_t SIZE_T;
typedef uintptr_t ULONG_PTR;
typedef UCHAR BOOLEAN;
typedef BOOLEAN* PBOOLEAN;
typedef void* HANDLE;
typedef HANDLE* PHANDLE;
/* Windows WCHAR is 16 bits: u"..." literals fit it in C11 and C++. */
typedef char16_t WCHAR;
typedef WCHAR* PWCH;
typedef WCHAR* PWSTR;
typedef ULONG64 PFN_NUMBER;
typedef PFN_NUMBER* PPFN_NUMBER;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#define UNREFERENCED_PARAMETER(parameter) ((void)(parameter))
#define RtlZeroMemory(destination, length) memset((destination), 0, (length))
#define RtlFillMemory(destination, length, fill) memset((destination), (fill), (length))
#define RtlCopyMemory(destination, source, length) memcpy((destination), (source), (length))
#define RtlMoveMemory(destination, source, length) memmove((destination), (source), (length))
#define RtlEqualMemory(a, b, length) (memcmp((a), (b), (length)) == 0)

/* A handle type distinct from every other (the WDK's DECLARE_HANDLE). */
#define DECLARE_HANDLE(name) \
  struct name##__ {          \
    int unused;              \
  };                         \
  typedef struct name##__* name

/* --- NTSTATUS --------------------------------------------------------------- */
typedef LONG NTSTATUS;
typedef NTSTATUS* PNTSTATUS;

#define NT_SUCCESS(status) (VMBUS_SIM_CAST(NTSTATUS, status) >= 0)

#define STATUS_SUCCESS VMBUS_SIM_CAST(NTSTATUS, 0x00000000u)
#define STATUS_TIMEOUT VMBUS_SIM_CAST(NTSTATUS, 0x00000102u)
#define STATUS_PENDING VMBUS_SIM_CAST(NTSTATUS, 0x00000103u)
#define STATUS_BUFFER_OVERFLOW VMBUS_SIM_CAST(NTSTATUS, 0x80000005u)
#define STATUS_UNSUCCESSFUL VMBUS_SIM_CAST(NTSTATUS, 0xC0000001u)
#define STATUS_NOT_IMPLEMENTED VMBUS_SIM_CAST(NTSTATUS, 0xC0000002u)
#define STATUS_INVALID_PARAMETER VMBUS_SIM_CAST(NTSTATUS, 0xC000000Du)
#define STATUS_INVALID_DEVICE_REQUEST VMBUS_SIM_CAST(NTSTATUS, 0xC0000010u)
#define STATUS_BUFFER_TOO_SMALL VMBUS_SIM_CAST(NTSTATUS, 0xC0000023u)
#define STATUS_INSUFFICIENT_RESOURCES VMBUS_SIM_CAST(NTSTATUS, 0xC000009Au)
#define STATUS_NOT_SUPPORTED VMBUS_SIM_CAST(NTSTATUS, 0xC00000BBu)
#define STATUS_INVALID_PARAMETER_1 VMBUS_SIM_CAST(NTSTATUS, 0xC00000EFu)
#define STATUS_INVALID_PARAMETER_2 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F0u)
#define STATUS_INVALID_PARAMETER_3 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F1u)
#define STATUS_INVALID_PARAMETER_4 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F2u)
#define STATUS_INVALID_PARAMETER_5 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F3u)
#define STATUS_INVALID_PARAMETER_6 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F4u)
#define STATUS_INVALID_PARAMETER_7 VMBUS_SIM_CAST(NTSTATUS, 0xC00000F5u)
#define STATUS_CANCELLED VMBUS_SIM_CAST(NTSTATUS, 0xC0000120u)
#define STATUS_INVALID_DEVICE_STATE VMBUS_SIM_CAST(NTSTATUS, 0xC0000184u)
#define STATUS_INVALID_BUFFER_SIZE VMBUS_SIM_CAST(NTSTATUS, 0xC0000206u)
#define STATUS_NOT_FOUND VMBUS_SIM_CAST(NTSTATUS, 0xC0000225u)
#define STATUS_DEVICE_REMOVED VMBUS_SIM_CAST(NTSTATUS, 0xC00002B6u)

/* --- IRQL ------------------------------------------------------------------- */
typedef UCHAR KIRQL;
typedef KIRQL* PKIRQL;

#define PASSIVE_LEVEL 0
#define LOW_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

/* --- Structures --------------------------------------------------------------- */
#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
  UINT32 Data1;
  USHORT Data2;
  USHORT Data3;
  UCHAR Data4[8];
} GUID;
#endif
typedef GUID* LPGUID;
typedef const GUID* LPCGUID;

/*
 * DEFINE_GUID(name, ...) declares the GUID `name`; in the one file that
 * defines INITGUID before including this header it also defines it (weak, so
 * several such files still link).
 */
#ifdef INITGUID
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  VMBUS_SIM_EXTERN_DEFINITION __attribute__((weak))                  \
  const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) EXTERN_C const GUID name
#endif

/* Length and MaximumLength are in bytes, as in the kernel. */
typedef struct _UNICODE_STRING {
  USHORT Length;
  USHORT MaximumLength;
  PWCH Buffer;
} UNICODE_STRING;
typedef UNICODE_STRING* PUNICODE_STRING;
typedef const UNICODE_STRING* PCUNICODE_STRING;

/* RTL_CONSTANT_STRING(u"Network"): a UNICODE_STRING of a string literal. */
#define RTL_CONSTANT_STRING(literal)                                              \
  {                                                                               \
    VMBUS_SIM_CAST(USHORT, sizeof(literal) - sizeof((literal)[0])),               \
        VMBUS_SIM_CAST(USHORT, sizeof(literal)), VMBUS_SIM_UNCONST(PWCH, literal) \
  }

/*
 * A KeWaitForSingleObject-style timeout: negative = relative, in 100 ns units;
 * positive = absolute, in 100 ns units of the simulated clock (which starts at
 * 0); zero = do not wait. The LowPart/HighPart view is the named member `u`
 * only: an anonymous struct inside a union is not ISO C++.
 */
typedef union _LARGE_INTEGER {
  struct {
    ULONG LowPart;
    LONG HighPart;
  } u;
  LONGLONG QuadPart;
} LARGE_INTEGER;
typedef LARGE_INTEGER* PLARGE_INTEGER;

/*
 * The memory descriptor list: the Windows x64 header, followed in the same
 * allocation by one PFN_NUMBER per page that ByteOffset..ByteOffset+ByteCount
 * spans. Size is the size of the whole allocation (header and PFNs). Chains
 * link through Next. MmSizeOfMdl / MmInitializeMdl set one up (the "virtual
 * address" only places the first byte within its page; nothing is mapped);
 * the driver then fills MmGetMdlPfnArray() with guest page frame numbers.
 */
struct _EPROCESS;
typedef struct _MDL {
  struct _MDL* Next;
  CSHORT Size;
  CSHORT MdlFlags;
  struct _EPROCESS* Process;
  PVOID MappedSystemVa;
  PVOID StartVa;
  ULONG ByteCount;
  ULONG ByteOffset;
} MDL;
typedef MDL* PMDL;

VMBUS_SIM_STATIC_ASSERT(sizeof(MDL) == 48, "the Windows x64 MDL header");
VMBUS_SIM_STATIC_ASSERT(offsetof(MDL, Size) == 8, "MDL.Size");
VMBUS_SIM_STATIC_ASSERT(offsetof(MDL, StartVa) == 32, "MDL.StartVa");
VMBUS_SIM_STATIC_ASSERT(offsetof(MDL, ByteCount) == 40, "MDL.ByteCount");
VMBUS_SIM_STATIC_ASSERT(offsetof(MDL, ByteOffset) == 44, "MDL.ByteOffset");

#define PAGE_SIZE 0x1000
#define PAGE_SHIFT 12
#define BYTE_OFFSET(va) \
  VMBUS_SIM_CAST(ULONG, VMBUS_SIM_REINTERPRET(ULONG_PTR, va) & (PAGE_SIZE - 1))
#define PAGE_ALIGN(va)   \
  VMBUS_SIM_REINTERPRET( \
      PVOID, VMBUS_SIM_REINTERPRET(ULONG_PTR, va) & ~VMBUS_SIM_CAST(ULONG_PTR, PAGE_SIZE - 1))
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, size) \
  VMBUS_SIM_CAST(                                \
      ULONG, (BYTE_OFFSET(va) + VMBUS_SIM_CAST(ULONG_PTR, size) + PAGE_SIZE - 1) >> PAGE_SHIFT)

#define MmGetMdlByteCount(mdl) ((mdl)->ByteCount)
#define MmGetMdlByteOffset(mdl) ((mdl)->ByteOffset)
#define MmGetMdlPfnArray(mdl) VMBUS_SIM_CAST(PPFN_NUMBER, VMBUS_SIM_CAST(PVOID, (mdl) + 1))

static inline SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length) {
  return sizeof(MDL) + sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Length);
}

static inline VOID MmInitializeMdl(PMDL Mdl, PVOID BaseVa, SIZE_T Length) {
  Mdl->Next = NULL;
  Mdl->Size = VMBUS_SIM_CAST(CSHORT, MmSizeOfMdl(BaseVa, Length));
  Mdl->MdlFlags = 0;
  Mdl->Process = NULL;
  Mdl->MappedSystemVa = NULL;
  Mdl->StartVa = PAGE_ALIGN(BaseVa);
  Mdl->ByteCount = VMBUS_SIM_CAST(ULONG, Length);
  Mdl->ByteOffset = BYTE_OFFSET(BaseVa);
}

/* The wdm.h INTERFACE header that every queried interface starts with. */
typedef VOID (*PINTERFACE_REFERENCE)(PVOID Context);
typedef VOID (*PINTERFACE_DEREFERENCE)(PVOID Context);

typedef struct _INTERFACE {
  USHORT Size;
  USHORT Version;
  PVOID Context;
  PINTERFACE_REFERENCE InterfaceReference;
  PINTERFACE_DEREFERENCE InterfaceDereference;
} INTERFACE;
typedef INTERFACE* PINTERFACE;

VMBUS_SIM_STATIC_ASSERT(sizeof(INTERFACE) == 32, "the Windows x64 INTERFACE header");

/*
 * The device object a driver's channels belong to. Opaque: in the simulator
 * it is the KMCL environment of one endpoint, handed to the driver's entry
 * point (vmbus_sim_driver.h) and passed on to VmbChannelAllocate.
 */
typedef struct _DEVICE_OBJECT DEVICE_OBJECT;
typedef DEVICE_OBJECT* PDEVICE_OBJECT;

/* --- Functions ---------------------------------------------------------------- */

/* The IRQL of the simulated context running the caller; PASSIVE_LEVEL
   outside any scheduled step. */
EXTERN_C KIRQL KeGetCurrentIrql(VOID);

#endif /* VMBUS_SIM_WDM_H_ */
