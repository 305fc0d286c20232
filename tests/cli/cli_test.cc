// The vmbus-sim command line, in-process: dispatch, help, usage errors, and
// the ring commands reached through it.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::read_file;
using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

}  // namespace

namespace testing {
void expect_usage_error_for(std::vector<std::string_view> args, const std::string& command,
                            const std::string& message) {
  const RunResult result = run_cli(std::move(args));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, command + ": " + message + "\nRun '" + command + " --help' for usage.\n");
}
}  // namespace testing

namespace {

void expect_usage_error(std::vector<std::string_view> args, const std::string& command,
                        const std::string& message) {
  testing::expect_usage_error_for(std::move(args), command, message);
}

TEST(Cli, QuirksListsEveryQuirkWithItsEndpointsAndParagraph) {
  const RunResult names = run_cli({"quirks", "--names"});
  EXPECT_EQ(names.exit_code, 0);
  EXPECT_NE(names.out.find("reader_signals_on_old_test\n"), std::string::npos);
  const RunResult listing = run_cli({"quirks"});
  EXPECT_EQ(listing.exit_code, 0);
  EXPECT_EQ(
      listing.out.rfind("reader_signals_on_old_test  (guest, host; ring reader)\n  The reader ", 0),
      0u)
      << listing.out;
  EXPECT_NE(listing.out.find("433e19cf33d3"), std::string::npos);
  EXPECT_EQ(run_cli({"quirks", "extra"}).exit_code, 2);
}

TEST(Cli, TopLevelHelpListsCommands) {
  for (const std::string_view flag : {"--help", "-h"}) {
    const RunResult result = run_cli({flag});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.err, "");
    EXPECT_EQ(result.out,
              "Usage: vmbus-sim <command> [arguments]\n"
              "\n"
              "A simulator of a Hyper-V host and guest talking over VMBus.\n"
              "\n"
              "Options:\n"
              "  --version         print the build (version and source commit) and exit\n"
              "  --help            print this help\n"
              "\n"
              "Commands:\n"
              "  run       Run scenario files and judge them\n"
              "  explore   Run scenarios with fault plans drawn from each seed\n"
              "  replay    Run a trace's run again and compare the traces\n"
              "  shrink    Shrink a failing scenario run to a small scenario\n"
              "  report    Merge and report the results of sweeps\n"
              "  ring      Decode and build VMBus ring buffer images\n"
              "  scenario  Write scenario files from ring images\n"
              "  simulate  Run vmbus-host and vmbus-guest under the simulator once\n"
              "  step      Run a scenario one scheduler decision at a time\n"
              "  trace     Read the traces runs write\n"
              "  quirks    List the historical bugs a scenario can put back (quirks)\n"
              "\n"
              "Examples:\n"
              "  vmbus-sim run scenarios\n"
              "  vmbus-sim replay /tmp/vmbus-sim-run-Qx3v7a/fails.seed5.trace\n"
              "  vmbus-sim report merge shard-*.json --junit results.xml\n"
              "  vmbus-sim ring decode --text ring.img\n"
              "  vmbus-sim simulate --seed 7 --trace run.trace\n"
              "  vmbus-sim step scenarios/signals/14-interrupt-mask.textproto\n"
              "  vmbus-sim trace show --channel 1 run.trace\n"
              "\n"
              "Run 'vmbus-sim <command> --help' for the arguments of a command.\n");
  }
}

TEST(Cli, VersionNamesTheProjectVersionAndTheSourceCommit) {
  const RunResult result = run_cli({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, "vmbus-sim " + base::build_identity() + "\n");
  EXPECT_EQ(result.out.rfind("vmbus-sim 0.1.0 (commit ", 0), 0u) << result.out;
}

TEST(Cli, RingHelpListsDecodeAndEncode) {
  const RunResult result = run_cli({"ring", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out,
            "Usage: vmbus-sim ring <command> [arguments]\n"
            "\n"
            "Decodes and builds ring images: one VMBus ring buffer exactly as it sits in\n"
            "guest memory, a 4096-byte control page followed by the data area.\n"
            "\n"
            "Commands:\n"
            "  decode  Print the control page and packets of a ring image\n"
            "  encode  Write a ring image from packet lines read on stdin\n"
            "\n"
            "Examples:\n"
            "  vmbus-sim ring decode ring.img\n"
            "  vmbus-sim ring decode ring.img | vmbus-sim ring encode --data-size 4096 "
            "copy.img\n"
            "\n"
            "Run 'vmbus-sim ring <command> --help' for the arguments of a command.\n");
}

TEST(Cli, LeafHelpWinsOverOtherArguments) {
  const struct {
    std::vector<std::string_view> args;
    std::string usage_line;
    std::string example;
  } cases[] = {
      {{"ring", "decode", "--help"},
       "Usage: vmbus-sim ring decode [--text] IMAGE\n",
       "\nExamples:\n  vmbus-sim ring decode ring.img\n  vmbus-sim ring decode --text ring.img\n"},
      {{"ring", "decode", "--bogus", "a.img", "-h"},
       "Usage: vmbus-sim ring decode [--text] IMAGE\n",
       "\nExamples:\n  vmbus-sim ring decode ring.img\n"},
      {{"ring", "encode", "--help"},
       "Usage: vmbus-sim ring encode --data-size N [--start-index I] [--as-written] OUT\n",
       "  vmbus-sim ring decode old.img | vmbus-sim ring encode --data-size 8192 --start-index "
       "4000 new.img\n"},
  };
  for (const auto& c : cases) {
    const RunResult result = run_cli(c.args);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.err, "");
    EXPECT_EQ(result.out.substr(0, c.usage_line.size()), c.usage_line);
    EXPECT_NE(result.out.find(c.example), std::string::npos) << result.out;
  }
}

TEST(Cli, UnknownOrMissingCommandIsUsageError) {
  expect_usage_error({}, "vmbus-sim",
                     "missing command (one of: run, explore, replay, shrink, report, ring, "
                     "scenario, simulate, step, trace, quirks)");
  expect_usage_error({"rng"}, "vmbus-sim",
                     "unknown command 'rng' (one of: run, explore, replay, shrink, report, ring, "
                     "scenario, simulate, step, trace, quirks)");
  expect_usage_error({"--verbose"}, "vmbus-sim", "unknown flag '--verbose'");
  expect_usage_error({"ring"}, "vmbus-sim ring", "missing command (one of: decode, encode)");
  expect_usage_error({"ring", "dump"}, "vmbus-sim ring",
                     "unknown command 'dump' (one of: decode, encode)");
}

TEST(Cli, DecodeArgumentErrorsAreUsageErrors) {
  const std::string decode = "vmbus-sim ring decode";
  expect_usage_error({"ring", "decode", "--bogus", "a.img"}, decode, "unknown flag '--bogus'");
  expect_usage_error({"ring", "decode", "-x", "a.img"}, decode, "unknown flag '-x'");
  expect_usage_error({"ring", "decode"}, decode, "missing the IMAGE argument");
  expect_usage_error({"ring", "decode", "a.img", "b.img"}, decode, "unexpected argument 'b.img'");
  expect_usage_error({"ring", "decode", "--text=yes", "a.img"}, decode, "--text takes no value");
  expect_usage_error({"ring", "decode", "--text", "--text", "a.img"}, decode,
                     "--text is given more than once");
}

TEST(Cli, EncodeArgumentErrorsAreUsageErrors) {
  const std::string encode = "vmbus-sim ring encode";
  expect_usage_error({"ring", "encode", "out.img"}, encode,
                     "missing the required flag --data-size");
  expect_usage_error({"ring", "encode", "--data-size"}, encode, "--data-size needs a value");
  expect_usage_error({"ring", "encode", "--data-size", "4096"}, encode, "missing the OUT argument");
  expect_usage_error({"ring", "encode", "--data-size", "4k", "out.img"}, encode,
                     "--data-size needs a decimal number, got '4k'");
  expect_usage_error({"ring", "encode", "--data-size", "-4096", "out.img"}, encode,
                     "--data-size needs a decimal number, got '-4096'");
  expect_usage_error({"ring", "encode", "--data-size=", "out.img"}, encode,
                     "--data-size needs a decimal number, got ''");
  expect_usage_error({"ring", "encode", "--data-size", "99999999999999999999", "out.img"}, encode,
                     "--data-size 99999999999999999999 is out of range (at most "
                     "18446744073709551615)");
  expect_usage_error({"ring", "encode", "--data-size", "4095", "out.img"}, encode,
                     "--data-size 4095 is not a positive multiple of 4096 (at most 4294963200)");
  expect_usage_error({"ring", "encode", "--data-size", "4294967296", "out.img"}, encode,
                     "--data-size 4294967296 is not a positive multiple of 4096 (at most "
                     "4294963200)");
  expect_usage_error({"ring", "encode", "--data-size", "4096", "--start-index", "x", "out.img"},
                     encode, "--start-index needs a decimal number, got 'x'");
  expect_usage_error({"ring", "encode", "--data-size", "4096", "--start-index", "4", "out.img"},
                     encode, "--start-index 4 is not a multiple of 8 below the data size 4096");
  expect_usage_error({"ring", "encode", "--data-size", "4096", "--start-index", "4096", "out.img"},
                     encode, "--start-index 4096 is not a multiple of 8 below the data size 4096");
  expect_usage_error({"ring", "encode", "--data-size=4096", "--data-size", "8192", "out.img"},
                     encode, "--data-size is given more than once");
  expect_usage_error({"ring", "encode", "--data-size", "4096", "a.img", "b.img"}, encode,
                     "unexpected argument 'b.img'");
}

TEST(Cli, EncodeThenDecodeThroughTheCommandLine) {
  ScratchDir dir;
  const std::string out = (dir / "ring.img").string();
  const RunResult encoded =
      run_cli({"ring", "encode", "--start-index=4088", out, "--data-size", "4096"},
              R"({"type":6,"flags":1,"trans_id":7,"payload":"0102030405"})"
              "\n");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  EXPECT_EQ(encoded.out, "");
  EXPECT_EQ(encoded.err, "");
  EXPECT_EQ(read_file(dir / "ring.img").size(), 8192u);

  const RunResult decoded = run_cli({"ring", "decode", out});
  EXPECT_EQ(decoded.exit_code, 0);
  EXPECT_EQ(decoded.err, "");
  EXPECT_EQ(
      decoded.out,
      R"({"write_index":24,"read_index":4088,"interrupt_mask":0,"pending_send_sz":0,"feature_bits":1,"data_size":4096}
{"offset":4088,"type":6,"flags":1,"trans_id":7,"offset8":2,"len8":3,"payload":"0102030405000000"}
)");
}

TEST(Cli, DoubleDashEndsFlags) {
  ScratchDir dir;
  const RunResult result = run_cli({"ring", "decode", "--", "--text"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "vmbus-sim ring decode: cannot open '--text': No such file or directory\n");
}

TEST(Cli, EncodeLineErrorsReachStderr) {
  ScratchDir dir;
  const std::string out = (dir / "ring.img").string();
  const RunResult result =
      run_cli({"ring", "encode", "--data-size", "4096", out}, "{\"type\":6,\"flags\":0}\n");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "<stdin>:1:1: missing key \"trans_id\"\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "ring.img"));
}

}  // namespace
}  // namespace vmbus::cli

namespace vmbus::cli {
namespace {

TEST(SimulateCli, BadModeIsAUsageError) {
  testing::expect_usage_error_for({"simulate", "--mode", "fast"}, "vmbus-sim simulate",
                                  "--mode must be 'deterministic' or 'free-running', not 'fast'");
}

TEST(SimulateCli, ConfigSyntaxErrorNamesFileLineAndColumn) {
  testing::ScratchDir dir;
  const std::string path = (dir / "guest.textproto").string();
  const std::string text = "echo {\n  packets: 10\n  windw: 4\n}\n";
  testing::write_file(path, std::as_bytes(std::span(text.data(), text.size())));

  const testing::RunResult result = testing::run_cli({"simulate", "--guest-config", path});

  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "vmbus-sim: " + path +
                            ":3:8: Message type \"vmbus.proto.EchoWorkload\" has no field named "
                            "\"windw\".\n");
}

TEST(SimulateCli, MissingConfigFileIsAnError) {
  const testing::RunResult result =
      testing::run_cli({"simulate", "--host-config", "/nonexistent/host.textproto"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "vmbus-sim: cannot read '/nonexistent/host.textproto'\n");
}

TEST(SimulateCli, ProgramsAndTheTracePathAreCheckedBeforeTheRun) {
  const testing::RunResult result =
      testing::run_cli({"simulate", "--host-binary", "/nonexistent/vmbus-host", "--guest-binary",
                        "/nonexistent/vmbus-guest", "--trace", "/nonexistent/run.trace"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "vmbus-sim simulate: --host-binary: /nonexistent/vmbus-host: no such file\n"
            "vmbus-sim simulate: --guest-binary: /nonexistent/vmbus-guest: no such file\n"
            "vmbus-sim simulate: --trace: cannot write /nonexistent/run.trace: /nonexistent does "
            "not exist\n");
}

}  // namespace
}  // namespace vmbus::cli
