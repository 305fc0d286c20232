#include "vmbus/cli/results.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <google/protobuf/util/json_util.h>

#include "vmbus/cli/json_text.h"
#include "vmbus/cli/results.pb.h"

namespace vmbus::cli {
namespace {

constexpr RunVerdict kVerdicts[] = {RunVerdict::kPassed, RunVerdict::kFailed, RunVerdict::kError,
                                    RunVerdict::kNotRun};

// --- Writing -------------------------------------------------------------------

std::string string_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const std::string& value : values) {
    out += out.size() == 1 ? "" : ", ";
    append_json_string(out, value);
  }
  return out + "]";
}

std::string oracle_array(const std::vector<RunOracle>& oracles) {
  std::string out = "[";
  for (const RunOracle& oracle : oracles) {
    out += out.size() == 1 ? "" : ", ";
    out += JsonObjectBuilder()
               .text("name", oracle.name)
               .text("channel", oracle.channel)
               .text("what", oracle.what)
               .done();
  }
  return out + "]";
}

std::string run_json(const SweepResults& results, const RunRecord& run) {
  const ScenarioInfo& scenario = results.scenarios.at(run.scenario);
  return JsonObjectBuilder()
      .number("position", run.position)
      .number("repetition", run.repetition)
      .number("pass", run.pass)
      .text("scenario", scenario.name)
      .text("file", scenario.file)
      .number("seed", run.seed)
      .text("verdict", verdict_word(run.verdict))
      .text("failure", run.failure)
      .raw("failures", string_array(run.failures))
      .raw("oracles", oracle_array(run.oracles))
      .text("trace", run.trace)
      .text("repro", run.repro)
      .seconds("started_s", run.started_s)
      .seconds("wall_s", run.wall_s)
      .number("steps", run.steps)
      .number("simulated_ns", run.simulated_ns)
      .text("build", results.build)
      .done();
}

// --- Reading -------------------------------------------------------------------

std::optional<RunVerdict> verdict_of(std::string_view word) {
  for (const RunVerdict verdict : kVerdicts) {
    if (verdict_word(verdict) == word) {
      return verdict;
    }
  }
  return std::nullopt;
}

bool good_seconds(double seconds) {
  return std::isfinite(seconds) && seconds >= 0;
}

std::string describe_run(const results_file::Run& run) {
  return "run " + run.scenario() + " seed " + std::to_string(run.seed()) + " (position " +
         std::to_string(run.position()) + ")";
}

// One run of the file into `results`, or what is wrong with it.
std::string read_run(const results_file::Run& in,
                     std::map<std::pair<std::string, std::string>, std::uint32_t>& scenario_index,
                     SweepResults& results) {
  const std::optional<RunVerdict> verdict = verdict_of(in.verdict());
  if (!verdict) {
    return describe_run(in) + " has verdict '" + in.verdict() +
           "' (expected PASS, FAIL, ERROR or NOT_RUN)";
  }
  if (in.scenario().empty() || in.file().empty()) {
    return "a run at position " + std::to_string(in.position()) + " names no scenario or file";
  }
  if (in.repetition() < 1 || in.repetition() > results.plan.repeat || in.pass() < 1) {
    return describe_run(in) + " has repetition " + std::to_string(in.repetition()) + " and pass " +
           std::to_string(in.pass()) + " (the plan repeats each run " +
           std::to_string(results.plan.repeat) + " time(s))";
  }
  if (!good_seconds(in.started_s()) || !good_seconds(in.wall_s())) {
    return describe_run(in) + " has a negative or non-finite time";
  }
  const auto key = std::make_pair(in.scenario(), in.file());
  auto [it, inserted] = scenario_index.emplace(key, results.scenarios.size());
  if (inserted) {
    results.scenarios.push_back(ScenarioInfo{in.scenario(), in.file()});
  }
  RunRecord& run = results.runs.emplace_back();
  run.position = in.position();
  run.repetition = in.repetition();
  run.pass = in.pass();
  run.scenario = it->second;
  run.seed = in.seed();
  run.verdict = *verdict;
  run.failure = in.failure();
  run.failures.assign(in.failures().begin(), in.failures().end());
  for (const results_file::Oracle& oracle : in.oracles()) {
    run.oracles.push_back(RunOracle{oracle.name(), oracle.channel(), oracle.what()});
  }
  run.trace = in.trace();
  run.repro = in.repro();
  run.started_s = in.started_s();
  run.wall_s = in.wall_s();
  run.steps = in.steps();
  run.simulated_ns = in.simulated_ns();
  return "";
}

// The document's own promises: its shard, its plan and its summary.
std::string check_header(const results_file::File& file) {
  if (file.format() != kResultsFormatName) {
    return "not a vmbus-sim results file (format '" + file.format() + "')";
  }
  if (file.version() != kResultsFormatVersion) {
    return "results format version " + std::to_string(file.version()) +
           "; this vmbus-sim reads version " + std::to_string(kResultsFormatVersion);
  }
  const results_file::Shard& shard = file.shard();
  if (shard.count() < 1 || shard.count() > kMaxShards || shard.index() < 1 ||
      shard.index() > shard.count()) {
    return "shard " + std::to_string(shard.index()) + "/" + std::to_string(shard.count()) +
           " is not a shard";
  }
  if (file.plan().repeat() < 1 || file.plan().id().empty()) {
    return "the plan has no id or repeats its runs " + std::to_string(file.plan().repeat()) +
           " times";
  }
  if (!good_seconds(file.wall_s())) {
    return "wall_s is negative or not finite";
  }
  return "";
}

std::string check_summary(const results_file::Summary& summary, const SweepCounts& counts) {
  if (summary.runs() != counts.runs || summary.passed() != counts.passed ||
      summary.failed() != counts.failed || summary.errors() != counts.errors ||
      summary.not_run() != counts.not_run) {
    return "the summary (" + std::to_string(summary.runs()) + " runs) does not match the " +
           std::to_string(counts.runs) + " runs listed: the file is cut short or was edited";
  }
  return "";
}

// --- Merging -------------------------------------------------------------------

std::string shard_name(const NamedResults& shard) {
  return "shard " + std::to_string(shard.results.shard.index) + "/" +
         std::to_string(shard.results.shard.count) + " (" + shard.file + ")";
}

// The shards belong together: one build, one sweep, every shard once.
std::string check_shards(const std::vector<NamedResults>& shards) {
  const NamedResults& first = shards.front();
  std::map<std::uint32_t, const NamedResults*> by_index;
  for (const NamedResults& shard : shards) {
    const SweepResults& results = shard.results;
    if (results.plan.until_fail) {
      return shard.file +
             ": --until-fail results cannot be merged: each shard stops at its own "
             "first failure";
    }
    if (results.build != first.results.build) {
      return first.file + " was written by vmbus-sim " + first.results.build + " and " +
             shard.file + " by " + results.build +
             ": the shards of a sweep must come from one build";
    }
    if (results.plan.id != first.results.plan.id ||
        results.shard.count != first.results.shard.count) {
      return first.file + " and " + shard.file +
             " are shards of different sweeps: every shard needs the same scenarios, seeds, "
             "filters, --repeat, --timings and shard count";
    }
    const auto [it, inserted] = by_index.emplace(results.shard.index, &shard);
    if (!inserted) {
      return "shard " + std::to_string(results.shard.index) + "/" +
             std::to_string(results.shard.count) + " appears twice: " + it->second->file + " and " +
             shard.file;
    }
    if (results.stopped == "interrupted") {
      const SweepCounts counts = count_runs(results.runs);
      return shard_name(shard) + " was interrupted: " + std::to_string(counts.not_run) +
             " of its " + std::to_string(counts.runs) + " runs did not run; run that shard again";
    }
  }
  std::string missing;
  for (std::uint32_t index = 1; index <= first.results.shard.count; ++index) {
    if (by_index.count(index) == 0) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(index);
    }
  }
  if (!missing.empty()) {
    return "shard(s) " + missing + " of " + std::to_string(first.results.shard.count) +
           " are missing: merge needs the results of every shard";
  }
  return "";
}

using RunKey =
    std::tuple<std::uint32_t, std::uint64_t, std::uint32_t>;  // pass, position, repetition

RunKey key_of(const RunRecord& run) {
  return {run.pass, run.position, run.repetition};
}

}  // namespace

std::string_view verdict_word(RunVerdict verdict) {
  switch (verdict) {
    case RunVerdict::kPassed:
      return "PASS";
    case RunVerdict::kFailed:
      return "FAIL";
    case RunVerdict::kError:
      return "ERROR";
    case RunVerdict::kNotRun:
      return "NOT_RUN";
  }
  return "NOT_RUN";
}

SweepCounts count_runs(const std::vector<RunRecord>& runs) {
  SweepCounts counts;
  for (const RunRecord& run : runs) {
    ++counts.runs;
    counts.passed += run.verdict == RunVerdict::kPassed ? 1 : 0;
    counts.failed += run.verdict == RunVerdict::kFailed ? 1 : 0;
    counts.errors += run.verdict == RunVerdict::kError ? 1 : 0;
    counts.not_run += run.verdict == RunVerdict::kNotRun ? 1 : 0;
  }
  return counts;
}

void write_results_json(std::ostream& out, const SweepResults& results) {
  const SweepCounts counts = count_runs(results.runs);
  const std::string plan = JsonObjectBuilder()
                               .text("id", results.plan.id)
                               .number("runs", results.plan.runs)
                               .number("repeat", results.plan.repeat)
                               .text("balance", results.plan.balance)
                               .boolean("until_fail", results.plan.until_fail)
                               .done();
  const std::string shard = JsonObjectBuilder()
                                .number("index", results.shard.index)
                                .number("count", results.shard.count)
                                .text("source", results.shard_source)
                                .done();
  const std::string summary = JsonObjectBuilder()
                                  .number("runs", counts.runs)
                                  .number("passed", counts.passed)
                                  .number("failed", counts.failed)
                                  .number("errors", counts.errors)
                                  .number("not_run", counts.not_run)
                                  .done();
  std::string text = "{\n  \"format\": ";
  append_json_string(text, kResultsFormatName);
  text += ",\n  \"version\": " + std::to_string(kResultsFormatVersion) + ",\n  \"build\": ";
  append_json_string(text, results.build);
  text += ",\n  \"plan\": " + plan + ",\n  \"shard\": " + shard +
          ",\n  \"merged_shards\": " + std::to_string(results.merged_shards) +
          ",\n  \"wall_s\": " + json_seconds(results.wall_s) + ",\n  \"stopped\": ";
  append_json_string(text, results.stopped);
  text += ",\n  \"summary\": " + summary + ",\n  \"runs\": [";
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (std::size_t i = 0; i < results.runs.size(); ++i) {
    const std::string line = (i == 0 ? "\n    " : ",\n    ") + run_json(results, results.runs[i]);
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out << (results.runs.empty() ? "]\n}\n" : "\n  ]\n}\n");
}

std::variant<SweepResults, std::string> read_results_json(std::string_view text,
                                                          const std::string& file) {
  results_file::File parsed;
  const google::protobuf::util::Status status =
      google::protobuf::util::JsonStringToMessage(text, &parsed);
  if (!status.ok()) {
    return file + ": not a results file: " + std::string(status.message());
  }
  if (std::string problem = check_header(parsed); !problem.empty()) {
    return file + ": " + problem;
  }
  SweepResults results;
  results.build = parsed.build();
  results.plan = SweepPlan{parsed.plan().id(), parsed.plan().runs(), parsed.plan().repeat(),
                           parsed.plan().balance(), parsed.plan().until_fail()};
  results.shard = Shard{parsed.shard().index(), parsed.shard().count()};
  results.shard_source = parsed.shard().source();
  results.merged_shards = parsed.merged_shards();
  results.wall_s = parsed.wall_s();
  results.stopped = parsed.stopped();
  std::map<std::pair<std::string, std::string>, std::uint32_t> scenario_index;
  for (const results_file::Run& run : parsed.runs()) {
    if (std::string problem = read_run(run, scenario_index, results); !problem.empty()) {
      return file + ": " + problem;
    }
  }
  if (std::string problem = check_summary(parsed.summary(), count_runs(results.runs));
      !problem.empty()) {
    return file + ": " + problem;
  }
  return results;
}

std::variant<SweepResults, std::string> merge_results(const std::vector<NamedResults>& shards) {
  if (shards.empty()) {
    return std::string("no results to merge");
  }
  if (std::string problem = check_shards(shards); !problem.empty()) {
    return problem;
  }
  SweepResults merged;
  const SweepResults& first = shards.front().results;
  merged.build = first.build;
  merged.plan = first.plan;
  merged.shard = Shard{1, 1};
  merged.shard_source = "";
  merged.merged_shards = first.shard.count;
  std::map<std::pair<std::string, std::string>, std::uint32_t> scenario_index;
  std::map<RunKey, const std::string*> seen;
  for (const NamedResults& shard : shards) {
    merged.wall_s = std::max(merged.wall_s, shard.results.wall_s);
    if (shard.results.stopped == "fail-fast") {
      merged.stopped = "fail-fast";
    }
    for (const RunRecord& run : shard.results.runs) {
      const auto [it, inserted] = seen.emplace(key_of(run), &shard.file);
      const ScenarioInfo& scenario = shard.results.scenarios.at(run.scenario);
      if (!inserted) {
        return "run " + scenario.name + " seed " + std::to_string(run.seed) + " (position " +
               std::to_string(run.position) + ", repetition " + std::to_string(run.repetition) +
               ") appears twice: in " + *it->second + " and " + shard.file;
      }
      const auto key = std::make_pair(scenario.name, scenario.file);
      auto [index, added] = scenario_index.emplace(key, merged.scenarios.size());
      if (added) {
        merged.scenarios.push_back(scenario);
      }
      merged.runs.push_back(run);
      merged.runs.back().scenario = index->second;
    }
  }
  const std::uint64_t expected = first.plan.runs * first.plan.repeat;
  if (merged.runs.size() != expected) {
    return "the shards hold " + std::to_string(merged.runs.size()) + " runs but the sweep has " +
           std::to_string(expected) + ": a results file is incomplete";
  }
  std::sort(merged.runs.begin(), merged.runs.end(),
            [](const RunRecord& a, const RunRecord& b) { return key_of(a) < key_of(b); });
  return merged;
}

JunitReport junit_report(const SweepResults& results, const std::string& name) {
  JunitReport report;
  report.name = name;
  report.seconds = results.wall_s;
  // The span of the current suite's runs that ran; none yet when ran is false.
  double suite_start = 0;
  double suite_end = 0;
  bool suite_ran = false;
  for (std::size_t i = 0; i < results.runs.size(); ++i) {
    const RunRecord& run = results.runs[i];
    const ScenarioInfo& scenario = results.scenarios.at(run.scenario);
    const std::string label = scenario.name + " seed " + std::to_string(run.seed);
    const bool new_suite = i == 0 || results.runs[i - 1].scenario != run.scenario ||
                           results.runs[i - 1].seed != run.seed ||
                           results.runs[i - 1].pass != run.pass;
    if (new_suite) {
      JunitSuite& suite = report.suites.emplace_back();
      suite.name = label;
      suite.file = scenario.file;
      suite.properties = {{"seed", std::to_string(run.seed)}, {"build", results.build}};
      suite_ran = false;
    }
    JunitSuite& suite = report.suites.back();
    if (run.verdict != RunVerdict::kNotRun) {
      suite_start = suite_ran ? std::min(suite_start, run.started_s) : run.started_s;
      suite_end = std::max(suite_ran ? suite_end : 0.0, run.started_s + run.wall_s);
      suite_ran = true;
      suite.seconds = suite_end - suite_start;
    }
    JunitCase& c = suite.cases.emplace_back();
    c.name = results.plan.repeat > 1 ? label + " #" + std::to_string(run.repetition) : label;
    const std::string folder = std::filesystem::path(scenario.file).parent_path().filename();
    c.classname = folder.empty() ? "scenarios" : "scenarios." + folder;
    c.seconds = run.wall_s;
    c.message = run.failure;
    switch (run.verdict) {
      case RunVerdict::kPassed:
        c.status = JunitCase::Status::kPassed;
        break;
      case RunVerdict::kFailed:
      case RunVerdict::kError:
        c.status = run.verdict == RunVerdict::kFailed ? JunitCase::Status::kFailed
                                                      : JunitCase::Status::kError;
        for (const std::string& failure : run.failures) {
          c.details += failure + "\n";
        }
        c.details += "trace: " + run.trace + "\nrepro: " + run.repro + "\n";
        break;
      case RunVerdict::kNotRun:
        c.status = JunitCase::Status::kSkipped;
        break;
    }
  }
  return report;
}

}  // namespace vmbus::cli
