// vmbus-sim trace show: exact timeline lines, filters, and bad files.
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "vmbus/hv/trace_writer.h"
#include "vmbus/tools/trace_command.h"

#include "tool_test_util.h"

namespace vmbus::tools {
namespace {

using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

void write_sample_trace(const std::filesystem::path& path) {
  proto::TraceHeader header;
  header.set_format_version(hv::kTraceFormatVersion);
  header.set_seed(7);
  header.set_scenario("sample");
  header.set_mode(proto::SCHEDULING_MODE_DETERMINISTIC);
  hv::TraceWriter writer;
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
  ring.mutable_ring()->set_write_index(96);
  ring.mutable_ring()->set_read_index(96);
  ring.mutable_ring()->set_bytes(96);
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
      "# trace format 2, seed 7, scenario 'sample', deterministic, 3 records\n"
      "      0        1.000 sim                               step 1: host:msg (1 of 2 ready)\n"
      "      1        2.500 guest dpc/3              DISPATCH ring 3 inbound publish_read "
      "write_index=96 read_index=96 bytes=96\n"
      "      2        3.000 guest kmcl/5/dpc/1       DISPATCH kmcl violation complete_twice "
      "in VmbChannelPacketComplete\n");
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
}  // namespace vmbus::tools
