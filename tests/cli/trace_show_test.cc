// vmbus-sim trace show: exact timeline lines, filters, and bad files.
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "vmbus/base/build_info.h"
#include "vmbus/cli/trace_command.h"
#include "vmbus/trace/writer.h"

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

void write_sample_trace(const std::filesystem::path& path, const std::string& build_version = "",
                        const std::string& build_commit = "") {
  proto::TraceHeader header;
  header.set_format_version(trace::kTraceFormatVersion);
  header.set_build_version(build_version);
  header.set_build_commit(build_commit);
  header.set_seed(7);
  header.set_scenario("sample");
  header.set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
  trace::TraceWriter writer;
  writer.open(path, header);

  proto::TraceRecord step;
  step.set_time_ns(1000);
  step.mutable_scheduler()->set_step_number(1);
  step.mutable_scheduler()->add_ready("guest:control");
  step.mutable_scheduler()->add_ready("host:msg");
  step.mutable_scheduler()->set_chosen(1);
  writer.write(step);

  proto::TraceRecord ring;
  ring.set_time_ns(2500);
  ring.set_partition(proto::PARTITION_GUEST);
  ring.set_context("dpc/3");
  ring.mutable_ring()->set_child_relid(3);
  ring.mutable_ring()->set_ring("inbound");
  ring.mutable_ring()->set_op("publish_read");
  ring.mutable_ring()->set_write_index(40);
  ring.mutable_ring()->set_read_index(40);
  ring.mutable_ring()->set_bytes(96);
  ring.mutable_ring()->set_data_size(4096);  // the read wrapped: 4040 -> 40
  writer.write(ring);

  proto::TraceRecord violation;
  violation.set_time_ns(3000);
  violation.set_partition(proto::PARTITION_GUEST);
  violation.set_context("kmcl/5/dpc/1");
  violation.mutable_kmcl()->set_kind("violation");
  violation.mutable_kmcl()->set_code("complete_twice");
  violation.mutable_kmcl()->set_api("VmbChannelPacketComplete");
  violation.mutable_kmcl()->set_irql(2);
  writer.write(violation);
  writer.close();
}

TEST(TraceShow, PrintsOneExactLinePerRecord) {
  ScratchDir dir;
  write_sample_trace(dir / "run.trace");

  const RunResult result = run_cli({"trace", "show", (dir / "run.trace").string()});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(
      result.out,
      "# trace format 6, seed 7, scenario 'sample', deterministic, 3 records, written by "
      "an unknown build\n"
      "      0        1.000 sim                               step 1: host:msg (1 of 2 ready)\n"
      "      1        2.500 guest dpc/3              DISPATCH ring 3 inbound publish_read "
      "write_index=40 read_index=40 bytes=96 (was read_index=4040)\n"
      "      2        3.000 guest kmcl/5/dpc/1       DISPATCH kmcl violation complete_twice "
      "in VmbChannelPacketComplete\n");
}

TEST(TraceShow, NamesTheBuildThatWroteTheTraceAndWarnsWhenItIsAnother) {
  ScratchDir dir;
  write_sample_trace(dir / "this.trace", std::string(base::build_info().version),
                     std::string(base::build_info().commit));
  write_sample_trace(dir / "other.trace", "0.0.9", "0123456789ab");

  const RunResult same = run_cli({"trace", "show", (dir / "this.trace").string()});
  const RunResult other = run_cli({"trace", "show", (dir / "other.trace").string()});

  EXPECT_EQ(same.exit_code, 0);
  EXPECT_EQ(same.out.substr(0, same.out.find('\n')),
            "# trace format 6, seed 7, scenario 'sample', deterministic, 3 records, written by "
            "vmbus-sim " +
                base::build_identity());
  EXPECT_EQ(same.err, base::build_info().commit == "unknown"
                          ? "vmbus-sim: warning: this trace was written by vmbus-sim " +
                                base::build_identity() + "; this is vmbus-sim " +
                                base::build_identity() +
                                ": rerunning its seed here may not reproduce it\n"
                          : "");
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_EQ(other.out.substr(0, other.out.find('\n')),
            "# trace format 6, seed 7, scenario 'sample', deterministic, 3 records, written by "
            "vmbus-sim 0.0.9 (commit 0123456789ab)");
  EXPECT_EQ(other.err,
            "vmbus-sim: warning: this trace was written by vmbus-sim 0.0.9 (commit "
            "0123456789ab); this is vmbus-sim " +
                base::build_identity() + ": rerunning its seed here may not reproduce it\n");
}

TEST(TraceShow, FiltersByChannelAndText) {
  ScratchDir dir;
  write_sample_trace(dir / "run.trace");

  const RunResult by_channel =
      run_cli({"trace", "show", "--channel", "5", (dir / "run.trace").string()});
  const RunResult by_text =
      run_cli({"trace", "show", "--grep", "publish", (dir / "run.trace").string()});

  EXPECT_EQ(by_channel.exit_code, 0);
  EXPECT_NE(by_channel.out.find("complete_twice"), std::string::npos);
  EXPECT_EQ(by_channel.out.find("publish_read"), std::string::npos);
  EXPECT_EQ(by_text.exit_code, 0);
  EXPECT_NE(by_text.out.find("publish_read"), std::string::npos);
  EXPECT_EQ(by_text.out.find("complete_twice"), std::string::npos);
}

void write_format_3_trace(const std::filesystem::path& path) {
  proto::TraceHeader header;
  header.set_format_version(trace::kTraceFormatVersion);
  header.set_seed(9);
  header.set_scenario("faults");
  header.set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
  trace::TraceWriter writer;
  writer.open(path, header);

  proto::TraceRecord fault;
  fault.set_time_ns(1000);
  fault.mutable_fault()->set_kind("interrupt_dropped");
  fault.mutable_fault()->set_detail("host->guest relid 1");
  writer.write(fault);

  proto::TraceRecord action;
  action.set_time_ns(2000);
  action.mutable_action()->set_step(3);
  action.mutable_action()->set_label("burst");
  action.mutable_action()->set_describe("host_send on 'c' x4");
  writer.write(action);

  proto::TraceRecord completion;
  completion.set_time_ns(3000);
  completion.set_partition(proto::PARTITION_HOST);
  completion.set_context("chan/2");
  completion.mutable_completion()->set_child_relid(2);
  completion.mutable_completion()->set_trans_id(5);
  completion.mutable_completion()->set_status("STATUS_SUCCESS");
  completion.mutable_completion()->set_bytes(16);
  writer.write(completion);
  writer.close();
}

TEST(TraceShow, PrintsFaultsScenarioStepsAndCompletions) {
  ScratchDir dir;
  write_format_3_trace(dir / "run.trace");

  const RunResult result = run_cli({"trace", "show", (dir / "run.trace").string()});

  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "# trace format 6, seed 9, scenario 'faults', deterministic, 3 records, written by "
            "an unknown build\n"
            "      0        1.000 sim                               fault interrupt_dropped: "
            "host->guest relid 1\n"
            "      1        2.000 sim                               scenario step 3 'burst': "
            "host_send on 'c' x4\n"
            "      2        3.000 host  chan/2                      completion relid 2 trans_id 5 "
            "STATUS_SUCCESS 16 bytes\n");
}

TEST(TraceShow, ChannelFilterKeepsCompletionsAndFaultsNamingTheChannel) {
  ScratchDir dir;
  write_format_3_trace(dir / "run.trace");

  const RunResult channel_1 =
      run_cli({"trace", "show", "--channel", "1", (dir / "run.trace").string()});
  const RunResult channel_2 =
      run_cli({"trace", "show", "--channel", "2", (dir / "run.trace").string()});

  EXPECT_NE(channel_1.out.find("fault interrupt_dropped"), std::string::npos) << channel_1.out;
  EXPECT_EQ(channel_1.out.find("completion"), std::string::npos) << channel_1.out;
  EXPECT_EQ(channel_2.out.find("fault interrupt"), std::string::npos) << channel_2.out;
  EXPECT_NE(channel_2.out.find("completion relid 2"), std::string::npos) << channel_2.out;
}

TEST(TraceShow, BadFilesAreClearErrors) {
  ScratchDir dir;
  std::ofstream(dir / "not.trace") << "hello";
  write_sample_trace(dir / "cut.trace");
  std::filesystem::resize_file(dir / "cut.trace",
                               std::filesystem::file_size(dir / "cut.trace") - 3);

  const RunResult missing = run_cli({"trace", "show", (dir / "missing.trace").string()});
  const RunResult not_trace = run_cli({"trace", "show", (dir / "not.trace").string()});
  const RunResult cut = run_cli({"trace", "show", (dir / "cut.trace").string()});

  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "vmbus-sim: " + (dir / "missing.trace").string() + ": cannot open\n");
  EXPECT_EQ(not_trace.exit_code, 2);
  EXPECT_EQ(not_trace.err, "vmbus-sim: " + (dir / "not.trace").string() +
                               ": not a vmbus-sim trace (no VMBTRACE header)\n");
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_NE(cut.err.find("record 2"), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("the file ends inside a frame"), std::string::npos) << cut.err;
}

}  // namespace
}  // namespace vmbus::cli
