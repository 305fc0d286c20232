#include "vmbus/trace/render.h"

#include "internal.h"

namespace vmbus::runner {

bool record_matches(const proto::TraceRecord& record, const proto::TraceMatch& match,
                    std::optional<std::uint32_t> relid) {
  if (record.has_action()) {
    return false;  // the timeline's own records would match their own conditions
  }
  switch (match.side()) {
    case proto::HOST:
      if (record.partition() != proto::PARTITION_HOST) {
        return false;
      }
      break;
    case proto::GUEST:
      if (record.partition() != proto::PARTITION_GUEST) {
        return false;
      }
      break;
    case proto::HYPERVISOR:
      if (record.partition() != proto::PARTITION_UNSPECIFIED) {
        return false;
      }
      break;
    default:
      break;
  }
  if (relid && !trace::concerns_channel(record, *relid)) {
    return false;
  }
  return trace::event_text(record).find(match.text()) != std::string::npos;
}

}  // namespace vmbus::runner
