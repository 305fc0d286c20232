// vmbus-sim trace export: the exact Chrome JSON events written for the
// timeline's tracks, slices, flows and counters, JSON escaping, and the
// command: formats, OUT written whole or not at all, and the bad inputs
// (another format version, a cut trace, an empty one) that leave it untouched.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/chrome_export.h"
#include "vmbus/cli/timeline.h"
#include "vmbus/trace/writer.h"

#include "json_validator.h"
#include "tool_test_util.h"
#include "trace_builders.h"

namespace vmbus::cli {
namespace {

using namespace vmbus::cli::testing;

constexpr auto kHost = proto::PARTITION_HOST;
constexpr auto kGuest = proto::PARTITION_GUEST;
constexpr auto kSim = proto::PARTITION_UNSPECIFIED;

TEST(JsonValidator, AcceptsJsonAndRefusesWhatIsNot) {
  EXPECT_EQ(JsonValidator(R"({"a":[1,-2.5e3,"x\n\u00e9",true,null,{}]})").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":1,})").error(), "");
  EXPECT_NE(JsonValidator("{\"a\":\"raw\nnewline\"}").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":"\q"})").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":01})").error(), "");
  EXPECT_NE(JsonValidator("{\"a\":\"\xff\"}").error(), "");
  EXPECT_NE(JsonValidator(R"({"a":1} x)").error(), "");
}

// --- helpers -----------------------------------------------------------------------------

std::string export_json(const std::vector<proto::TraceRecord>& records) {
  const std::vector<proto::TraceRecord> numbered_records = numbered(records);
  std::ostringstream out;
  write_chrome_trace(sample_header(), numbered_records, build_timeline(numbered_records), out);
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The event lines: everything between "traceEvents":[ and ]}, commas dropped.
std::vector<std::string> event_lines(const std::string& json) {
  std::vector<std::string> events;
  bool inside = false;
  for (std::string line : lines_of(json)) {
    if (line == "\"traceEvents\":[") {
      inside = true;
      continue;
    }
    if (line == "]}") {
      break;
    }
    if (inside) {
      if (!line.empty() && line.back() == ',') {
        line.pop_back();
      }
      events.push_back(line);
    }
  }
  return events;
}

std::vector<std::string> events_containing(const std::string& json, std::string_view text) {
  std::vector<std::string> found;
  for (const std::string& line : event_lines(json)) {
    if (line.find(text) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

std::string file_text(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_file(path);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// --- the document, tracks and slices -----------------------------------------------------

TEST(TraceExport, WritesOneJsonObjectWithTimeUnitRunDetailsAndASlicePerRecord) {
  const std::string json = export_json({note(1500, kHost, "msg", "up")});

  EXPECT_EQ(JsonValidator(json).error(), "") << json;
  EXPECT_EQ(json,
            "{\"displayTimeUnit\":\"ns\",\n"
            "\"otherData\":{\"source\":\"vmbus-sim trace export\",\"trace_format_version\":\"6\","
            "\"seed\":\"7\",\"scenario\":\"export \\\"sample\\\"\",\"build\":\"an unknown build\","
            "\"scheduling_mode\":\"deterministic\",\"records\":\"1\"},\n"
            "\"traceEvents\":[\n"
            R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"host"}},)"
            "\n"
            R"({"name":"process_sort_index","ph":"M","pid":1,"args":{"sort_index":1}},)"
            "\n"
            R"({"name":"thread_name","ph":"M","pid":1,"tid":10,"args":{"name":"msg"}},)"
            "\n"
            R"({"name":"thread_sort_index","ph":"M","pid":1,"tid":10,"args":{"sort_index":10}},)"
            "\n"
            R"({"name":"up","cat":"vmbus","ph":"X","ts":1.500,"dur":0.100,"pid":1,"tid":10,)"
            R"("args":{"sequence":0,"time_ns":1500,"partition":"host","context":"msg",)"
            R"("event":"up"}})"
            "\n]}\n");
}

TEST(TraceExport, NamesEveryProcessAndEveryThreadThatHasASlice) {
  const std::string json = export_json({
      note(0, kGuest, "dpc/10", "a"),
      note(0, kSim, "", "b"),
      note(0, kGuest, "dpc/2", "c"),
      note(0, kHost, "msg", "d"),
      note(0, kGuest, "", "e"),
  });

  const std::vector<std::string> expected = {
      R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"host"}})",
      R"({"name":"process_sort_index","ph":"M","pid":1,"args":{"sort_index":1}})",
      R"({"name":"thread_name","ph":"M","pid":1,"tid":10,"args":{"name":"msg"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":1,"tid":10,"args":{"sort_index":10}})",
      R"({"name":"process_name","ph":"M","pid":2,"args":{"name":"guest"}})",
      R"({"name":"process_sort_index","ph":"M","pid":2,"args":{"sort_index":2}})",
      R"j({"name":"thread_name","ph":"M","pid":2,"tid":11,"args":{"name":"(no context)"}})j",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":11,"args":{"sort_index":11}})",
      R"({"name":"thread_name","ph":"M","pid":2,"tid":12,"args":{"name":"dpc/2"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":12,"args":{"sort_index":12}})",
      R"({"name":"thread_name","ph":"M","pid":2,"tid":13,"args":{"name":"dpc/10"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":2,"tid":13,"args":{"sort_index":13}})",
      R"({"name":"process_name","ph":"M","pid":3,"args":{"name":"hypervisor"}})",
      R"({"name":"process_sort_index","ph":"M","pid":3,"args":{"sort_index":3}})",
      R"({"name":"thread_name","ph":"M","pid":3,"tid":14,"args":{"name":"hypervisor"}})",
      R"({"name":"thread_sort_index","ph":"M","pid":3,"tid":14,"args":{"sort_index":14}})",
  };
  const std::vector<std::string> events = event_lines(json);
  ASSERT_GE(events.size(), expected.size()) << json;
  EXPECT_EQ(std::vector<std::string>(events.begin(),
                                     events.begin() + static_cast<std::ptrdiff_t>(expected.size())),
            expected);
  // The simulator's own note is a slice on the hypervisor's thread.
  EXPECT_EQ(events_containing(json, "\"event\":\"b\""),
            std::vector<std::string>{R"({"name":"b","cat":"vmbus","ph":"X","ts":0.100,)"
                                     R"("dur":0.100,"pid":3,"tid":14,"args":{"sequence":1,)"
                                     R"("time_ns":0,"partition":"sim","event":"b"}})"});
}

TEST(TraceExport, AStepIsASliceOfCategorySchedulerHoldingItsContextsRecords) {
  const std::string json = export_json({
      step(1000, 1, "host:msg"),
      note(1000, kHost, "msg", "handled"),
      step(3500, 2, "guest:kmcl/1/dpc/1"),
  });

  EXPECT_EQ(events_containing(json, "\"ph\":\"X\""),
            (std::vector<std::string>{
                R"({"name":"step 1","cat":"scheduler","ph":"X","ts":1.000,"dur":1.000,"pid":1,)"
                R"("tid":10,"args":{"sequence":0,"time_ns":1000,"partition":"sim",)"
                R"j("event":"step 1: host:msg (1 of 1 ready)","step":1,"ready":"host:msg"}})j",
                R"({"name":"handled","cat":"vmbus","ph":"X","ts":1.100,"dur":0.100,"pid":1,)"
                R"("tid":10,"args":{"sequence":1,"time_ns":1000,"partition":"host",)"
                R"("context":"msg","event":"handled"}})",
                R"({"name":"step 2","cat":"scheduler","ph":"X","ts":3.500,"dur":1.000,"pid":2,)"
                R"("tid":11,"args":{"sequence":2,"time_ns":3500,"partition":"sim",)"
                R"j("event":"step 2: guest:kmcl/1/dpc/1 (1 of 1 ready)","step":2,)j"
                R"("ready":"guest:kmcl/1/dpc/1"}})",
            }));
}

TEST(TraceExport, SignalsInterruptsAndFaultsAreSlicesOnTheHypervisorsLanes) {
  const std::string json = export_json({
      signal(61'435, proto::SignalRecord::STAGE_SIGNALLED, kHost, 1),
      fault(61'435, "interrupt_dropped", "host->guest relid 1"),
  });

  EXPECT_EQ(events_containing(json, "\"ph\":\"X\""),
            (std::vector<std::string>{
                R"({"name":"signal relid 1","cat":"vmbus","ph":"X","ts":61.435,"dur":0.100,)"
                R"("pid":3,"tid":10,"args":{"sequence":0,"time_ns":61435,"partition":"sim",)"
                R"("event":"signal signalled host->guest relid 1","stage":"signalled",)"
                R"("from":"host","to":"guest","relid":1,"connection_id":0,)"
                R"("fault":"interrupt_dropped"}})",
                R"({"name":"interrupt_dropped","cat":"vmbus","ph":"X","ts":61.535,)"
                R"("dur":0.100,"pid":3,"tid":11,"args":{"sequence":1,"time_ns":61435,)"
                R"("partition":"sim","event":"fault interrupt_dropped: host->guest relid 1"}})",
            }));
  EXPECT_NE(json.find(R"("tid":10,"args":{"name":"signals host->guest"})"), std::string::npos);
  EXPECT_NE(json.find(R"("tid":11,"args":{"name":"faults"})"), std::string::npos);
}

// --- ring counters -----------------------------------------------------------------------

TEST(TraceExport, RingCountersAreCounterEventsOnTheHypervisorProcess) {
  const std::string json = export_json({
      ring(151'338, kHost, "chan/1", 1, "inbound", "publish_write", 616, 10'696, 2208, 12'288),
      ring(159'338, kGuest, "dpc/1", 1, "inbound", "publish_read", 616, 616, 2208, 12'288),
  });

  EXPECT_EQ(events_containing(json, "\"ph\":\"C\""),
            (std::vector<std::string>{
                R"({"name":"ring 1 inbound","cat":"vmbus","ph":"C","ts":151.338,"pid":3,)"
                R"("args":{"bytes_used":2208}})",
                R"({"name":"ring 1 inbound","cat":"vmbus","ph":"C","ts":159.338,"pid":3,)"
                R"("args":{"bytes_used":0}})",
            }));
  // Only counters there: the hypervisor process is still named.
  EXPECT_NE(json.find(R"({"name":"process_name","ph":"M","pid":3,"args":{"name":"hypervisor"}})"),
            std::string::npos);
}

// --- flows -------------------------------------------------------------------------------

TEST(TraceExport, FlowEventsBindToTheirSlicesByCategoryThreadAndTime) {
  constexpr std::uint64_t kSent = 0xffffa00000000020;
  constexpr std::uint64_t kReceived = 0xffffa00000000030;
  const std::string json = export_json({
      kmcl(1000, kHost, "kmcl/1/external", "send", kSent, {.trans_id = 5}),
      kmcl(3000, kGuest, "kmcl/1/dpc/1", "dequeue", kReceived, {.trans_id = 5, .packet = 0}),
      kmcl(3000, kGuest, "kmcl/1/dpc/1", "callback", kReceived,
           {.packet = 0, .delivery = 1, .callback = "EvtVmbChannelProcessPacket"}),
      kmcl(4000, kGuest, "kmcl/1/passive", "complete", kReceived, {.packet = 0}),
  });

  const std::vector<std::string> events = event_lines(json);
  std::vector<std::string> flows;
  std::vector<std::string> preceding;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].find(R"("name":"packet")") != std::string::npos) {
      flows.push_back(events[i]);
      preceding.push_back(events[i - 1].substr(0, events[i - 1].find(",\"pid\"")));
    }
  }
  EXPECT_EQ(flows,
            (std::vector<std::string>{
                R"({"name":"packet","cat":"vmbus","ph":"s","ts":1.000,"pid":1,"tid":10,"id":1})",
                R"({"name":"packet","cat":"vmbus","ph":"t","ts":3.000,"pid":2,"tid":11,"id":1,)"
                R"("bp":"e"})",
                R"({"name":"packet","cat":"vmbus","ph":"t","ts":3.100,"pid":2,"tid":11,"id":1,)"
                R"("bp":"e"})",
                R"({"name":"packet","cat":"vmbus","ph":"f","ts":4.000,"pid":2,"tid":12,"id":1,)"
                R"("bp":"e"})",
            }));
  // Each right after the slice it binds to: same category, thread and ts.
  EXPECT_EQ(preceding,
            (std::vector<std::string>{
                R"({"name":"send","cat":"vmbus","ph":"X","ts":1.000,"dur":0.100)",
                R"({"name":"dequeue #0","cat":"vmbus","ph":"X","ts":3.000,"dur":0.100)",
                R"({"name":"EvtVmbChannelProcessPacket #0","cat":"vmbus","ph":"X","ts":3.100,)"
                R"("dur":0.100)",
                R"({"name":"complete #0","cat":"vmbus","ph":"X","ts":4.000,"dur":0.100)",
            }));
}

// --- escaping ----------------------------------------------------------------------------

TEST(TraceExport, EscapesQuotesBackslashesControlCharactersAndBadUtf8) {
  const std::string json =
      export_json({note(0, kGuest, "vsc/1", "say \"hi\"\\ now\nnext\tcol\x01 caf\xc3\xa9 \xff!")});

  EXPECT_EQ(JsonValidator(json).error(), "") << json;
  EXPECT_EQ(events_containing(json, "\"ph\":\"X\""),
            std::vector<std::string>{
                R"({"name":"say \"hi\"\\ now\nnext\tcol\u0001 caf)"
                "\xc3\xa9"
                R"( \ufffd!","cat":"vmbus","ph":"X","ts":0.000,"dur":0.100,"pid":2,"tid":10,)"
                R"("args":{"sequence":0,"time_ns":0,"partition":"guest","context":"vsc/1",)"
                R"("event":"say \"hi\"\\ now\nnext\tcol\u0001 caf)"
                "\xc3\xa9"
                R"( \ufffd!"}})"});
}

// --- the command -------------------------------------------------------------------------

// One of every kind of record, in the order a run would write them.
std::vector<proto::TraceRecord> every_kind() {
  wire::OpenChannel open;
  open.child_relid = 1;
  std::vector<proto::TraceRecord> records = {
      message(2000, proto::MessageEvent::STAGE_POSTED, kGuest, kHost, payload_of(open)),
      step(3000, 1, "guest:vsc/1"),
      ring(3000, kGuest, "vsc/1", 1, "outbound", "publish_write", 96, 0, 96, 12'288),
      signal(3000, proto::SignalRecord::STAGE_SIGNALLED, kGuest, 1),
      step(4000, 2, "host:chan/1"),
      ring(4000, kHost, "chan/1", 1, "outbound", "publish_read", 96, 96, 96, 12'288),
  };
  proto::TraceRecord channel = record_at(4000, kHost, "msg");
  channel.mutable_channel()->set_child_relid(1);
  channel.mutable_channel()->set_state("open");
  channel.mutable_channel()->set_detail("gpadl 925200, \"4+4\" pages");
  records.push_back(channel);
  proto::TraceRecord process = record_at(4500, kSim, "");
  process.mutable_process()->set_kind(proto::ProcessEvent::KIND_STARTED);
  process.mutable_process()->set_partition(kHost);
  records.push_back(process);
  records.push_back(
      kmcl(5000, kGuest, "kmcl/1/dpc/1", "dequeue", 0x20, {.trans_id = 1, .packet = 0}));
  records.push_back(kmcl(5000, kGuest, "kmcl/1/dpc/1", "complete", 0x20, {.packet = 0}));
  records.push_back(action(5500, 3, "burst", "host_send on 'c'"));
  records.push_back(completion(6000, kHost, "chan/1", 1, 1));
  records.push_back(note(6500, kGuest, "control", "tab\there \\ \"quoted\""));
  return records;
}

TEST(TraceExport, WholeOutputIsValidJsonAndTheSameBytesEveryTime) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult first =
      run_cli({"trace", "export", "--format=chrome", (dir / "run.trace").string()});
  const RunResult second =
      run_cli({"trace", "export", "--format", "chrome", (dir / "run.trace").string()});
  const RunResult to_file = run_cli({"trace", "export", "--format=chrome", "-o",
                                     (dir / "run.json").string(), (dir / "run.trace").string()});

  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.err, "");
  EXPECT_EQ(JsonValidator(first.out).error(), "") << first.out;
  EXPECT_EQ(second.out, first.out);
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_EQ(to_file.out, "");
  EXPECT_EQ(file_text(dir / "run.json"), first.out);
  // Every record is one slice: 11 and 2 steps; a counter sample per ring record.
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"X\"").size(), 13u);
  EXPECT_EQ(events_containing(first.out, "\"cat\":\"scheduler\"").size(), 2u);
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"C\"").size(), 2u);
  EXPECT_EQ(events_containing(first.out, "\"ph\":\"i\"").size(), 0u);
}

TEST(TraceExport, FormatIsRequiredAndMustBeChromePerfettoOrHtml) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult missing = run_cli({"trace", "export", (dir / "run.trace").string()});
  const RunResult unknown =
      run_cli({"trace", "export", "--format=xml", (dir / "run.trace").string()});
  const RunResult results_elsewhere =
      run_cli({"trace", "export", "--format=chrome", "--results", (dir / "r.json").string(),
               (dir / "run.trace").string()});

  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err,
            "vmbus-sim trace export: --format is required (chrome, perfetto or html)\n"
            "Run 'vmbus-sim trace export --help' for usage.\n");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "vmbus-sim trace export: unknown --format 'xml' (chrome, perfetto or html)\n"
            "Run 'vmbus-sim trace export --help' for usage.\n");
  EXPECT_EQ(results_elsewhere.exit_code, 2);
  EXPECT_EQ(results_elsewhere.err,
            "vmbus-sim trace export: --results goes with --format=html only\n"
            "Run 'vmbus-sim trace export --help' for usage.\n");
}

// Every file in `dir`, by name.
std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(TraceExport, ABadTraceIsAnErrorThatLeavesOutAsItWasInEveryFormat) {
  ScratchDir dir;
  testing::write_text_file(dir / "not.trace", "hello");
  testing::write_text_file(dir / "empty.trace", "");
  write_trace(dir / "cut.trace", every_kind());
  std::filesystem::resize_file(dir / "cut.trace",
                               std::filesystem::file_size(dir / "cut.trace") - 3);
  proto::TraceHeader old = sample_header();
  old.set_format_version(4);
  write_trace(dir / "old.trace", every_kind(), old);
  write_trace(dir / "none.trace", {});
  testing::write_text_file(dir / "kept.out", "previous contents");
  const std::string kept = (dir / "kept.out").string();
  const std::string at = (dir.path().string()) + "/";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"missing.trace", "vmbus-sim: " + at + "missing.trace: cannot open\n"},
      {"not.trace", "vmbus-sim: " + at + "not.trace: not a vmbus-sim trace (no VMBTRACE header)\n"},
      {"empty.trace",
       "vmbus-sim: " + at + "empty.trace: not a vmbus-sim trace (no VMBTRACE header)\n"},
      {"old.trace", "vmbus-sim: " + at +
                        "old.trace: trace format version 4, this vmbus-sim reads "
                        "version 6\n"},
      {"none.trace",
       "vmbus-sim: " + at + "none.trace: the trace has no records: nothing to show\n"},
  };
  for (const std::string format : {"chrome", "perfetto", "html"}) {
    for (const auto& [file, error] : cases) {
      const RunResult result =
          run_cli({"trace", "export", "--format=" + format, "-o", kept, (dir / file).string()});
      EXPECT_EQ(result.exit_code, 2) << format << " " << file;
      EXPECT_EQ(result.out, "") << format << " " << file;
      EXPECT_EQ(result.err, error) << format << " " << file;
    }
    const RunResult cut = run_cli(
        {"trace", "export", "--format=" + format, "-o", kept, (dir / "cut.trace").string()});
    EXPECT_EQ(cut.exit_code, 2);
    EXPECT_NE(cut.err.find("cut.trace: record 12 at byte"), std::string::npos) << cut.err;
    EXPECT_NE(cut.err.find("the file ends inside a frame"), std::string::npos) << cut.err;
  }
  EXPECT_EQ(file_text(dir / "kept.out"), "previous contents");
  // Nothing else was left behind: no partial file, no temporary one.
  EXPECT_EQ(files_in(dir.path()),
            (std::vector<std::string>{"cut.trace", "empty.trace", "kept.out", "none.trace",
                                      "not.trace", "old.trace"}));
}

TEST(TraceExport, AGoodTraceReplacesOutWhole) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());
  testing::write_text_file(dir / "run.json", "previous contents that were longer than this");

  const RunResult result = run_cli({"trace", "export", "--format=chrome", "-o",
                                    (dir / "run.json").string(), (dir / "run.trace").string()});

  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(JsonValidator(file_text(dir / "run.json")).error(), "");
  EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"run.json", "run.trace"}));
}

TEST(TraceExport, UnwritableOutIsAnError) {
  ScratchDir dir;
  write_trace(dir / "run.trace", every_kind());

  const RunResult result =
      run_cli({"trace", "export", "--format=chrome", "-o",
               (dir / "no-such-dir" / "run.json").string(), (dir / "run.trace").string()});

  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(
      result.err.rfind(
          "vmbus-sim: cannot write '" + (dir / "no-such-dir" / "run.json").string() + "': ", 0),
      0u)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "no-such-dir"));
}

TEST(TraceExport, HelpNamesTheFormatsTheViewersAndShowsExamples) {
  const RunResult help = run_cli({"trace", "export", "--help"});
  const RunResult group = run_cli({"trace", "--help"});

  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(
      help.out.rfind(
          "Usage: vmbus-sim trace export --format=chrome|perfetto|html [-o OUT] [--results FILE] "
          "FILE\n",
          0),
      0u)
      << help.out;
  EXPECT_NE(help.out.find("DevTools Performance panel"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("a Defer is a\n             second delivery on the PASSIVE context"),
            std::string::npos)
      << help.out;
  EXPECT_NE(help.out.find("Examples:\n  vmbus-sim trace export --format=chrome -o run.json "
                          "run.trace\n"),
            std::string::npos)
      << help.out;
  EXPECT_NE(group.out.find("  export  Write a run's trace for a viewer: Chrome JSON, Perfetto, "
                           "offline HTML"),
            std::string::npos)
      << group.out;
}

}  // namespace
}  // namespace vmbus::cli
