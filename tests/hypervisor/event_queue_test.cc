#include "vmbus/hypervisor/event_queue.h"

#include <gtest/gtest.h>

namespace vmbus::hypervisor {
namespace {

Event deliver_message_to(Side target) {
  return Event{Event::Kind::kDeliverMessage, target};
}

Event extra_interrupt(std::uint32_t child_relid) {
  Event event{Event::Kind::kExtraInterrupt, Side::kGuest};
  event.child_relid = child_relid;
  return event;
}

TEST(EventQueue, EqualTimeEventsComeOutInTheOrderTheyWereScheduled) {
  EventQueue queue;
  for (std::uint32_t relid = 1; relid <= 5; ++relid) {
    queue.schedule(1'000, extra_interrupt(relid));
  }
  queue.advance_to(1'000);

  for (std::uint32_t relid = 1; relid <= 5; ++relid) {
    const std::optional<Event> event = queue.pop_due();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->child_relid, relid);
  }
  EXPECT_FALSE(queue.pop_due().has_value());
  EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, EarlierEventsComeOutFirstWhateverTheOrderTheyWereScheduledIn) {
  EventQueue queue;
  queue.schedule(3'000, extra_interrupt(3));
  queue.schedule(1'000, extra_interrupt(1));
  queue.schedule(2'000, extra_interrupt(2));
  queue.advance_to(5'000);

  EXPECT_EQ(queue.pop_due()->child_relid, 1u);
  EXPECT_EQ(queue.pop_due()->child_relid, 2u);
  EXPECT_EQ(queue.pop_due()->child_relid, 3u);
}

TEST(EventQueue, NothingComesOutBeforeItsTime) {
  EventQueue queue;
  queue.schedule(2'000, deliver_message_to(Side::kHost));

  queue.advance_to(1'999);
  EXPECT_FALSE(queue.pop_due().has_value());
  queue.advance_by(1);
  EXPECT_EQ(queue.pop_due(), deliver_message_to(Side::kHost));
}

TEST(EventQueue, NextTimeIsTheEarliestScheduledTime) {
  EventQueue queue;
  EXPECT_EQ(queue.next_time_ns(), std::nullopt);
  queue.schedule(7'000, deliver_message_to(Side::kGuest));
  queue.schedule(4'000, deliver_message_to(Side::kHost));

  EXPECT_EQ(queue.next_time_ns(), 4'000u);
}

TEST(EventQueue, AJumpNeverMovesTheClockBackwards) {
  EventQueue queue;
  queue.advance_to(5'000);
  queue.advance_to(3'000);
  EXPECT_EQ(queue.now_ns(), 5'000u);

  queue.advance_by(250);
  EXPECT_EQ(queue.now_ns(), 5'250u);
}

TEST(EventQueue, AnEventScheduledInThePastIsDueAtOnce) {
  EventQueue queue;
  queue.advance_to(10'000);
  queue.schedule(1'000, deliver_message_to(Side::kGuest));

  EXPECT_EQ(queue.pop_due(), deliver_message_to(Side::kGuest));
  EXPECT_EQ(queue.now_ns(), 10'000u);
}

}  // namespace
}  // namespace vmbus::hypervisor
