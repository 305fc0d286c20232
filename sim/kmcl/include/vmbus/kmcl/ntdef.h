// The few Windows kernel types, NTSTATUS codes and IRQLs that the KMCL model's
// API uses, with the WDK's names and values, so that driver code written
// against the model reads as it would in the WDK.
//
// Only what vmbuskernelmodeclientlibapi.h needs is here. Where the model has
// to simplify a kernel structure (MDL, INTERFACE), the comment says how.
// Values come from the WDK's ntstatus.h / wdm.h.
#pragma once

#include <cstdint>
#include <vector>

namespace vmbus::kmcl {

// --- Basic types (x64 Windows data model: LONG and ULONG are 32 bits) ------

using VOID = void;
using PVOID = void*;
using BOOLEAN = std::uint8_t;
using UCHAR = std::uint8_t;
using UINT8 = std::uint8_t;
using USHORT = std::uint16_t;
using UINT16 = std::uint16_t;
using PUINT16 = UINT16*;
using UINT32 = std::uint32_t;
using PUINT32 = UINT32*;
using ULONG = std::uint32_t;
using PULONG = ULONG*;
using LONG = std::int32_t;
using LONGLONG = std::int64_t;
using UINT64 = std::uint64_t;
using ULONG64 = std::uint64_t;
using HANDLE = void*;
using PHANDLE = HANDLE*;
using NTSTATUS = LONG;
using KIRQL = UCHAR;
using PFN_NUMBER = ULONG64;
using PPFN_NUMBER = PFN_NUMBER*;

inline constexpr BOOLEAN TRUE = 1;
inline constexpr BOOLEAN FALSE = 0;

// --- IRQL -------------------------------------------------------------------

inline constexpr KIRQL PASSIVE_LEVEL = 0;
inline constexpr KIRQL APC_LEVEL = 1;
inline constexpr KIRQL DISPATCH_LEVEL = 2;

// "PASSIVE_LEVEL", "DISPATCH_LEVEL", or "IRQL_<n>".
const char* irql_name(KIRQL irql);

// --- NTSTATUS ---------------------------------------------------------------

constexpr NTSTATUS make_ntstatus(std::uint32_t value) {
  return static_cast<NTSTATUS>(value);
}

constexpr bool NT_SUCCESS(NTSTATUS status) {
  return status >= 0;
}

inline constexpr NTSTATUS STATUS_SUCCESS = make_ntstatus(0x00000000u);
inline constexpr NTSTATUS STATUS_TIMEOUT = make_ntstatus(0x00000102u);
inline constexpr NTSTATUS STATUS_PENDING = make_ntstatus(0x00000103u);
inline constexpr NTSTATUS STATUS_BUFFER_OVERFLOW = make_ntstatus(0x80000005u);
inline constexpr NTSTATUS STATUS_UNSUCCESSFUL = make_ntstatus(0xC0000001u);
inline constexpr NTSTATUS STATUS_NOT_IMPLEMENTED = make_ntstatus(0xC0000002u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER = make_ntstatus(0xC000000Du);
inline constexpr NTSTATUS STATUS_INVALID_DEVICE_REQUEST = make_ntstatus(0xC0000010u);
inline constexpr NTSTATUS STATUS_BUFFER_TOO_SMALL = make_ntstatus(0xC0000023u);
inline constexpr NTSTATUS STATUS_INSUFFICIENT_RESOURCES = make_ntstatus(0xC000009Au);
inline constexpr NTSTATUS STATUS_NOT_SUPPORTED = make_ntstatus(0xC00000BBu);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_1 = make_ntstatus(0xC00000EFu);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_2 = make_ntstatus(0xC00000F0u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_3 = make_ntstatus(0xC00000F1u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_4 = make_ntstatus(0xC00000F2u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_5 = make_ntstatus(0xC00000F3u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_6 = make_ntstatus(0xC00000F4u);
inline constexpr NTSTATUS STATUS_INVALID_PARAMETER_7 = make_ntstatus(0xC00000F5u);
inline constexpr NTSTATUS STATUS_CANCELLED = make_ntstatus(0xC0000120u);
inline constexpr NTSTATUS STATUS_INVALID_DEVICE_STATE = make_ntstatus(0xC0000184u);
inline constexpr NTSTATUS STATUS_INVALID_BUFFER_SIZE = make_ntstatus(0xC0000206u);
inline constexpr NTSTATUS STATUS_NOT_FOUND = make_ntstatus(0xC0000225u);
inline constexpr NTSTATUS STATUS_DEVICE_REMOVED = make_ntstatus(0xC00002B6u);

// "STATUS_SUCCESS", ..., or "0xC0000001"-style hex for codes not listed above.
const char* ntstatus_name(NTSTATUS status);

// --- Structures ---------------------------------------------------------------

struct GUID {
  std::uint32_t Data1;
  std::uint16_t Data2;
  std::uint16_t Data3;
  std::uint8_t Data4[8];
};
using LPGUID = GUID*;
using LPCGUID = const GUID*;

constexpr bool operator==(const GUID& a, const GUID& b) {
  if (a.Data1 != b.Data1 || a.Data2 != b.Data2 || a.Data3 != b.Data3) {
    return false;
  }
  for (int i = 0; i < 8; ++i) {
    if (a.Data4[i] != b.Data4[i]) {
      return false;
    }
  }
  return true;
}

// Windows WCHAR is 16 bits, hence char16_t. Length and MaximumLength are in
// bytes, as in the kernel.
struct UNICODE_STRING {
  USHORT Length;
  USHORT MaximumLength;
  char16_t* Buffer;
};
using PUNICODE_STRING = UNICODE_STRING*;
using PCUNICODE_STRING = const UNICODE_STRING*;

// Only QuadPart: the LowPart/HighPart view needs an anonymous struct in a
// union, which -Wpedantic rejects. A KeWaitForSingleObject-style timeout:
// negative = relative, in 100 ns units; positive = absolute system time in
// 100 ns units (the model's clock starts at 0); zero = do not wait.
struct LARGE_INTEGER {
  LONGLONG QuadPart;
};
using PLARGE_INTEGER = LARGE_INTEGER*;

// A memory descriptor list reduced to what VMBus carries for it: the guest
// page frames of one buffer. A real MDL stores the PFNs right after the
// header; here they are a vector. One MDL is one GPA range of a
// VM_PKT_DATA_USING_GPA_DIRECT packet; chains link ranges through Next.
struct MDL {
  MDL* Next = nullptr;
  ULONG ByteCount = 0;               // bytes described
  ULONG ByteOffset = 0;              // offset of the first byte in the first page (< 4096)
  std::vector<PFN_NUMBER> PfnArray;  // one per 4 KiB page spanned by ByteOffset..+ByteCount
};
using PMDL = MDL*;

// The wdm.h INTERFACE header that every queried interface starts with.
using PINTERFACE_REFERENCE = VOID (*)(PVOID Context);
using PINTERFACE_DEREFERENCE = VOID (*)(PVOID Context);

struct INTERFACE {
  USHORT Size;
  USHORT Version;
  PVOID Context;
  PINTERFACE_REFERENCE InterfaceReference;
  PINTERFACE_DEREFERENCE InterfaceDereference;
};
using PINTERFACE = INTERFACE*;

static_assert(sizeof(INTERFACE) == 32, "x64 layout of wdm.h INTERFACE");

}  // namespace vmbus::kmcl
