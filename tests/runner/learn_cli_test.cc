// What a learner runs (docs/LEARN.md, docs/RING.md): a passing run's final
// state with `run --report`, the trace ending with it, both ends of a ring
// in the trace, and step mode driven from a pipe.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runs.h"

namespace vmbus::runner::testing {
namespace {

const std::string kInterruptMask = "run scenarios/signals/14-interrupt-mask.textproto";

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// The lines of `text` that contain `part`, in order.
std::string lines_with(const std::string& text, const std::string& part) {
  std::string found;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    if (line.find(part) != std::string::npos) {
      found += line + "\n";
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return found;
}

TEST(RunReport, APassingRunPrintsItsFinalStateWithExactCounters) {
  TestDirectory dir;
  const CliRun run = run_vmbus_sim(dir.path(), kInterruptMask + " --seed 1 --report");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find(
                "       version 5.3\n"
                "       guest 'net' (relid 1): driver channel open, queue running; dequeued=21 "
                "delivered=21 deferred=0 failed=0 completed=21 completions_sent=0 packets_sent=0 "
                "dropped=0 protocol_errors=0 unexpected_completions=0 outstanding=0 "
                "redelivery_mismatches=0 sends_in_flight=0 queued_sends=0\n"
                "       host 'net' (relid 1): driver channel open, queue running; dequeued=0 "
                "delivered=0 deferred=0 failed=0 completed=0 completions_sent=0 packets_sent=20 "
                "dropped=0 protocol_errors=0 unexpected_completions=0 outstanding=0 "
                "redelivery_mismatches=0 sends_in_flight=0 queued_sends=0\n"
                "       host 'net' (relid 1): VSP channel open; host_packets_received=0 "
                "host_packets_sent=20 host_completions_received=0 host_pending_transactions=0 "
                "interrupts_suppressed=4; host_to_guest write_index=1152 read_index=1152 "
                "interrupt_mask=0 pending_send_sz=0; guest_to_host write_index=0 read_index=0 "
                "interrupt_mask=0 pending_send_sz=0\n"
                "       'net' (relid 1) in the trace: signals_host_to_guest=1 "
                "signals_guest_to_host=0 interrupts_to_guest=1 interrupts_to_host=0\n"
                "       oracle lost_wakeup held\n"
                "       oracle spurious_signal held\n"
                "       oracle retired_once held\n"
                "       oracle fifo held\n"
                "       oracle leak held\n"
                "       verdict PASS\n"),
            std::string::npos)
      << run.out;
}

TEST(RunReport, TheTraceEndsWithTheFinalStateAndTheVerdict) {
  TestDirectory dir;
  ASSERT_EQ(run_vmbus_sim(dir.path(), kInterruptMask + " --seed 1 --trace-dir " +
                                          (dir.path() / "traces").string())
                .exit_code,
            0);
  const CliRun show = run_vmbus_sim(
      dir.path(), "trace show " + (dir.path() / "traces/interrupt-mask.seed1.trace").string());
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const std::string last = show.out.substr(show.out.rfind('\n', show.out.size() - 2) + 1);
  EXPECT_EQ(last, "    398      119.069 sim                               final verdict PASS\n");
  EXPECT_EQ(lines_with(show.out, " final ").size() > 0, true);
  EXPECT_NE(show.out.find("final oracle lost_wakeup held\n"), std::string::npos);
}

// Scenario 14's step 5: the guest's drain pass ends with the mask still set,
// a packet lands, and end_read's re-check finds it -- all in the guest's own
// ring records, with exact indices.
TEST(RingRecords, TheGuestsMaskSetClearedAndTheReCheckFindingThePacketAreTraced) {
  TestDirectory dir;
  ASSERT_EQ(run_vmbus_sim(dir.path(), kInterruptMask + " --seed 1 --trace-dir " +
                                          (dir.path() / "traces").string())
                .exit_code,
            0);
  const CliRun show =
      run_vmbus_sim(dir.path(), "trace show --grep 'ring 1 host_to_guest' " +
                                    (dir.path() / "traces/interrupt-mask.seed1.trace").string());
  ASSERT_EQ(show.exit_code, 0) << show.err;
  // The first, empty pass; the pass of the 20 packets: its mask set while
  // the host wrote 4 more (the host saw it: no signal), all 1120 bytes freed,
  // then end_read's re-check finding the 32-byte raw packet written after
  // the last read; and at once the pass that reads it, with no interrupt.
  EXPECT_EQ(lines_with(show.out, "guest kmcl/1/dpc/1"),
            "     92       64.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "begin_read write_index=0 read_index=0 interrupt_mask=1 (interrupt_mask = 1: no "
            "interrupts while the DPC drains)\n"
            "     99       67.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "no_signal write_index=0 read_index=0 interrupt_mask=1 nothing_freed (this pass "
            "freed no bytes)\n"
            "    101       68.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "end_read write_index=0 read_index=0 interrupt_mask=0 (interrupt_mask = 0; re-check: "
            "the ring is empty)\n"
            "    178       75.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "begin_read write_index=896 read_index=0 interrupt_mask=1 (interrupt_mask = 1: no "
            "interrupts while the DPC drains)\n"
            "    360      112.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "publish_read write_index=1120 read_index=1120 bytes=1120 (was read_index=0) "
            "interrupt_mask=1\n"
            "    361      112.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "no_signal write_index=1120 read_index=1120 interrupt_mask=1 writer_not_waiting "
            "(pending_send_sz is 0: the writer is not waiting for space)\n"
            "    367      113.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "end_read write_index=1152 read_index=1120 bytes=32 interrupt_mask=0 (interrupt_mask "
            "= 0; re-check: 32 bytes arrived while masked)\n"
            "    370      114.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "begin_read write_index=1152 read_index=1120 interrupt_mask=1 (interrupt_mask = 1: "
            "no interrupts while the DPC drains)\n"
            "    379      117.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "publish_read write_index=1152 read_index=1152 bytes=32 (was read_index=1120) "
            "interrupt_mask=1\n"
            "    380      117.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "no_signal write_index=1152 read_index=1152 interrupt_mask=1 writer_not_waiting "
            "(pending_send_sz is 0: the writer is not waiting for space)\n"
            "    384      118.069 guest kmcl/1/dpc/1                ring 1 host_to_guest "
            "end_read write_index=1152 read_index=1152 interrupt_mask=0 (interrupt_mask = 0; "
            "re-check: the ring is empty)\n");
}

// Steps, a filter, the rings with their occupancy, an unknown command, the
// help and a quit, fed through a pipe. The transcript is the file beside
// this test; a quit stops the run with no process, shared memory or trace
// file left behind (the leak oracle held, TMPDIR holds nothing new).
TEST(StepMode, CommandsFromAPipeGiveAnExactTranscriptAndAQuitLeavesNothing) {
  TestDirectory dir;
  write_text(dir.path() / "commands", "s\ns 2\nn publish_write\ns\nr\nbogus\nh\nq\n");
  const CliRun run =
      run_vmbus_sim(dir.path(), "step scenarios/signals/14-interrupt-mask.textproto <'" +
                                    (dir.path() / "commands").string() + "'");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out, slurp(std::filesystem::path(VMBUS_SOURCE_DIR) /
                           "tests/runner/step/interrupt-mask.transcript"));
  EXPECT_EQ(file_names_in(dir.path()), (std::vector<std::string>{"commands", "stderr", "stdout"}));
}

TEST(StepMode, ContinueRunsToTheEndAndEndsWithTheVerdict) {
  TestDirectory dir;
  write_text(dir.path() / "commands", "t\nc\n");
  const CliRun run =
      run_vmbus_sim(dir.path(), "step scenarios/signals/14-interrupt-mask.textproto <'" +
                                    (dir.path() / "commands").string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("step> t\n"), std::string::npos);
  EXPECT_NE(run.out.find("-- timeline step 1 ran\nstep> c\n-- the run is over\nversion 5.3\n"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(run.out.substr(run.out.size() - 30), "oracle leak held\nverdict PASS\n");
}

TEST(StepMode, EndOfInputQuits) {
  TestDirectory dir;
  const CliRun run =
      run_vmbus_sim(dir.path(), "step scenarios/basics/01-channel-comes-up.textproto </dev/null");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("step> (end of input)\n-- quit: the run is stopped\n"), std::string::npos)
      << run.out;
  EXPECT_EQ(file_names_in(dir.path()), (std::vector<std::string>{"stderr", "stdout"}));
}

TEST(Authoring, AWhenThatNeverMatchedNamesTheClosestRecordsAndHowToFindThemAll) {
  TestDirectory dir;
  write_text(dir.path() / "s.textproto",
             "name: \"never\"\n"
             "topology { channel { name: \"net\" } }\n"
             "step { when { event { kmcl { kind: \"defer\" } side: GUEST } } note: \"x\" }\n"
             "expect { counter { channel: \"net\" name: \"dequeued\" value: 0 } }\n");
  const CliRun run = run_vmbus_sim(dir.path(), "run " + (dir.path() / "s.textproto").string());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(
      run.out.find("never ran: the system went quiet at t=69.069 us; no record matched its "
                   "condition; the last records of the kind it looks for:\n"
                   "              96       66.069 guest kmcl/1/passive     PASSIVE  kmcl callback "
                   "handle 0xffffa00000000010: EvtChannelPostStarted\n"
                   "              97       66.069 guest kmcl/1/passive     PASSIVE  kmcl driver: "
                   "PostStarted PASSIVE\n"
                   "             102       68.069 guest kmcl/1/dpc/1       DISPATCH kmcl "
                   "drain_pass_end handle 0xffffa00000000010: 0 dequeued, 0 processed\n"
                   "         (all of them: vmbus-sim trace show --igrep 'kmcl defer' TRACE)\n"
                   "       trace: "),
      std::string::npos)
      << run.out;
}

TEST(Authoring, AScenarioThatExpectsNothingIsALoadWarningAndStillRuns) {
  TestDirectory dir;
  write_text(dir.path() / "s.textproto",
             "name: \"nothing\"\ntopology { channel { name: \"net\" } }\n");
  const CliRun run = run_vmbus_sim(dir.path(), "run " + (dir.path() / "s.textproto").string());
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.err, (dir.path() / "s.textproto").string() +
                         ":1:1: warning: the scenario expects nothing: it passes whenever the run "
                         "completes and no oracle fires; say what must hold in expect { } "
                         "(docs/SCENARIOS.md, section 5)\n");
}

TEST(Authoring, AnUnknownEnumValueListsTheValidOnes) {
  TestDirectory dir;
  write_text(dir.path() / "s.textproto",
             "name: \"enum\"\n"
             "topology { channel { name: \"net\" } }\n"
             "step { spurious_interrupt { channel: \"net\" direction: HOST_TO_GEST } }\n");
  const CliRun run = run_vmbus_sim(dir.path(), "run " + (dir.path() / "s.textproto").string());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err.substr(0, run.err.find('\n')),
            (dir.path() / "s.textproto").string() +
                ":3:68: Unknown enumeration value of \"HOST_TO_GEST\" for field \"direction\" "
                "(one of: HOST_TO_GUEST, GUEST_TO_HOST)");
}

}  // namespace
}  // namespace vmbus::runner::testing
