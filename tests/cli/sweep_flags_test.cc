// The shard a run takes: --shard, or each environment convention of the CI
// systems and batch engines (GoogleTest, Bazel, Kubernetes Indexed Jobs,
// GitLab), with every way of setting one wrong named in the message.
#include "vmbus/cli/sweep_flags.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <gtest/gtest.h>

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

using testing::environment_of;

using Variables = std::map<std::string, std::string>;

ShardChoice chosen(std::optional<std::string_view> flag, std::optional<std::uint32_t> count,
                   Variables variables) {
  auto result = choose_shard(flag, count, environment_of(std::move(variables)));
  EXPECT_TRUE(std::holds_alternative<ShardChoice>(result)) << std::get<std::string>(result);
  return std::holds_alternative<ShardChoice>(result) ? std::get<ShardChoice>(result)
                                                     : ShardChoice{};
}

std::string refused(std::optional<std::string_view> flag, std::optional<std::uint32_t> count,
                    Variables variables) {
  auto result = choose_shard(flag, count, environment_of(std::move(variables)));
  EXPECT_TRUE(std::holds_alternative<std::string>(result));
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "";
}

void expect_shard(const ShardChoice& choice, std::uint32_t index, std::uint32_t count,
                  const std::string& source) {
  EXPECT_EQ(choice.shard.index, index);
  EXPECT_EQ(choice.shard.count, count);
  EXPECT_EQ(choice.source, source);
}

TEST(ChooseShard, WithoutFlagOrVariablesTheRunIsOneShard) {
  expect_shard(chosen(std::nullopt, std::nullopt, {}), 1, 1, "");
}

TEST(ChooseShard, TheFlagWinsOverTheEnvironment) {
  expect_shard(
      chosen("2/3", std::nullopt, {{"GTEST_SHARD_INDEX", "0"}, {"GTEST_TOTAL_SHARDS", "4"}}), 2, 3,
      "--shard");
}

TEST(ChooseShard, GoogleTestCountsFromZero) {
  expect_shard(
      chosen(std::nullopt, std::nullopt, {{"GTEST_SHARD_INDEX", "1"}, {"GTEST_TOTAL_SHARDS", "4"}}),
      2, 4, "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=4");
}

TEST(ChooseShard, BazelCountsFromZero) {
  expect_shard(
      chosen(std::nullopt, std::nullopt, {{"TEST_SHARD_INDEX", "0"}, {"TEST_TOTAL_SHARDS", "3"}}),
      1, 3, "TEST_SHARD_INDEX=0 TEST_TOTAL_SHARDS=3");
}

TEST(ChooseShard, AKubernetesIndexedJobGivesTheIndexAndTheFlagTheCount) {
  expect_shard(chosen(std::nullopt, 8, {{"JOB_COMPLETION_INDEX", "7"}}), 8, 8,
               "JOB_COMPLETION_INDEX=7 --shard-count 8");
}

TEST(ChooseShard, GitLabCountsFromOne) {
  expect_shard(chosen(std::nullopt, std::nullopt, {{"CI_NODE_INDEX", "4"}, {"CI_NODE_TOTAL", "4"}}),
               4, 4, "CI_NODE_INDEX=4 CI_NODE_TOTAL=4");
}

TEST(ChooseShard, AGitLabJobThatIsNotParallelIsOneShard) {
  // GitLab sets CI_NODE_TOTAL=1 on every job, CI_NODE_INDEX only on parallel ones.
  expect_shard(chosen(std::nullopt, std::nullopt, {{"CI_NODE_TOTAL", "1"}}), 1, 1, "");
}

TEST(ChooseShard, EmptyVariablesCountAsUnset) {
  expect_shard(
      chosen(std::nullopt, std::nullopt, {{"GTEST_SHARD_INDEX", ""}, {"GTEST_TOTAL_SHARDS", "4"}}),
      1, 1, "");
}

TEST(ChooseShard, ConventionsThatAgreeAreOneShardNamedByTheFirst) {
  expect_shard(chosen(std::nullopt, std::nullopt,
                      {{"GTEST_SHARD_INDEX", "1"},
                       {"GTEST_TOTAL_SHARDS", "2"},
                       {"CI_NODE_INDEX", "2"},
                       {"CI_NODE_TOTAL", "2"}}),
               2, 2, "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=2");
}

TEST(ChooseShard, ConventionsThatDisagreeAreRefused) {
  EXPECT_EQ(refused(std::nullopt, std::nullopt,
                    {{"GTEST_SHARD_INDEX", "1"},
                     {"GTEST_TOTAL_SHARDS", "4"},
                     {"CI_NODE_INDEX", "1"},
                     {"CI_NODE_TOTAL", "2"}}),
            "GTEST_SHARD_INDEX=1 GTEST_TOTAL_SHARDS=4 and CI_NODE_INDEX=1 CI_NODE_TOTAL=2 name "
            "different shards (2/4 and 1/2): unset one, or give --shard I/N");
}

struct BadEnvironment {
  std::string_view name;
  std::optional<std::string_view> flag;
  std::optional<std::uint32_t> count;
  Variables variables;
  std::string_view message;
};

class ChooseShardRefuses : public ::testing::TestWithParam<BadEnvironment> {};

TEST_P(ChooseShardRefuses, WithAMessageNamingTheVariable) {
  const BadEnvironment& bad = GetParam();
  EXPECT_EQ(refused(bad.flag, bad.count, bad.variables), bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    Environment, ChooseShardRefuses,
    ::testing::Values(
        BadEnvironment{"IndexWithoutCount",
                       std::nullopt,
                       std::nullopt,
                       {{"GTEST_SHARD_INDEX", "1"}},
                       "GTEST_SHARD_INDEX=1 is set (GoogleTest) but GTEST_TOTAL_SHARDS is not"},
        BadEnvironment{"ZeroBasedIndexAtTheCount",
                       std::nullopt,
                       std::nullopt,
                       {{"GTEST_SHARD_INDEX", "4"}, {"GTEST_TOTAL_SHARDS", "4"}},
                       "GTEST_SHARD_INDEX=4 is not a shard of GTEST_TOTAL_SHARDS=4 (GoogleTest "
                       "counts shards from 0)"},
        BadEnvironment{"OneBasedIndexZero",
                       std::nullopt,
                       std::nullopt,
                       {{"CI_NODE_INDEX", "0"}, {"CI_NODE_TOTAL", "3"}},
                       "CI_NODE_INDEX=0 is not a shard of CI_NODE_TOTAL=3 (GitLab CI counts "
                       "shards from 1)"},
        BadEnvironment{"NotANumber",
                       std::nullopt,
                       std::nullopt,
                       {{"TEST_SHARD_INDEX", "0"}, {"TEST_TOTAL_SHARDS", "three"}},
                       "TEST_TOTAL_SHARDS: 'three' is not a decimal number"},
        BadEnvironment{"ZeroShards",
                       std::nullopt,
                       std::nullopt,
                       {{"GTEST_SHARD_INDEX", "0"}, {"GTEST_TOTAL_SHARDS", "0"}},
                       "GTEST_TOTAL_SHARDS=0: the shard count must be at least 1"},
        BadEnvironment{"TooManyShards",
                       std::nullopt,
                       std::nullopt,
                       {{"GTEST_SHARD_INDEX", "0"}, {"GTEST_TOTAL_SHARDS", "100001"}},
                       "GTEST_TOTAL_SHARDS=100001 is more than 100000"},
        BadEnvironment{"KubernetesWithoutCount",
                       std::nullopt,
                       std::nullopt,
                       {{"JOB_COMPLETION_INDEX", "2"}},
                       "JOB_COMPLETION_INDEX=2 is set (a Kubernetes Indexed Job) but the shard "
                       "count is not: add --shard-count N, N being the Job's completions"},
        BadEnvironment{"KubernetesIndexBeyondTheCount",
                       std::nullopt,
                       4,
                       {{"JOB_COMPLETION_INDEX", "4"}},
                       "JOB_COMPLETION_INDEX=4 is not a shard of --shard-count 4 (a Kubernetes "
                       "Indexed Job counts shards from 0)"},
        BadEnvironment{"CountWithoutKubernetes",
                       std::nullopt,
                       4,
                       {},
                       "--shard-count is for JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), "
                       "which is not set; give --shard I/N instead"},
        BadEnvironment{"CountWithTheFlag",
                       "1/2",
                       4,
                       {},
                       "--shard-count is for an index from the environment "
                       "(JOB_COMPLETION_INDEX); --shard I/N already names the count"},
        BadEnvironment{
            "BadFlag", "0/2", std::nullopt, {}, "--shard: the index must be at least 1, got 0/2"}),
    [](const ::testing::TestParamInfo<BadEnvironment>& param) {
      return std::string(param.param.name);
    });

}  // namespace
}  // namespace vmbus::cli
