// A scenario run is judged from what the run gathered as it went, not from
// its trace kept in memory: the memory a run needs does not grow with the
// packets it carries (the judge's and the timeline's part of it; the
// partitions are other processes). And what the judge keeps of a long
// sequence still says everything its messages say.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "vmbus/runner/scenario.h"

#include "cli_runs.h"

namespace vmbus::runner::testing {
namespace {

// The scenario: the host sends `packets` packets asking for completions;
// the guest's driver defers every third and completes every second later.
// The expectations count records to the end: the judge sees every record.
std::string soak_scenario(int packets) {
  std::ostringstream text;
  text << R"(name: "memory"
time_limit_us: 3600000000
topology {
  channel {
    name: "net"
    guest_driver {
      rule { every: 3 action { kind: KIND_DEFER } }
      rule { every: 2 action { kind: KIND_COMPLETE_LATER later_steps: 2 } }
    }
  }
}
step {
  when { event { kmcl { callback: "PostStarted" } side: GUEST } }
  host_send { channel: "net" count: )"
       << packets << R"( request_completion: true }
}
expect {
  counter { channel: "net" name: "completions_sent" value: )"
       << packets << R"( }
  trace { event { completion { status: "STATUS_SUCCESS" } side: HOST channel: "net" } count: )"
       << packets << R"( }
}
)";
  return text.str();
}

// A line of /proc/self/status in kB ("VmHWM", "VmRSS").
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

std::string failures_of(const ScenarioResult& result) {
  std::string text;
  for (const std::string& failure : result.failures) {
    text += failure + "\n";
  }
  return text;
}

ScenarioResult run_once(int packets, const TestDirectory& dir) {
  const LoadedScenario loaded = load_scenario_text(soak_scenario(packets), "memory.textproto");
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.problems.front().to_string());
  RunOptions options;
  options.host_binary = VMBUS_HOST_BINARY;
  options.guest_binary = VMBUS_GUEST_BINARY;
  options.trace_path = dir.path() / ("memory." + std::to_string(packets) + ".trace");
  return run_scenario(compile_scenario(loaded), 1, options);
}

// g++ says it builds with AddressSanitizer by __SANITIZE_ADDRESS__, clang by
// __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define VMBUS_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMBUS_TEST_UNDER_ASAN 1
#endif
#endif

TEST(RunMemory, AScenarioRunIsJudgedWithoutKeepingItsTrace) {
#if defined(VMBUS_TEST_UNDER_ASAN)
  GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine: peaks say nothing";
#endif
  TestDirectory dir;
  // Warm up: the allocator's pools, protobuf's descriptors.
  const ScenarioResult small = run_once(300, dir);
  ASSERT_EQ(small.verdict, Verdict::kPassed) << failures_of(small);
  // Writing 5 resets the peak to the current resident set (Linux 4.0).
  if (!(std::ofstream("/proc/self/clear_refs") << "5" << std::flush)) {
    GTEST_SKIP() << "cannot reset the peak resident set";
  }
  const long before_kb = status_kb("VmRSS");

  const ScenarioResult big = run_once(20'000, dir);

  ASSERT_EQ(big.verdict, Verdict::kPassed) << failures_of(big);
  EXPECT_GT(big.run.trace_records, 200'000u);
  // Keeping the records took about 80 MB here.
  EXPECT_LT(status_kb("VmHWM") - before_kb, 8 * 1024) << "kB above the resident set before";
}

// The judge keeps, of a sequence it compares, the expected number of
// values and a few more: enough for every message it writes.
TEST(Judge, SequencesLongerThanExpectedAreToldByTheirFirstValuesAndTheirLength) {
  const LoadedScenario loaded = load_scenario_text(R"(name: "long-sequences"
topology { channel { name: "net" } }
expect {
  callbacks { channel: "net" call: "ProcessPacket #0 DISPATCH complete" }
  completions { side: HOST channel: "net" status: "STATUS_SUCCESS" }
}
)",
                                                   "long.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front().to_string();
  const CompiledScenario scenario = compile_scenario(loaded);
  std::vector<proto::TraceRecord> records;
  for (int i = 0; i < 20; ++i) {
    proto::TraceRecord callback;
    callback.set_partition(proto::PARTITION_GUEST);
    callback.set_context("kmcl/1/dpc/1");
    callback.mutable_kmcl()->set_kind("driver");
    callback.mutable_kmcl()->set_detail("ProcessPacket #" + std::to_string(i) +
                                        " DISPATCH complete");
    records.push_back(callback);
    proto::TraceRecord completion;
    completion.set_partition(proto::PARTITION_HOST);
    completion.mutable_completion()->set_child_relid(1);
    completion.mutable_completion()->set_status("STATUS_SUCCESS");
    records.push_back(completion);
  }
  ScenarioResult result;
  result.run.outcome = hypervisor::RunOutcome::kCompleted;

  judge(scenario, records, result);

  EXPECT_EQ(result.verdict, Verdict::kFailed);
  const std::string nine =
      "STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, "
      "STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, "
      "STATUS_SUCCESS";
  EXPECT_EQ(failures_of(result),
            "channel 'net': 20 callback(s), expected 1; the first extra is 'ProcessPacket #1 "
            "DISPATCH complete'\n"
            "host sends on 'net' completed [" +
                nine + ", ... (20 in all)], expected [STATUS_SUCCESS]\n");
}

}  // namespace
}  // namespace vmbus::runner::testing
