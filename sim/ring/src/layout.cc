#include "vmbus/ring/layout.h"

namespace vmbus::ring {

const char* packet_type_name(std::uint16_t type) {
  switch (static_cast<PacketType>(type)) {
    case PacketType::kInvalid:
      return "VM_PKT_INVALID";
    case PacketType::kSynch:
      return "VM_PKT_SYNCH";
    case PacketType::kAddXferPageset:
      return "VM_PKT_ADD_XFER_PAGESET";
    case PacketType::kRmXferPageset:
      return "VM_PKT_RM_XFER_PAGESET";
    case PacketType::kEstablishGpadl:
      return "VM_PKT_ESTABLISH_GPADL";
    case PacketType::kTeardownGpadl:
      return "VM_PKT_TEARDOWN_GPADL";
    case PacketType::kDataInband:
      return "VM_PKT_DATA_INBAND";
    case PacketType::kDataUsingXferPages:
      return "VM_PKT_DATA_USING_XFER_PAGES";
    case PacketType::kDataUsingGpadl:
      return "VM_PKT_DATA_USING_GPADL";
    case PacketType::kDataUsingGpaDirect:
      return "VM_PKT_DATA_USING_GPA_DIRECT";
    case PacketType::kCancelRequest:
      return "VM_PKT_CANCEL_REQUEST";
    case PacketType::kComp:
      return "VM_PKT_COMP";
    case PacketType::kDataUsingAdditionalPkt:
      return "VM_PKT_DATA_USING_ADDITIONAL_PKT";
    case PacketType::kAdditionalData:
      return "VM_PKT_ADDITIONAL_DATA";
  }
  return nullptr;
}

}  // namespace vmbus::ring
