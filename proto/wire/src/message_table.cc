#include "vmbus/wire/message_table.h"

namespace vmbus::wire {

const char* direction_name(Direction direction) {
  switch (direction) {
    case Direction::kNone:
      return "none";
    case Direction::kHostToGuest:
      return "host_to_guest";
    case Direction::kGuestToHost:
      return "guest_to_host";
  }
  return "unknown";
}

}  // namespace vmbus::wire
