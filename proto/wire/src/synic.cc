#include "vmbus/wire/synic.h"

namespace vmbus::wire {

const char* hv_status_name(std::uint16_t status) {
  switch (status) {
    case kHvStatusSuccess:
      return "HV_STATUS_SUCCESS";
    case kHvStatusInvalidHypercallCode:
      return "HV_STATUS_INVALID_HYPERCALL_CODE";
    case kHvStatusInvalidHypercallInput:
      return "HV_STATUS_INVALID_HYPERCALL_INPUT";
    case kHvStatusInvalidAlignment:
      return "HV_STATUS_INVALID_ALIGNMENT";
    case kHvStatusInvalidParameter:
      return "HV_STATUS_INVALID_PARAMETER";
    case kHvStatusAccessDenied:
      return "HV_STATUS_ACCESS_DENIED";
    case kHvStatusInsufficientMemory:
      return "HV_STATUS_INSUFFICIENT_MEMORY";
    case kHvStatusInvalidPortId:
      return "HV_STATUS_INVALID_PORT_ID";
    case kHvStatusInvalidConnectionId:
      return "HV_STATUS_INVALID_CONNECTION_ID";
    case kHvStatusInsufficientBuffers:
      return "HV_STATUS_INSUFFICIENT_BUFFERS";
    default:
      return nullptr;
  }
}

}  // namespace vmbus::wire
