// A user's driver named in a scenario, run by the real vmbus-sim end to end:
// a library that cannot run is a bad file (exit 2, before anything runs);
// a driver that crashes (SIGSEGV, abort, an uncaught C++ exception), hangs,
// or fails its entry point ends the run as a FAIL (exit 1) that names the
// driver, the callback, the channel and the packet, keeps the trace, prints
// the repro line and leaves no process or shared memory behind; a crash the
// scenario expects passes; and a driver library that does what a scripted
// policy does passes the same callbacks expectations, on either endpoint.
//
// The scenarios are written into each test's own directory; the drivers are
// drivers/parity_driver.c and drivers/crash_driver.cc, and the load-error
// libraries of tests/kmcl/c_driver/bad_driver.c.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_runs.h"
#include "stop_harness.h"

namespace vmbus::runner::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// One channel; the scripted side that `sender` names ("host_send",
// "guest_send") sends three requests once its driver's
// EvtChannelPostStarted has run.
std::string scenario(const std::string& name, const std::string& channel_body,
                     const std::string& sender, const std::string& expect) {
  return "# proto-file: proto/schema/vmbus/proto/scenario.proto\n"
         "# proto-message: vmbus.proto.Scenario\n"
         "name: \"" +
         name +
         "\"\n"
         "topology { channel { name: \"net\" " +
         channel_body +
         " } }\n"
         "step {\n"
         "  when { event { kmcl { callback: \"PostStarted\" } side: " +
         (sender == "host_send" ? std::string("HOST") : std::string("GUEST")) +
         " } }\n"
         "  " +
         sender +
         " { channel: \"net\" payload { text: \"request\" } request_completion: true count: 3 }\n"
         "}\n"
         "expect {\n" +
         expect + "}\n";
}

fs::path write(const fs::path& dir, const std::string& file, const std::string& text) {
  const fs::path path = dir / file;
  std::ofstream(path) << text;
  return path;
}

struct Finished {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs vmbus-sim in its own process group and checks that nothing of the
// run outlives it: no process of the group, no shared-memory segment.
Finished run_and_check_nothing_left(const fs::path& dir, const std::vector<std::string>& args,
                                    const std::vector<std::string>& environment = {}) {
  const Started sim = start_vmbus_sim(dir, args, environment);
  const int status = wait_for_exit(sim.pid);
  Finished finished;
  finished.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  finished.out = slurp(dir / "stdout");
  finished.err = slurp(dir / "stderr");
  EXPECT_TRUE(wait_for([&] { return live_members_of(sim.pid).empty(); }, std::chrono::seconds(10)))
      << live_members_of(sim.pid).size() << " process(es) of vmbus-sim's group outlived it";
  EXPECT_EQ(segments_of(sim.pid), std::vector<std::string>{});
  return finished;
}

// --- A library that cannot run: exit 2 before anything runs ------------------------------

class DriverLoadErrors : public ::testing::Test {
 protected:
  CliRun run_with_library(const std::string& library) {
    const fs::path file =
        write(dir.path(), "load.textproto",
              scenario("load", "guest_driver { library: \"" + library + "\" }", "host_send", ""));
    return run_vmbus_sim(dir.path(), "run " + file.string());
  }
  TestDirectory dir;
};

TEST_F(DriverLoadErrors, AMissingLibraryIsExit2NamingTheFileAndWhereItWasLookedFor) {
  const CliRun run = run_with_library("libnothere.so");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("load.textproto:4:"));
  EXPECT_THAT(run.err, HasSubstr(": guest_driver library libnothere.so: no such file (looked in " +
                                 dir.path().string() + ")"));
  EXPECT_THAT(run.err, HasSubstr("nothing was run"));
  EXPECT_EQ(run.out, "");
}

TEST_F(DriverLoadErrors, ALibraryWithoutTheEntryPointIsExit2) {
  const CliRun run = run_with_library(KMCL_TEST_DRIVER_NO_ENTRY);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr(std::string("guest_driver library ") + KMCL_TEST_DRIVER_NO_ENTRY +
                                 ": no entry point VmbusSimDriverEntry"));
}

TEST_F(DriverLoadErrors, ALibraryBuiltForAnotherInterfaceVersionIsExit2) {
  const CliRun run = run_with_library(KMCL_TEST_DRIVER_OTHER_VERSION);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr(std::string(KMCL_TEST_DRIVER_OTHER_VERSION) +
                                 ": built against driver interface version 999, this vmbus-sim "
                                 "loads version 1"));
}

TEST_F(DriverLoadErrors, ALibraryThatNeedsAFunctionTheSimulatorLacksIsExit2) {
  const CliRun run = run_with_library(KMCL_TEST_DRIVER_UNDEFINED_SYMBOL);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("cannot be loaded:"));
  EXPECT_THAT(run.err, HasSubstr("undefined symbol: ExAllocatePoolWithTag"));
}

TEST_F(DriverLoadErrors, AScriptedPolicyBesideALibraryIsExit2) {
  const fs::path file = write(
      dir.path(), "mixed.textproto",
      scenario("mixed",
               std::string("quota: 2 guest_driver { library: \"") + PARITY_DRIVER +
                   "\" rule { match_index: true packet_index: 0 action { kind: KIND_DEFER } } }",
               "host_send", ""));
  const CliRun run = run_vmbus_sim(dir.path(), "run " + file.string());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("quota is the guest driver's KMCL call"));
  EXPECT_THAT(run.err, HasSubstr("rule is the scripted driver's"));
}

TEST_F(DriverLoadErrors, ASendOfTheSideALibraryRunsIsExit2) {
  const fs::path file =
      write(dir.path(), "send.textproto",
            scenario("send", std::string("guest_driver { library: \"") + PARITY_DRIVER + "\" }",
                     "guest_send", ""));
  const CliRun run = run_vmbus_sim(dir.path(), "run " + file.string());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("guest_send needs the scripted driver, but the guest end of "
                                 "'net' runs the driver"));
}

// A bare name is looked for in the scenario's folder, then in --driver-dir.
TEST_F(DriverLoadErrors, ABareNameIsFoundInADriverDir) {
  const fs::path file =
      write(dir.path(), "bare.textproto",
            scenario("bare",
                     "host_vsp { kind: KIND_COMPLETE } guest_driver { library: \"" +
                         fs::path(PARITY_DRIVER).filename().string() + "\" }",
                     "host_send", ""));
  const CliRun lost = run_vmbus_sim(dir.path(), "run " + file.string());
  EXPECT_EQ(lost.exit_code, 2);
  const CliRun found = run_vmbus_sim(
      dir.path(), "run " + file.string() +
                      " --driver-dir /nowhere:" + fs::path(PARITY_DRIVER).parent_path().string());
  EXPECT_EQ(found.exit_code, 0) << found.out << found.err;
}

// --- A driver that fails at run time: a FAIL that names it -------------------------------

// Under AddressSanitizer a SIGSEGV would be ASan's report and an exit; the
// partitions leave it to the kernel, as without sanitizers.
const std::vector<std::string> kLeaveSegvAlone = {
    "ASAN_OPTIONS=" +
    std::string(std::getenv("ASAN_OPTIONS") != nullptr
                    ? std::string(std::getenv("ASAN_OPTIONS")) + ":"
                    : std::string()) +
    "handle_segv=0"};

class DriverFaults : public ::testing::Test {
 protected:
  Finished run_crash(const std::string& side, const std::string& args,
                     const std::string& expect = "", const std::string& flags = "",
                     const std::vector<std::string>& environment = {}) {
    const bool host = side == "host";
    const std::string body = std::string(host ? "host_driver" : "guest_driver") + " { library: \"" +
                             CRASH_DRIVER + "\" args: \"" + args + "\" }";
    const fs::path file = write(dir.path(), "crash.textproto",
                                scenario("crash", body, host ? "guest_send" : "host_send", expect));
    std::vector<std::string> words = {"run", file.string(), "--trace-dir",
                                      (dir.path() / "traces").string()};
    if (!flags.empty()) {
      words.push_back(flags);
    }
    return run_and_check_nothing_left(dir.path(), words, environment);
  }
  void expect_fail_naming(const Finished& run, const std::string& message) {
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_THAT(run.out, HasSubstr("FAIL   " + (dir.path() / "crash.textproto").string() +
                                   " seed 1: " + message));
    // The trace up to the crash is kept, and ends with the reason.
    const fs::path trace = dir.path() / "traces" / "crash.seed1.trace";
    EXPECT_THAT(run.out, HasSubstr("repro: vmbus-sim replay " + trace.string()));
    EXPECT_TRUE(fs::exists(trace));
    const CliRun shown = run_vmbus_sim(dir.path(), "trace show " + trace.string());
    EXPECT_THAT(shown.out, HasSubstr("run ended: driver_fault: " + message));
  }
  TestDirectory dir;
};

TEST_F(DriverFaults, ASegfaultInProcessPacketIsAFailNamingDriverCallbackChannelAndPacket) {
  const Finished run = run_crash("guest", "segv 1", "", "", kLeaveSegvAlone);
  expect_fail_naming(run,
                     "guest driver libcrash_driver.so crashed (SIGSEGV) in "
                     "EvtVmbChannelProcessPacket of channel 'net', packet #1");
}

TEST_F(DriverFaults, AnAbortIsAFailNamingTheDriver) {
  const Finished run = run_crash("guest", "abort 2");
  expect_fail_naming(run,
                     "guest driver libcrash_driver.so crashed (SIGABRT) in "
                     "EvtVmbChannelProcessPacket of channel 'net', packet #2");
}

TEST_F(DriverFaults, AnUncaughtExceptionOnTheHostIsAFailNamingTheException) {
  const Finished run = run_crash("host", "throw 0");
  expect_fail_naming(run,
                     "host driver libcrash_driver.so crashed (uncaught C++ exception "
                     "std::runtime_error: request 0 is bad) in EvtVmbChannelProcessPacket "
                     "of channel 'net', packet #0");
}

TEST_F(DriverFaults, AHangInACallbackIsAFailAfterTheResponseTimeout) {
  const Finished run = run_crash("guest", "hang 0", "", "--timeout-ms=500");
  expect_fail_naming(run,
                     "guest driver libcrash_driver.so hung in EvtVmbChannelProcessPacket of "
                     "channel 'net', packet #0 (no answer within 500 ms)");
}

TEST_F(DriverFaults, AnAbortOnThePassiveWorkersThreadIsNamedToo) {
  const Finished run = run_crash("guest", "post-started-abort");
  expect_fail_naming(run,
                     "guest driver libcrash_driver.so crashed (SIGABRT) in "
                     "EvtChannelPostStarted of channel 'net'");
}

TEST_F(DriverFaults, ASegfaultInTheEntryPointIsAFailBeforeTheRunStarts) {
  const Finished run = run_crash("host", "entry-segv", "", "", kLeaveSegvAlone);
  expect_fail_naming(run,
                     "host driver libcrash_driver.so crashed (SIGSEGV) in "
                     "VmbusSimDriverEntry of channel 'net'");
}

TEST_F(DriverFaults, AnEntryPointThatFailsIsAFailNamingTheStatus) {
  const Finished run = run_crash("guest", "entry-fails");
  expect_fail_naming(run,
                     "guest driver libcrash_driver.so failed in VmbusSimDriverEntry of "
                     "channel 'net': returned STATUS_INSUFFICIENT_RESOURCES");
}

TEST_F(DriverFaults, ACrashTheScenarioExpectsPasses) {
  const Finished run = run_crash(
      "guest", "segv 1",
      "  driver_crash { side: GUEST callback: \"EvtVmbChannelProcessPacket\" channel: \"net\" "
      "packet: 1 reason: \"SIGSEGV\" }\n",
      "", kLeaveSegvAlone);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("PASS"));
}

TEST_F(DriverFaults, AnExpectedCrashThatComesElsewhereFails) {
  const Finished run = run_crash("guest", "segv 1", "  driver_crash { side: GUEST packet: 2 }\n",
                                 "", kLeaveSegvAlone);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, HasSubstr("expected the guest driver to crash, packet #2, but guest driver "
                                 "libcrash_driver.so crashed (SIGSEGV)"));
}

// --- The same expectations as the scripted driver's --------------------------------------

// Packet #0 deferred once, then everything completed: a scripted policy and
// drivers/parity_driver.c ("defer-first") give the same callbacks (seed 1).
constexpr const char* kGuestCallbacks =
    "  callbacks { channel: \"net\" only: \"ProcessPacket\" only: \"ProcessingComplete\" "
    "only: \"Opened\" only: \"Started\" only: \"PostStarted\"\n"
    "    call: \"Opened PASSIVE\" call: \"Started PASSIVE\" call: \"PostStarted PASSIVE\"\n"
    "    call: \"ProcessPacket #0 DISPATCH defer\" call: \"ProcessPacket #0 PASSIVE complete\"\n"
    "    call: \"ProcessPacket #1 DISPATCH complete\" call: \"ProcessPacket #2 DISPATCH "
    "complete\"\n"
    "    call: \"ProcessingComplete PASSIVE 1\" call: \"ProcessingComplete DISPATCH 2\" }\n"
    "  completions { channel: \"net\" side: HOST status: \"STATUS_SUCCESS\" status: "
    "\"STATUS_SUCCESS\" status: \"STATUS_SUCCESS\" }\n"
    "  counter { channel: \"net\" name: \"deferred\" value: 1 }\n";

constexpr const char* kHostCallbacks =
    "  callbacks { channel: \"net\" side: HOST only: \"ProcessPacket\" only: \"Opened\" "
    "only: \"Started\" only: \"PostStarted\"\n"
    "    call: \"Opened PASSIVE\" call: \"Started PASSIVE\" call: \"PostStarted PASSIVE\"\n"
    "    call: \"ProcessPacket #0 DISPATCH complete\" call: \"ProcessPacket #1 DISPATCH "
    "complete\"\n"
    "    call: \"ProcessPacket #2 DISPATCH complete\" }\n"
    "  completions { channel: \"net\" side: GUEST status: \"STATUS_SUCCESS\" status: "
    "\"STATUS_SUCCESS\" status: \"STATUS_SUCCESS\" }\n"
    "  counter { channel: \"net\" name: \"completed\" value: 3 side: HOST }\n";

class SameExpectations : public ::testing::Test {
 protected:
  CliRun run(const std::string& name, const std::string& body, const std::string& sender,
             const std::string& expect, const std::string& seeds) {
    const fs::path file =
        write(dir.path(), name + ".textproto", scenario(name, body, sender, expect));
    return run_vmbus_sim(dir.path(), "run " + file.string() + " --seeds " + seeds +
                                         " --trace-dir " + (dir.path() / "traces").string());
  }
  // The trace's driver records (every callback of both sides), as `trace
  // show` reads them, without the sequence numbers.
  std::vector<std::string> driver_records(const std::string& name, int seed) {
    const CliRun shown = run_vmbus_sim(
        dir.path(),
        "trace show " +
            (dir.path() / "traces" / (name + ".seed" + std::to_string(seed) + ".trace")).string());
    std::vector<std::string> lines;
    std::istringstream text(shown.out);
    for (std::string line; std::getline(text, line);) {
      if (line.find("kmcl driver") != std::string::npos) {
        // Without the sequence number: it counts every record of the trace.
        lines.push_back(
            line.substr(line.find_first_not_of("0123456789", line.find_first_not_of(' '))));
      }
    }
    return lines;
  }
  TestDirectory dir;
};

TEST_F(SameExpectations, AGuestDriverLibraryPassesTheScriptedGuestsCallbackExpectations) {
  const std::string scripted_body =
      "host_vsp { kind: KIND_COMPLETE } guest_driver { rule { match_index: true packet_index: 0 "
      "action { kind: KIND_DEFER } } }";
  const std::string loaded_body = std::string("host_vsp { kind: KIND_COMPLETE } guest_driver { ") +
                                  "library: \"" + PARITY_DRIVER + "\" args: \"defer-first\" }";
  const CliRun scripted = run("scripted", scripted_body, "host_send", kGuestCallbacks, "1..1");
  EXPECT_EQ(scripted.exit_code, 0) << scripted.out << scripted.err;
  const CliRun loaded = run("loaded", loaded_body, "host_send", kGuestCallbacks, "1..1");
  EXPECT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  // And under other schedules, callback for callback, at the same times.
  run("scripted", scripted_body, "host_send", "", "2..4");
  run("loaded", loaded_body, "host_send", "", "2..4");
  for (int seed = 2; seed <= 4; ++seed) {
    EXPECT_EQ(driver_records("scripted", seed), driver_records("loaded", seed)) << "seed " << seed;
    EXPECT_FALSE(driver_records("loaded", seed).empty());
  }
}

TEST_F(SameExpectations, AHostDriverLibraryPassesTheScriptedVspsCallbackExpectations) {
  const std::string loaded_body = std::string("host_driver { library: \"") + PARITY_DRIVER + "\" }";
  const CliRun scripted =
      run("scripted", "host_vsp { kind: KIND_COMPLETE }", "guest_send", kHostCallbacks, "1..1");
  EXPECT_EQ(scripted.exit_code, 0) << scripted.out << scripted.err;
  const CliRun loaded = run("loaded", loaded_body, "guest_send", kHostCallbacks, "1..1");
  EXPECT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  run("scripted", "host_vsp { kind: KIND_COMPLETE }", "guest_send", "", "2..4");
  run("loaded", loaded_body, "guest_send", "", "2..4");
  for (int seed = 2; seed <= 4; ++seed) {
    EXPECT_EQ(driver_records("scripted", seed), driver_records("loaded", seed)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace vmbus::runner::testing
