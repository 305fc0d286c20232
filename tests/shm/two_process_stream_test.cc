// Two processes, one ring in a real shared-memory segment, a million packets.
//
// The child produces, the parent consumes and checks every packet (sequence,
// checksum, length, descriptor). They wake each other only when the ring's
// signal decisions say so, through two pipes; every wait has a timeout, so a
// lost wakeup fails the test within seconds instead of hanging it. See
// stream_harness.h for the protocol on each side.
#include <cstdio>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "stream_harness.h"

namespace vmbus::shm::harness {
namespace {

constexpr std::uint64_t kPackets = 1'000'000;

double per_packet(std::uint64_t count, std::uint64_t packets) {
  return packets == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(packets);
}

TEST(TwoProcessStream, StreamsOneMillionPacketsWakingEachOtherOnlyWhenTheRingSaysSo) {
  StreamConfig config;
  config.packets = kPackets;
  config.ring_data_bytes = 16 * 1024;  // ~30 packets: the ring fills constantly

  const StreamOutcome outcome = run_two_process_stream(config);
  const std::string report = describe(outcome);

  ASSERT_TRUE(outcome.consumer.failure.empty()) << report;
  ASSERT_TRUE(WIFEXITED(outcome.child_wait_status) &&
              WEXITSTATUS(outcome.child_wait_status) == kProducerExitOk)
      << report;
  EXPECT_FALSE(outcome.child_killed) << report;
  EXPECT_EQ(outcome.consumer.packets_verified, kPackets) << report;
  EXPECT_EQ(outcome.consumer.reader.packets, kPackets) << report;
  EXPECT_EQ(outcome.producer.writer.packets, kPackets) << report;
  // The blocked-writer path ran, and the consumer woke the producer from it.
  EXPECT_GT(outcome.producer.writer.pending_send_sz_sets, 0u) << report;
  EXPECT_GT(outcome.producer.waits, 0u) << report;
  EXPECT_GT(outcome.consumer.reader.signals, 0u) << report;
  // Every "yes" from a signal decision became exactly one pipe write.
  EXPECT_EQ(outcome.producer.signals_sent, outcome.producer.writer.signals) << report;
  EXPECT_EQ(outcome.consumer.signals_sent, outcome.consumer.reader.signals) << report;
  EXPECT_EQ(outcome.at_end.write_index, outcome.at_end.read_index) << report;
  EXPECT_EQ(outcome.at_end.pending_send_sz, 0u) << report;
  EXPECT_TRUE(outcome.segment_name_removed) << report;

  std::printf(
      "[ stats    ] %llu packets; signals per packet: producer->consumer %.4f, "
      "consumer->producer %.4f; producer waits %llu, kRetryNow %llu, masked %llu\n",
      static_cast<unsigned long long>(kPackets),
      per_packet(outcome.producer.writer.signals, kPackets),
      per_packet(outcome.consumer.reader.signals, kPackets),
      static_cast<unsigned long long>(outcome.producer.waits),
      static_cast<unsigned long long>(outcome.producer.retries_now),
      static_cast<unsigned long long>(outcome.producer.writer.signals_masked));
}

TEST(TwoProcessStream, DroppedSpaceSignalMakesTheProducerTimeOutInsteadOfHanging) {
  StreamConfig config;
  config.packets = kPackets;
  config.ring_data_bytes = 16 * 1024;
  config.consumer_drops_space_signals = true;
  config.producer_wait_timeout_ms = 1000;
  // Longer than the producer's, so the producer's watchdog is the one that fires.
  config.consumer_wait_timeout_ms = 5000;

  const StreamOutcome outcome = run_two_process_stream(config);
  const std::string report = describe(outcome);

  // The consumer owed the blocked producer a signal and dropped it ...
  EXPECT_GT(outcome.consumer.signals_dropped, 0u) << report;
  EXPECT_EQ(outcome.consumer.signals_sent, 0u) << report;
  // ... so the producer waited in vain, timed out and said so ...
  ASSERT_TRUE(WIFEXITED(outcome.child_wait_status)) << report;
  EXPECT_EQ(WEXITSTATUS(outcome.child_wait_status), kProducerExitTimedOutWaitingForSpace) << report;
  EXPECT_FALSE(outcome.child_killed) << report;
  EXPECT_GT(outcome.producer.at_failure.pending_send_sz, 0u) << report;
  // ... and the consumer saw it go, rather than waiting out its own timeout.
  EXPECT_TRUE(outcome.consumer.producer_gone) << report;
  EXPECT_FALSE(outcome.consumer.timed_out) << report;
  EXPECT_LT(outcome.consumer.packets_verified, kPackets) << report;
  EXPECT_TRUE(outcome.segment_name_removed) << report;
}

TEST(TwoProcessStream, DroppedDataSignalMakesTheConsumerTimeOutInsteadOfHanging) {
  StreamConfig config;
  config.packets = kPackets;
  config.ring_data_bytes = 16 * 1024;
  config.producer_drops_data_signals = true;
  config.consumer_wait_timeout_ms = 1000;
  config.producer_wait_timeout_ms = 5000;

  const StreamOutcome outcome = run_two_process_stream(config);
  const std::string report = describe(outcome);

  // The producer owed the idle consumer a signal and dropped it ...
  EXPECT_GT(outcome.producer.signals_dropped, 0u) << report;
  // ... so the consumer waited in vain with packets sitting in the ring (the
  // signature of a lost wakeup), timed out, named itself and the ring state,
  // and killed the producer.
  EXPECT_TRUE(outcome.consumer.timed_out) << report;
  EXPECT_NE(outcome.consumer.failure.find("consumer timed out"), std::string::npos) << report;
  EXPECT_NE(outcome.consumer.at_failure.write_index, outcome.consumer.at_failure.read_index)
      << report;
  EXPECT_TRUE(outcome.child_killed) << report;
  EXPECT_TRUE(WIFSIGNALED(outcome.child_wait_status)) << report;
  EXPECT_LT(outcome.consumer.packets_verified, kPackets) << report;
  EXPECT_TRUE(outcome.segment_name_removed) << report;
}

}  // namespace
}  // namespace vmbus::shm::harness
