// vmbus-sim trace export --format=html: the page is the template with the
// timeline's data in it, self-contained (nothing it would fetch), its data
// valid JSON that no text can break out of, and the run's verdict at the top
// when --results names the run. (What the page draws is checked in a real
// browser: browser_timeline_test.sh.)
#include "vmbus/cli/html_export.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vmbus/cli/results.h"
#include "vmbus/cli/timeline.h"

#include "json_validator.h"
#include "tool_test_util.h"
#include "trace_builders.h"

namespace vmbus::cli {
namespace {

using namespace vmbus::cli::testing;

constexpr std::string_view kDataOpen = R"(<script id="timeline-data" type="application/json">)";

std::vector<proto::TraceRecord> small_run() {
  return numbered({
      kmcl(1000, kHost, "kmcl/1/external", "send", 0x20, {.trans_id = 1}),
      kmcl(3000, kGuest, "kmcl/1/dpc/1", "dequeue", 0x30, {.trans_id = 1, .packet = 0}),
      kmcl(3000, kGuest, "kmcl/1/dpc/1", "defer", 0x30, {.packet = 0}),
      kmcl(4000, kGuest, "kmcl/1/passive", "violation", 0x30, {}, "complete twice"),
      ring(5000, kGuest, "kmcl/1/passive", 1, "host_to_guest", "publish_read", 96, 96, 96, 4096),
      note(6000, kGuest, "kmcl/1/passive", "</script><script>alert(1)</script>"),
  });
}

std::string page_of(const std::vector<proto::TraceRecord>& records,
                    const std::optional<RunJudgement>& judgement = std::nullopt) {
  std::string page;
  write_html_timeline(sample_header(), records, build_timeline(records), "run.trace", judgement,
                      page);
  return page;
}

// The text of the data element.
std::string data_of(const std::string& page) {
  const std::size_t open = page.find(kDataOpen);
  if (open == std::string::npos) {
    return "";
  }
  const std::size_t begin = open + kDataOpen.size();
  return page.substr(begin, page.find("</script>", begin) - begin);
}

TEST(HtmlExport, ThePageIsTheTemplateWithTheDataAndFetchesNothing) {
  const std::string page = page_of(small_run());

  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.find("/*@TIMELINE_DATA@*/"), std::string::npos);
  for (const std::string_view fetches : {"http:", "https:", "src=", "<link", "@import", "url("}) {
    EXPECT_EQ(page.find(fetches), std::string::npos) << fetches;
  }
  const std::string data = data_of(page);
  EXPECT_EQ(JsonValidator(data).error(), "") << data;
  EXPECT_NE(page.find("id=\"selfcheck\""), std::string::npos);
}

TEST(HtmlExport, NoTextInTheTraceCanEndTheDataElement) {
  const std::string data = data_of(page_of(small_run()));

  EXPECT_EQ(data.find('<'), std::string::npos);
  EXPECT_NE(data.find(R"(\u003c/script>\u003cscript>alert(1)\u003c/script>)"), std::string::npos);
}

TEST(HtmlExport, TheDataHoldsTracksSlicesFlowsCountersAndTheTracesFindings) {
  const std::string data = data_of(page_of(small_run()));

  EXPECT_NE(data.find(R"("run":{"scenario":"export \"sample\"","seed":"7",)"
                      R"("build":"an unknown build","mode":"deterministic","format_version":6,)"
                      R"("records":6,"trace":"run.trace"})"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find(R"("verdict":null)"), std::string::npos);
  EXPECT_NE(data.find(R"("findings":[[3,"guest verifier violation : complete twice"]])"),
            std::string::npos)
      << data;
  EXPECT_NE(data.find(R"("tracks":[[1,"host","kmcl/1/external"],[2,"guest","kmcl/1/dpc/1"],)"
                      R"([2,"guest","kmcl/1/passive"]])"),
            std::string::npos)
      << data;
  // The packet: sent, dequeued, deferred, then the violation on it.
  EXPECT_NE(data.find(R"("flows":[[)"), std::string::npos);
  EXPECT_NE(data.find(R"(,[0,1,2,3]]])"), std::string::npos) << data;
  EXPECT_NE(data.find(R"("open deferred")"), std::string::npos) << data;
  EXPECT_NE(data.find(R"("counters":[["ring 1 host_to_guest",1,"host_to_guest",4096,[[5000,0]]]])"),
            std::string::npos)
      << data;
}

TEST(HtmlExport, TheRunsVerdictFailuresAndOraclesComeFromItsResults) {
  RunJudgement judgement{"FAIL",
                         "scenarios/x.textproto",
                         {"expected 2 callbacks, got 1"},
                         {RunOracle{"lost_wakeup", "net", "a packet waited with no signal"}},
                         "vmbus-sim run scenarios/x.textproto --seed 7"};

  const std::string data = data_of(page_of(small_run(), judgement));

  EXPECT_NE(data.find(R"("verdict":{"verdict":"FAIL","file":"scenarios/x.textproto",)"
                      R"("failures":["expected 2 callbacks, got 1"],)"
                      R"("oracles":[["lost_wakeup","net","a packet waited with no signal"]],)"
                      R"("repro":"vmbus-sim run scenarios/x.textproto --seed 7"})"),
            std::string::npos)
      << data;
}

// A results file of `vmbus-sim run --json` with one run of `scenario`.
std::string results_file(const std::string& scenario, std::uint64_t seed,
                         const std::string& trace) {
  SweepResults results;
  results.build = "0.1.0 (commit test)";
  results.plan.id = "0123456789abcdef";
  results.plan.runs = 1;
  results.scenarios.push_back(ScenarioInfo{scenario, "scenarios/" + scenario + ".textproto"});
  RunRecord run;
  run.scenario = 0;
  run.seed = seed;
  run.verdict = RunVerdict::kFailed;
  run.failure = "it failed";
  run.failures = {"it failed"};
  run.trace = trace;
  results.runs.push_back(run);
  std::ostringstream out;
  write_results_json(out, results);
  return out.str();
}

TEST(HtmlExport, TheCommandFindsTheRunInTheResultsByItsTraceOrItsScenarioAndSeed) {
  ScratchDir dir;
  write_trace(dir / "run.trace", small_run());
  write_text_file(dir / "by-trace.json", results_file("other", 1, (dir / "run.trace").string()));
  write_text_file(dir / "by-name.json", results_file("export \"sample\"", 7, ""));
  write_text_file(dir / "none.json", results_file("export \"sample\"", 8, ""));
  write_text_file(dir / "bad.json", "{");

  const auto run = [&](const std::string& results) {
    return run_cli({"trace", "export", "--format=html", "--results", (dir / results).string(), "-o",
                    (dir / "run.html").string(), (dir / "run.trace").string()});
  };
  for (const std::string results : {"by-trace.json", "by-name.json"}) {
    const RunResult found = run(results);
    ASSERT_EQ(found.exit_code, 0) << found.err;
    const std::vector<std::byte> page = read_file(dir / "run.html");
    EXPECT_NE(std::string(reinterpret_cast<const char*>(page.data()), page.size())
                  .find(R"("failures":["it failed"])"),
              std::string::npos)
        << results;
    std::filesystem::remove(dir / "run.html");
  }
  const RunResult none = run("none.json");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, "vmbus-sim: " + (dir / "none.json").string() +
                          ": no run of scenario 'export \"sample\"' seed 7\n");
  const RunResult bad = run("bad.json");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find((dir / "bad.json").string()), std::string::npos) << bad.err;
  const RunResult missing = run("missing.json");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "vmbus-sim: " + (dir / "missing.json").string() + ": cannot read\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "run.html"));
}

}  // namespace
}  // namespace vmbus::cli
