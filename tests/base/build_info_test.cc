#include "vmbus/base/build_info.h"

#include <string>

#include <gtest/gtest.h>

namespace vmbus::base {
namespace {

TEST(BuildInfo, CarriesTheProjectVersionAndACommit) {
  EXPECT_EQ(build_info().version, VMBUS_PROJECT_VERSION);
  EXPECT_FALSE(build_info().commit.empty());
  EXPECT_EQ(build_identity(), std::string(VMBUS_PROJECT_VERSION) + " (commit " +
                                  std::string(build_info().commit) + ")");
}

TEST(BuildInfo, IdentityNamesVersionAndCommit) {
  EXPECT_EQ(build_identity("1.2.3", "0123456789ab"), "1.2.3 (commit 0123456789ab)");
}

TEST(BuildInfo, AnotherVersionOrCommitIsAnotherBuild) {
  EXPECT_FALSE(is_this_build("0.0.0-other", build_info().commit));
  EXPECT_FALSE(is_this_build(build_info().version, "000000000000"));
}

TEST(BuildInfo, TheSameVersionAndCommitIsThisBuildUnlessTheCommitIsUnknown) {
  EXPECT_EQ(is_this_build(build_info().version, build_info().commit),
            build_info().commit != "unknown");
  EXPECT_FALSE(is_this_build(build_info().version, "unknown"));
  EXPECT_FALSE(is_this_build(build_info().version, std::string(build_info().commit) + "x"));
}

}  // namespace
}  // namespace vmbus::base
