// How records read: the words `trace show` prints in its EVENT column.
#include "vmbus/trace/render.h"

#include <gtest/gtest.h>

namespace vmbus::trace {
namespace {

TEST(TraceEventText, NewRecordKindsReadAsDocumented) {
  proto::TraceRecord fault;
  fault.mutable_fault()->set_kind("crash");
  proto::TraceRecord refused;
  refused.mutable_action()->set_step(12);
  refused.mutable_action()->set_describe("guest_close on 'c'");
  refused.mutable_action()->set_error("no such channel");
  proto::TraceRecord cancelled;
  cancelled.mutable_completion()->set_child_relid(1);
  cancelled.mutable_completion()->set_trans_id(7);
  cancelled.mutable_completion()->set_status("STATUS_CANCELLED");

  EXPECT_EQ(event_text(fault), "fault crash");
  EXPECT_EQ(event_text(refused), "scenario step 12: guest_close on 'c' -- error: no such channel");
  EXPECT_EQ(event_text(cancelled), "completion relid 1 trans_id 7 STATUS_CANCELLED 0 bytes");
  EXPECT_EQ(event_text(proto::TraceRecord()), "(empty record)");
}

}  // namespace
}  // namespace vmbus::trace
