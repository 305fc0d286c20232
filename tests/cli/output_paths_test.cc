// The checks of output paths and programs that run before any work, and
// files written whole or not at all, on a real file system.
#include "vmbus/cli/output_paths.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

#include "tool_test_util.h"

namespace vmbus::cli {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::write_text_file;

std::vector<std::string> names_in(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// sysfs refuses new files even to root, so this works for every user.
bool sys_refuses_files() {
  return check_output_file("/sys/vmbus-sim-probe") != "";
}

TEST(CheckOutputFile, AcceptsANewFileInAWritableDirectoryAndLeavesNothing) {
  ScratchDir dir;
  EXPECT_EQ(check_output_file(dir / "report.xml"), "");
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(CheckOutputFile, NamesWhatIsWrong) {
  ScratchDir dir;
  write_text_file(dir / "file", "x");
  EXPECT_EQ(check_output_file(dir.path()), dir.path().string() + " is a directory");
  EXPECT_EQ(check_output_file(dir / "missing" / "r.xml"),
            "cannot write " + (dir / "missing" / "r.xml").string() + ": " +
                (dir / "missing").string() + " does not exist");
  EXPECT_EQ(check_output_file(dir / "file" / "r.xml"),
            "cannot write " + (dir / "file" / "r.xml").string() + ": " + (dir / "file").string() +
                " is not a directory");
}

TEST(CheckOutputFile, ADirectoryThatRefusesFilesGivesTheSystemsReason) {
  ASSERT_TRUE(sys_refuses_files());
  const std::string problem = check_output_file("/sys/r.xml");
  EXPECT_EQ(problem.rfind("cannot write in /sys: ", 0), 0u) << problem;
  EXPECT_GT(problem.size(), std::string("cannot write in /sys: ").size());
}

TEST(PrepareOutputDirectory, CreatesMissingParents) {
  ScratchDir dir;
  EXPECT_EQ(prepare_output_directory(dir / "a" / "b"), "");
  EXPECT_TRUE(fs::is_directory(dir / "a" / "b"));
  EXPECT_TRUE(names_in(dir / "a" / "b").empty());
}

TEST(PrepareOutputDirectory, NamesWhatIsWrong) {
  ScratchDir dir;
  write_text_file(dir / "file", "x");
  EXPECT_EQ(prepare_output_directory(dir / "file"),
            (dir / "file").string() + " exists and is not a directory");
  ASSERT_TRUE(sys_refuses_files());
  EXPECT_EQ(prepare_output_directory("/sys").rfind("cannot write in /sys: ", 0), 0u);
  EXPECT_EQ(prepare_output_directory("/sys/vmbus-sim-traces").rfind("cannot create /sys/", 0), 0u);
}

TEST(CheckProgram, AcceptsAnExecutableAndNamesWhatIsWrong) {
  ScratchDir dir;
  write_text_file(dir / "tool", "#!/bin/sh\n");
  ::chmod((dir / "tool").c_str(), 0755);
  write_text_file(dir / "data", "x");
  ::chmod((dir / "data").c_str(), 0644);
  EXPECT_EQ(check_program(dir / "tool"), "");
  EXPECT_EQ(check_program(dir / "nope"), (dir / "nope").string() + ": no such file");
  EXPECT_EQ(check_program(dir.path()),
            dir.path().string() + " is not a program (not a regular file)");
  EXPECT_EQ(check_program(dir / "data"),
            (dir / "data").string() + " is not executable: Permission denied");
}

TEST(TouchFile, CreatesAFileOrMakesItNew) {
  ScratchDir dir;
  EXPECT_EQ(touch_file(dir / "status"), "");
  EXPECT_TRUE(fs::exists(dir / "status"));
  const fs::file_time_type old_time = fs::file_time_type::clock::now() - std::chrono::hours(24);
  fs::last_write_time(dir / "status", old_time);
  EXPECT_EQ(touch_file(dir / "status"), "");
  EXPECT_GT(fs::last_write_time(dir / "status"), old_time);
  EXPECT_EQ(
      touch_file(dir / "missing" / "status"),
      "cannot touch " + (dir / "missing" / "status").string() + ": No such file or directory");
}

TEST(WriteFileAtomically, WritesOrReplacesTheWholeFileAndLeavesNoTemporary) {
  ScratchDir dir;
  EXPECT_EQ(write_file_atomically(dir / "r.json", "first"), "");
  EXPECT_EQ(contents(dir / "r.json"), "first");
  EXPECT_EQ(write_file_atomically(dir / "r.json", "second, longer"), "");
  EXPECT_EQ(contents(dir / "r.json"), "second, longer");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"r.json"}));
}

TEST(WriteFileAtomically, AFailureLeavesNothingBehind) {
  ScratchDir dir;
  fs::create_directories(dir / "r.xml");
  const std::string problem = write_file_atomically(dir / "r.xml", "x");
  EXPECT_EQ(problem, "cannot replace '" + (dir / "r.xml").string() + "': Is a directory");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"r.xml"}));
  EXPECT_TRUE(names_in(dir / "r.xml").empty());
}

TEST(WriteFileAtomically, WritesADeviceInPlace) {
  EXPECT_EQ(write_file_atomically("/dev/null", "discarded"), "");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

}  // namespace
}  // namespace vmbus::cli
