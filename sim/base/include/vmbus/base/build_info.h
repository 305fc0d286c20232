// Which build this is: the project version and the source commit it was
// built from, so that a trace or a failure report can say which binary wrote
// it. A seed reproduces a run only with the same build; the trace header and
// every repro line carry this identity, and tools warn when they read a
// trace written by another build.
//
// The commit is filled in at build time (sim/base/build_info.cmake):
// "<12-hex-digit hash>", with "-dirty" when the tree had uncommitted
// changes, or "unknown" outside a git checkout.
#pragma once

#include <string>
#include <string_view>

namespace vmbus::base {

struct BuildInfo {
  std::string_view version;  // "0.1.0"
  std::string_view commit;   // "1a2b3c4d5e6f", "1a2b3c4d5e6f-dirty" or "unknown"
};

const BuildInfo& build_info();

// "0.1.0 (commit 1a2b3c4d5e6f)": how programs and reports name the build.
std::string build_identity();

// The same for another build's version and commit (read from a trace).
std::string build_identity(std::string_view version, std::string_view commit);

// Whether a trace written by (version, commit) came from this build: the same
// version and commit. An unknown commit never counts as the same build (a
// "-dirty" one does when it matches: the same binary, or one built from the
// same commit with local changes).
bool is_this_build(std::string_view version, std::string_view commit);

}  // namespace vmbus::base
