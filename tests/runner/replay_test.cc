// vmbus-sim replay and run --schedule, end to end with the real binaries: a
// trace carries its run, so a replay reproduces it byte for byte or names
// the first record that differs; a recorded interleaving can be pinned onto
// an edited scenario; and traces that cannot be used are refused (exit 2)
// with nothing written over.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"
#include "vmbus/trace/reader.h"
#include "vmbus/trace/render.h"
#include "vmbus/trace/writer.h"

#include "cli_runs.h"

namespace {

namespace fs = std::filesystem;

using vmbus::runner::testing::CliRun;
using vmbus::runner::testing::run_vmbus_sim;
using vmbus::runner::testing::slurp;
using vmbus::runner::testing::TestDirectory;

constexpr char kLibraryScenario[] = "scenarios/defer/04-defer-keeps-fifo.textproto";

vmbus::trace::TraceFile read_or_fail(const fs::path& path) {
  vmbus::trace::TraceReadResult read = vmbus::trace::read_trace(path);
  EXPECT_TRUE(read.ok) << read.error;
  return std::move(read.trace);
}

// Writes `trace` as TraceWriter does (records renumbered in order).
void write_trace(const fs::path& path, vmbus::trace::TraceFile trace) {
  vmbus::trace::TraceWriter writer;
  writer.open(path, trace.header);
  for (vmbus::proto::TraceRecord& record : trace.records) {
    writer.write(record);
  }
  writer.close();
}

// "ready...->chosen" of every scheduler record: the run's interleaving.
std::vector<std::string> interleaving(const vmbus::trace::TraceFile& trace) {
  std::vector<std::string> steps;
  for (const vmbus::proto::TraceRecord& record : trace.records) {
    if (record.has_scheduler()) {
      steps.push_back(record.scheduler().ready(static_cast<int>(record.scheduler().chosen())));
    }
  }
  return steps;
}

class Replay : public ::testing::Test {
 protected:
  // Runs `scenario` with `seed`, keeping its trace in the test directory.
  fs::path record(const std::string& scenario, std::uint64_t seed, const std::string& name,
                  const std::string& flags = "") {
    const fs::path traces = dir_.path() / "traces";
    const CliRun run =
        run_vmbus_sim(dir_.path(), "run --seed " + std::to_string(seed) + " --trace-dir " +
                                       traces.string() + " " + flags + " " + scenario);
    EXPECT_LE(run.exit_code, 1) << run.out << run.err;
    const fs::path trace = traces / (name + ".seed" + std::to_string(seed) + ".trace");
    EXPECT_TRUE(fs::exists(trace)) << run.out << run.err;
    return trace;
  }

  TestDirectory dir_;
};

TEST_F(Replay, TheHeaderCarriesTheScenarioTextSeedCommandLineAndBuild) {
  const fs::path trace = record(kLibraryScenario, 3, "defer-keeps-fifo");
  const vmbus::trace::TraceFile file = read_or_fail(trace);
  EXPECT_EQ(file.header.format_version(), 6u);
  EXPECT_EQ(file.header.seed(), 3u);
  EXPECT_EQ(file.header.scenario_path(), kLibraryScenario);
  EXPECT_EQ(file.header.scenario_text(), slurp(fs::path(VMBUS_SOURCE_DIR) / kLibraryScenario));
  // The run's own command: output paths left out.
  EXPECT_EQ(file.header.command_line(),
            std::string("vmbus-sim run ") + kLibraryScenario + " --seed 3");
  EXPECT_EQ(vmbus::base::build_identity(file.header.build_version(), file.header.build_commit()),
            vmbus::base::build_identity());
  EXPECT_TRUE(file.header.schedule().empty());
}

TEST_F(Replay, AReplayOfALibraryTraceIsByteIdentical) {
  const fs::path trace = record(kLibraryScenario, 3, "defer-keeps-fifo");
  const std::size_t records = read_or_fail(trace).records.size();
  const CliRun replay = run_vmbus_sim(dir_.path(), "replay " + trace.string());
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_EQ(replay.err, "");
  EXPECT_EQ(replay.out, "replay: " + trace.string() + " (" + kLibraryScenario +
                            ", seed 3)\nrun: PASS\nidentical: " + std::to_string(records) +
                            " records, byte for byte\n");
  // The temporary trace of an identical replay is gone.
  EXPECT_TRUE(vmbus::runner::testing::file_names_in(dir_.path()).size() <= 3u);
}

TEST_F(Replay, ASimulateTraceReplaysFromItsConfigurationsAlone) {
  const fs::path trace = dir_.path() / "sim.trace";
  const fs::path guest = dir_.path() / "guest.textproto";
  std::ofstream(guest) << "echo { child_relid: 1 packets: 40 max_payload_bytes: 64 }\n";
  const CliRun run = run_vmbus_sim(dir_.path(), "simulate --seed 7 --guest-config " +
                                                    guest.string() + " --trace " + trace.string());
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  fs::remove(guest);  // the trace needs it no more
  const CliRun replay =
      run_vmbus_sim(dir_.path(), "replay --trace " + (dir_.path() / "again.trace").string() + " " +
                                     trace.string());
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_NE(replay.out.find("(simulate, seed 7)\nrun: completed\nidentical: "), std::string::npos)
      << replay.out;
  EXPECT_EQ(slurp(dir_.path() / "again.trace"), slurp(trace));
}

TEST_F(Replay, ADivergentTraceIsReportedAtItsFirstDifferingRecordWithBothRenderings) {
  const fs::path trace = record(kLibraryScenario, 3, "defer-keeps-fifo");
  vmbus::trace::TraceFile edited = read_or_fail(trace);
  ASSERT_GT(edited.records.size(), 40u);
  const vmbus::proto::TraceRecord original = edited.records[40];
  edited.records[40].set_time_ns(edited.records[40].time_ns() + 1000);
  const vmbus::proto::TraceRecord changed = edited.records[40];
  const fs::path bad = dir_.path() / "edited.trace";
  write_trace(bad, edited);

  const CliRun replay = run_vmbus_sim(dir_.path(), "replay " + bad.string());
  EXPECT_EQ(replay.exit_code, 1) << replay.out << replay.err;
  const std::string count = std::to_string(edited.records.size());
  const std::string expected = "differs at record 40 (the recorded trace has " + count +
                               " records, the replay " + count +
                               "):\n  recorded: " + vmbus::trace::format_record(changed) +
                               "\n  replayed: " + vmbus::trace::format_record(original) + "\n";
  EXPECT_NE(replay.out.find(expected), std::string::npos) << replay.out;
  // The replay's trace is kept and named.
  const std::string kept = "the replay's trace: ";
  const std::size_t at = replay.out.find(kept);
  ASSERT_NE(at, std::string::npos) << replay.out;
  const fs::path replayed =
      replay.out.substr(at + kept.size(), replay.out.size() - at - kept.size() - 1);
  EXPECT_EQ(slurp(replayed), slurp(trace));
}

TEST_F(Replay, ATraceOfAnotherBuildIsReplayedWithAWarning) {
  const fs::path trace = record(kLibraryScenario, 3, "defer-keeps-fifo");
  vmbus::trace::TraceFile other = read_or_fail(trace);
  other.header.set_build_commit("0123456789ab");
  const fs::path copy = dir_.path() / "other-build.trace";
  write_trace(copy, other);
  const CliRun replay = run_vmbus_sim(dir_.path(), "replay " + copy.string());
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_EQ(replay.err,
            "vmbus-sim replay: warning: this trace was written by vmbus-sim " +
                vmbus::base::build_identity(other.header.build_version(), "0123456789ab") +
                "; this is vmbus-sim " + vmbus::base::build_identity() +
                ": the replay may differ for that reason alone\n");
  EXPECT_NE(replay.out.find(" records, byte for byte (written by another build)\n"),
            std::string::npos)
      << replay.out;
}

TEST_F(Replay, TracesThatCannotBeReplayedAreRefusedWithNothingWrittenOver) {
  const fs::path trace = record(kLibraryScenario, 3, "defer-keeps-fifo");
  const std::string bytes = slurp(trace);

  vmbus::trace::TraceFile old = read_or_fail(trace);
  old.header.set_format_version(5);
  const fs::path old_path = dir_.path() / "old.trace";
  write_trace(old_path, old);
  CliRun replay = run_vmbus_sim(dir_.path(), "replay " + old_path.string());
  EXPECT_EQ(replay.exit_code, 2);
  EXPECT_EQ(replay.err, "vmbus-sim replay: " + old_path.string() +
                            ": trace format version 5, this vmbus-sim reads version 6\n");

  const fs::path truncated = dir_.path() / "truncated.trace";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  replay = run_vmbus_sim(dir_.path(), "replay " + truncated.string());
  EXPECT_EQ(replay.exit_code, 2);
  EXPECT_NE(replay.err.find(truncated.string() + ": record "), std::string::npos) << replay.err;
  EXPECT_NE(replay.err.find(": the file ends inside a frame\n"), std::string::npos) << replay.err;

  replay = run_vmbus_sim(dir_.path(), "replay --trace " + trace.string() + " " + trace.string());
  EXPECT_EQ(replay.exit_code, 2);
  EXPECT_EQ(replay.err, "vmbus-sim replay: --trace: " + trace.string() +
                            " is TRACE itself; it is not written over\n");
  EXPECT_EQ(slurp(trace), bytes);
}

// Without a hold, the guest's DPC and passive worker race for the deferred
// packet: which runs first is the seed's choice.
constexpr char kRace[] = R"(name: "race"
seed: SEED
topology {
  channel {
    name: "net"
    guest_driver { rule { match_index: true packet_index: 1 action { kind: KIND_DEFER } } }
  }
}
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST } }
  host_send { channel: "net" count: 5 }
}
)";

std::string race_with_seed(const std::string& seed) {
  std::string text = kRace;
  text.replace(text.find("SEED"), 4, seed);
  return text;
}

TEST_F(Replay, AScheduleKeepsARecordedInterleavingOnAnEditedScenarioWhereTheSeedAloneLosesIt) {
  const fs::path file = dir_.path() / "race.textproto";
  std::ofstream(file) << race_with_seed("1");
  const fs::path recorded = record(file.string(), 1, "race");
  const std::vector<std::string> wanted = interleaving(read_or_fail(recorded));
  ASSERT_FALSE(wanted.empty());

  // The edit: the file's seed. Alone, it takes other decisions ...
  std::ofstream(file, std::ios::trunc) << race_with_seed("2");
  const fs::path edited = record(file.string(), 2, "race");
  EXPECT_NE(interleaving(read_or_fail(edited)), wanted);

  // ... pinned to the recorded schedule, it takes the same ones.
  const fs::path traces = dir_.path() / "pinned";
  const CliRun pinned =
      run_vmbus_sim(dir_.path(), "run --trace-dir " + traces.string() + " --schedule " +
                                     recorded.string() + " " + file.string());
  EXPECT_LE(pinned.exit_code, 1) << pinned.out << pinned.err;
  const vmbus::trace::TraceFile kept = read_or_fail(traces / "race.seed2.trace");
  EXPECT_EQ(interleaving(kept), wanted);
  EXPECT_EQ(kept.header.schedule_source(), recorded.string());
  EXPECT_EQ(static_cast<std::size_t>(kept.header.schedule_size()), wanted.size());

  // And the pinned run replays from its own trace.
  const CliRun replay =
      run_vmbus_sim(dir_.path(), "replay " + (traces / "race.seed2.trace").string());
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
}

TEST_F(Replay, AScenariosPinsTakeTheirStepsAndLeaveTheOthersToTheSeed) {
  const fs::path file = dir_.path() / "race.textproto";
  std::ofstream(file) << race_with_seed("2");
  const vmbus::trace::TraceFile free = read_or_fail(record(file.string(), 2, "race"));
  const std::vector<std::string> seeds = interleaving(free);
  // The first step where seed 2 had a choice gets the other context.
  std::uint64_t step = 0;
  std::string other;
  for (const auto& record : free.records) {
    const auto& event = record.scheduler();
    if (record.has_scheduler() && event.ready_size() > 1) {
      step = event.step_number();
      other = event.ready(event.chosen() == 0 ? 1 : 0);
      break;
    }
  }
  ASSERT_NE(step, 0u);
  std::ofstream(file, std::ios::app)
      << "pin { step: " << step << " context: \"" << other << "\" }\n";
  const vmbus::trace::TraceFile pinned = read_or_fail(record(file.string(), 2, "race"));
  const std::vector<std::string> taken = interleaving(pinned);
  ASSERT_GE(taken.size(), step);
  // The steps before the pin are the seed's; the pinned one is the pin's.
  EXPECT_EQ(std::vector<std::string>(taken.begin(), taken.begin() + static_cast<long>(step) - 1),
            std::vector<std::string>(seeds.begin(), seeds.begin() + static_cast<long>(step) - 1));
  EXPECT_EQ(taken[step - 1], other);
  ASSERT_EQ(pinned.header.schedule_size(), 1);
  EXPECT_EQ(pinned.header.schedule(0).step(), step);

  // A pinned run replays from its own trace.
  const CliRun replay = run_vmbus_sim(
      dir_.path(), "replay " + (dir_.path() / "traces" / "race.seed2.trace").string());
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;

  // A pin whose context is not ready at its step ends the run with an error.
  std::ofstream(file, std::ios::app)
      << "pin { step: " << step + 1 << " context: \"guest:kmcl/9/passive\" }\n";
  const CliRun diverged = run_vmbus_sim(dir_.path(), "run --seed 2 " + file.string());
  EXPECT_EQ(diverged.exit_code, 2) << diverged.out << diverged.err;
  EXPECT_NE(diverged.out.find("schedule_diverged: the scenario's pin at step " +
                              std::to_string(step + 1) +
                              " grants guest:kmcl/9/passive, which "
                              "is not ready here (ready: "),
            std::string::npos)
      << diverged.out;
}

TEST_F(Replay, AScheduleThatDoesNotFitNamesTheDecisionByItsRecordNumber) {
  // Recorded with a second channel whose contexts the one-channel sample
  // does not have.
  const fs::path two = dir_.path() / "two.textproto";
  std::ofstream(two) << "name: \"two\"\n"
                        "topology { channel { name: \"a\" } channel { name: \"b\" } }\n"
                        "step { host_send { channel: \"b\" count: 3 } }\n";
  const fs::path recorded = record(two.string(), 1, "two");
  const CliRun run = run_vmbus_sim(
      dir_.path(), "run --schedule " + recorded.string() + " tests/runner/samples/fails.textproto");
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_NE(run.out.find("schedule_diverged: the schedule's decision at record "),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find(", which is not ready here (ready: "), std::string::npos) << run.out;

  const fs::path not_a_trace = dir_.path() / "not-a.trace";
  std::ofstream(not_a_trace) << "hello\n";
  const CliRun bad = run_vmbus_sim(dir_.path(), "run --schedule " + not_a_trace.string() +
                                                    " tests/runner/samples/fails.textproto");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "vmbus-sim run: --schedule: " + not_a_trace.string() +
                         ": not a vmbus-sim trace (no VMBTRACE header)\n");
  EXPECT_EQ(bad.out, "");
}

}  // namespace
